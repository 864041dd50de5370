/**
 * The public surface is a contract: every name each entry point exports, with
 * its kind and shape, is written to `public-api.api.md` beside this file, and
 * any change to it shows there in review. Under CI a difference fails the run;
 * locally `npx vitest run test/package/public-api.test.ts -u` rewrites the
 * report after a deliberate change.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { QUEUE_DEFAULTS, RETRY_DEFAULTS } from "../../src/index.js";
import { DURABLE_QUEUE_DEFAULTS, WRITE_WORKER_DEFAULTS } from "../../src/bullmq.js";

const root = path.resolve(fileURLToPath(import.meta.url), "../../..");

/** Subpath → source entry, as package.json's `exports` and tsup.config.ts map them. */
const ENTRIES: Record<string, string> = {
  "digime-write-pipeline": "src/index.ts",
  "digime-write-pipeline/stores": "src/stores.ts",
  "digime-write-pipeline/sdk": "src/sdk/index.ts",
  "digime-write-pipeline/testing": "src/testing/index.ts",
  "digime-write-pipeline/redis": "src/redis.ts",
  "digime-write-pipeline/postgres": "src/postgres.ts",
  "digime-write-pipeline/bullmq": "src/bullmq.ts",
};

interface ExportedName {
  name: string;
  kind: string;
  shape: string;
  internal: boolean;
  /** Optional properties declared without a `@defaultValue` tag (options interfaces only). */
  undocumentedDefaults: string[];
}

function readSurface(): Map<string, ExportedName[]> {
  const files = Object.values(ENTRIES).map((file) => path.join(root, file));
  const config = ts.getParsedCommandLineOfConfigFile(path.join(root, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  const program = ts.createProgram(files, { ...config?.options, noEmit: true });
  const checker = program.getTypeChecker();
  const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType | ts.TypeFormatFlags.WriteArrowStyleSignature;
  const surface = new Map<string, ExportedName[]>();
  for (const [subpath, file] of Object.entries(ENTRIES)) {
    const source = program.getSourceFile(path.join(root, file));
    if (source === undefined) throw new Error(`${file} is not in the program`);
    const moduleSymbol = checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`${file} has no exports`);
    const names = checker.getExportsOfModule(moduleSymbol).map((exported): ExportedName => {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const declaration = symbol.declarations?.[0];
      const internal = (symbol.declarations ?? []).some((d) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === "internal"));
      return { name: exported.name, ...describeSymbol(symbol, declaration, checker, flags), internal, undocumentedDefaults: undocumentedDefaults(symbol, checker) };
    });
    surface.set(subpath, names.sort((a, b) => a.name.localeCompare(b.name)));
  }
  return surface;
}

function describeSymbol(symbol: ts.Symbol, declaration: ts.Declaration | undefined, checker: ts.TypeChecker, flags: ts.TypeFormatFlags): { kind: string; shape: string } {
  const members = (type: ts.Type, isClass: boolean): string => {
    const lines = checker.getPropertiesOfType(type).flatMap((property) => {
      const declared = property.valueDeclaration ?? property.declarations?.[0];
      if (declared !== undefined) {
        const modifiers = ts.getCombinedModifierFlags(declared);
        if (modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return [];
        if (property.name.startsWith("#") || property.name.startsWith("__@")) return [];
      }
      const optional = property.flags & ts.SymbolFlags.Optional ? "?" : "";
      const readonly = declared !== undefined && ts.getCombinedModifierFlags(declared) & ts.ModifierFlags.Readonly ? "readonly " : "";
      const where = declared ?? declaration;
      const propertyType = where === undefined ? checker.getTypeOfSymbol(property) : checker.getTypeOfSymbolAtLocation(property, where);
      return [`  ${readonly}${property.name}${optional}: ${checker.typeToString(propertyType, undefined, flags)}`];
    });
    if (isClass) {
      const constructors = checker.getTypeOfSymbol(symbol).getConstructSignatures().map((signature) => `  constructor${checker.signatureToString(signature, undefined, flags).replace(/ => .*$/, "")}`);
      lines.unshift(...constructors);
    }
    return lines.length === 0 ? "{}" : `{\n${lines.join("\n")}\n}`;
  };
  if (symbol.flags & ts.SymbolFlags.Class) return { kind: "class", shape: members(checker.getDeclaredTypeOfSymbol(symbol), true) };
  if (symbol.flags & ts.SymbolFlags.Interface) return { kind: "interface", shape: members(checker.getDeclaredTypeOfSymbol(symbol), false) };
  if (symbol.flags & ts.SymbolFlags.TypeAlias) {
    const aliased = declaration !== undefined && ts.isTypeAliasDeclaration(declaration) ? declaration.type.getText() : checker.typeToString(checker.getDeclaredTypeOfSymbol(symbol), undefined, flags);
    return { kind: "type", shape: aliased.replace(/\s+/g, " ") };
  }
  if (symbol.flags & ts.SymbolFlags.Function) {
    const signatures = checker.getTypeOfSymbol(symbol).getCallSignatures().map((signature) => checker.signatureToString(signature, undefined, flags));
    return { kind: "function", shape: signatures.join("\n") };
  }
  return { kind: "const", shape: checker.typeToString(checker.getTypeOfSymbol(symbol), undefined, flags) };
}

/** For an interface named `…Options`: its optional properties (nested option objects included) that carry no `@defaultValue`. */
function undocumentedDefaults(symbol: ts.Symbol, checker: ts.TypeChecker): string[] {
  if (!(symbol.flags & ts.SymbolFlags.Interface) || !symbol.name.endsWith("Options")) return [];
  const missing: string[] = [];
  const walk = (type: ts.Type, prefix: string, depth: number): void => {
    for (const property of checker.getPropertiesOfType(type)) {
      const declared = property.valueDeclaration ?? property.declarations?.[0];
      if (declared === undefined || !(property.flags & ts.SymbolFlags.Optional)) continue;
      const tags = ts.getJSDocTags(declared).map((tag) => tag.tagName.text);
      if (!tags.includes("defaultValue")) missing.push(`${prefix}${property.name}`);
    }
  };
  walk(checker.getDeclaredTypeOfSymbol(symbol), `${symbol.name}.`, 0);
  return missing;
}

/**
 * The rule for `@internal`: none in src/. A name is internal by not being
 * exported from an entry point, and the report above is the contract; TypeDoc
 * documents only what the entries reach. A tag on anything else says nothing
 * and goes stale (issue 19: all 78 found were on names no entry reaches).
 * Where a public class needs a hidden member, make it `#private`.
 *
 * Returns the `@internal` tags per file under src/, by path from the root.
 */
function internalTags(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of readdirSync(path.join(root, "src"), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const file = path.join(entry.parentPath, entry.name);
    const tags = readFileSync(file, "utf8").match(/@internal\b/g)?.length ?? 0;
    if (tags > 0) counts[path.relative(root, file).split(path.sep).join("/")] = tags;
  }
  return counts;
}

function report(surface: Map<string, ExportedName[]>): string {
  const sections = [...surface].map(([subpath, names]) => {
    const body = names.map((n) => `### ${n.kind} ${n.name}\n\n\`\`\`ts\n${n.shape}\n\`\`\``).join("\n\n");
    return `## ${subpath} (${names.length} names)\n\n${body}`;
  });
  return `# API report of digime-write-pipeline\n\nGenerated by test/package/public-api.test.ts: do not edit by hand.\n\n${sections.join("\n\n")}\n`;
}

describe("the public surface", () => {
  const surface = readSurface();

  it("matches the checked-in API report, so every change to it is visible in review", async () => {
    await expect(report(surface)).toMatchFileSnapshot("./public-api.api.md");
  });

  it("exports at most 80 names from the package root, and nothing marked internal from any entry", () => {
    expect(surface.get("digime-write-pipeline")!.length).toBeLessThanOrEqual(80);
    const internal = [...surface].flatMap(([subpath, names]) => names.filter((n) => n.internal).map((n) => `${subpath}: ${n.name}`));
    expect(internal).toEqual([]);
  });

  it("marks nothing @internal in src/: what no entry point exports is internal already", () => {
    expect(internalTags()).toEqual({});
  });

  it("gives every optional option a @defaultValue where it is declared", () => {
    // The SDK's own option shapes ("/sdk") mirror another package: their defaults are the SDK's.
    const ours = [...surface].filter(([subpath]) => subpath !== "digime-write-pipeline/sdk").flatMap(([, names]) => names);
    const missing = [...new Set(ours.flatMap((n) => n.undocumentedDefaults))].sort();
    expect(missing).toEqual([]);
  });

  it("names every defaults constant *_DEFAULTS, and freezes it so changing it cannot change later clients", () => {
    const constants = [...surface.values()].flat().filter((n) => n.kind === "const" && /^[A-Z0-9_]+$/.test(n.name));
    for (const constant of constants) expect(constant.name).toMatch(/_DEFAULTS$/);
    for (const defaults of [QUEUE_DEFAULTS, RETRY_DEFAULTS, DURABLE_QUEUE_DEFAULTS, WRITE_WORKER_DEFAULTS]) {
      expect(Object.isFrozen(defaults)).toBe(true);
      expect(() => {
        (defaults as Record<string, unknown>).retries = 99;
      }).toThrow(TypeError);
    }
  });
});
