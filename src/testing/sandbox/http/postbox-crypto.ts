/**
 * Opening a generation A upload the way digi.me does. The SDK (8.x and
 * older) picks a random 32-byte AES key and 16-byte IV, encrypts the file and
 * the descriptor JSON with AES-256-CBC, and encrypts the key to the
 * postbox's public key with node-rsa's default scheme: RSA-OAEP with SHA-1
 * (and MGF1-SHA-1). The key travels base64 in `symmetrical_key`, the IV hex
 * in `iv`, the encrypted descriptor base64 in `metadata`.
 * @module
 */
import { constants, createDecipheriv, createHash, privateDecrypt } from "node:crypto";
import type { FileDescriptor } from "../../../sdk/types.js";
import type { Postbox } from "../libraries.js";
import { undecryptableKeyFailure, type ReceivedBody, type UnsealedFile } from "../server.js";
import { fileDescriptorSchema, parseOrReject } from "./claims.js";
import { invalidRequest } from "./exchange.js";

/**
 * The encryption parameters a postbox request signs.
 *
 * @example
 * ```ts
 * const sealed: SealedUpload = { symmetricalKey: claims.symmetrical_key, iv: claims.iv, metadata: claims.metadata, fileName: "a.json", keepBytes: true };
 * ```
 */
export interface SealedUpload {
  /** base64 of the RSA-OAEP-encrypted AES key. */
  symmetricalKey: string;
  /** hex of the 16-byte IV. */
  iv: string;
  /** base64 of the AES-encrypted descriptor JSON. */
  metadata: string;
  /** The file name of the multipart `file` part. */
  fileName: string;
  /** Keep the plain bytes, or only count and hash them (`keepFileBytes`). */
  keepBytes: boolean;
}

function aesDecrypt(key: Buffer, iv: Buffer, cipherText: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv("aes-256-cbc", key, iv);
    return Buffer.concat([decipher.update(cipherText), decipher.final()]);
  } catch {
    return undefined;
  }
}

function symmetricKeyOf(sealed: SealedUpload, postbox: Postbox): Buffer {
  try {
    const key = privateDecrypt({ key: postbox.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, Buffer.from(sealed.symmetricalKey, "base64"));
    if (key.length === 32) return key;
  } catch {
    // Encrypted to another key, or not RSA-OAEP at all: the same answer either way.
  }
  throw undecryptableKeyFailure();
}

function descriptorOf(key: Buffer, iv: Buffer, metadata: string): FileDescriptor {
  const json = aesDecrypt(key, iv, Buffer.from(metadata, "base64"));
  if (json === undefined) throw invalidRequest("The metadata could not be decrypted with the symmetrical key");
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString("utf8"));
  } catch {
    throw invalidRequest("The decrypted metadata is not JSON");
  }
  return parseOrReject(fileDescriptorSchema, parsed, "decrypted metadata");
}

/**
 * Decrypt an upload with the postbox's private key: the file and its
 * descriptor as the library keeps them. Throws a 400 WireFailure when the
 * key does not open (encrypted to another postbox) or the parts do not decrypt.
 *
 * @example
 * ```ts
 * const file = unsealUpload(sealed, cipherBytes, postbox);
 * file.fileDescriptor.mimeType;
 * ```
 */
export function unsealUpload(sealed: SealedUpload, upload: Buffer, postbox: Postbox): UnsealedFile {
  const key = symmetricKeyOf(sealed, postbox);
  const iv = Buffer.from(sealed.iv, "hex");
  const fileDescriptor = descriptorOf(key, iv, sealed.metadata);
  const plain = aesDecrypt(key, iv, upload);
  if (plain === undefined) throw invalidRequest("The file could not be decrypted with the symmetrical key");
  const body: Buffer | ReceivedBody = sealed.keepBytes
    ? plain
    : { bytes: Buffer.alloc(0), size: plain.byteLength, sha256: createHash("sha256").update(plain).digest("hex") };
  return { fileName: sealed.fileName, fileDescriptor, body };
}
