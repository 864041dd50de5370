/**
 * Refresh leases for {@link FileTokenStore}: one small file per user and
 * contract in a folder beside the token file, created exclusively (`wx`), so
 * processes on one machine take turns spending a user's refresh token.
 * Expiry is by the wall clock, which every process on the machine shares.
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import nodePath from "node:path";
import { TokenStoreError } from "../../errors.js";
import { removeIfUnchanged } from "./remove-if-unchanged.js";
import type { CredentialsKey } from "../token-store.js";

/** A lease file that cannot be parsed (its writer died between create and write) counts as expired after this. */
const UNREADABLE_LEASE_MS = 10_000;

interface LeaseFile {
  owner: string;
  expiresAt: number;
}

/** The refresh leases of one token file: one lease file per user and contract, see above. */
export class FileLeases {
  readonly #directory: string;

  /** Leases for the token file at `dataPath` live in `<dataPath>.leases/`. */
  constructor(dataPath: string) {
    this.#directory = `${dataPath}.leases`;
  }

  #file(key: CredentialsKey): string {
    // A hash: any user or contract id becomes a safe, fixed-length file name, and ids cannot collide through separators.
    const name = createHash("sha256").update(key.userId).update("\u0000").update(key.contractId).digest("hex");
    return nodePath.join(this.#directory, `${name}.lease`);
  }

  async acquire(key: CredentialsKey, owner: string, ttlMs: number): Promise<boolean> {
    const file = this.#file(key);
    const body = JSON.stringify({ owner, expiresAt: Date.now() + ttlMs } satisfies LeaseFile);
    await this.#ensureDirectory();
    // Bounded: each round either takes the lease, finds it held, or clears one expired lease.
    for (let round = 0; round < 3; round += 1) {
      if (await this.#create(file, body)) return true;
      const held = await readLease(file);
      if (held === "absent") continue; // released meanwhile
      if (!isExpired(held)) return false;
      if ((await removeIfUnchanged(file, held.raw)) !== "removed") return false;
    }
    return false;
  }

  /**
   * Rewrite `owner`'s unexpired lease with a later expiry. The new content
   * replaces the file by rename, so a reader sees the old lease or the new
   * one, never a half-written file; a process judging the old one expired
   * meanwhile finds the file changed and leaves it (see removeIfUnchanged).
   */
  async renew(key: CredentialsKey, owner: string, ttlMs: number): Promise<boolean> {
    const file = this.#file(key);
    const held = await readLease(file);
    if (held === "absent" || held.lease?.owner !== owner || isExpired(held)) return false;
    const next = `${file}.${randomBytes(6).toString("hex")}.renew`;
    try {
      await fs.writeFile(next, JSON.stringify({ owner, expiresAt: Date.now() + ttlMs } satisfies LeaseFile), { encoding: "utf8", mode: 0o600 });
      await fs.rename(next, file);
    } catch (error) {
      await fs.rm(next, { force: true }).catch(() => undefined);
      throw new TokenStoreError(`Could not renew the refresh lease file "${file}"`, { cause: error });
    }
    return true;
  }

  async release(key: CredentialsKey, owner: string): Promise<void> {
    const file = this.#file(key);
    const held = await readLease(file);
    if (held === "absent" || held.lease?.owner !== owner) return;
    await removeIfUnchanged(file, held.raw);
  }

  async #ensureDirectory(): Promise<void> {
    try {
      await fs.mkdir(this.#directory, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new TokenStoreError(`Could not create the refresh lease folder "${this.#directory}"`, { cause: error });
    }
  }

  /** Create the lease file exclusively; `false` when it exists. */
  async #create(file: string, body: string): Promise<boolean> {
    let handle;
    try {
      handle = await fs.open(file, "wx", 0o600);
    } catch (error) {
      if ((error as { code?: unknown }).code === "EEXIST") return false;
      throw new TokenStoreError(`Could not create the refresh lease file "${file}"`, { cause: error });
    }
    try {
      await handle.writeFile(body, "utf8");
    } finally {
      await handle.close().catch(() => undefined);
    }
    return true;
  }
}

interface HeldLease {
  raw: string;
  lease: LeaseFile | undefined;
  mtimeMs: number;
}

async function readLease(file: string): Promise<HeldLease | "absent"> {
  try {
    const [raw, stat] = await Promise.all([fs.readFile(file, "utf8"), fs.stat(file)]);
    return { raw, lease: parseLease(raw), mtimeMs: stat.mtimeMs };
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return "absent";
    throw new TokenStoreError(`Could not read the refresh lease file "${file}"`, { cause: error });
  }
}

function parseLease(raw: string): LeaseFile | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LeaseFile> | null;
    if (value !== null && typeof value === "object" && typeof value.owner === "string" && typeof value.expiresAt === "number") return value as LeaseFile;
  } catch {
    // unparseable: judged by age below
  }
  return undefined;
}

function isExpired(held: HeldLease): boolean {
  if (held.lease === undefined) return Date.now() - held.mtimeMs > UNREADABLE_LEASE_MS;
  return held.lease.expiresAt <= Date.now();
}
