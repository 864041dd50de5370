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
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
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
import { FileTokenStore, MemoryTokenStore, WriteClient, DigimeWriteError, type WriteClientEvents, type TokenStore } from "digime-write-pipeline";
import { createSandbox, tokenStoreContract, type Sandbox } from "digime-write-pipeline/testing";

const sandbox: Sandbox = createSandbox({ accessTokenLifetimeSeconds: 60 });
const store: TokenStore = new MemoryTokenStore();
const client = new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: "https://app.example/cb", tokenStore: store });
const onFailed = (event: WriteClientEvents["write:failed"][0]): string => event.error.code;
client.on("write:failed", onFailed);
// @ts-expect-error: a misspelt event name is a type error
client.on("write:faild", () => undefined);
export const checks: [unknown, unknown, unknown, unknown] = [new FileTokenStore({ path: "tokens.json" }), tokenStoreContract, DigimeWriteError, client];
`;

async function tsconfig(name: string, compilerOptions: Record<string, unknown>, files: string[]): Promise<string> {
  const file = path.join(project, name);
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

async function typecheck(config: string): Promise<string> {
  try {
    await run(process.execPath, [tsc, "-p", config], { cwd: project });
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
  const install = ["install", `./${tarball}`, "--no-audit", "--no-fund", "--no-save", "--ignore-scripts"];
  try {
    await run(npm, [...install, "--offline"], { cwd: project });
  } catch {
    // A cache without one of the dependencies: let npm fetch only what is missing.
    await run(npm, [...install, "--prefer-offline"], { cwd: project });
  }
}, 120_000);

afterAll(async () => {
  if (project !== undefined) await rm(project, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  // testing/package.json points tools that predate `exports` (TypeScript's node10 resolution) at dist/testing.*.
  it("holds the built entry points, their declarations and the docs, nothing else", async () => {
    const { stdout } = await run(npm, ["pack", "--dry-run", "--json"], { cwd: root });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    for (const expected of ["dist/index.js", "dist/index.cjs", "dist/index.d.ts", "dist/index.d.cts", "dist/testing.js", "dist/testing.cjs", "dist/testing.d.ts", "dist/testing.d.cts", "README.md", "CHANGELOG.md", "package.json", "testing/package.json"]) {
      expect(files).toContain(expected);
    }
    expect(files.filter((f) => !f.startsWith("dist/") && !["README.md", "CHANGELOG.md", "package.json", "testing/package.json", "LICENSE"].includes(f))).toEqual([]);
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
