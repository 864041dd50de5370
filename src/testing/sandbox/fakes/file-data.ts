/**
 * The request body of a write, as the SDK would send it. A Buffer can be sent
 * any number of times; a stream is consumed by the first upload, so a retry
 * inside the SDK (after a refresh) uploads whatever is left: usually nothing.
 * That is the real SDK's behaviour and the reason the library accepts a
 * stream factory.
 * @module
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { BodySource, ReceivedBody } from "../server.js";

/**
 * A stream failed while being uploaded. Carries the stream's own error so
 * each front end can surface it the way its SDK would.
 *
 * @example
 * ```ts
 * if (error instanceof BodyReadError) throw error.original;
 * ```
 */
export class BodyReadError extends Error {
  readonly original: unknown;

  constructor(original: unknown) {
    super(original instanceof Error ? original.message : "The file stream failed");
    this.name = "BodyReadError";
    this.original = original;
  }
}

async function drain(stream: NodeJS.ReadableStream): Promise<Buffer> {
  if (stream instanceof Readable && (stream.readableEnded || stream.destroyed)) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  } catch (error) {
    throw new BodyReadError(error);
  }
  return Buffer.concat(chunks);
}

/** Read a stream through, counting and hashing, keeping nothing. */
async function digest(stream: NodeJS.ReadableStream): Promise<ReceivedBody> {
  const hash = createHash("sha256");
  let size = 0;
  if (!(stream instanceof Readable && (stream.readableEnded || stream.destroyed))) {
    try {
      for await (const chunk of stream) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        hash.update(bytes);
        size += bytes.byteLength;
      }
    } catch (error) {
      throw new BodyReadError(error);
    }
  }
  return { bytes: Buffer.alloc(0), size, sha256: hash.digest("hex") };
}

/**
 * A body source over the caller's `fileData`: a copy of a Buffer each time,
 * or the unread rest of a stream. With `keepBytes` false the bytes are only
 * counted and hashed (see the sandbox option `keepFileBytes`).
 *
 * @example
 * ```ts
 * const body = bodySourceOf(data.fileData);
 * await body(); // all bytes
 * await body(); // a stream: empty now
 * ```
 */
export function bodySourceOf(fileData: Buffer | NodeJS.ReadableStream, keepBytes = true): BodySource {
  if (Buffer.isBuffer(fileData)) {
    if (keepBytes) return async () => Buffer.from(fileData);
    return async () => ({ bytes: Buffer.alloc(0), size: fileData.byteLength, sha256: createHash("sha256").update(fileData).digest("hex") });
  }
  return keepBytes ? () => drain(fileData) : () => digest(fileData);
}
