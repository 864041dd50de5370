/**
 * Every TypeScript snippet in README.md and docs/*.md compiles under
 * `strict`, as an app would write it (imports by package name, mapped onto
 * the source). Fragments name what the prose around them assumes in a
 * `<!-- snippet-context: … -->` comment; see test/package/doc-snippets.ts.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkSnippets, docFiles, extractSnippets, runSnippet, type Snippet } from "./doc-snippets.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("documentation snippets", () => {
  it("every ```ts snippet in README.md and docs/*.md type-checks under strict", () => {
    const snippets = docFiles(root).flatMap((doc) => extractSnippets(root, doc));
    expect(snippets.length).toBeGreaterThan(30);
    const failures = checkSnippets(root, snippets).map((f) => `${f.doc}:${f.line} ${f.message}`);
    expect(failures).toEqual([]);
  }, 120_000);

  it("the snippets marked runnable run as they stand (the README's quick start against the sandbox)", async () => {
    const runnable = docFiles(root)
      .flatMap((doc) => extractSnippets(root, doc))
      .filter((snippet) => snippet.run === true);
    expect(runnable.map((s) => s.doc)).toContain("README.md");
    const outputs = [];
    for (const snippet of runnable) outputs.push(await runSnippet(root, snippet));
    // The quick start prints the receipt's status and attempts.
    expect(outputs[runnable.findIndex((s) => s.doc === "README.md")]).toMatch(/^delivered 1$/m);
  }, 120_000);

  it("a skipped snippet says why (shapes of records, elided classes), and skips stay rare", () => {
    const skipped = docFiles(root)
      .flatMap((doc) => extractSnippets(root, doc))
      .filter((snippet) => snippet.skip !== undefined);
    for (const snippet of skipped) expect(snippet.skip!.length, `${snippet.doc}:${snippet.line}`).toBeGreaterThan(10);
    expect(skipped.length).toBeLessThanOrEqual(5);
  });

  it("reports a snippet that does not compile, at its line in the markdown file (so the check above is real)", () => {
    const broken: Snippet[] = [
      // docs/testing.md's dev-server snippet as it was: process.env values are string | undefined under strict.
      // (Small programs that leave the package out, so this check stays quick.)
      {
        doc: "docs/example.md",
        line: 40,
        code: `declare function init(config: { applicationId: string }): void;\ninit({ applicationId: process.env.DIGIME_APPLICATION_ID });`,
        context: "",
        skip: undefined,
      },
      // A fragment without its context: `client` is not declared.
      { doc: "docs/other.md", line: 7, code: `await client.close();`, context: "", skip: undefined },
      // The same fragment with its context compiles.
      { doc: "docs/other.md", line: 20, code: `await client.close();`, context: "declare const client: { close(): Promise<void> };", skip: undefined },
    ];
    const failures = checkSnippets(root, broken);
    expect(failures.map((f) => `${f.doc}:${f.line}`)).toEqual(["docs/example.md:41", "docs/other.md:7"]);
    expect(failures[0]!.message).toMatch(/TS2322.*undefined/s);
    expect(failures[1]!.message).toMatch(/Cannot find name 'client'/);
  });
});
