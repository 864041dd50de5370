/**
 * scripts/project-node.mjs, which every npm script runs first: with install
 * scripts off (.npmrc), it rebuilds exactly the packages allowScripts allows
 * (the `node` dev dependency, the project's own Node 24) when their binary is
 * missing, and does nothing once it is there. Run against a copy of the
 * script in a scratch project, with a stand-in `npm` that records its
 * arguments.
 */
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../../scripts/project-node.mjs", import.meta.url));
let project: string;

beforeEach(async () => {
  project = await mkdtemp(path.join(tmpdir(), "project-node-"));
  await mkdir(path.join(project, "scripts"));
  await copyFile(script, path.join(project, "scripts", "project-node.mjs"));
  await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "scratch", allowScripts: { node: true, esbuild: false, "msgpackr-extract": false } }));
  // The stand-in npm: records its arguments and does what the node package's install script does (puts bin/node in place).
  await mkdir(path.join(project, "fake-bin"));
  const npm = path.join(project, "fake-bin", "npm");
  await writeFile(npm, `#!/bin/sh\necho "$@" >> "${project}/npm-calls"\nmkdir -p "${project}/node_modules/node/bin" && touch "${project}/node_modules/node/bin/node"\n`);
  await chmod(npm, 0o755);
});
afterEach(async () => {
  await rm(project, { recursive: true, force: true });
});

const projectNode = () =>
  run(process.execPath, [path.join(project, "scripts", "project-node.mjs")], { cwd: project, env: { ...process.env, PATH: `${path.join(project, "fake-bin")}${path.delimiter}${process.env.PATH}` } });

describe.skipIf(process.platform === "win32")("scripts/project-node.mjs", () => {
  it("rebuilds only the allowed package (node) when its binary is missing, then does nothing", async () => {
    await mkdir(path.join(project, "node_modules", "node"), { recursive: true });
    await writeFile(path.join(project, "node_modules", "node", "package.json"), "{}");
    await projectNode();
    expect(await readFile(path.join(project, "npm-calls"), "utf8")).toBe("rebuild node --ignore-scripts=false --no-audit --no-fund\n");
    expect(existsSync(path.join(project, "node_modules", "node", "bin", "node"))).toBe(true);
    await projectNode();
    expect(await readFile(path.join(project, "npm-calls"), "utf8")).toBe("rebuild node --ignore-scripts=false --no-audit --no-fund\n");
  });

  it("says to run npm install first when node_modules has no node package", async () => {
    const failure = await projectNode().catch((error: unknown) => error as { code: number; stderr: string });
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain("run `npm install` first");
    expect(existsSync(path.join(project, "npm-calls"))).toBe(false);
  });
});
