/**
 * The package as users get it: `npm pack`, installed into a fresh project,
 * imported from ESM and CommonJS, and type-checked as a consumer would under
 * `moduleResolution` node16 (ESM and CJS files) and bundler.
 *
 * Relies on dist/ being built (`npm test` builds first). The install is
 * offline: dependencies come from the npm cache `npm ci` filled.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = path.resolve(fileURLToPath(import.meta.url), "../../..");
const tsc = path.join(root, "node_modules/typescript/bin/tsc");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

let project: string;
/** A second consumer with only the tarball: none of the optional peers. */
let bare: string;

/** A full round trip through the sandbox, the same in both module systems. */
const roundTrip = (load: string) => `
${load}
const sandbox = createSandbox();
const client = new WriteClient({
  sdk: sandbox.sdk("v16"),
  contractDetails: sandbox.contractDetails,
  redirectUri: "https://app.example/digime/callback",
  tokenStore: new MemoryTokenStore(),
});
(async () => {
  const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
  await client.completeAuthorization(await sandbox.consent(url), { sealed });
  const receipt = await client.write("alice", {
    fileData: Buffer.from("hello"),
    fileName: "hello.txt",
    fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }] },
  });
  await client.close();
  const error = await client.write("alice", { fileData: Buffer.from("x"), fileName: "x", fileDescriptor: { mimeType: "text/plain", accounts: [] } }).catch((e) => e);
  console.log(JSON.stringify({ status: receipt.status, files: sandbox.libraries()[0].files.length, closed: error instanceof DigimeWriteError && error.code }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

const consumer = `
import { FileTokenStore, MemoryTokenStore, WriteClient, DigimeWriteError, type WriteClientEvents, type TokenStore, type PendingAuthorizationStore } from "digime-write-pipeline";
import type { RefreshLeases, SetResult } from "digime-write-pipeline/stores";
import type { SdkGenerationC } from "digime-write-pipeline/sdk";
import { createSandbox, tokenStoreContract, type Sandbox } from "digime-write-pipeline/testing";
import { RedisTokenStore, RedisPendingAuthorizationStore, type RedisTokenStoreOptions } from "digime-write-pipeline/redis";
import { PostgresTokenStore, PostgresPendingAuthorizationStore, type PostgresTokenStoreOptions } from "digime-write-pipeline/postgres";
import { DurableWriteQueue, WriteWorker, type DurableWriteQueueOptions } from "digime-write-pipeline/bullmq";
import { Redis } from "ioredis";
import pg from "pg";

export const makeQueue = (options: DurableWriteQueueOptions): DurableWriteQueue => {
  const queue = new DurableWriteQueue(options);
  queue.on("delivered", ({ receipt }) => receipt.possibleDuplicate);
  // @ts-expect-error: a misspelt event name is a type error
  queue.on("deliverd", () => undefined);
  return queue;
};
export const makeWorker = (client: WriteClient): WriteWorker => new WriteWorker({ client, connection: { maxRetriesPerRequest: null }, queueName: "digime-writes" });

const redisOptions: RedisTokenStoreOptions = { client: new Redis({ lazyConnect: true }), keyPrefix: "app:" };
const pgOptions: PostgresTokenStoreOptions = { pool: new pg.Pool(), table: "tokens" };
export const shared: Array<TokenStore & RefreshLeases> = [new RedisTokenStore(redisOptions), new PostgresTokenStore(pgOptions)];
export type StoreOutcome = SetResult["status"]; // "digime-write-pipeline/stores": what a store of your own returns
export type PushData = SdkGenerationC["pushData"]; // "digime-write-pipeline/sdk": the SDK generations' shapes
export const pending: PendingAuthorizationStore[] = [new RedisPendingAuthorizationStore(redisOptions), new PostgresPendingAuthorizationStore({ pool: pgOptions.pool })];

const sandbox: Sandbox = createSandbox({ accessTokenLifetimeSeconds: 60 });
const store: TokenStore = new MemoryTokenStore();
const client = new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: "https://app.example/cb", tokenStore: store });
const onFailed = (event: WriteClientEvents["write:failed"][0]): string => event.error.code;
client.on("write:failed", onFailed);
// @ts-expect-error: a misspelt event name is a type error
client.on("write:faild", () => undefined);
export const checks: [unknown, unknown, unknown, unknown] = [new FileTokenStore({ path: "tokens.json" }), tokenStoreContract, DigimeWriteError, client];
`;

async function tsconfig(name: string, compilerOptions: Record<string, unknown>, files: string[], cwd = project): Promise<string> {
  const file = path.join(cwd, name);
  await writeFile(
    file,
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "ES2022",
        skipLibCheck: false,
        types: ["node"],
        typeRoots: [path.join(root, "node_modules/@types")],
        ...compilerOptions,
      },
      files,
    }),
  );
  return file;
}

async function typecheck(config: string, cwd = project): Promise<string> {
  try {
    await run(process.execPath, [tsc, "-p", config], { cwd });
    return "";
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

beforeAll(async () => {
  if (!existsSync(path.join(root, "dist/index.js"))) throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
  project = await mkdtemp(path.join(tmpdir(), "digime-pack-"));
  await run(npm, ["pack", "--pack-destination", project], { cwd: root });
  const tarball = (await readdir(project)).find((name) => name.endsWith(".tgz"));
  if (tarball === undefined) throw new Error("npm pack made no tarball");
  await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // The optional peers of /redis and /postgres, at the versions this repository tests with (so the cache has them).
  const peers = await Promise.all(["ioredis", "pg", "@types/pg", "bullmq"].map(async (name) => `${name}@${await installedVersion(name)}`));
  const install = ["install", `./${tarball}`, ...peers, "--no-audit", "--no-fund", "--no-save", "--ignore-scripts"];
  await installOffline(install, project);
  bare = await mkdtemp(path.join(tmpdir(), "digime-pack-bare-"));
  await writeFile(path.join(bare, "package.json"), JSON.stringify({ name: "consumer-without-peers", private: true, type: "module" }));
  await writeFile(path.join(bare, tarball), await readFile(path.join(project, tarball)));
  await installOffline(["install", `./${tarball}`, "--no-audit", "--no-fund", "--no-save", "--ignore-scripts"], bare);
}, 120_000);

async function installOffline(install: string[], cwd: string): Promise<void> {
  try {
    await run(npm, [...install, "--offline"], { cwd });
  } catch {
    // A cache without one of the dependencies: let npm fetch only what is missing.
    await run(npm, [...install, "--prefer-offline"], { cwd });
  }
}

async function installedVersion(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(root, "node_modules", name, "package.json"), "utf8")) as { version: string };
  return manifest.version;
}

/** Every bare module specifier reachable from `entry` through the package's own relative imports. */
async function bareImports(entry: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const pending = [path.join(root, "dist", entry)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = await readFile(file, "utf8");
    for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\(\s*)["']([^"']+)["']/g)) {
      const specifier = match[1]!;
      if (specifier.startsWith(".")) pending.push(path.resolve(path.dirname(file), specifier));
      else bare.add(specifier);
    }
  }
  return bare;
}

/** The text of `entry` and every file it reaches through relative imports. */
async function reachableText(entry: string): Promise<string> {
  const seen = new Set<string>();
  const pending = [path.join(root, "dist", entry)];
  let text = "";
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const content = await readFile(file, "utf8");
    text += content;
    for (const match of content.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\(\s*)["'](\.[^"']+)["']/g)) pending.push(path.resolve(path.dirname(file), match[1]!));
  }
  return text;
}

afterAll(async () => {
  if (project !== undefined) await rm(project, { recursive: true, force: true });
  if (bare !== undefined) await rm(bare, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  // testing/package.json points tools that predate `exports` (TypeScript's node10 resolution) at dist/testing.*.
  it("holds the built entry points, their declarations and the docs, nothing else", async () => {
    const { stdout } = await run(npm, ["pack", "--dry-run", "--json"], { cwd: root });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    const entries = ["index", "testing", "redis", "postgres", "bullmq"];
    const fallbacks = ["testing/package.json", "redis/package.json", "postgres/package.json", "bullmq/package.json", "sdk/package.json", "stores/package.json"];
    for (const expected of [...entries.flatMap((e) => [".js", ".cjs", ".d.ts", ".d.cts"].map((ext) => `dist/${e}${ext}`)), "README.md", "CHANGELOG.md", "package.json", ...fallbacks]) {
      expect(files).toContain(expected);
    }
    expect(files.filter((f) => !f.startsWith("dist/") && !["README.md", "CHANGELOG.md", "package.json", "LICENSE", ...fallbacks].includes(f))).toEqual([]);
  });

  it("installs the digime-write-pipeline command: `sandbox --help` runs from node_modules/.bin", async () => {
    const { stdout } = await run(path.join(project, "node_modules/.bin/digime-write-pipeline"), ["sandbox", "--help"], { cwd: project });
    expect(stdout).toContain("Usage: digime-write-pipeline sandbox [options]");
    expect(stdout).toContain("--state <file>");
  });

  it("loads ioredis, pg and bullmq only from the entries that need them, so the main entry works without any", async () => {
    for (const entry of ["index.js", "index.cjs", "testing.js", "testing.cjs", "postgres.js", "postgres.cjs"]) {
      expect([...(await bareImports(entry))].filter((s) => s === "ioredis" || s === "pg" || s === "bullmq"), entry).toEqual([]);
    }
    // @opentelemetry/api (optional peer) is loaded only when the `opentelemetry` option is set, never imported.
    for (const entry of ["index.js", "index.cjs", "testing.js", "testing.cjs", "cli.js"]) {
      expect([...(await bareImports(entry))].filter((s) => s.startsWith("@opentelemetry/")), entry).toEqual([]);
    }
    for (const entry of ["redis.js", "redis.cjs"]) expect([...(await bareImports(entry))].filter((s) => s === "bullmq"), entry).toEqual([]);
    // /redis and /bullmq load their peer through the loader that names what to install (never a bare import).
    for (const [entry, peer] of [["redis", "ioredis"], ["bullmq", "bullmq"]] as const) {
      for (const file of [`${entry}.js`, `${entry}.cjs`]) {
        expect([...(await bareImports(file))], file).not.toContain(peer);
        expect(await reachableText(file), file).toContain(`"${peer}", "digime-write-pipeline/${entry}"`);
      }
    }
    for (const entry of ["index.js", "index.cjs", "testing.js", "testing.cjs", "postgres.js", "postgres.cjs"]) {
      expect(await reachableText(entry), entry).not.toMatch(/"(ioredis|bullmq)", "digime-write-pipeline\//);
    }
  });

  it("without ioredis or bullmq installed: /redis and /bullmq fail on import naming the package to install, from an ES module and from CommonJS; the main entry works", async () => {
    const report = `(error) => ({ name: error?.name, code: error?.code, message: error?.message })`;
    await writeFile(
      path.join(bare, "peers.mjs"),
      `import { WriteClient } from "digime-write-pipeline";
const failed = async (specifier) => import(specifier).then(() => "loaded", ${report});
console.log(JSON.stringify({ main: typeof WriteClient, redis: await failed("digime-write-pipeline/redis"), bullmq: await failed("digime-write-pipeline/bullmq") }));`,
    );
    await writeFile(
      path.join(bare, "peers.cjs"),
      `const { WriteClient } = require("digime-write-pipeline");
const failed = (specifier) => { try { require(specifier); return "loaded"; } catch (error) { return (${report})(error); } };
console.log(JSON.stringify({ main: typeof WriteClient, redis: failed("digime-write-pipeline/redis"), bullmq: failed("digime-write-pipeline/bullmq") }));`,
    );
    expect(existsSync(path.join(bare, "node_modules/ioredis"))).toBe(false);
    expect(existsSync(path.join(bare, "node_modules/bullmq"))).toBe(false);
    for (const script of ["peers.mjs", "peers.cjs"]) {
      const { stdout } = await run(process.execPath, [script], { cwd: bare });
      const result = JSON.parse(stdout) as Record<string, unknown>;
      expect(result, script).toEqual({
        main: "function",
        redis: { name: "MissingPeerDependencyError", code: "MISSING_PEER_DEPENDENCY", message: "digime-write-pipeline/redis needs the optional peer dependency ioredis, which is not installed: npm install ioredis" },
        bullmq: { name: "MissingPeerDependencyError", code: "MISSING_PEER_DEPENDENCY", message: "digime-write-pipeline/bullmq needs the optional peer dependency bullmq, which is not installed: npm install bullmq" },
      });
    }
  });

  it("without any optional peer installed: a consumer of the main entry and /testing type-checks with skipLibCheck false (node16 ESM and CJS, bundler)", async () => {
    const source = `import { WriteClient, MemoryTokenStore, FileTokenStore, DigimeWriteError, type WriteClientEvents } from "digime-write-pipeline";
import { createSandbox, createHttpSdk, tokenStoreContract } from "digime-write-pipeline/testing";
const sandbox = createSandbox();
const client = new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: "https://app.example/cb", tokenStore: new MemoryTokenStore() });
const onFailed = (event: WriteClientEvents["write:failed"][0]): string => event.error.code;
client.on("write:failed", onFailed);
export const checks: unknown[] = [FileTokenStore, DigimeWriteError, createHttpSdk, tokenStoreContract];
`;
    await writeFile(path.join(bare, "plain.ts"), source);
    await writeFile(path.join(bare, "plain.cts"), source.replace("export const checks", "export const cjsChecks"));
    for (const name of ["ioredis", "bullmq", "pg", "msw", "@opentelemetry/api", "@digime/digime-sdk-nodejs", "vitest"]) {
      expect(existsSync(path.join(bare, "node_modules", name)), name).toBe(false);
    }
    const node16 = await tsconfig("tsconfig.node16.json", { module: "node16", moduleResolution: "node16" }, ["plain.ts", "plain.cts"], bare);
    expect(await typecheck(node16, bare)).toBe("");
    const bundler = await tsconfig("tsconfig.bundler.json", { module: "esnext", moduleResolution: "bundler" }, ["plain.ts"], bare);
    expect(await typecheck(bundler, bare)).toBe("");
  });

  it("runs the /redis and /postgres entries from an ES module and from CommonJS, sharing the main entry's error classes", async () => {
    const body = `
const redisStore = new RedisTokenStore({ connection: { host: "127.0.0.1", port: 1, lazyConnect: true } });
const pgStore = new PostgresTokenStore({ pool: new pg.Pool({ host: "127.0.0.1", port: 1 }) });
let invalid;
try { new PostgresTokenStore({ pool: {} }); } catch (error) { invalid = error; }
let invalidQueue;
try { new DurableWriteQueue({ connection: {}, queueName: "" }); } catch (error) { invalidQueue = error; }
console.log(JSON.stringify({
  stores: [typeof redisStore.set, typeof pgStore.set, typeof RedisPendingAuthorizationStore, typeof PostgresPendingAuthorizationStore, typeof WriteWorker, typeof DirectoryPayloadStore],
  shared: invalid instanceof DigimeWriteError && invalid.code,
  sharedByBullmq: invalidQueue instanceof DigimeWriteError && invalidQueue.code,
}));
`;
    const expected = { stores: ["function", "function", "function", "function", "function", "function"], shared: "INVALID_OPTIONS", sharedByBullmq: "INVALID_OPTIONS" };
    await writeFile(
      path.join(project, "stores.mjs"),
      `import pg from "pg";
import { DigimeWriteError } from "digime-write-pipeline";
import { RedisTokenStore, RedisPendingAuthorizationStore } from "digime-write-pipeline/redis";
import { PostgresTokenStore, PostgresPendingAuthorizationStore } from "digime-write-pipeline/postgres";
import { DurableWriteQueue, WriteWorker, DirectoryPayloadStore } from "digime-write-pipeline/bullmq";
${body}`,
    );
    await writeFile(
      path.join(project, "stores.cjs"),
      `const pg = require("pg");
const { DigimeWriteError } = require("digime-write-pipeline");
const { RedisTokenStore, RedisPendingAuthorizationStore } = require("digime-write-pipeline/redis");
const { PostgresTokenStore, PostgresPendingAuthorizationStore } = require("digime-write-pipeline/postgres");
const { DurableWriteQueue, WriteWorker, DirectoryPayloadStore } = require("digime-write-pipeline/bullmq");
${body}`,
    );
    for (const script of ["stores.mjs", "stores.cjs"]) {
      const { stdout } = await run(process.execPath, [script], { cwd: project });
      expect(JSON.parse(stdout), script).toEqual(expected);
    }
  });

  it("without @opentelemetry/api installed: runs with telemetry off, and `opentelemetry: true` is INVALID_OPTIONS saying what to install; the API passed as `api` works", async () => {
    const apiPath = path.join(root, "node_modules/@opentelemetry/api");
    const body = (load: string) => `${load}
const sandbox = createSandbox();
const base = { sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: "https://app.example/cb", tokenStore: new MemoryTokenStore() };
let missing;
try { new WriteClient({ ...base, opentelemetry: true }); } catch (error) { missing = error; }
(async () => {
  const plain = await new WriteClient(base).beginAuthorization({ userId: "alice" });
  const traced = await new WriteClient({ ...base, opentelemetry: { api } }).beginAuthorization({ userId: "alice" });
  console.log(JSON.stringify({ code: missing?.code, message: missing?.message, plain: typeof plain.url, traced: typeof traced.url }));
})().catch((error) => { console.error(error); process.exit(1); });
`;
    await writeFile(
      path.join(project, "otel.mjs"),
      body(`import { WriteClient, MemoryTokenStore } from "digime-write-pipeline";
import { createSandbox } from "digime-write-pipeline/testing";
import { createRequire } from "node:module";
const api = createRequire(import.meta.url)(${JSON.stringify(apiPath)});`),
    );
    await writeFile(
      path.join(project, "otel.cjs"),
      body(`const { WriteClient, MemoryTokenStore } = require("digime-write-pipeline");
const { createSandbox } = require("digime-write-pipeline/testing");
const api = require(${JSON.stringify(apiPath)});`),
    );
    expect(existsSync(path.join(project, "node_modules/@opentelemetry/api"))).toBe(false);
    for (const script of ["otel.mjs", "otel.cjs"]) {
      const { stdout } = await run(process.execPath, [script], { cwd: project });
      const result = JSON.parse(stdout) as { code: string; message: string; plain: string; traced: string };
      expect(result, script).toMatchObject({ code: "INVALID_OPTIONS", plain: "string", traced: "string" });
      expect(result.message, script).toContain("npm install @opentelemetry/api");
    }
  });

  it("installs with its dependencies and runs from an ES module", async () => {
    const script = roundTrip(`import { WriteClient, MemoryTokenStore, DigimeWriteError } from "digime-write-pipeline";
import { createSandbox } from "digime-write-pipeline/testing";`);
    await writeFile(path.join(project, "esm.mjs"), script);
    const { stdout } = await run(process.execPath, ["esm.mjs"], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({ status: "delivered", files: 1, closed: "CLIENT_CLOSED" });
  });

  it("runs from CommonJS with require()", async () => {
    const script = roundTrip(`const { WriteClient, MemoryTokenStore, DigimeWriteError } = require("digime-write-pipeline");
const { createSandbox } = require("digime-write-pipeline/testing");`);
    await writeFile(path.join(project, "cjs.cjs"), script);
    const { stdout } = await run(process.execPath, ["cjs.cjs"], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({ status: "delivered", files: 1, closed: "CLIENT_CLOSED" });
  });

  it("type-checks a consumer under moduleResolution node16, from an ES module and from CommonJS", async () => {
    await writeFile(path.join(project, "consumer.ts"), consumer);
    await writeFile(path.join(project, "consumer.cts"), consumer.replace(/^export const checks/m, "export const cjsChecks"));
    const config = await tsconfig("tsconfig.node16.json", { module: "node16", moduleResolution: "node16" }, ["consumer.ts", "consumer.cts"]);
    expect(await typecheck(config)).toBe("");
  });

  it("type-checks a consumer under moduleResolution bundler", async () => {
    await writeFile(path.join(project, "bundled.ts"), consumer);
    const config = await tsconfig("tsconfig.bundler.json", { module: "esnext", moduleResolution: "bundler" }, ["bundled.ts"]);
    expect(await typecheck(config)).toBe("");
  });

  it("fails the type check on a wrong option, so the checks above are real", async () => {
    await writeFile(path.join(project, "wrong.ts"), `import { WriteClient } from "digime-write-pipeline";\nnew WriteClient({ sdk: {}, redirectUri: 1 });\n`);
    const config = await tsconfig("tsconfig.wrong.json", { module: "node16", moduleResolution: "node16" }, ["wrong.ts"]);
    expect(await typecheck(config)).toMatch(/error TS/);
  });
});
