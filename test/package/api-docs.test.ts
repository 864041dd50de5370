/**
 * The API reference: every export of every entry point carries TSDoc with an
 * `@example`. (`npm run docs` separately fails on any TypeDoc warning, such
 * as an undocumented property or a broken link.)
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Application, type Comment, type DeclarationReflection } from "typedoc";
import { beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(fileURLToPath(import.meta.url), "../../..");
let modules: DeclarationReflection[] = [];

beforeAll(async () => {
  const app = await Application.bootstrapWithPlugins({
    options: path.join(root, "typedoc.json"),
    tsconfig: path.join(root, "tsconfig.docs.json"),
    entryPoints: ["src/index.ts", "src/testing/index.ts", "src/redis.ts", "src/postgres.ts"].map((entry) => path.join(root, entry)),
    logLevel: "None",
  });
  const project = await app.convert();
  if (project === undefined) throw new Error("TypeDoc could not convert the project");
  modules = project.children ?? [];
}, 120_000);

function comments(reflection: DeclarationReflection): Array<Comment | undefined> {
  return [
    reflection.comment,
    ...(reflection.signatures ?? []).map((s) => s.comment),
    ...(reflection.getSignature === undefined ? [] : [reflection.getSignature.comment]),
  ];
}

describe("the API reference", () => {
  it("documents every entry point under its import path", () => {
    expect(modules.map((m) => m.name).sort()).toEqual([
      "digime-write-pipeline",
      "digime-write-pipeline/postgres",
      "digime-write-pipeline/redis",
      "digime-write-pipeline/testing",
    ]);
  });

  it("has TSDoc with an @example on every export", () => {
    const exports = modules.flatMap((m) => (m.children ?? []).map((child) => ({ module: m.name, child })));
    expect(exports.length).toBeGreaterThan(100);
    const missing = exports
      .filter(({ child }) => !comments(child).some((comment) => comment?.blockTags.some((tag) => tag.tag === "@example")))
      .map(({ module, child }) => `${module}: ${child.name}`);
    expect(missing).toEqual([]);
  });
});
