import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createSandbox } from "../../src/testing/index.js";
import { jsonFile, setup } from "../support/setup.js";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("sandbox keepFileBytes", () => {
  it("keeps the bytes of delivered files by default, with their size and hash", async () => {
    const h = setup("v16");
    const libraryId = await h.authorize("alice");
    const file = jsonFile(1);
    await h.client.write("alice", file);
    const delivered = h.sandbox.library(libraryId)?.files[0];
    expect(delivered?.bytes.equals(file.fileData)).toBe(true);
    expect(delivered?.size).toBe(file.fileData.byteLength);
    expect(delivered?.sha256).toBe(sha256(file.fileData));
    await h.client.close();
  });

  it("with keepFileBytes: false counts and hashes uploads without keeping them, streams included", async () => {
    const h = setup("v16", {}, { keepFileBytes: false });
    const libraryId = await h.authorize("alice");
    const chunk = Buffer.alloc(64 * 1024, 7);
    const chunks = 16;
    await h.client.write("alice", {
      fileData: () => Readable.from((function* () { for (let i = 0; i < chunks; i += 1) yield chunk; })()),
      fileName: "big.bin",
      fileDescriptor: { mimeType: "application/octet-stream", accounts: [{ accountId: "acc-1" }] },
    });
    await h.client.write("alice", jsonFile(2));
    const [streamed, buffered] = h.sandbox.library(libraryId)?.files ?? [];
    expect(streamed?.bytes.byteLength).toBe(0);
    expect(streamed?.size).toBe(chunk.byteLength * chunks);
    expect(streamed?.sha256).toBe(sha256(Buffer.concat(Array.from({ length: chunks }, () => chunk))));
    expect(buffered?.bytes.byteLength).toBe(0);
    expect(buffered?.sha256).toBe(sha256(jsonFile(2).fileData));
    await h.client.close();
  });

  it("rejects a keepFileBytes that is not a boolean", () => {
    expect(() => createSandbox({ keepFileBytes: "no" as unknown as boolean })).toThrow(TypeError);
  });
});
