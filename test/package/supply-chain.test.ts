/**
 * Supply chain, checked offline against package.json and the lockfile: only
 * reviewed, version-pinned packages may run install scripts; every locked
 * package is a registry tarball with a sha512 integrity; the SDK peer range
 * is bounded by the newest SDK generation this library knows.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  allowScripts?: Record<string, boolean>;
  peerDependencies?: Record<string, string>;
};
const lock = JSON.parse(readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8")) as {
  packages: Record<string, { version?: string; integrity?: string; resolved?: string; link?: boolean; hasInstallScript?: boolean }>;
};
const locked = Object.entries(lock.packages).filter(([path, entry]) => path !== "" && entry.link !== true);
const nameOf = (path: string) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);

describe("supply chain", () => {
  it("allows install scripts only for pinned versions, and exactly the versions the lockfile installs", () => {
    const allowed = Object.entries(manifest.allowScripts ?? {});
    for (const [key, value] of allowed) {
      expect(key, `${key} must be pinned as name@x.y.z`).toMatch(/^(@[^/@]+\/)?[^/@]+@\d+\.\d+\.\d+$/);
      expect(value).toBe(true);
    }
    const withScripts = locked.filter(([, entry]) => entry.hasInstallScript === true);
    expect(withScripts.map(([path, entry]) => `${nameOf(path)}@${entry.version}`).sort()).toEqual(allowed.map(([key]) => key).sort());
    // npm verifies a pin against the lockfile's resolved URL, never the tarball's own package.json:
    // without one (omit-lockfile-registry-resolved) the pin cannot match and the script counts as unreviewed.
    for (const [path, entry] of withScripts) {
      const name = nameOf(path);
      expect(entry.resolved).toBe(`https://registry.npmjs.org/${name}/-/${name.split("/").at(-1)}-${entry.version}.tgz`);
    }
  });

  it("locks every package as a registry tarball with a sha512 integrity (no git, file or URL sources)", () => {
    const suspicious = locked.filter(([, entry]) => !entry.integrity?.startsWith("sha512-") || (entry.resolved !== undefined && !entry.resolved.startsWith("https://registry.npmjs.org/")));
    expect(suspicious.map(([path]) => path)).toEqual([]);
  });

  it("bounds the SDK peer range: 5.x up to 17.x, the last major of the pushData generation this library knows", () => {
    expect(manifest.peerDependencies?.["@digime/digime-sdk-nodejs"]).toBe(">=5 <18");
  });
});
