/**
 * Tokens encrypted at rest with the library's own wrapper: any TokenStore
 * (here the token file; Redis, PostgreSQL or a store of your own the same
 * way) holds the two token values sealed with AES-256-GCM, bound to the
 * user and contract. Keys come from the environment, newest first; keep a
 * retired key listed until every record has been written again.
 *
 * Make a key: `openssl rand -base64 32`.
 *
 * In your own app, import from "digime-write-pipeline" instead of ../src.
 */
import { encryptedTokenStore, FileTokenStore, type TokenStore } from "../src/index.js";

/**
 * The token store of an app: `DIGIME_TOKEN_KEYS` is a comma-separated list of
 * base64 keys, the newest first.
 */
export function tokenStoreFromEnv(env: NodeJS.ProcessEnv = process.env): TokenStore {
  const keys = (env.DIGIME_TOKEN_KEYS ?? "").split(",").filter((key) => key !== "");
  return encryptedTokenStore(new FileTokenStore({ path: env.DIGIME_TOKEN_FILE ?? "/var/lib/my-app/digime-tokens.json" }), { keys });
}
