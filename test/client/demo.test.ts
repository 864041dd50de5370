import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(fileURLToPath(import.meta.url), "../../..");
const tsx = path.join(root, "node_modules/tsx/dist/cli.mjs");
const demo = path.join(root, "examples/demo.ts");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run demo`, as a pipe sees it (no TTY: plain progress lines). */
function runDemo(cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsx, demo], { cwd, env: { ...process.env, DEMO_DATA_DIR: undefined, DEMO_FILES: undefined, FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function summaryLine(stdout: string, label: string): string {
  const line = stdout.split("\n").find((l) => l.startsWith(`  ${label.padEnd(11)} `));
  if (line === undefined) throw new Error(`no "${label}" line in the summary:\n${stdout}`);
  return line;
}

interface LastRun {
  files: number;
  delivered: number;
  verified: number;
  retried: number;
  refreshed: number;
  failed: number;
  lost: number;
  authorized: number;
  reused: number;
  exchanges: number;
  tokens: string;
}

describe("npm run demo", () => {
  let dir: string;
  let first: Run;
  let second: Run;
  let firstNumbers: LastRun;
  let secondNumbers: LastRun;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "digime-demo-"));
    first = await runDemo(dir);
    firstNumbers = JSON.parse(await readFile(path.join(dir, ".demo-data/last-run.json"), "utf8")) as LastRun;
    second = await runDemo(dir);
    secondNumbers = JSON.parse(await readFile(path.join(dir, ".demo-data/last-run.json"), "utf8")) as LastRun;
  }, 180_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("delivers every file despite the injected faults and exits 0", () => {
    expect(first.stderr).toBe("");
    expect(first.code, first.stdout).toBe(0);
    expect(firstNumbers).toMatchObject({ files: 100, delivered: 100, verified: 100, failed: 0, lost: 0 });
    expect(summaryLine(first.stdout, "delivered")).toMatch(/^ {2}delivered {3}100 of 100 files, [\d.]+ MB, 100 verified byte for byte/);
    expect(summaryLine(first.stdout, "failed")).toBe("  failed      0");
    expect(first.stdout).toContain("Nothing was lost.");
  });

  it("reports the retries the faults caused and the token refreshes the short-lived tokens caused", () => {
    expect(firstNumbers.retried).toBeGreaterThan(0);
    expect(firstNumbers.refreshed).toBeGreaterThan(0);
    expect(summaryLine(first.stdout, "retried")).toContain(`${firstNumbers.retried} attempts`);
    expect(summaryLine(first.stdout, "refreshed")).toContain(`${firstNumbers.refreshed} tokens`);
    expect(summaryLine(first.stdout, "time")).toMatch(/^ {2}time {8}[\d.]+ s$/);
  });

  it("prints plain progress lines when stdout is not a terminal", () => {
    expect(first.stdout).not.toContain("\r");
    expect(first.stdout).toMatch(/^ {2}progress 100\/100 /m);
  });

  it("authorizes three users on the first run and keeps their tokens in the FileTokenStore it names", async () => {
    expect(firstNumbers).toMatchObject({ authorized: 3, reused: 0, exchanges: 3 });
    const tokens = path.join(dir, ".demo-data/tokens.json");
    expect(firstNumbers.tokens).toBe(tokens);
    expect(summaryLine(first.stdout, "tokens")).toContain(tokens);
    expect((await stat(tokens)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(tokens, "utf8")).records).toHaveLength(3);
  });

  it("reuses the stored tokens on the second run instead of authorizing again", () => {
    expect(second.stderr).toBe("");
    expect(second.code, second.stdout).toBe(0);
    expect(secondNumbers).toMatchObject({ authorized: 0, reused: 3, exchanges: 0, delivered: 100, failed: 0, lost: 0 });
    expect(summaryLine(second.stdout, "users")).toBe("  users       0 authorized now, 3 reused stored tokens");
    expect(second.stdout.match(/reusing the stored token/g)).toHaveLength(3);
    // The stored access tokens expired between the runs: the first writes refreshed them.
    expect(secondNumbers.refreshed).toBeGreaterThanOrEqual(3);
  });
});
