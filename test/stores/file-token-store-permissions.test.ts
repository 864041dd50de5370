/**
 * FileTokenStore and file modes: an existing token file readable by others
 * (a 0644 file from a copy or an older version) is tightened to `fileMode`
 * on first read, through the open handle; writes keep the mode.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileTokenStore } from "../../src/index.js";

const posix = process.platform !== "win32";
let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "digime-file-modes-"));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const key = { userId: "alice", contractId: "c1" };
const token = { accessToken: { value: "access-token-value", expiry: 2_000_000_000 }, refreshToken: { value: "refresh-token-value", expiry: 2_100_000_000 } };

/** A valid token file written by one store, then loosened to `mode`, as a copy or an old version would leave it. */
async function looseFile(mode: number): Promise<string> {
  const directory = await fs.mkdtemp(path.join(root, "case-"));
  const file = path.join(directory, "tokens.json");
  await new FileTokenStore({ path: file }).set(key, { userAccessToken: token }, { expectedVersion: null });
  await fs.chmod(file, mode);
  return file;
}

const modeOf = async (file: string) => (await fs.stat(file)).mode & 0o777;

describe.skipIf(!posix)("an existing token file readable by others", () => {
  it("is tightened to 0600 on first read, and still read", async () => {
    const file = await looseFile(0o644);
    const store = new FileTokenStore({ path: file });
    expect((await store.get(key))?.userAccessToken).toEqual(token);
    expect(await modeOf(file)).toBe(0o600);
  });

  it("is tightened to the configured fileMode, not beyond it", async () => {
    const file = await looseFile(0o644);
    await new FileTokenStore({ path: file, fileMode: 0o640 }).listByUser("alice");
    expect(await modeOf(file)).toBe(0o640);
  });

  it("stays at its mode after later writes", async () => {
    const file = await looseFile(0o604);
    const store = new FileTokenStore({ path: file });
    await store.set(key, { userAccessToken: token }, { expectedVersion: 1 });
    expect(await modeOf(file)).toBe(0o600);
  });

  it("a file already at 0600 is left alone (its change time does not move)", async () => {
    const file = await looseFile(0o600);
    const before = (await fs.stat(file)).ctimeMs;
    await new FileTokenStore({ path: file }).get(key);
    expect((await fs.stat(file)).ctimeMs).toBe(before);
  });
});
