import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenStoreCorruptError, TokenStoreError, TokenStoreUnsafeError, ValidationError } from "../../src/errors.js";
import type { UserAccessToken } from "../../src/sdk/types.js";
import { tokenStoreContract } from "../../src/testing/token-store-contract.js";
import { FileTokenStore } from "../../src/stores/file/file-token-store.js";
import { MemoryTokenStore } from "../../src/stores/memory/memory-token-store.js";
import type { CredentialsKey, ListExpiringOptions, StoredCredentials, TokenStore } from "../../src/stores/token-store.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const KEY: CredentialsKey = { userId: "alice", contractId: "contract-1" };

function token(tag: string): UserAccessToken {
  return {
    accessToken: { value: `access-${tag}`, expiry: 1_900_000_000 },
    refreshToken: { value: `refresh-${tag}`, expiry: 1_900_086_400 },
  };
}

let tmpRoot: string;
let fileCounter = 0;
beforeAll(async () => {
  tmpRoot = await fs.mkdtemp(path.join(os.tmpdir(), "digime-token-stores-"));
});
afterAll(async () => {
  await fs.rm(tmpRoot, { recursive: true, force: true });
});

/** A fresh directory under the suite's temp root. */
async function freshDir(): Promise<string> {
  return fs.mkdtemp(path.join(tmpRoot, "case-"));
}

function freshFilePath(): string {
  fileCounter += 1;
  return path.join(tmpRoot, `contract-${fileCounter}`, "tokens.json");
}

/** Resolves with the rejection of `promise`, failing the test if it fulfils. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, but it fulfilled");
}

describe("tokenStoreContract", () => {
  it("lists uniquely named cases", () => {
    const cases = tokenStoreContract(() => new MemoryTokenStore());
    expect(cases.length).toBeGreaterThanOrEqual(15);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it("fails with a clear message against a store that ignores versions", async () => {
    // A broken store proves the suite can fail: it stores every set unconditionally.
    class LastWriteWins implements TokenStore {
      readonly #inner = new MemoryTokenStore();
      get: TokenStore["get"] = (key) => this.#inner.get(key);
      delete: TokenStore["delete"] = (key) => this.#inner.delete(key);
      listByUser: TokenStore["listByUser"] = (userId) => this.#inner.listByUser(userId);
      set: TokenStore["set"] = async (key, credentials) => {
        const current = await this.#inner.get(key);
        return this.#inner.set(key, credentials, { expectedVersion: current?.version ?? null });
      };
    }
    const staleCase = tokenStoreContract(() => new LastWriteWins()).find((c) => c.name.includes("stale version"));
    expect(staleCase).toBeDefined();
    await expect(staleCase!.run()).rejects.toThrow(/expected status "conflict", got "stored"/);
  });

  it("fails with a clear message against a store whose refresh lease can be taken twice", async () => {
    class LeaseAlwaysGranted extends MemoryTokenStore {
      override async acquireRefreshLease(): Promise<boolean> {
        return true;
      }
    }
    const once = tokenStoreContract(() => new LeaseAlwaysGranted(), { leases: true }).find((c) => c.name.startsWith("a refresh lease is taken once"));
    await expect(once!.run()).rejects.toThrow(/a held lease must refuse another owner/);
    const race = tokenStoreContract(() => new LeaseAlwaysGranted(), { leases: true }).find((c) => c.name.includes("concurrent acquires"));
    await expect(race!.run()).rejects.toThrow(/exactly one concurrent acquire must win, 10 did/);
  });

  it("fails with a clear message against a store whose listExpiring ignores the contract, or is declared and missing", async () => {
    class AllContracts extends MemoryTokenStore {
      override async listExpiring(_contractId: string, options: ListExpiringOptions): Promise<StoredCredentials[]> {
        const [c1, c2] = await Promise.all([super.listExpiring("c1", options), super.listExpiring("c2", options)]);
        return [...c2, ...c1];
      }
    }
    const lists = tokenStoreContract(() => new AllContracts(), { listExpiring: true }).find((c) => c.name.startsWith("listExpiring lists"));
    await expect(lists!.run()).rejects.toThrow(/listExpiring must list c1's records/);
    const plain: TokenStore = { get: async () => undefined, set: async () => ({ status: "conflict", current: undefined }), delete: async () => false, listByUser: async () => [] };
    const declared = tokenStoreContract(() => plain, { listExpiring: true }).find((c) => c.name.startsWith("offers listExpiring"));
    await expect(declared!.run()).rejects.toThrow(/declared to offer listExpiring but has none/);
  });

  it("refuses a store declared to offer leases that has none, or has only one of the two methods", async () => {
    const plain: TokenStore = {
      get: async () => undefined,
      set: async () => ({ status: "conflict", current: undefined }),
      delete: async () => false,
      listByUser: async () => [],
    };
    const declared = tokenStoreContract(() => plain, { leases: true }).find((c) => c.name.startsWith("offers both refresh-lease methods"));
    await expect(declared!.run()).rejects.toThrow(/declared to offer leases/);
    const half = tokenStoreContract(() => ({ ...plain, acquireRefreshLease: async () => true })).find((c) => c.name.startsWith("offers both refresh-lease methods"));
    await expect(half!.run()).rejects.toThrow(/come together/);
  });

  it("checks updatedAt against the given clock", async () => {
    const updatedAtCase = tokenStoreContract(() => new MemoryTokenStore({ now: () => 5 }), { now: () => 1_000 }).find(
      (c) => c.name.startsWith("set with expectedVersion null creates"),
    );
    await expect(updatedAtCase!.run()).rejects.toThrow(/updatedAt \(5\) must come from the store's clock/);
  });
});

describe("MemoryTokenStore passes the TokenStore contract", () => {
  for (const c of tokenStoreContract(() => new MemoryTokenStore(), { leases: true, listExpiring: true })) it(c.name, c.run);
});

describe("MemoryTokenStore passes the TokenStore contract with a controlled clock", () => {
  let clock = 1_700_000_000_000;
  const now = (): number => clock++;
  for (const c of tokenStoreContract(() => new MemoryTokenStore({ now }), { now })) it(c.name, c.run);
});

describe("FileTokenStore passes the TokenStore contract", () => {
  let clock = 1_700_000_000_000;
  const now = (): number => clock++;
  for (const c of tokenStoreContract(() => new FileTokenStore({ path: freshFilePath(), now }), { now, leases: true, listExpiring: true })) {
    it(c.name, c.run);
  }
});

const stores: Array<[string, () => Promise<TokenStore>]> = [
  ["MemoryTokenStore", async () => new MemoryTokenStore()],
  ["FileTokenStore", async () => new FileTokenStore({ path: path.join(await freshDir(), "tokens.json") })],
];

describe.each(stores)("%s validates its arguments", (_name, makeStore) => {
  async function expectInvalid(promise: Promise<unknown>, field: string): Promise<ValidationError> {
    const error = await rejectionOf(promise);
    expect(error).toBeInstanceOf(ValidationError);
    const validation = error as ValidationError;
    expect(validation.code).toBe("INVALID_ARGUMENT");
    expect(validation.retryable).toBe(false);
    expect(validation.message).toContain(field);
    expect(validation.issues.map((issue) => issue.path)).toContain(field);
    return validation;
  }

  it("rejects an empty or missing userId or contractId, naming key.userId / key.contractId", async () => {
    const store = await makeStore();
    await expectInvalid(store.get({ userId: "", contractId: "c1" }), "key.userId");
    await expectInvalid(store.get({ userId: "alice", contractId: "" }), "key.contractId");
    await expectInvalid(store.delete({ userId: "alice" } as CredentialsKey), "key.contractId");
    await expectInvalid(store.get({ userId: 42, contractId: "c1" } as unknown as CredentialsKey), "key.userId");
    await expectInvalid(
      store.set({ userId: "", contractId: "c1" }, { userAccessToken: token("a") }, { expectedVersion: null }),
      "key.userId",
    );
    await expectInvalid(store.listByUser(""), "userId");
    expect(await store.listByUser("alice")).toEqual([]);
  });

  it("rejects credentials without a usable token, naming the field and never the value", async () => {
    const store = await makeStore();
    const set = (credentials: unknown): Promise<unknown> =>
      store.set(KEY, credentials as never, { expectedVersion: null });

    await expectInvalid(set({}), "credentials.userAccessToken");
    await expectInvalid(set({ userAccessToken: { accessToken: { value: "secret-access", expiry: 1 } } }), "credentials.userAccessToken.refreshToken");
    await expectInvalid(
      set({ userAccessToken: { ...token("a"), accessToken: { value: "", expiry: 1 } } }),
      "credentials.userAccessToken.accessToken.value",
    );
    await expectInvalid(
      set({ userAccessToken: { ...token("a"), refreshToken: { value: 7, expiry: 1 } } }),
      "credentials.userAccessToken.refreshToken.value",
    );
    for (const expiry of [Number.NaN, Number.POSITIVE_INFINITY, "1900000000", undefined]) {
      const error = await expectInvalid(
        set({ userAccessToken: { ...token("a"), refreshToken: { value: "secret-refresh-value", expiry } } }),
        "credentials.userAccessToken.refreshToken.expiry",
      );
      expect(error.message).not.toContain("secret-refresh-value");
    }
    await expectInvalid(set({ userAccessToken: token("a"), postboxId: "" }), "credentials.postboxId");
    // Nothing invalid was stored.
    expect(await store.get(KEY)).toBeUndefined();
  });

  it("rejects an expectedVersion that is not null or a positive integer", async () => {
    const store = await makeStore();
    for (const expectedVersion of [0, -1, 1.5, "1", undefined]) {
      await expectInvalid(
        store.set(KEY, { userAccessToken: token("a") }, { expectedVersion } as never),
        "options.expectedVersion",
      );
    }
    expect(await store.get(KEY)).toBeUndefined();
  });

  it("keeps extra token fields as JSON and strips record fields passed back in", async () => {
    const store = await makeStore();
    const withExtras = { ...token("a"), futureField: { nested: [1, "two"] } } as UserAccessToken;
    const created = await store.set(KEY, { userAccessToken: withExtras }, { expectedVersion: null });
    expect(created.status).toBe("stored");
    const record = await store.get(KEY);
    expect(record?.userAccessToken).toEqual(withExtras);
    // Passing a whole record back as credentials (with version etc.) stores only the credentials.
    const again = await store.set(KEY, { ...record!, version: 99 } as never, { expectedVersion: 1 });
    expect(again.status === "stored" && again.record.version).toBe(2);
  });
});

describe.each(stores)("%s never shows a token", (name, makeStore) => {
  it("util.inspect, console-style formatting and JSON.stringify hold no token value", async () => {
    const store = await makeStore();
    await store.set(KEY, { userAccessToken: token("very-secret") }, { expectedVersion: null });
    await store.get(KEY);
    for (const text of [inspect(store), inspect(store, { showHidden: true, depth: 10 }), `${inspect({ store })}`, JSON.stringify(store)]) {
      expect(text).not.toContain("very-secret");
    }
    expect(inspect(store)).toMatch(new RegExp(`^${name} \\{`));
    expect(inspect(store)).toContain("records: 1");
  });
});

describe("MemoryTokenStore", () => {
  it("reports user and record counts in inspect", async () => {
    const store = new MemoryTokenStore();
    await store.set({ userId: "a", contractId: "c1" }, { userAccessToken: token("1") }, { expectedVersion: null });
    await store.set({ userId: "a", contractId: "c2" }, { userAccessToken: token("2") }, { expectedVersion: null });
    await store.set({ userId: "b", contractId: "c1" }, { userAccessToken: token("3") }, { expectedVersion: null });
    expect(inspect(store)).toBe("MemoryTokenStore { users: 2, records: 3 }");
  });

  it("uses the injected clock for updatedAt", async () => {
    const store = new MemoryTokenStore({ now: () => 12_345 });
    const result = await store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null });
    expect(result.status === "stored" && result.record.updatedAt).toBe(12_345);
  });

  it("rejects bad options with INVALID_OPTIONS", () => {
    expect(() => new MemoryTokenStore({ now: 5 as never })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS", message: expect.stringContaining("options.now") }),
    );
  });
});

describe("FileTokenStore", () => {
  async function storeIn(options: { now?: () => number; fileMode?: number; lockTimeoutMs?: number } = {}) {
    const dir = await freshDir();
    const file = path.join(dir, "tokens.json");
    return { dir, file, store: new FileTokenStore({ path: file, ...options }) };
  }

  it("survives a restart: a new instance on the same path sees every record and continues the versions", async () => {
    const { file, store } = await storeIn();
    await store.set(KEY, { userAccessToken: token("a1"), postboxId: "pb", publicKey: "pem" }, { expectedVersion: null });
    await store.set(KEY, { userAccessToken: token("a2"), postboxId: "pb", publicKey: "pem" }, { expectedVersion: 1 });
    await store.set({ userId: "bob", contractId: "contract-2" }, { userAccessToken: token("b1") }, { expectedVersion: null });

    const restarted = new FileTokenStore({ path: file });
    expect(await restarted.get(KEY)).toEqual(await store.get(KEY));
    expect(await restarted.get(KEY)).toMatchObject({ version: 2, postboxId: "pb", publicKey: "pem", userAccessToken: token("a2") });
    expect((await restarted.listByUser("bob")).map((r) => r.contractId)).toEqual(["contract-2"]);
    const next = await restarted.set(KEY, { userAccessToken: token("a3") }, { expectedVersion: 2 });
    expect(next.status === "stored" && next.record.version).toBe(3);
  });

  it("writes a JSON file with a format marker and version", async () => {
    const { file, store } = await storeIn({ now: () => 42 });
    await store.set(KEY, { userAccessToken: token("a1") }, { expectedVersion: null });
    const document = JSON.parse(await fs.readFile(file, "utf8"));
    expect(document).toEqual({
      format: "digime-write-pipeline/token-store",
      formatVersion: 1,
      records: [{ userId: "alice", contractId: "contract-1", userAccessToken: token("a1"), version: 1, updatedAt: 42 }],
    });
  });

  it("treats a missing file as an empty store and creates nothing until the first set", async () => {
    const { dir, file, store } = await storeIn();
    const nested = new FileTokenStore({ path: path.join(dir, "deeper", "still", "tokens.json") });
    expect(await store.get(KEY)).toBeUndefined();
    expect(await store.listByUser("alice")).toEqual([]);
    expect(await store.delete(KEY)).toBe(false);
    expect(await nested.delete(KEY)).toBe(false);
    expect(await fs.readdir(dir)).toEqual([]);

    // The first set creates the missing parent directories.
    expect((await nested.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null })).status).toBe("stored");
    expect(await fs.readdir(path.join(dir, "deeper", "still"))).toEqual(["tokens.json"]);
    await expect(fs.access(file)).rejects.toThrow();
  });

  it("creates the file with mode 0o600 by default and honours fileMode", async () => {
    if (process.platform === "win32") return; // POSIX permission bits only
    const { file, store } = await storeIn();
    await store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null });
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    await store.set(KEY, { userAccessToken: token("b") }, { expectedVersion: 1 });
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);

    const custom = await storeIn({ fileMode: 0o640 });
    await custom.store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null });
    expect((await fs.stat(custom.file)).mode & 0o777).toBe(0o640);
  });

  it("leaves no temp or lock files behind after 50 concurrent sets, and loses none of them", async () => {
    const { dir, store } = await storeIn();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.set({ userId: `user-${i}`, contractId: "c1" }, { userAccessToken: token(`${i}`) }, { expectedVersion: null }),
      ),
    );
    expect(results.every((r) => r.status === "stored")).toBe(true);
    expect(await fs.readdir(dir)).toEqual(["tokens.json"]);
    const reread = new FileTokenStore({ path: path.join(dir, "tokens.json") });
    for (let i = 0; i < 50; i += 1) {
      expect((await reread.get({ userId: `user-${i}`, contractId: "c1" }))?.userAccessToken).toEqual(token(`${i}`));
    }
  });

  it("serialises 50 concurrent read-modify-write loops on one key without losing an update", async () => {
    const { dir, store } = await storeIn();
    await store.set(KEY, { userAccessToken: token("0") }, { expectedVersion: null });
    const increment = async (): Promise<void> => {
      for (;;) {
        const current = await store.get(KEY);
        const result = await store.set(KEY, { userAccessToken: token("x") }, { expectedVersion: current!.version });
        if (result.status === "stored") return;
      }
    };
    await Promise.all(Array.from({ length: 50 }, increment));
    expect((await store.get(KEY))?.version).toBe(51);
    expect(await fs.readdir(dir)).toEqual(["tokens.json"]);
  });

  it("two instances on one path see each other's writes and detect each other's conflicts", async () => {
    const { file, store: a } = await storeIn();
    const b = new FileTokenStore({ path: file });
    const created = await a.set(KEY, { userAccessToken: token("a1") }, { expectedVersion: null });
    expect(created.status).toBe("stored");
    expect((await b.get(KEY))?.userAccessToken).toEqual(token("a1"));

    // b read version 1; a moves on to version 2; b's compare-and-set at 1 must fail.
    const seenByB = await b.get(KEY);
    expect((await a.set(KEY, { userAccessToken: token("a2") }, { expectedVersion: 1 })).status).toBe("stored");
    const late = await b.set(KEY, { userAccessToken: token("b-late") }, { expectedVersion: seenByB!.version });
    expect(late).toEqual({ status: "conflict", current: await a.get(KEY) });
    expect((await b.get(KEY))?.userAccessToken).toEqual(token("a2"));

    // Racing instances: exactly one of 20 sets from version 2 wins.
    const racers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).set(KEY, { userAccessToken: token(`race-${i}`) }, { expectedVersion: 2 }),
      ),
    );
    expect(racers.filter((r) => r.status === "stored")).toHaveLength(1);
    expect((await a.get(KEY))?.version).toBe(3);
    expect(await b.delete(KEY)).toBe(true);
    expect(await a.get(KEY)).toBeUndefined();
  });

  it("notices a file replaced by someone else (cache is validated against the file)", async () => {
    const { file, store } = await storeIn();
    await store.set(KEY, { userAccessToken: token("mine") }, { expectedVersion: null });
    const replacement = {
      format: "digime-write-pipeline/token-store",
      formatVersion: 1,
      records: [{ ...KEY, userAccessToken: token("theirs"), version: 7, updatedAt: 1 }],
    };
    await fs.writeFile(file, JSON.stringify(replacement));
    expect(await store.get(KEY)).toMatchObject({ version: 7, userAccessToken: token("theirs") });
  });

  it("removes temp files a crashed writer left behind (they hold tokens) on its first operation, and keeps a live writer's", async () => {
    const { dir, file, store } = await storeIn();
    await store.set(KEY, { userAccessToken: token("a1") }, { expectedVersion: null });
    const dead = await deadPid();
    const leftover = `.tokens.json.${dead}.deadbeef.tmp`;
    const live = `.tokens.json.${process.ppid}.cafe01.tmp`;
    await fs.writeFile(path.join(dir, leftover), '{"format": "digime-write-pipel');
    await fs.writeFile(path.join(dir, live), "{}");
    const fresh = new FileTokenStore({ path: file });
    expect((await fresh.get(KEY))?.userAccessToken).toEqual(token("a1"));
    expect(await fs.readdir(dir)).not.toContain(leftover);
    expect(await fs.readdir(dir)).toContain(live);
    expect((await fresh.set(KEY, { userAccessToken: token("a2") }, { expectedVersion: 1 })).status).toBe("stored");
    expect((await fresh.get(KEY))?.version).toBe(2);
  });

  describe("a corrupt file", () => {
    const validRecord = { ...KEY, userAccessToken: token("on-disk-secret"), version: 1, updatedAt: 1 };
    const corruptFiles: Array<[string, string | Buffer, RegExp]> = [
      ["garbage bytes", Buffer.from([0xff, 0x00, 0x7b, 0x22, 0x61, 0x63, 0x63, 0x65, 0x73, 0x73, 0x2d, 0x6f, 0x6e]), /not valid JSON/],
      ["garbage text holding a token", '{"userAccessToken": "on-disk-secret-value" oops', /not valid JSON/],
      ["an empty file", "", /not valid JSON/],
      ["valid JSON of the wrong format", JSON.stringify({ format: "something-else", formatVersion: 1, records: [] }), /format/],
      ["a JSON array", JSON.stringify([validRecord]), /expected a JSON object/],
      [
        "a newer formatVersion",
        JSON.stringify({ format: "digime-write-pipeline/token-store", formatVersion: 2, records: [] }),
        /unsupported formatVersion 2/,
      ],
      [
        "a record with a missing token",
        JSON.stringify({
          format: "digime-write-pipeline/token-store",
          formatVersion: 1,
          records: [validRecord, { ...KEY, userId: "bob", version: 1, updatedAt: 1 }],
        }),
        /records\[1\]\.userAccessToken/,
      ],
      [
        "a record with an empty refresh token",
        JSON.stringify({
          format: "digime-write-pipeline/token-store",
          formatVersion: 1,
          records: [{ ...validRecord, userAccessToken: { ...token("x"), refreshToken: { value: "", expiry: 1 } } }],
        }),
        /records\[0\]\.userAccessToken\.refreshToken\.value/,
      ],
      [
        "two records for one key",
        JSON.stringify({ format: "digime-write-pipeline/token-store", formatVersion: 1, records: [validRecord, validRecord] }),
        /records\[1\] has the same userId and contractId as records\[0\]/,
      ],
    ];

    it.each(corruptFiles)("(%s) fails every operation with TOKEN_STORE_CORRUPT and is never overwritten", async (_label, bytes, reason) => {
      const { dir, file, store } = await storeIn();
      await fs.writeFile(file, bytes);
      const before = await fs.readFile(file);
      const statBefore = await fs.stat(file);

      const attempts: Array<Promise<unknown>> = [
        store.get(KEY),
        store.set(KEY, { userAccessToken: token("new") }, { expectedVersion: null }),
        store.set(KEY, { userAccessToken: token("new") }, { expectedVersion: 1 }),
        store.delete(KEY),
        store.listByUser("alice"),
      ];
      for (const attempt of attempts) {
        const error = await rejectionOf(attempt);
        expect(error).toBeInstanceOf(TokenStoreCorruptError);
        const corrupt = error as TokenStoreCorruptError;
        expect(corrupt.code).toBe("TOKEN_STORE_CORRUPT");
        expect(corrupt.retryable).toBe(false);
        expect(corrupt.path).toBe(file);
        expect(corrupt.message).toMatch(reason);
        expect(corrupt.message).not.toContain("on-disk-secret");
        expect(inspect(corrupt)).not.toContain("on-disk-secret");
      }
      // A second instance (a restart) refuses it the same way.
      await expect(new FileTokenStore({ path: file }).set(KEY, { userAccessToken: token("n") }, { expectedVersion: null })).rejects.toBeInstanceOf(
        TokenStoreCorruptError,
      );

      expect((await fs.readFile(file)).equals(before)).toBe(true);
      expect((await fs.stat(file)).mtimeMs).toBe(statBefore.mtimeMs);
      expect(await fs.readdir(dir)).toEqual(["tokens.json"]);
    });

    it("works again once the file is fixed", async () => {
      const { file, store } = await storeIn();
      await fs.writeFile(file, "not json");
      await expect(store.get(KEY)).rejects.toBeInstanceOf(TokenStoreCorruptError);
      await fs.rm(file);
      expect((await store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null })).status).toBe("stored");
    });
  });

  it("reports IO failures as TokenStoreError with the fs error as cause", async () => {
    const { dir } = await storeIn();
    // The path is a directory: it cannot be read as a file.
    await fs.mkdir(path.join(dir, "tokens.json"));
    const asDirectory = new FileTokenStore({ path: path.join(dir, "tokens.json") });
    const readError = await rejectionOf(asDirectory.get(KEY));
    expect(readError).toBeInstanceOf(TokenStoreError);
    expect((readError as TokenStoreError).code).toBe("TOKEN_STORE_FAILED");
    expect((readError as TokenStoreError).retryable).toBe(true);

    // A parent "directory" that is a file: creating the directory fails with the fs error as cause.
    await fs.writeFile(path.join(dir, "plain-file"), "x");
    const underFile = new FileTokenStore({ path: path.join(dir, "plain-file", "tokens.json") });
    const writeError = await rejectionOf(underFile.set(KEY, { userAccessToken: token("secret-io") }, { expectedVersion: null }));
    expect(writeError).toBeInstanceOf(TokenStoreError);
    expect((writeError as TokenStoreError).message).toContain(path.join(dir, "plain-file", "tokens.json"));
    expect((writeError as Error).cause).toMatchObject({ code: expect.stringMatching(/^(ENOTDIR|EEXIST)$/) });
    expect(inspect(writeError, { depth: 10 })).not.toContain("secret-io");
  });

  describe("the lock file shared with other processes", () => {
    it("gives up at the deadline when the lock can be neither taken nor read (a dangling symlink), instead of spinning", async () => {
      const { dir, file, store } = await storeIn({ lockTimeoutMs: 100 });
      await fs.symlink(path.join(dir, "nowhere"), `${file}.lock`);
      const error = await rejectionOf(store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect((error as Error).message).toContain(`${file}.lock`);
      // Later calls are not stuck behind it.
      await fs.rm(`${file}.lock`);
      expect((await store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null })).status).toBe("stored");
    });

    it("breaks a lock left behind by a process that is gone", async () => {
      const { dir, file, store } = await storeIn({ lockTimeoutMs: 2_000 });
      const lock = JSON.stringify({ pid: await deadPid(), host: os.hostname(), createdAt: Date.now(), token: "old" });
      await fs.writeFile(`${file}.lock`, lock);
      expect((await store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null })).status).toBe("stored");
      expect(await fs.readdir(dir)).toEqual(["tokens.json"]);
    });

    it("breaks a lock of this pid made before this process started (a restarted container)", async () => {
      const { dir, file, store } = await storeIn({ lockTimeoutMs: 2_000 });
      const startedAt = Date.now() - process.uptime() * 1000;
      const lock = JSON.stringify({ pid: process.pid, host: os.hostname(), createdAt: startedAt - 60_000, token: "old" });
      await fs.writeFile(`${file}.lock`, lock);
      expect((await store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null })).status).toBe("stored");
      expect(await fs.readdir(dir)).toEqual(["tokens.json"]);
    });

    it("waits for a live holder, then fails with a retryable TokenStoreError naming the lock file", async () => {
      const { file, store } = await storeIn({ lockTimeoutMs: 150 });
      await store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null });
      const before = await fs.readFile(file);
      // The parent process (the test runner) is alive: its lock is respected.
      const lock = JSON.stringify({ pid: process.ppid, host: os.hostname(), createdAt: Date.now(), token: "live" });
      await fs.writeFile(`${file}.lock`, lock);

      const error = await rejectionOf(store.set(KEY, { userAccessToken: token("b") }, { expectedVersion: 1 }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect((error as TokenStoreError).retryable).toBe(true);
      expect((error as Error).message).toContain(`${file}.lock`);
      expect((await fs.readFile(file)).equals(before)).toBe(true);
      expect(await fs.readFile(`${file}.lock`, "utf8")).toBe(lock);
      // Reads do not need the lock.
      expect((await store.get(KEY))?.version).toBe(1);

      await fs.rm(`${file}.lock`);
      expect((await store.set(KEY, { userAccessToken: token("b") }, { expectedVersion: 1 })).status).toBe("stored");
    });

    it("keeps compare-and-set atomic across processes: 4 processes × 20 increments make version 81", async () => {
      const { dir, file, store } = await storeIn();
      await store.set(KEY, { userAccessToken: token("0") }, { expectedVersion: null });
      const worker = path.join(dir, "worker.mts");
      const moduleUrl = pathToFileURL(path.join(repoRoot, "src", "stores", "file", "file-token-store.ts")).href;
      await fs.writeFile(
        worker,
        `import { FileTokenStore } from ${JSON.stringify(moduleUrl)};
const store = new FileTokenStore({ path: process.argv[2], lockTimeoutMs: 20_000 });
const key = ${JSON.stringify(KEY)};
// Start together so the processes really contend for the file.
// A process that starts after the moment goes at once (a negative delay would print TimeoutNegativeWarning).
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(process.argv[3]) - Date.now())));
for (let done = 0; done < 20; ) {
  const current = await store.get(key);
  const token = { accessToken: { value: "w" + process.pid, expiry: 1 }, refreshToken: { value: "r", expiry: 1 } };
  const result = await store.set(key, { userAccessToken: token }, { expectedVersion: current.version });
  if (result.status === "stored") done += 1;
}
`,
      );
      const startAt = String(Date.now() + 2_000);
      const run = (): Promise<number | null> =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, ["--import", "tsx", worker, file, startAt], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] });
          child.on("error", reject);
          child.on("exit", resolve);
        });
      expect(await Promise.all([run(), run(), run(), run()])).toEqual([0, 0, 0, 0]);
      expect((await new FileTokenStore({ path: file }).get(KEY))?.version).toBe(81);
      expect((await fs.readdir(dir)).sort()).toEqual(["tokens.json", "worker.mts"]);
    });
  });

  describe("refuses a directory or file someone else could read or replace", () => {
    async function expectUnsafe(store: FileTokenStore, what: string): Promise<void> {
      for (const operation of [store.get(KEY), store.set(KEY, { userAccessToken: token("s") }, { expectedVersion: null })]) {
        const error = await rejectionOf(operation);
        expect(error).toBeInstanceOf(TokenStoreUnsafeError);
        expect((error as TokenStoreUnsafeError).code).toBe("TOKEN_STORE_UNSAFE");
        expect((error as Error).message).toContain(what);
      }
    }

    it("a group- or world-writable directory, and works once it is fixed", async () => {
      for (const mode of [0o770, 0o777, 0o1777]) {
        const { dir, store } = await storeIn();
        await fs.chmod(dir, mode);
        await expectUnsafe(store, "writable by");
        expect(await fs.readdir(dir)).toEqual([]);
        await fs.chmod(dir, 0o700);
        expect((await store.set(KEY, { userAccessToken: token("s") }, { expectedVersion: null })).status).toBe("stored");
      }
    });

    it("a token file that is a symlink", async () => {
      const { dir, file, store } = await storeIn();
      const elsewhere = path.join(dir, "elsewhere.json");
      await new FileTokenStore({ path: elsewhere }).set(KEY, { userAccessToken: token("x") }, { expectedVersion: null });
      await fs.symlink(elsewhere, file);
      await expectUnsafe(store, "symlink");
    });

    it("a token file writable by others", async () => {
      const { file, store } = await storeIn();
      await store.set(KEY, { userAccessToken: token("x") }, { expectedVersion: null });
      await fs.chmod(file, 0o666);
      await expectUnsafe(new FileTokenStore({ path: file }), "writable by");
    });

    it.skipIf(process.getuid?.() !== 0)("a token file planted by another user (run as root)", async () => {
      const { file, store } = await storeIn();
      await store.set(KEY, { userAccessToken: token("x") }, { expectedVersion: null });
      await fs.chown(file, 4242, 4242);
      await expectUnsafe(new FileTokenStore({ path: file }), "owned by uid 4242");
    });
  });

  it("shows only its path and record count in inspect", async () => {
    const { file, store } = await storeIn();
    expect(inspect(store)).toBe(`FileTokenStore { path: ${JSON.stringify(file)}, records: unknown }`);
    await store.set(KEY, { userAccessToken: token("a") }, { expectedVersion: null });
    expect(inspect(store)).toBe(`FileTokenStore { path: ${JSON.stringify(file)}, records: 1 }`);
  });

  it("resolves a relative path once and exposes it", () => {
    expect(new FileTokenStore({ path: "relative/tokens.json" }).path).toBe(path.resolve("relative/tokens.json"));
  });

  it("rejects bad options with INVALID_OPTIONS naming the field", () => {
    const bad: Array<[unknown, string]> = [
      [{}, "options.path"],
      [{ path: "" }, "options.path"],
      [{ path: "x.json", fileMode: 0o1000 }, "options.fileMode"],
      [{ path: "x.json", now: "soon" }, "options.now"],
      [{ path: "x.json", lockTimeoutMs: -1 }, "options.lockTimeoutMs"],
    ];
    for (const [options, field] of bad) {
      expect(() => new FileTokenStore(options as never)).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS", message: expect.stringContaining(field) }),
      );
    }
  });
});
