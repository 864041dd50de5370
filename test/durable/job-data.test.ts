/**
 * A worker reads each job's data through parseJobData: data as the producer
 * writes it passes a hand check (no zod parse per job), anything else goes
 * through the schema, and both ways give the same answer.
 */
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { parseJobData } from "../../src/durable/job-data.js";

const produced = () => ({
  v: 1,
  id: "order-1",
  userId: "alice",
  fileName: "order.json",
  fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "shop" }] },
  payload: { kind: "inline", base64: "e30=" } as Record<string, unknown>,
});

describe("a write job's data", () => {
  it("as the producer writes it is taken as it is, inline or stored, the descriptor's extra fields kept", () => {
    const inline = produced();
    expect(parseJobData(inline)).toBe(inline);
    const stored = { ...produced(), payload: { kind: "stored", key: "k1" } };
    expect(parseJobData(stored)).toBe(stored);
    const tagged = { ...produced(), fileDescriptor: { mimeType: "text/plain", accounts: [], tags: ["a"] } };
    expect(parseJobData(tagged)).toEqual(tagged);
  });

  it("with fields the schema does not know: they are dropped, as the schema always did", () => {
    expect(parseJobData({ ...produced(), extra: 1 })).toEqual(produced());
    const account = produced();
    (account.fileDescriptor.accounts[0] as Record<string, unknown>).note = "x";
    expect(parseJobData(account)).toEqual(produced());
    expect(parseJobData({ ...produced(), payload: { kind: "inline", base64: "e30=", more: 1 } })).toEqual(produced());
  });

  it("released or otherwise valid but unusual: read through the schema", () => {
    expect(parseJobData({ ...produced(), payload: { kind: "released" } }).payload).toEqual({ kind: "released" });
  });

  it("written by something else fails with INVALID_ARGUMENT naming job.data", () => {
    const bad: unknown[] = [
      null,
      [],
      "x",
      { ...produced(), v: 2 },
      { ...produced(), id: "" },
      { ...produced(), userId: 5 },
      { ...produced(), fileName: undefined },
      { ...produced(), fileDescriptor: [] },
      { ...produced(), fileDescriptor: { mimeType: "a", accounts: [{ accountId: 1 }] } },
      { ...produced(), fileDescriptor: { mimeType: "a", accounts: [null] } },
      { ...produced(), fileDescriptor: { accounts: [] } },
      { ...produced(), payload: { kind: "inline" } },
      { ...produced(), payload: { kind: "stored", key: 3 } },
      { ...produced(), payload: null },
    ];
    for (const data of bad) {
      expect(() => parseJobData(data), JSON.stringify(data)).toThrow(ValidationError);
      try {
        parseJobData(data);
      } catch (error) {
        expect((error as ValidationError).code).toBe("INVALID_ARGUMENT");
        expect((error as Error).message).toContain("job.data");
      }
    }
  });
});
