/**
 * Where durable writes keep payloads too large for a job, and streams: the
 * {@link PayloadStore} interface and {@link DirectoryPayloadStore}, one
 * implementation over a directory every producer and worker can reach.
 * @module
 */
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, mkdir, rename, rm, stat } from "node:fs/promises";
import nodePath from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { parseStoreOptions } from "../stores/parse-options.js";
import type { ReadableFactory } from "../writing/file-meta.js";

/**
 * Keeps the bytes of durable writes that are not stored inside the job: those
 * larger than `maxInlineBytes`, and streams. Keys are made by the library
 * (letters, digits, `-` and `_` only). The producer calls `put` before the
 * job is enqueued; a worker calls `open` for each run of the job; the payload
 * is deleted once the write is delivered or has finally failed.
 *
 * @example
 * ```ts
 * const payloadStore: PayloadStore = new DirectoryPayloadStore({ directory: "/mnt/shared/digime-payloads" });
 * const queue = new DurableWriteQueue({ connection, queueName: "digime-writes", payloadStore });
 * ```
 */
export interface PayloadStore {
  /** Store `data` (bytes or a stream, read to its end) under `key`; resolves with the bytes stored, once they are durable. */
  put(key: string, data: Uint8Array | Readable): Promise<number>;
  /**
   * A factory of streams over the payload of `key` (each call a new stream
   * from the start, so the client can retry). Rejects when nothing is stored
   * under `key`.
   */
  open(key: string): Promise<ReadableFactory>;
  /** Remove the payload of `key`; removing one that is gone is not an error. */
  delete(key: string): Promise<void>;
}

/**
 * Options of {@link DirectoryPayloadStore}.
 *
 * @example
 * ```ts
 * const options: DirectoryPayloadStoreOptions = { directory: "/mnt/shared/digime-payloads" };
 * ```
 */
export interface DirectoryPayloadStoreOptions {
  /**
   * A directory that the producers and every worker can read and write
   * (created if missing). It is made owner-only (0700) and each payload file
   * 0600, whatever the umask: run producers and workers as the same account.
   */
  directory: string;
}

const optionsSchema = z.object({ directory: z.string().min(1, "must not be empty") }).strict();
const KEY = /^[A-Za-z0-9_-]{1,200}$/;
/** The payload directory: owner only. */
const DIRECTORY_MODE = 0o700;
/** A payload file: owner read and write only. */
const FILE_MODE = 0o600;

function checkedKey(key: string): string {
  if (typeof key !== "string" || !KEY.test(key)) throw new TypeError("DirectoryPayloadStore: a payload key must be 1-200 letters, digits, '-' or '_'");
  return key;
}

/**
 * A {@link PayloadStore} over a directory (a volume shared by producers and
 * workers, such as NFS or a shared disk): one file per payload, written to a
 * temporary name and renamed, so a worker never reads half a payload.
 *
 * @example
 * ```ts
 * import { DirectoryPayloadStore, DurableWriteQueue } from "digime-write-pipeline/bullmq";
 * const payloadStore = new DirectoryPayloadStore({ directory: "/mnt/shared/digime-payloads" });
 * const queue = new DurableWriteQueue({ connection, queueName: "digime-writes", payloadStore });
 * await queue.enqueue("alice", { fileData: () => createReadStream("video.mp4"), fileName: "video.mp4", fileDescriptor });
 * ```
 */
export class DirectoryPayloadStore implements PayloadStore {
  readonly #directory: string;
  #ready: Promise<unknown> | undefined;

  /** @throws ValidationError (`INVALID_OPTIONS`) naming the bad field. */
  constructor(options: DirectoryPayloadStoreOptions) {
    this.#directory = parseStoreOptions(optionsSchema, options, "DirectoryPayloadStore").directory;
  }

  #path(key: string): string {
    return nodePath.join(this.#directory, `${checkedKey(key)}.payload`);
  }

  /** Writes to a temporary file, flushes it, then renames it into place. */
  async put(key: string, data: Uint8Array | Readable): Promise<number> {
    const target = this.#path(key);
    // Users' files: readable by this account only, whatever the umask (mkdir's and open's modes are masked by it; chmod is not).
    this.#ready ??= mkdir(this.#directory, { recursive: true, mode: DIRECTORY_MODE }).then(() => chmod(this.#directory, DIRECTORY_MODE));
    this.#ready.catch(() => (this.#ready = undefined));
    await this.#ready;
    const temporary = nodePath.join(this.#directory, `.${randomUUID()}.tmp`);
    try {
      await pipeline(data instanceof Readable ? data : Readable.from([data]), createWriteStream(temporary, { flush: true, mode: FILE_MODE }));
      await chmod(temporary, FILE_MODE);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return (await stat(target)).size;
  }

  /** @throws when nothing is stored under `key`. */
  async open(key: string): Promise<ReadableFactory> {
    const path = this.#path(key);
    await stat(path);
    return () => createReadStream(path);
  }

  /** Removes the payload's file, if it is there. */
  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  /** Shows the directory only. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `DirectoryPayloadStore { directory: ${JSON.stringify(this.#directory)} }`;
  }
}
