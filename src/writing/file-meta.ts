/**
 * The file a caller hands to `write`, validated, and turned into a source
 * that can produce the SDK's `data` once per attempt.
 */
import { Readable } from "node:stream";
import { z } from "zod";
import { ValidationError } from "../errors.js";
import { parseOrThrow } from "../internal/zod-issues.js";
import type { FileDescriptor, SdkFileMeta } from "../sdk/types.js";

/**
 * A function that opens a new stream of the file's bytes; called once per attempt.
 *
 * @example
 * ```ts
 * const fileData: ReadableFactory = () => fs.createReadStream("/exports/statement.pdf");
 * await client.write("alice", { fileData, fileName: "statement.pdf", fileDescriptor });
 * ```
 */
export type ReadableFactory = () => Readable;

/**
 * The file to write. `fileData` may be:
 * - a `Buffer` or `Uint8Array`: retried freely;
 * - a factory `() => Readable`: called again for every attempt, so streamed writes are retryable;
 * - a `Readable`: read once, so the write gets **one attempt only**.
 *
 * @example
 * ```ts
 * const file: WriteFileMeta = {
 *   fileData: () => fs.createReadStream("report.pdf"),
 *   fileName: "report.pdf",
 *   fileDescriptor: { mimeType: "application/pdf", accounts: [{ accountId: "acc-1" }] },
 * };
 * ```
 */
export interface WriteFileMeta {
  /** The bytes: a Buffer or Uint8Array, a factory of streams (retryable), or one Readable (one attempt). */
  fileData: Buffer | Uint8Array | Readable | ReadableFactory;
  /** The file's name, 1 to 1024 characters without control characters. */
  fileName: string;
  /** What the file is (`mimeType`) and which of your accounts it belongs to. */
  fileDescriptor: FileDescriptor;
}

const MIME_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/;
const CONTROL_CHARACTER = /[\u0000-\u001f]/;

const stringList = z.array(z.string().min(1).max(1024)).max(1000);

const descriptorSchema = z.object({
  mimeType: z
    .string()
    .min(1)
    .max(255)
    .regex(MIME_TYPE, "must be a MIME type such as application/json"),
  accounts: z.array(z.object({ accountId: z.string().min(1).max(1024) })).max(1000),
  reference: stringList.optional(),
  tags: stringList.optional(),
});

/** The schema behind {@link toFileSource}; exported for the test that holds {@link isValidFileMeta} to it. */
export const fileMetaSchema = z.object({
  fileData: z.custom<WriteFileMeta["fileData"]>(
    (value) => value instanceof Uint8Array || value instanceof Readable || typeof value === "function",
    "must be a Buffer, Uint8Array, Readable or a function returning a Readable",
  ),
  fileName: z
    .string()
    .min(1)
    .max(1024)
    .refine((name) => !CONTROL_CHARACTER.test(name), "must not contain control characters"),
  fileDescriptor: descriptorSchema,
});

/** Produces the SDK's `data` for each attempt. */
export interface FileSource {
  readonly fileName: string;
  /** Whether a second attempt can be made (false for a plain Readable). */
  readonly retryable: boolean;
  /** Bytes, when known up front. */
  readonly size: number | undefined;
  /** The SDK `data` for the next attempt. */
  open(): SdkFileMeta;
}

type ParsedFileMeta = z.output<typeof fileMetaSchema>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isBoundedString(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= max;
}

function isStringList(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > 1000) return false;
  for (const item of value) if (!isBoundedString(item, 1024)) return false;
  return true;
}

/** The MIME type last accepted: apps write one or a few, so the pattern runs once per change, not per write. */
let lastValidMimeType: string | undefined;

/**
 * The same checks as `fileMetaSchema`, written out: every write passes here,
 * and zod's generic walk costs microseconds that this does not. Anything it
 * does not accept goes through the schema, which names what is wrong; a test
 * holds the two to the same verdicts.
 */
export function isValidFileMeta(input: unknown): input is ParsedFileMeta {
  if (!isRecord(input)) return false;
  const { fileData, fileName, fileDescriptor } = input;
  if (!(fileData instanceof Uint8Array || fileData instanceof Readable || typeof fileData === "function")) return false;
  if (!isBoundedString(fileName, 1024) || CONTROL_CHARACTER.test(fileName)) return false;
  if (!isRecord(fileDescriptor)) return false;
  const { mimeType, accounts, reference, tags } = fileDescriptor;
  if (typeof mimeType !== "string" || mimeType !== lastValidMimeType) {
    if (!isBoundedString(mimeType, 255) || !MIME_TYPE.test(mimeType)) return false;
    lastValidMimeType = mimeType;
  }
  if (!Array.isArray(accounts) || accounts.length > 1000) return false;
  for (const account of accounts) if (!isRecord(account) || !isBoundedString(account.accountId, 1024)) return false;
  if (reference !== undefined && !isStringList(reference)) return false;
  if (tags !== undefined && !isStringList(tags)) return false;
  return true;
}

type ParsedDescriptor = ParsedFileMeta["fileDescriptor"];

/**
 * The caller's last descriptor object and the copy made of it. Apps tend to
 * pass one descriptor for many files; while its contents are unchanged, its
 * writes share one copy instead of making their own, frozen (deeply) once it
 * is shared, so no write can change what another sends. A copy only one write
 * holds stays a plain object: freezing costs each write a few hundred ns, and
 * the SDK serializes a frozen array (`JSON.stringify`) at about half the speed.
 * One slot rather than a WeakMap: an app that builds a new descriptor per
 * write (the common case too) then pays no WeakMap insert, whose cost the
 * garbage collector keeps charging for every entry.
 */
let lastDescriptor: object | undefined;
let lastCopy: FileDescriptor | undefined;
let lastCopyShared = false;

function sameList(copy: readonly string[] | undefined, list: readonly string[] | undefined): boolean {
  if (copy === undefined || list === undefined) return copy === list;
  if (copy.length !== list.length) return false;
  for (let i = 0; i < copy.length; i += 1) if (copy[i] !== list[i]) return false;
  return true;
}

function sameDescriptor(copy: Readonly<FileDescriptor>, descriptor: ParsedDescriptor): boolean {
  if (copy.mimeType !== descriptor.mimeType || copy.accounts.length !== descriptor.accounts.length) return false;
  for (let i = 0; i < copy.accounts.length; i += 1) if (copy.accounts[i]!.accountId !== descriptor.accounts[i]!.accountId) return false;
  return sameList(copy.reference, descriptor.reference || undefined) && sameList(copy.tags, descriptor.tags || undefined);
}

/** A copy of `descriptor` holding only the fields the SDK knows; shared (and then frozen) while the caller passes the same, unchanged object. */
function copyDescriptor(descriptor: ParsedDescriptor): FileDescriptor {
  if (lastDescriptor === descriptor && lastCopy !== undefined && sameDescriptor(lastCopy, descriptor)) {
    if (!lastCopyShared) {
      freezeDescriptor(lastCopy);
      lastCopyShared = true;
    }
    return lastCopy;
  }
  // Field by field: a spread of `{}` for an absent field would allocate an object each write.
  const copy: FileDescriptor = { mimeType: descriptor.mimeType, accounts: descriptor.accounts.map(copyAccount) };
  if (descriptor.reference) copy.reference = [...descriptor.reference];
  if (descriptor.tags) copy.tags = [...descriptor.tags];
  lastDescriptor = descriptor;
  lastCopy = copy;
  lastCopyShared = false;
  return copy;
}

function copyAccount(account: { accountId: string }): { accountId: string } {
  return { accountId: account.accountId };
}

function freezeDescriptor(copy: FileDescriptor): void {
  for (const account of copy.accounts) Object.freeze(account);
  Object.freeze(copy.accounts);
  if (copy.reference) Object.freeze(copy.reference);
  if (copy.tags) Object.freeze(copy.tags);
  Object.freeze(copy);
}

/** Validate `input` as a {@link WriteFileMeta}; throws `ValidationError` naming the field. */
export function toFileSource(input: unknown): FileSource {
  const meta = isValidFileMeta(input) ? input : parseOrThrow(fileMetaSchema, input, "INVALID_ARGUMENT", "fileMeta");
  // Copy the descriptor: later changes by the caller must not alter a queued write.
  const fileDescriptor = copyDescriptor(meta.fileDescriptor);
  const { fileData, fileName } = meta;

  if (fileData instanceof Readable) {
    let used = false;
    return {
      fileName,
      retryable: false,
      size: undefined,
      open() {
        if (used) throw new Error("A Readable can be consumed only once");
        used = true;
        return { fileData, fileName, fileDescriptor };
      },
    };
  }
  if (typeof fileData === "function") {
    return {
      fileName,
      retryable: true,
      size: undefined,
      open() {
        const stream: unknown = fileData();
        if (!(stream instanceof Readable)) {
          throw new ValidationError("INVALID_ARGUMENT", "fileMeta", [
            { path: "fileMeta.fileData", message: "the factory must return a Readable" },
          ]);
        }
        return { fileData: stream, fileName, fileDescriptor };
      },
    };
  }
  // The SDK checks Buffer.isBuffer; a Uint8Array view is wrapped without copying.
  const buffer = Buffer.isBuffer(fileData) ? fileData : Buffer.from(fileData.buffer, fileData.byteOffset, fileData.byteLength);
  return new BufferSource(fileName, buffer, fileDescriptor);
}

/** Bytes in memory: sent as they are on every attempt. A class, not a closure: a queued write holds one of these. */
class BufferSource implements FileSource {
  readonly fileName: string;
  readonly #buffer: Buffer;
  readonly #fileDescriptor: FileDescriptor;

  constructor(fileName: string, buffer: Buffer, fileDescriptor: FileDescriptor) {
    this.fileName = fileName;
    this.#buffer = buffer;
    this.#fileDescriptor = fileDescriptor;
  }

  get retryable(): boolean {
    return true;
  }

  get size(): number {
    return this.#buffer.byteLength;
  }

  open(): SdkFileMeta {
    return { fileData: this.#buffer, fileName: this.fileName, fileDescriptor: this.#fileDescriptor };
  }
}
