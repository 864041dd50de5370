/**
 * The file-backed {@link TokenStore}: the embedded default for one machine.
 *
 * - One JSON file with a format marker, replaced atomically (temp file in the
 *   same directory, fsync, rename, fsync of the directory).
 * - Writes are serialised in process (one queue per path, shared by every
 *   instance) and across processes (a lock file beside the data file), so a
 *   compare-and-set is atomic even when several processes share the file.
 * - Refresh leases ({@link RefreshLeases}) are files in `<path>.leases/`,
 *   created exclusively and expiring by the wall clock, so processes on the
 *   machine refresh a user's token one at a time.
 * - A file that cannot be read as a token store is reported as
 *   {@link TokenStoreCorruptError} by every operation and is never
 *   overwritten: a broken file must not turn into an empty store.
 * - A directory or file someone else could replace (another owner, group-
 *   or world-writable, a symlink as the file) is refused with
 *   {@link TokenStoreUnsafeError}; an existing file readable beyond
 *   `fileMode` (a 0644 file) is tightened to `fileMode` when first read.
 *   Temp files are created exclusively (`wx`, never following a planted
 *   link); those left by a crashed writer (they hold tokens) are removed on
 *   the first operation.
 * - Tokens are plaintext at rest, protected by the file mode only; wrap the
 *   store with `encryptedTokenStore` to seal them.
 * @module
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants, promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { hostname } from "node:os";
import nodePath from "node:path";
import { z } from "zod";
import { TokenStoreCorruptError, TokenStoreError, TokenStoreUnsafeError } from "../../errors.js";
import {
  buildStoredCredentials,
  parseCredentials,
  parseCredentialsKey,
  parseLeaseOptions,
  parseLeaseOwner,
  parseSetOptions,
  parseUserId,
  storedCredentialsSchema,
} from "../credentials-schema.js";
import { formatPath, parseOrThrow } from "../../internal/zod-issues.js";
import { withBackoff } from "../../internal/backoff.js";
import { FileLeases } from "./file-lease.js";
import { removeIfUnchanged } from "./remove-if-unchanged.js";
import { copyOut, countRecords, deepFreeze } from "../record-copies.js";
import { parseListExpiring, selectExpiring } from "../expiring.js";
import type {
  Credentials,
  CredentialsKey,
  RefreshLeaseOptions,
  RefreshLeases,
  SetOptions,
  SetResult,
  StoredCredentials,
  TokenStore,
  ExpiringTokens,
  ListExpiringOptions,
} from "../token-store.js";

/** The `format` marker written into every token store file. */
const FORMAT = "digime-write-pipeline/token-store";
/** The only `formatVersion` this release reads and writes. */
const FORMAT_VERSION = 1;
/** A lock older than this is broken whoever holds it: no operation holds it for more than a moment. */
const STALE_LOCK_MS = 5 * 60_000;
/**
 * A lock file we cannot parse (a writer crashed between create and write) is broken after this.
 * A live writer writes its owner straight after creating the file; well below the default
 * `lockTimeoutMs` (10 s), or the next writer would time out just as the lock became breakable.
 */
const UNREADABLE_LOCK_MS = 3_000;
/** A temp file this old is a crash leftover whoever made it: a write holds one for a moment only. */
const STALE_TEMP_MS = 60_000;
/** Opening the data file must not follow a symlink (0 where the platform has no such flag). */
const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
/** Wall-clock time this process started; a lock with our pid made before it is a previous incarnation's. */
const PROCESS_STARTED_AT = Date.now() - process.uptime() * 1000;

/**
 * Options of {@link FileTokenStore}.
 *
 * @example
 * ```ts
 * const store = new FileTokenStore({ path: "/var/lib/app/digime-tokens.json", lockTimeoutMs: 5_000 });
 * ```
 */
export interface FileTokenStoreOptions {
  /** The JSON file to keep credentials in. Parent directories are created (mode `0o700`) on the first write. */
  readonly path: string;
  /**
   * Clock for `updatedAt`, in epoch milliseconds. Defaults to `Date.now`.
   * @defaultValue `Date.now`
   */
  readonly now?: (() => number) | undefined;
  /**
   * Permission bits of the file. Defaults to `0o600`: tokens are secrets.
   * @defaultValue `0o600`
   */
  readonly fileMode?: number | undefined;
  /**
   * How long a write waits for another process's lock on the file before it
   * fails with a (retryable) {@link TokenStoreError}. Defaults to 10 000 ms.
   * @defaultValue `10_000`
   */
  readonly lockTimeoutMs?: number | undefined;
}

const fileOptionsSchema = z.object(
  {
    path: z
      .string({ error: "must be a non-empty string" })
      .min(1, { error: "must be a non-empty string" })
      .max(4096, { error: "must be at most 4096 characters" })
      .refine((path) => !path.includes("\u0000"), { error: "must not contain NUL characters" }),
    now: z.custom<() => number>((value) => typeof value === "function", { error: "must be a function" }).optional(),
    fileMode: z
      .number({ error: "must be an integer between 0 and 0o777" })
      .int({ error: "must be an integer between 0 and 0o777" })
      .min(0, { error: "must be an integer between 0 and 0o777" })
      .max(0o777, { error: "must be an integer between 0 and 0o777" })
      .optional(),
    lockTimeoutMs: z.number({ error: "must be a non-negative number" }).min(0, { error: "must be a non-negative number" }).optional(),
  },
  { error: "must be an object with a path" },
);

/** userId → contractId → frozen record; nested Maps so no two keys can collide. */
type RecordMap = Map<string, Map<string, StoredCredentials>>;

interface Cache {
  /** Identity of the file version the records were read from (device, inode, size, mtime, ctime). */
  readonly stamp: string;
  readonly records: RecordMap;
}

/** The lock file is held by another process (or was just released): wait and try again. */
class LockBusy extends Error {}

/**
 * A {@link TokenStore} in one JSON file, for a single machine. Survives
 * restarts; safe to share between instances and processes on that machine.
 *
 * The file looks like `{ "format": "digime-write-pipeline/token-store",
 * "formatVersion": 1, "records": [...] }`. Reads are cached and re-read when
 * the file changes on disk.
 *
 * @example
 * ```ts
 * const store = new FileTokenStore({ path: "/var/lib/my-app/digime-tokens.json" });
 * const client = new WriteClient({ ...options, tokenStore: store });
 * ```
 */
export class FileTokenStore implements TokenStore, RefreshLeases, ExpiringTokens {
  readonly #path: string;
  readonly #lockPath: string;
  readonly #now: () => number;
  readonly #fileMode: number;
  readonly #lockTimeoutMs: number;
  readonly #leases: FileLeases;
  #cache: Cache | undefined;
  /** Set once the directory was checked and crash leftovers removed (the first operation does it). */
  #started: Promise<void> | undefined;

  constructor(options: FileTokenStoreOptions) {
    const parsed = parseOrThrow(fileOptionsSchema, options, "INVALID_OPTIONS", "options", "FileTokenStore options");
    // Resolved once, so a later process.chdir cannot move the store.
    this.#path = nodePath.resolve(parsed.path);
    this.#lockPath = `${this.#path}.lock`;
    this.#now = parsed.now ?? Date.now;
    this.#fileMode = parsed.fileMode ?? 0o600;
    this.#lockTimeoutMs = parsed.lockTimeoutMs ?? 10_000;
    this.#leases = new FileLeases(this.#path);
  }

  /**
   * The absolute path of the store's file.
   *
   * @example
   * ```ts
   * console.log(new FileTokenStore({ path: "tokens.json" }).path); // "/srv/app/tokens.json"
   * ```
   */
  get path(): string {
    return this.#path;
  }

  /**
   * The credentials for `key`, or `undefined`.
   *
   * @throws {@link TokenStoreCorruptError} when the file is not a token store.
   * @throws {@link TokenStoreUnsafeError} when the file or its directory could be read or replaced by someone else.
   * @throws {@link TokenStoreError} when the file cannot be read.
   * @example
   * ```ts
   * const record = await store.get({ userId: "alice", contractId: "c1" });
   * ```
   */
  async get(key: CredentialsKey): Promise<StoredCredentials | undefined> {
    const { userId, contractId } = parseCredentialsKey(key);
    return this.#serial(async () => copyOut((await this.#load()).get(userId)?.get(contractId)));
  }

  /**
   * Compare-and-set: stores `credentials` if the stored version equals
   * `options.expectedVersion` (`null`: only if nothing is stored), then
   * resolves once the file is durably replaced.
   *
   * @throws {@link TokenStoreCorruptError} when the file is not a token store (it is not touched).
   * @throws {@link TokenStoreUnsafeError} when the file or its directory could be read or replaced by someone else.
   * @throws {@link TokenStoreError} when the file cannot be read, locked or written.
   * @example
   * ```ts
   * const result = await store.set(key, { userAccessToken }, { expectedVersion: null });
   * ```
   */
  async set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult> {
    const parsedKey = parseCredentialsKey(key);
    const parsedCredentials = parseCredentials(credentials);
    const { expectedVersion } = parseSetOptions(options);

    return this.#serial(async () => {
      // Fail on a corrupt file before creating directories or lock files.
      await this.#load();
      await this.#ensureDirectory();
      return this.#withFileLock(async (): Promise<SetResult> => {
        const records = await this.#load();
        const current = records.get(parsedKey.userId)?.get(parsedKey.contractId);
        if ((current?.version ?? null) !== expectedVersion) {
          return { status: "conflict", current: copyOut(current) };
        }
        const record = deepFreeze(
          buildStoredCredentials(parsedKey, parsedCredentials, (current?.version ?? 0) + 1, this.#now()),
        );
        const next = new Map(records);
        next.set(parsedKey.userId, new Map(records.get(parsedKey.userId)).set(parsedKey.contractId, record));
        await this.#write(next);
        return { status: "stored", record: structuredClone(record) };
      });
    });
  }

  /**
   * Removes the credentials for `key`; `true` if there were any.
   *
   * @throws {@link TokenStoreCorruptError} when the file is not a token store (it is not touched).
   * @throws {@link TokenStoreUnsafeError} when the file or its directory could be read or replaced by someone else.
   * @throws {@link TokenStoreError} when the file cannot be read, locked or written.
   * @example
   * ```ts
   * await store.delete({ userId: "alice", contractId: "c1" });
   * ```
   */
  async delete(key: CredentialsKey): Promise<boolean> {
    const { userId, contractId } = parseCredentialsKey(key);
    return this.#serial(async () => {
      // Nothing to remove needs no lock, no directory and no write.
      if (!(await this.#load()).get(userId)?.has(contractId)) return false;
      return this.#withFileLock(async () => {
        const records = await this.#load();
        const contracts = records.get(userId);
        if (contracts === undefined || !contracts.has(contractId)) return false;
        const next = new Map(records);
        const remaining = new Map(contracts);
        remaining.delete(contractId);
        if (remaining.size === 0) next.delete(userId);
        else next.set(userId, remaining);
        await this.#write(next);
        return true;
      });
    });
  }

  /**
   * Every record of `userId`, one per contract.
   *
   * @throws {@link TokenStoreCorruptError} when the file is not a token store.
   * @example
   * ```ts
   * const all = await store.listByUser("alice");
   * ```
   */
  async listByUser(userId: string): Promise<StoredCredentials[]> {
    const id = parseUserId(userId);
    return this.#serial(async () =>
      [...((await this.#load()).get(id)?.values() ?? [])].map((record) => structuredClone(record)),
    );
  }

  /**
   * The contract's records whose refresh token expires before
   * `options.refreshTokenExpiresBefore`, soonest first (token upkeep).
   *
   * @throws {@link TokenStoreError} when the file cannot be read; {@link TokenStoreCorruptError} when it is not a token file.
   * @example
   * ```ts
   * const soon = await store.listExpiring("c1", { refreshTokenExpiresBefore: Date.now() + 86_400_000, limit: 100 });
   * ```
   */
  async listExpiring(contractId: string, options: ListExpiringOptions): Promise<StoredCredentials[]> {
    const parsed = parseListExpiring(contractId, options);
    return this.#serial(async () => {
      const all = [...(await this.#load()).values()].flatMap((contracts) => [...contracts.values()]);
      return selectExpiring(all, parsed.contractId, parsed.options);
    });
  }

  /**
   * Takes the refresh lease of `key` for `options.ttlMs` (wall clock), shared
   * by every process using this file; `false` while another is held.
   *
   * @throws {@link TokenStoreError} when the lease folder cannot be written.
   * @example
   * ```ts
   * if (await store.acquireRefreshLease(key, { owner: "worker-1", ttlMs: 10_000 })) console.log("mine");
   * ```
   */
  async acquireRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean> {
    const parsedKey = parseCredentialsKey(key);
    const { owner, ttlMs } = parseLeaseOptions(options);
    return this.#leases.acquire(parsedKey, owner, ttlMs);
  }

  /**
   * Extends `owner`'s unexpired refresh lease of `key` to `options.ttlMs`
   * from now (wall clock); `false` when `owner` no longer holds it.
   *
   * @example
   * ```ts
   * const stillMine = await store.renewRefreshLease(key, { owner: "worker-1", ttlMs: 3_000 });
   * ```
   */
  async renewRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean> {
    const parsedKey = parseCredentialsKey(key);
    const { owner, ttlMs } = parseLeaseOptions(options);
    return this.#leases.renew(parsedKey, owner, ttlMs);
  }

  /**
   * Releases the refresh lease of `key` if `owner` holds it.
   *
   * @example
   * ```ts
   * await store.releaseRefreshLease(key, "worker-1");
   * ```
   */
  async releaseRefreshLease(key: CredentialsKey, owner: string): Promise<void> {
    await this.#leases.release(parseCredentialsKey(key), parseLeaseOwner(owner));
  }

  /** Shows the path and a record count only: `util.inspect` must never print a token. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    const records = this.#cache === undefined ? "unknown" : String(countRecords(this.#cache.records));
    return `FileTokenStore { path: ${JSON.stringify(this.#path)}, records: ${records} }`;
  }

  /** Runs `task` after every earlier operation on this path in this process (any instance) settled. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const queues = processQueues();
    const previous = queues.get(this.#path) ?? Promise.resolve();
    const result = previous.then(task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    queues.set(this.#path, settled);
    void settled.then(() => {
      if (queues.get(this.#path) === settled) queues.delete(this.#path);
    });
    return result;
  }

  /** The records on disk: from the cache when the file is unchanged, else read and checked. */
  async #load(): Promise<RecordMap> {
    // A failed start (an unsafe directory) is tried again next time, so fixing the permissions is enough.
    await (this.#started ??= this.#start().catch((error: unknown) => {
      this.#started = undefined;
      throw error;
    }));
    let handle: FileHandle;
    try {
      handle = await fs.open(this.#path, fsConstants.O_RDONLY | O_NOFOLLOW);
    } catch (error) {
      if (errorCode(error) === "ELOOP") throw new TokenStoreUnsafeError(this.#path, "it is a symlink");
      if (errorCode(error) === "ENOENT") {
        // A missing file is an empty store (first run, or nothing stored yet).
        this.#cache = { stamp: "absent", records: new Map() };
        return this.#cache.records;
      }
      throw this.#ioError("open", error);
    }
    try {
      // Stat and read through one handle, so the stamp describes the bytes read.
      let stat = await handle.stat({ bigint: true });
      if (!stat.isFile()) throw new TokenStoreError(`Token store path "${this.#path}" is not a regular file`);
      this.#checkOwnership(this.#path, Number(stat.uid), Number(stat.mode), this.#fileMode);
      if (await this.#tightened(handle, Number(stat.mode))) stat = await handle.stat({ bigint: true });
      const stamp = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
      if (this.#cache?.stamp === stamp) return this.#cache.records;
      const bytes = await handle.readFile();
      const records = this.#parse(bytes);
      this.#cache = { stamp, records };
      return records;
    } catch (error) {
      if (error instanceof TokenStoreError || error instanceof TokenStoreCorruptError || error instanceof TokenStoreUnsafeError) throw error;
      throw this.#ioError("read", error);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  #parse(bytes: Buffer): RecordMap {
    const corrupt = (reason: string): TokenStoreCorruptError => new TokenStoreCorruptError(this.#path, reason);
    let document: unknown;
    try {
      document = JSON.parse(bytes.toString("utf8"));
    } catch {
      // No cause: V8's JSON error message quotes the file's bytes, which may be tokens.
      throw corrupt("not valid JSON");
    }
    if (document === null || typeof document !== "object" || Array.isArray(document)) {
      throw corrupt("expected a JSON object");
    }
    const { format, formatVersion, records } = document as Record<string, unknown>;
    if (format !== FORMAT) throw corrupt(`the "format" marker is missing or is not "${FORMAT}"`);
    if (formatVersion !== FORMAT_VERSION) {
      throw corrupt(
        typeof formatVersion === "number"
          ? `unsupported formatVersion ${formatVersion} (this release reads ${FORMAT_VERSION}; was it written by a newer release?)`
          : `"formatVersion" is missing or not a number`,
      );
    }
    const parsed = z.array(storedCredentialsSchema, { error: "must be an array" }).safeParse(records);
    if (!parsed.success) {
      const issues = parsed.error.issues;
      const listed = issues.slice(0, 3).map((issue) => `${formatPath("records", issue.path)}: ${issue.message}`);
      if (issues.length > 3) listed.push(`and ${issues.length - 3} more`);
      throw corrupt(listed.join("; "));
    }
    const map: RecordMap = new Map();
    const seenAt = new Map<string, Map<string, number>>();
    parsed.data.forEach((raw, index) => {
      const contracts = map.get(raw.userId) ?? new Map<string, StoredCredentials>();
      const seen = seenAt.get(raw.userId) ?? new Map<string, number>();
      const earlier = seen.get(raw.contractId);
      if (earlier !== undefined) throw corrupt(`records[${index}] has the same userId and contractId as records[${earlier}]`);
      seen.set(raw.contractId, index);
      seenAt.set(raw.userId, seen);
      contracts.set(raw.contractId, deepFreeze(buildStoredCredentials(raw, raw as Credentials, raw.version, raw.updatedAt)));
      map.set(raw.userId, contracts);
    });
    return map;
  }

  async #ensureDirectory(): Promise<void> {
    let created: string | undefined;
    try {
      // 0o700: only the owner may list or add files beside the tokens.
      created = await fs.mkdir(nodePath.dirname(this.#path), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw this.#ioError("create the directory of", error);
    }
    // An existing directory is used only if it is safe; one we just made is checked on the next start.
    if (created === undefined) await this.#checkDirectory();
  }

  /**
   * First operation of this instance: refuse an unsafe directory, and remove
   * temp files a crashed writer left behind (each holds a copy of the tokens).
   */
  async #start(): Promise<void> {
    const directory = nodePath.dirname(this.#path);
    if (!(await this.#checkDirectory())) return;
    const prefix = `.${nodePath.basename(this.#path)}.`;
    let names: string[];
    try {
      names = await fs.readdir(directory);
    } catch {
      return; // cannot list: nothing to clean that we could reach anyway
    }
    for (const name of names) {
      const match = name.startsWith(prefix) ? /^(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length)) : null;
      if (match === null) continue;
      const leftover = nodePath.join(directory, name);
      const stat = await fs.lstat(leftover).catch(() => undefined);
      if (stat === undefined || !stat.isFile()) continue;
      const pid = Number(match[1]);
      // A live writer's temp file lives for milliseconds; a dead writer's, or an old one, is a leftover.
      const dead = pid !== process.pid && !isProcessAlive(pid);
      if (dead || Date.now() - stat.mtimeMs > STALE_TEMP_MS) await fs.rm(leftover, { force: true }).catch(() => undefined);
    }
  }

  /** Refuse a directory someone else could write to; `false` when it does not exist yet. */
  async #checkDirectory(): Promise<boolean> {
    const directory = nodePath.dirname(this.#path);
    let stat;
    try {
      stat = await fs.stat(directory);
    } catch (error) {
      if (errorCode(error) === "ENOENT") return false;
      throw this.#ioError("inspect the directory of", error);
    }
    if (!stat.isDirectory()) return false; // reported by the operation that needs it
    this.#checkOwnership(directory, stat.uid, stat.mode, 0);
    return true;
  }

  /** Owned by us (or root) and not writable by group or others beyond what `allowed` grants. */
  #checkOwnership(path: string, uid: number, mode: number, allowed: number): void {
    const self = process.getuid?.();
    if (self === undefined) return; // Windows: no POSIX owner or mode to check
    if (uid !== self && uid !== 0) throw new TokenStoreUnsafeError(path, `owned by uid ${uid}, not by this process (uid ${self})`);
    const writable = mode & 0o022 & ~allowed;
    if (writable !== 0) throw new TokenStoreUnsafeError(path, `writable by ${writable & 0o020 ? "its group" : "everyone"} (mode ${(mode & 0o777).toString(8)})`);
  }

  /**
   * An existing file that grants more than `fileMode` (readable by group or
   * others, say a 0644 file from an older version or a copy) is tightened to
   * `fileMode` through the open handle (no path is looked up again, so nothing
   * can be swapped in between). Tightened rather than refused: the file is
   * ours (checked just before), and refusing would stop every write until
   * someone ran chmod, while tightening closes the hole at once. A file we
   * may not chmod is refused.
   */
  async #tightened(handle: FileHandle, mode: number): Promise<boolean> {
    if (process.getuid === undefined || (mode & 0o777 & ~this.#fileMode) === 0) return false;
    try {
      await handle.chmod(this.#fileMode);
    } catch {
      throw new TokenStoreUnsafeError(this.#path, `readable by others (mode ${(mode & 0o777).toString(8)}) and its mode could not be tightened to ${this.#fileMode.toString(8)}`);
    }
    return true;
  }

  /** Atomically replaces the file with `records`: temp file, fsync, rename, fsync directory. */
  async #write(records: RecordMap): Promise<void> {
    const directory = nodePath.dirname(this.#path);
    const temp = nodePath.join(
      directory,
      `.${nodePath.basename(this.#path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`,
    );
    const body = `${JSON.stringify({ format: FORMAT, formatVersion: FORMAT_VERSION, records: [...flatten(records)] }, null, 2)}\n`;
    let handle: FileHandle | undefined;
    try {
      handle = await fs.open(temp, "wx", this.#fileMode);
      // The umask may have narrowed the mode given to open; set exactly what was asked.
      await handle.chmod(this.#fileMode);
      await handle.writeFile(body, "utf8");
      await handle.sync();
      await handle.close();
      handle = undefined;
      await fs.rename(temp, this.#path);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw this.#ioError("write", error);
    }
    await fsyncDirectory(directory);
    try {
      const stat = await fs.stat(this.#path, { bigint: true });
      this.#cache = { stamp: `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`, records };
    } catch {
      // The write succeeded; without a stamp the next operation simply re-reads the file.
      this.#cache = undefined;
    }
  }

  /** Runs `task` holding the cross-process lock file `<path>.lock`. */
  async #withFileLock<T>(task: () => Promise<T>): Promise<T> {
    const token = randomBytes(16).toString("hex");
    await this.#acquireFileLock(token);
    try {
      return await task();
    } finally {
      await this.#releaseFileLock(token);
    }
  }

  async #acquireFileLock(token: string): Promise<void> {
    const body = JSON.stringify({
      pid: process.pid,
      host: hostname(),
      createdAt: Date.now(),
      token,
    } satisfies LockOwner);
    let holder: LockHolder | undefined;
    let unbreakable = false;
    /** One try to take the lock; throws `LockBusy` to wait (backoff) and try again. */
    const take = async (): Promise<void> => {
      // A second go only straight after breaking a stale lock: taken at once, without the pause.
      for (let go = 0; go < 2; go += 1) {
        let handle: FileHandle | undefined;
        try {
          handle = await fs.open(this.#lockPath, "wx", 0o600);
        } catch (error) {
          if (errorCode(error) !== "EEXIST") throw this.#ioError("create the lock file of", error);
        }
        if (handle !== undefined) {
          try {
            await handle.writeFile(body, "utf8");
            await handle.close();
            return;
          } catch (error) {
            await handle.close().catch(() => undefined);
            await fs.rm(this.#lockPath, { force: true }).catch(() => undefined);
            throw this.#ioError("write the lock file of", error);
          }
        }
        holder = await readLock(this.#lockPath);
        if (holder === undefined) break; // released meanwhile (or a dangling link): try again after the pause
        if (!isStale(holder)) break;
        unbreakable = !(await breakLock(this.#lockPath, holder.raw));
        if (unbreakable) break;
      }
      throw new LockBusy();
    };
    try {
      // The deadline and the pause apply to every way of waiting, so a lock that cannot be read or
      // broken (another uid, sticky directory, read-only file system) cannot spin forever.
      await withBackoff(take, { retries: Number.POSITIVE_INFINITY, minDelayMs: 2, maxDelayMs: 100, jitter: true, untilMs: this.#lockTimeoutMs, shouldRetry: (error) => error instanceof LockBusy });
    } catch (error) {
      if (error instanceof LockBusy) throw this.#lockTimeout(holder, unbreakable);
      throw error;
    }
  }

  #lockTimeout(holder: LockHolder | undefined, unbreakable: boolean): TokenStoreError {
    const who = holder?.owner === undefined ? "an unknown process" : `process ${holder.owner.pid} on ${holder.owner.host}`;
    const hint = unbreakable ? "it is stale but could not be removed (check the directory's owner and permissions)" : "if that process is gone, delete the lock file";
    return new TokenStoreError(`Timed out after ${this.#lockTimeoutMs} ms waiting for the lock file "${this.#lockPath}" held by ${who}; ${hint}`);
  }

  async #releaseFileLock(token: string): Promise<void> {
    // Remove the lock only if it is still ours: had it been judged stale and
    // broken, the file may now belong to someone else.
    const holder = await readLock(this.#lockPath).catch(() => undefined);
    if (holder?.owner?.token === token) await fs.rm(this.#lockPath, { force: true }).catch(() => undefined);
  }

  #ioError(action: string, cause: unknown): TokenStoreError {
    // fs errors carry a path, a syscall and an errno: nothing secret.
    return new TokenStoreError(`Could not ${action} token store file "${this.#path}"`, { cause });
  }
}

/** What a lock file says about its holder. */
interface LockOwner {
  pid: number;
  host: string;
  createdAt: number;
  token: string;
}

interface LockHolder {
  raw: string;
  owner: LockOwner | undefined;
  mtimeMs: number;
}

async function readLock(lockPath: string): Promise<LockHolder | undefined> {
  try {
    const [raw, stat] = await Promise.all([fs.readFile(lockPath, "utf8"), fs.stat(lockPath)]);
    return { raw, owner: parseLockOwner(raw), mtimeMs: stat.mtimeMs };
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    // Unreadable lock: report it as an anonymous, fresh holder so we wait and time out clearly.
    return { raw: "", owner: undefined, mtimeMs: Date.now() };
  }
}

function parseLockOwner(raw: string): LockOwner | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockOwner> | null;
    if (
      value !== null &&
      typeof value === "object" &&
      Number.isInteger(value.pid) &&
      typeof value.host === "string" &&
      typeof value.createdAt === "number" &&
      typeof value.token === "string"
    ) {
      return value as LockOwner;
    }
  } catch {
    // fall through: unparseable
  }
  return undefined;
}

function isStale(holder: LockHolder): boolean {
  const { owner } = holder;
  if (owner === undefined) return Date.now() - holder.mtimeMs > UNREADABLE_LOCK_MS;
  if (Date.now() - owner.createdAt > STALE_LOCK_MS) return true;
  // A pid means nothing on another host: only age can tell there.
  if (owner.host !== hostname()) return false;
  // Our own pid: another thread or module copy of this process holds it,
  // unless it was made before we started (a container restarted as pid 1).
  if (owner.pid === process.pid) return owner.createdAt < PROCESS_STARTED_AT - 1000;
  return !isProcessAlive(owner.pid);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return errorCode(error) === "EPERM";
  }
}

/** Break a stale lock; `false` when it cannot be moved at all (no permission, read-only file system: then waiting is all that is left). */
async function breakLock(lockPath: string, staleContent: string): Promise<boolean> {
  return (await removeIfUnchanged(lockPath, staleContent)) !== "stuck";
}

async function fsyncDirectory(directory: string): Promise<void> {
  // Makes the rename itself durable. Not supported on every platform
  // (Windows refuses to open directories): the rename is still atomic there.
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(directory, "r");
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

type ProcessQueues = Map<string, Promise<void>>;
const QUEUES = Symbol.for("digime-write-pipeline.file-token-store.queues");

/** One queue per file path for the whole process, shared even by ESM and CJS copies of this module. */
function processQueues(): ProcessQueues {
  const holder = globalThis as unknown as Record<symbol, ProcessQueues | undefined>;
  return (holder[QUEUES] ??= new Map());
}

function* flatten(records: RecordMap): Generator<StoredCredentials> {
  for (const contracts of records.values()) yield* contracts.values();
}

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;
}
