import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { fileMetaSchema, isValidFileMeta, toFileSource } from "../../src/writing/file-meta.js";

const strings = fc.oneof(
  fc.constantFrom("", "a", "x".repeat(255), "x".repeat(256), "x".repeat(1024), "x".repeat(1025), "tab\there", "new\nline", "ünïcødé 🚀", "application/json", "text/plain; charset=utf-8", "bad mime", "a/b/c", "/json"),
  fc.string({ maxLength: 20 }),
);
const values = fc.oneof(strings, fc.constantFrom(undefined, null, 0, 1, true, [], {}), fc.integer());
const stringLists = fc.oneof(fc.array(strings, { maxLength: 4 }), values, fc.constant(Array.from({ length: 1001 }, () => "t")));
const accounts = fc.oneof(
  fc.array(fc.oneof(fc.record({ accountId: strings }), fc.record({ accountId: values, extra: values }, { requiredKeys: [] }), values), { maxLength: 4 }),
  values,
  fc.constant(Array.from({ length: 1001 }, () => ({ accountId: "a" }))),
);
const descriptors = fc.oneof(
  fc.record({ mimeType: strings, accounts, reference: stringLists, tags: stringLists, other: values }, { requiredKeys: ["mimeType", "accounts"] }),
  fc.record({ mimeType: values, accounts, reference: stringLists, tags: stringLists }, { requiredKeys: [] }),
  values,
);
const fileData = fc.constantFrom<unknown>(Buffer.from("x"), new Uint8Array(2), Readable.from(["x"]), () => Readable.from(["x"]), "text", null, undefined, 3, {}, []);
const fileMetas = fc.oneof(
  fc.record({ fileData, fileName: strings, fileDescriptor: descriptors, extra: values }, { requiredKeys: ["fileData", "fileName", "fileDescriptor"] }),
  fc.record({ fileData, fileName: values, fileDescriptor: descriptors }, { requiredKeys: [] }),
  values,
);

describe("file meta validation", () => {
  it("the written-out check accepts exactly what the schema accepts", () => {
    fc.assert(
      fc.property(fileMetas, (input) => {
        expect(isValidFileMeta(input)).toBe(fileMetaSchema.safeParse(input).success);
      }),
      { numRuns: 5_000 },
    );
  });

  it("accepts a typical file and rejects each broken field", () => {
    const good = { fileData: Buffer.from("{}"), fileName: "a.json", fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "acc" }], tags: ["t"] } };
    expect(isValidFileMeta(good)).toBe(true);
    expect(isValidFileMeta({ ...good, fileName: "a\u0001.json" })).toBe(false);
    expect(isValidFileMeta({ ...good, fileDescriptor: { ...good.fileDescriptor, mimeType: "json" } })).toBe(false);
    expect(isValidFileMeta({ ...good, fileDescriptor: { ...good.fileDescriptor, accounts: [{ accountId: "" }] } })).toBe(false);
    expect(isValidFileMeta({ ...good, fileDescriptor: { ...good.fileDescriptor, reference: [""] } })).toBe(false);
  });

  it("remembers the last MIME type it accepted, yet refuses a missing or changed one, first call or not", async () => {
    // A fresh copy of the module: nothing accepted yet.
    vi.resetModules();
    const fresh = await import("../../src/writing/file-meta.js");
    const good = { fileData: Buffer.from("{}"), fileName: "a.json", fileDescriptor: { mimeType: "application/json", accounts: [] } };
    const withoutMimeType = { ...good, fileDescriptor: { accounts: [] } };
    expect(fresh.isValidFileMeta(withoutMimeType)).toBe(false);
    expect(fresh.isValidFileMeta(good)).toBe(true);
    expect(fresh.isValidFileMeta(withoutMimeType)).toBe(false);
    expect(fresh.isValidFileMeta({ ...good, fileDescriptor: { ...good.fileDescriptor, mimeType: "application/json " } })).toBe(false);
    expect(fresh.isValidFileMeta(good)).toBe(true);
  });

  it("writes of one unchanged descriptor share one frozen copy; a changed descriptor gets a new copy and old writes keep theirs", () => {
    const descriptor = { mimeType: "application/json", accounts: [{ accountId: "acc" }], tags: ["a"] };
    const file = { fileData: Buffer.from("{}"), fileName: "a.json", fileDescriptor: descriptor };
    const first = toFileSource(file).open().fileDescriptor;
    const second = toFileSource(file).open().fileDescriptor;
    expect(second).toBe(first);
    expect(first).not.toBe(descriptor);
    expect(Object.isFrozen(first) && Object.isFrozen(first.accounts) && Object.isFrozen(first.accounts[0]) && Object.isFrozen(first.tags)).toBe(true);
    descriptor.accounts[0]!.accountId = "other";
    descriptor.tags.push("b");
    const third = toFileSource(file).open().fileDescriptor;
    expect(third).not.toBe(first);
    expect(third).toEqual({ mimeType: "application/json", accounts: [{ accountId: "other" }], tags: ["a", "b"] });
    expect(first).toEqual({ mimeType: "application/json", accounts: [{ accountId: "acc" }], tags: ["a"] });
  });
});
