#!/usr/bin/env node
// Makes sure the project's own Node (the `node` dev dependency, Node 24) is installed before an npm
// script runs. Install scripts are off (.npmrc: ignore-scripts), so `npm install` unpacks the `node`
// package without fetching its binary; this rebuilds exactly that one package, once.
// Runs on any Node >= 18 (the machine's own), prints nothing when there is nothing to do.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
/** Packages whose install scripts this project reviewed and runs: `allowScripts` entries set to true. */
const rebuilt = Object.entries(manifest.allowScripts ?? {})
  .filter(([, allowed]) => allowed === true)
  .map(([name]) => name);
const binary = join(root, "node_modules", "node", "bin", process.platform === "win32" ? "node.exe" : "node");

if (!existsSync(join(root, "node_modules", "node", "package.json"))) {
  console.error("project-node: node_modules/node is missing; run `npm install` first.");
  process.exit(1);
}
if (!existsSync(binary)) {
  console.error(`project-node: fetching the project's Node (install scripts of: ${rebuilt.join(", ")}; see .npmrc)…`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["rebuild", ...rebuilt, "--ignore-scripts=false", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (result.status !== 0 || !existsSync(binary)) {
    console.error("project-node: could not install the project's Node; see the output above.");
    process.exit(result.status || 1);
  }
}
