/**
 * Supply chain, checked offline against package.json, .npmrc, .ci/run and the
 * lockfile: no dependency install script runs on install (`ignore-scripts`);
 * the one this project needs is reviewed in `allowScripts` and rebuilt
 * explicitly; every locked package carries a sha512 integrity; the SDK peer
 * range is bounded by the newest SDK generation this library knows. Nothing
 * here reads what `npm install` may rewrite on another machine.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
const manifest = JSON.parse(read("package.json")) as {
  allowScripts?: Record<string, boolean>;
  peerDependencies?: Record<string, string>;
  scripts: Record<string, string>;
};
const lock = JSON.parse(read("package-lock.json")) as {
  packages: Record<string, { version?: string; integrity?: string; resolved?: string; link?: boolean; hasInstallScript?: boolean }>;
};
const npmrc = read(".npmrc");
const ciRun = read(".ci/run");
const locked = Object.entries(lock.packages).filter(([path, entry]) => path !== "" && entry.link !== true);
const nameOf = (path: string) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
const settingOf = (key: string) => npmrc.split("\n").find((line) => line.trim().startsWith(`${key}=`))?.split("=")[1]?.trim();

describe("supply chain", () => {
  it("runs no dependency install script on npm install or npm ci (.npmrc ignore-scripts=true)", () => {
    expect(settingOf("ignore-scripts")).toBe("true");
  });

  it("reviews every locked package with an install script in allowScripts, and rebuilds exactly the allowed ones", () => {
    const withScripts = [...new Set(locked.filter(([, entry]) => entry.hasInstallScript === true).map(([path]) => nameOf(path)))].sort();
    expect(Object.keys(manifest.allowScripts ?? {}).sort()).toEqual(withScripts);
    const allowed = Object.entries(manifest.allowScripts ?? {}).filter(([, ok]) => ok).map(([name]) => name);
    // The project's own Node 24 (the `node` dev dependency) is the one script that must run.
    expect(allowed).toEqual(["node"]);
    // CI rebuilds it by name; every npm script first runs scripts/project-node.mjs, which rebuilds the allowed ones.
    expect(ciRun).toMatch(/npm rebuild node --ignore-scripts=false/);
    for (const [name, script] of Object.entries(manifest.scripts)) {
      expect(script, `npm script "${name}" must start with the project's Node`).toMatch(/^node scripts\/project-node\.mjs && /);
    }
  });

  it("keeps the lockfile the same on every machine: no resolved URLs whatever a user's npmrc says", () => {
    // A machine-wide omit-lockfile-registry-resolved made `npm install` drop hand-added URLs; the project's .npmrc decides.
    expect(settingOf("omit-lockfile-registry-resolved")).toBe("true");
    expect(locked.filter(([, entry]) => entry.resolved !== undefined).map(([path]) => path)).toEqual([]);
  });

  it("locks every package with a sha512 integrity (no git, file or URL sources)", () => {
    const suspicious = locked.filter(([, entry]) => !entry.integrity?.startsWith("sha512-"));
    expect(suspicious.map(([path]) => path)).toEqual([]);
  });

  it("bounds the SDK peer range: 5.x up to 17.x, the last major of the pushData generation this library knows", () => {
    expect(manifest.peerDependencies?.["@digime/digime-sdk-nodejs"]).toBe(">=5 <18");
  });
});
