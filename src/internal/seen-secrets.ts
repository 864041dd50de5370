/**
 * Every secret a client has seen, so that every error leaving it can be
 * scrubbed of them: the contract key and state secrets from the start, then
 * each token value as it passes (read from the store, written to it, returned
 * by an exchange or refresh, or handed over mid-write through the SDK's
 * `onAccessTokenChange`, which the writer notes). An SDK or store error may quote any of them, and a
 * token the SDK announced a moment before it failed is not one the failing
 * step knew about.
 *
 * Bounded: at most `max` token values are kept, those seen most recently
 * (a token older than that has long been replaced), so memory follows
 * activity, not history.
 */
import type { UserAccessToken } from "../sdk/types.js";
import type { SdkPort } from "../sdk/sdk-port.js";
import type { Credentials, StoredCredentials, TokenStore } from "../stores/token-store.js";
import { cellsOf, offerCells } from "../stores/record-cells.js";

const DEFAULT_MAX_TOKENS = 4096;
/** Shorter values are not worth remembering: `redact` ignores them anyway. */
const MIN_LENGTH = 8;

/** The secrets one client has seen, for scrubbing its errors (see above). */
export class SeenSecrets {
  readonly #fixed: readonly string[];
  /**
   * Insertion-ordered, oldest first; the flag says "seen again since it was
   * (re)inserted". A sighting only sets the flag (a user's store reads see
   * the token in use again and again, so it must be cheap); eviction gives a
   * flagged value a second chance at the back instead (the CLOCK
   * approximation of least recently seen).
   */
  readonly #tokens = new Map<string, boolean>();
  readonly #max: number;
  #list: readonly string[] | undefined;

  constructor(fixed: readonly string[], max = DEFAULT_MAX_TOKENS) {
    this.#fixed = fixed;
    this.#max = max;
  }

  /**
   * The fixed secrets and every remembered token value: one frozen array until
   * the next change, so `redact` indexes it once, not per error.
   */
  get list(): readonly string[] {
    return (this.#list ??= Object.freeze([...this.#fixed, ...this.#tokens.keys()]));
  }

  /** Remember both values of `token` (anything not shaped like a token is ignored). */
  addToken(token: unknown): void {
    const t = token as Partial<UserAccessToken> | undefined;
    this.#add(t?.accessToken?.value);
    this.#add(t?.refreshToken?.value);
  }

  addRecord(record: Pick<Credentials, "userAccessToken"> | undefined): void {
    if (record !== undefined && record !== null) this.addToken((record as Credentials).userAccessToken);
  }

  #add(value: unknown): void {
    if (typeof value !== "string" || value.length < MIN_LENGTH) return;
    const seenAgain = this.#tokens.get(value);
    if (seenAgain !== undefined) {
      if (!seenAgain) this.#tokens.set(value, true);
      return;
    }
    this.#tokens.set(value, false);
    this.#list = undefined;
    while (this.#tokens.size > this.#max) {
      const [oldest, again] = this.#tokens.entries().next().value as [string, boolean];
      this.#tokens.delete(oldest);
      // A token in use is the last to be forgotten: seen again, it goes to the back once more.
      if (again) this.#tokens.set(oldest, false);
    }
  }
}

/**
 * The port, remembering every token that goes into or comes out of an
 * exchange or a refresh. A token the SDK announces mid-write reaches the
 * writer's `onToken`, which notes it first (its `noteToken`): wrapping
 * `onToken` here would cost every write a closure and an object for a
 * callback that rarely fires.
 */
export function seeingPort(port: SdkPort, seen: SeenSecrets): SdkPort {
  return {
    get generation() {
      return port.generation;
    },
    get canRefresh() {
      return port.canRefresh;
    },
    getAuthorizeUrl(input) {
      seen.addToken(input.userAccessToken);
      return port.getAuthorizeUrl(input);
    },
    async exchangeCode(input) {
      const token = await port.exchangeCode(input);
      seen.addToken(token);
      return token;
    },
    // Not noted again here: a write's credentials came from the store, a
    // refresh, an exchange or the SDK's announcement, each noted as it passed.
    // The user's store reads mark its token as seen again (see seeingStore).
    write: (input) => port.write(input),
    async refresh(token) {
      seen.addToken(token);
      const next = await port.refresh(token);
      seen.addToken(next);
      return next;
    },
  };
}

/**
 * The token store, remembering every token read from it or written to it.
 * Optional methods are offered exactly when the store offers them, since
 * the keeper decides on leases and upkeep by their presence.
 */
export function seeingStore(store: TokenStore, seen: SeenSecrets): TokenStore {
  const records = (list: StoredCredentials[]): StoredCredentials[] => {
    for (const record of list) seen.addRecord(record);
    return list;
  };
  // A plain reaction, not an async function: this runs on every write.
  const noted = (record: StoredCredentials | undefined): StoredCredentials | undefined => {
    seen.addRecord(record);
    return record;
  };
  const wrapper: TokenStore = {
    get: (key) => store.get(key).then(noted),
    async set(key, credentials, options) {
      seen.addRecord(credentials);
      const result = await store.set(key, credentials, options);
      seen.addRecord(result.status === "stored" ? result.record : result.current);
      return result;
    },
    delete: (key) => store.delete(key),
    listByUser: async (userId) => records(await store.listByUser(userId)),
  };
  if (typeof store.acquireRefreshLease === "function" && typeof store.releaseRefreshLease === "function") {
    wrapper.acquireRefreshLease = store.acquireRefreshLease.bind(store);
    wrapper.releaseRefreshLease = store.releaseRefreshLease.bind(store);
    // Without renewal passed on, a lease would fall back to one that outlasts the slowest refresh (10 s, not 3).
    if (typeof store.renewRefreshLease === "function") wrapper.renewRefreshLease = store.renewRefreshLease.bind(store);
  }
  const cellOf = cellsOf(store);
  if (cellOf !== undefined) {
    // Noted as the cell is looked up. The keeper reads a cell it holds without
    // a lookup only while its record is the very one it last looked up (so
    // noted here) and only until its next idle sweep: a new record, or a token
    // still in use, is looked up, so noted, again.
    offerCells(wrapper, (userId, contractId) => {
      const cell = cellOf(userId, contractId);
      if (cell !== undefined) seen.addRecord(cell.record);
      return cell;
    });
  }
  if (typeof store.listExpiring === "function") {
    const list = store.listExpiring.bind(store);
    wrapper.listExpiring = async (contractId, options) => records(await list(contractId, options));
  }
  return wrapper;
}
