/**
 * Saving a sandbox and bringing it back: `sandbox.exportState()` returns a
 * JSON-ready {@link SandboxSnapshot}, `createSandbox({ state })` starts from
 * one. What survives: the application id, every contract with its keys, the
 * libraries with their postboxes, and every token pair that can still be used
 * (its access token or its refresh token is live). What does not: delivered
 * files, pending authorizations and codes, fault rules, counters, the pause
 * gate. A snapshot holds private keys and token values: keep it like a secret.
 * @module
 */
import { z } from "zod";
import type { SandboxState } from "./state.js";

/**
 * The saved state of a sandbox, as plain JSON data. Treat it as a secret: it
 * holds contract private keys and live token values.
 *
 * @example
 * ```ts
 * await fs.writeFile("sandbox.json", JSON.stringify(sandbox.exportState()), { mode: 0o600 });
 * const again = createSandbox({ state: JSON.parse(await fs.readFile("sandbox.json", "utf8")) });
 * ```
 */
export interface SandboxSnapshot {
  /** Always `"digime-write-pipeline/sandbox-state"`. */
  format: "digime-write-pipeline/sandbox-state";
  /** Version of this layout; this release reads and writes 1. */
  formatVersion: 1;
  /** The simulated application's id. */
  applicationId: string;
  /** Which of `contracts` is `sandbox.contractDetails`. */
  defaultContractId: string;
  /** Every contract, with its keys. */
  contracts: SnapshotContract[];
  /** Every library, without its files. */
  libraries: SnapshotLibrary[];
  /** Usable token pairs, oldest first (the last one per library and contract is its `latestToken`). */
  tokens: SnapshotTokenPair[];
}

/**
 * A contract in a {@link SandboxSnapshot}: id and PKCS#1 PEM key pair.
 *
 * @example
 * ```ts
 * const ids = snapshot.contracts.map((c: SnapshotContract) => c.contractId);
 * ```
 */
export interface SnapshotContract {
  /** The contract's id. */
  contractId: string;
  /** PKCS#1 PEM private key. A secret. */
  privateKey: string;
  /** PKCS#1 PEM public key. */
  publicKey: string;
}

/**
 * A library in a {@link SandboxSnapshot}: its id and, once a generation A
 * consent made one, its postbox. Files are not saved.
 *
 * @example
 * ```ts
 * const withPostbox = snapshot.libraries.filter((l: SnapshotLibrary) => l.postbox !== undefined);
 * ```
 */
export interface SnapshotLibrary {
  /** The library's id. */
  id: string;
  /** The library's postbox, once a generation A consent made one. */
  postbox?:
    | {
        /** The postbox id generation A writes name. */
        id: string;
        /** PKCS#1 PEM public key writers encrypt to. */
        publicKey: string;
        /** PKCS#1 PEM private key. A secret. */
        privateKey: string;
      }
    | undefined;
}

/**
 * A token pair in a {@link SandboxSnapshot}, with the flags the server keeps.
 * Expiries are epoch seconds of the sandbox clock.
 *
 * @example
 * ```ts
 * const live = snapshot.tokens.filter((t: SnapshotTokenPair) => !t.refreshUsed);
 * ```
 */
export interface SnapshotTokenPair {
  /** The library the pair grants access to. */
  libraryId: string;
  /** The contract it was issued to. */
  contractId: string;
  /** The consent it stems from. */
  consentId: string;
  /** The access token. A secret. */
  accessToken: {
    /** The token. */
    value: string;
    /** Expiry, epoch seconds. */
    expiry: number;
  };
  /** The refresh token. A secret. */
  refreshToken: {
    /** The token. */
    value: string;
    /** Expiry, epoch seconds. */
    expiry: number;
  };
  /** Revoked by `expireAccessTokens`. */
  accessRevoked: boolean;
  /** Spent: refresh tokens are single-use. */
  refreshUsed: boolean;
  /** Revoked by `expireRefreshTokens`. */
  refreshRevoked: boolean;
}

const SNAPSHOT_FORMAT = "digime-write-pipeline/sandbox-state";
const SNAPSHOT_FORMAT_VERSION = 1;

const nonEmpty = z.string().min(1);
const tokenValue = z.object({ value: nonEmpty, expiry: z.number() });
const snapshotSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  formatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  applicationId: nonEmpty,
  defaultContractId: nonEmpty,
  contracts: z.array(z.object({ contractId: nonEmpty, privateKey: nonEmpty, publicKey: nonEmpty })).min(1),
  libraries: z.array(
    z.object({
      id: nonEmpty,
      postbox: z.object({ id: nonEmpty, publicKey: nonEmpty, privateKey: nonEmpty }).optional(),
    }),
  ),
  tokens: z.array(
    z.object({
      libraryId: nonEmpty,
      contractId: nonEmpty,
      consentId: nonEmpty,
      accessToken: tokenValue,
      refreshToken: tokenValue,
      accessRevoked: z.boolean(),
      refreshUsed: z.boolean(),
      refreshRevoked: z.boolean(),
    }),
  ),
});

/**
 * Check an untrusted value (usually parsed JSON) is a snapshot whose parts
 * refer to each other; throws a TypeError naming the first problem.
 *
 * @example
 * ```ts
 * const snapshot = parseSnapshot(JSON.parse(text));
 * ```
 */
export function parseSnapshot(value: unknown): SandboxSnapshot {
  const parsed = snapshotSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? "" : ` at ${issue.path.join(".")}`;
    throw new TypeError(`createSandbox: state is not a sandbox snapshot${where}: ${issue?.message ?? "invalid"}`);
  }
  const snapshot = parsed.data as SandboxSnapshot;
  const contracts = new Set(snapshot.contracts.map((c) => c.contractId));
  const libraries = new Set(snapshot.libraries.map((l) => l.id));
  if (!contracts.has(snapshot.defaultContractId)) throw new TypeError("createSandbox: state.defaultContractId names no contract in state.contracts");
  for (const token of snapshot.tokens) {
    if (!contracts.has(token.contractId) || !libraries.has(token.libraryId)) {
      throw new TypeError("createSandbox: state.tokens refers to a contract or library the snapshot does not hold");
    }
  }
  return snapshot;
}

/**
 * The snapshot of a state (what `sandbox.exportState()` returns). Token pairs
 * that can no longer be used for anything are left out.
 *
 * @example
 * ```ts
 * const snapshot = exportSnapshot(state);
 * ```
 */
export function exportSnapshot(state: SandboxState): SandboxSnapshot {
  const nowSeconds = state.clock.nowSeconds();
  return {
    format: "digime-write-pipeline/sandbox-state",
    formatVersion: 1,
    applicationId: state.applicationId,
    defaultContractId: state.defaultContract.contractId,
    contracts: state.contracts.records().map(({ contractId, privateKey, publicKey }) => ({ contractId, privateKey, publicKey })),
    libraries: state.libraries.views().map(({ id }) => {
      const postbox = state.libraries.settledPostboxOf(id);
      return postbox === undefined ? { id } : { id, postbox: { id: postbox.id, publicKey: postbox.publicKey, privateKey: postbox.privateKey } };
    }),
    tokens: state.tokens
      .records()
      .filter(
        (t) =>
          state.tokens.latest(t.libraryId, t.contractId) === t ||
          (!t.accessRevoked && t.accessToken.expiry > nowSeconds) ||
          (!t.refreshUsed && !t.refreshRevoked && t.refreshToken.expiry > nowSeconds),
      )
      .map((t) => ({
        libraryId: t.libraryId,
        contractId: t.contractId,
        consentId: t.consentId,
        accessToken: { ...t.accessToken },
        refreshToken: { ...t.refreshToken },
        accessRevoked: t.accessRevoked,
        refreshUsed: t.refreshUsed,
        refreshRevoked: t.refreshRevoked,
      })),
  };
}

/**
 * Load a snapshot's contracts (except the default one, which the state was
 * built with), libraries, postboxes and token pairs into a fresh state.
 *
 * @example
 * ```ts
 * applySnapshot(state, snapshot);
 * ```
 */
export function applySnapshot(state: SandboxState, snapshot: SandboxSnapshot): void {
  for (const contract of snapshot.contracts) {
    if (contract.contractId !== state.defaultContract.contractId) state.contracts.restore(contract);
  }
  for (const library of snapshot.libraries) {
    state.libraries.create(library.id);
    if (library.postbox !== undefined) state.libraries.restorePostbox(library.id, library.postbox);
  }
  for (const token of snapshot.tokens) state.tokens.restore(token);
}
