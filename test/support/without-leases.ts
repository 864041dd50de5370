/** A token store without its refresh-lease methods: what a third-party store that offers none looks like. */
import type { TokenStore } from "../../src/index.js";

export function withoutLeases(inner: TokenStore): TokenStore {
  return {
    get: (key) => inner.get(key),
    set: (key, credentials, options) => inner.set(key, credentials, options),
    delete: (key) => inner.delete(key),
    listByUser: (userId) => inner.listByUser(userId),
  };
}
