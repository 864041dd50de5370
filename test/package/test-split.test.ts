/**
 * The long soaks run apart from the default `npm test` (under
 * `npm run test:soak`, which CI runs too): every file named as a soak
 * exists, so none drops out of both suites after a rename, and CI runs both.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SOAK_FILES } from "../../vitest.soak.config.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const manifest = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { scripts: Record<string, string> };

describe("default suite and soaks", () => {
  it("names soak files that exist", () => {
    expect(SOAK_FILES.length).toBeGreaterThan(0);
    for (const file of SOAK_FILES) expect(existsSync(`${root}${file}`), file).toBe(true);
  });

  it("runs the soaks under npm run test:soak, and CI runs npm test and then the soaks", () => {
    expect(manifest.scripts["test:soak"]).toContain("vitest run --config vitest.soak.config.ts");
    const ci = readFileSync(`${root}.ci/run`, "utf8");
    expect(ci.indexOf("\nnpm test\n")).toBeGreaterThan(-1);
    expect(ci.indexOf("\nnpm run test:soak\n")).toBeGreaterThan(ci.indexOf("\nnpm test\n"));
  });
});
