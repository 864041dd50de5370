/**
 * The TypeScript snippets of README.md and docs/*.md, extracted and
 * type-checked under `strict` against the source (the package's import
 * names map onto src/), each as its own module. A snippet that needs names
 * from the prose around it declares them in an HTML comment just above the
 * fence, which the page does not show:
 *
 *     <!-- snippet-context: declare const client: WriteClient; -->
 *     ```ts
 *     await client.close();
 *     ```
 *
 * A context may name presets (`@client`, `@express`, …, see PRESETS) for the
 * names the guides share. `<!-- snippet-skip: reason -->` above a fence
 * leaves it out (say why). `<!-- snippet-run -->` marks a snippet that runs
 * as it stands (against the sandbox): the test also runs it, with tsx.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";

export interface Snippet {
  /** The markdown file, relative to the repository. */
  doc: string;
  /** 1-based line of the first code line in the markdown file. */
  line: number;
  code: string;
  /** Declarations from a snippet-context comment, or "". */
  context: string;
  skip: string | undefined;
  /** Marked `<!-- snippet-run -->`: runs as it stands. */
  run?: boolean;
}

export interface SnippetFailure {
  doc: string;
  /** Line in the markdown file. */
  line: number;
  message: string;
}

const FENCE = /^```(ts|typescript)\s*$/;

/** README.md and every docs/*.md (not docs/api/, which TypeDoc builds). */
export function docFiles(root: string): string[] {
  return ["README.md", ...readdirSync(path.join(root, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)];
}

export function extractSnippets(root: string, doc: string): Snippet[] {
  const lines = readFileSync(path.join(root, doc), "utf8").split("\n");
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!FENCE.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    // Comments directly above the fence (blank lines between are allowed).
    let context = "";
    let skip: string | undefined;
    let run = false;
    for (let j = i - 1; j >= 0 && (lines[j]!.trim() === "" || lines[j]!.trim().startsWith("<!--")); j--) {
      const comment = /^<!--\s*snippet-(context|skip):\s*([\s\S]*?)\s*-->$/.exec(lines[j]!.trim());
      if (comment?.[1] === "context") context = `${comment[2]}\n${context}`;
      if (comment?.[1] === "skip") skip = comment[2];
      if (/^<!--\s*snippet-run\s*-->$/.test(lines[j]!.trim())) run = true;
    }
    snippets.push({ doc, line: start + 1, code: lines.slice(start, end).join("\n"), context, skip, run });
    i = end;
  }
  return snippets;
}

/**
 * Packages the snippets import that this repository does not install: the
 * real SDK (an optional peer; its `init()` result is one of the structural
 * SDK shapes the client accepts) and the OpenTelemetry SDK an app brings.
 */
const NOT_INSTALLED = `
declare module "@digime/digime-sdk-nodejs" {
  import type { DigimeSdk } from "digime-write-pipeline";
  export function init(config: { applicationId: string; baseUrl?: string; onboardUrl?: string }): DigimeSdk;
}
declare module "@opentelemetry/sdk-node" { export class NodeSDK { constructor(config: unknown); start(): void; shutdown(): Promise<void>; } }
declare module "@opentelemetry/exporter-trace-otlp-http" { export const OTLPTraceExporter: new (config?: unknown) => any; }
declare module "@opentelemetry/exporter-metrics-otlp-http" { export const OTLPMetricExporter: new (config?: unknown) => any; }
`;

/** Declarations the guides' fragments share, named in a context as `@name`. */
export const PRESETS: Record<string, string> = {
  client: `declare const client: import("digime-write-pipeline").WriteClient;`,
  digime: `declare const digime: import("digime-write-pipeline").WriteClient;`,
  options: `declare const options: import("digime-write-pipeline").WriteClientOptions;`,
  sandbox: `declare const sandbox: import("digime-write-pipeline/testing").Sandbox;`,
  log: `declare const log: { info(...args: unknown[]): void; warn(...args: unknown[]): void; error(...args: unknown[]): void };`,
  express: [
    `declare const app: import("express").Express;`,
    `declare const requireLogin: import("express").RequestHandler;`,
    // What an app's session and cookie middleware add to a request.
    `declare global { namespace Express { interface Request { user: { id: string }; cookies: Record<string, string | undefined> } } }`,
  ].join(" "),
};

function expandContext(context: string): string {
  // A preset stands alone between spaces, so "@digime/digime-sdk-nodejs" in an import is left as it is.
  return context.replace(/(^|\s)@([a-z]+)(?=\s|$)/g, (whole, space: string, name: string) => (PRESETS[name] === undefined ? whole : `${space}${PRESETS[name]}`));
}

/** The import names of the package, mapped onto the source. */
const ENTRIES: Record<string, string> = {
  "digime-write-pipeline": "src/index.ts",
  "digime-write-pipeline/testing": "src/testing/index.ts",
  "digime-write-pipeline/redis": "src/redis.ts",
  "digime-write-pipeline/postgres": "src/postgres.ts",
  "digime-write-pipeline/bullmq": "src/bullmq.ts",
  "digime-write-pipeline/stores": "src/stores.ts",
  "digime-write-pipeline/sdk": "src/sdk/index.ts",
};

/**
 * Type-check every snippet; returns the failures with markdown line numbers.
 * The snippets are written under node_modules/.cache so their imports
 * (express, ioredis, …) resolve as an app's would.
 */
let previous: ts.Program | undefined;

export function checkSnippets(root: string, snippets: readonly Snippet[]): SnippetFailure[] {
  const dir = path.join(root, "node_modules", ".cache", "doc-snippets");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const shims = path.join(dir, "not-installed.d.ts");
  writeFileSync(shims, NOT_INSTALLED);
  const files = new Map<string, { snippet: Snippet; offset: number }>();
  snippets.forEach((snippet, index) => {
    if (snippet.skip !== undefined) return;
    const name = path.join(dir, `${snippet.doc.replace(/[/.]/g, "_")}_${index}.ts`);
    // The context goes on the same first line, so the snippet's own lines keep their offsets.
    const prefix = snippet.context.trim() === "" ? "" : `${expandContext(snippet.context).replace(/\n/g, " ")}\n`;
    writeFileSync(name, `${prefix}${snippet.code}\nexport {};\n`);
    files.set(path.resolve(name), { snippet, offset: prefix === "" ? 0 : 1 });
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    // An app's settings: strict, an ES2023 Node target, a bundler-style resolution (extensionless imports).
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts"],
    types: ["node"],
    typeRoots: [path.join(root, "node_modules", "@types")],
    // No baseUrl: the repository root holds redis/, bullmq/ … folders that would shadow the real packages.
    paths: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, [path.join(root, file)]])),
    skipLibCheck: true,
    esModuleInterop: true,
    resolveJsonModule: true,
  };
  // The previous program lends its unchanged files (lib, @types/node, the source): a second check is quick.
  const program = ts.createProgram({ rootNames: [shims, ...files.keys()], options, ...(previous === undefined ? {} : { oldProgram: previous }) });
  previous = program;
  const failures: SnippetFailure[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const file = diagnostic.file === undefined ? undefined : files.get(path.resolve(diagnostic.file.fileName));
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    if (file === undefined) {
      // An error outside the snippets (the source itself, or the options): report it against the first snippet's doc.
      failures.push({ doc: diagnostic.file?.fileName ?? "(compiler)", line: 0, message });
      continue;
    }
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    failures.push({ doc: file.snippet.doc, line: file.snippet.line + line - file.offset, message: `TS${diagnostic.code}: ${message}` });
  }
  return failures;
}

/**
 * Run a snippet with tsx on this Node, the package's import names mapped
 * onto the source; resolves with its output, rejects when it exits non-zero.
 */
export async function runSnippet(root: string, snippet: Snippet, timeoutMs = 60_000): Promise<string> {
  // Outside node_modules: tsx maps tsconfig paths only for files outside it.
  const dir = path.join(tmpdir(), "digime-doc-snippets-run");
  mkdirSync(dir, { recursive: true });
  const name = `${snippet.doc.replace(/[/.]/g, "_")}_${snippet.line}`;
  const file = path.join(dir, `${name}.mts`); // an ES module: snippets use top-level await
  writeFileSync(file, `${snippet.code}\nexport {};\n`);
  const tsconfig = path.join(dir, `${name}.tsconfig.json`);
  const paths = Object.fromEntries(Object.entries(ENTRIES).map(([entry, source]) => [entry, [path.join(root, source)]]));
  writeFileSync(tsconfig, JSON.stringify({ compilerOptions: { module: "esnext", moduleResolution: "bundler", target: "es2023", paths } }));
  const tsx = path.join(root, "node_modules", "tsx", "dist", "cli.mjs");
  const { execFile } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [tsx, "--tsconfig", tsconfig, file], { cwd: dir, timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${snippet.doc}:${snippet.line} exited with ${error.code ?? error.signal}: ${stderr || stdout}`));
      else resolve(stdout);
    });
  });
}
