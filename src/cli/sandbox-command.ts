/**
 * `digime-write-pipeline sandbox`: the simulated digi.me as a standalone dev
 * server on loopback. It prints what to give the real SDK (application id,
 * contract id, the path of the contract's private key file, base and
 * onboarding URLs), serves a consent page a person clicks through and a page
 * of delivered files, keeps its state in a file across restarts, and injects
 * faults and latency from flags. It never prints a key or a token.
 * @module
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createSandbox, type FaultRule, type Sandbox, type SandboxRequestLogEntry, type SandboxSnapshot } from "../testing/index.js";
import { writeSecretFile } from "./secret-file.js";

/**
 * A mistake in the command line: the message names the flag. The command
 * exits with code 2.
 *
 * @example
 * ```ts
 * throw new UsageError("--port must be an integer from 0 to 65535");
 * ```
 */
export class UsageError extends Error {
  /** Stable code. */
  readonly code = "CLI_USAGE" as const;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The help text of `digime-write-pipeline sandbox`.
 *
 * @example
 * ```ts
 * process.stdout.write(SANDBOX_HELP);
 * ```
 */
export const SANDBOX_HELP = `Usage: digime-write-pipeline sandbox [options]

Start a simulated digi.me on loopback for local development. Give the printed
application id, contract id, private key file, baseUrl and onboardUrl to the
real SDK's init() and contractDetails (or to createHttpSdk). Open the printed
URL in a browser for the live state (users, tokens, files, faults; it refreshes
by itself) and the controls (expire a user's tokens, add or clear faults, reset).
Every request is logged on the console. Ctrl-C saves the state and stops the
server.

Options:
  --port <n>                    TCP port, 0 picks a free one (default 8787)
  --host <address>              loopback address to bind: 127.0.0.1 (default) or ::1
  --state <file>                keep the state (application, contract and its keys,
                                libraries, usable tokens) in this JSON file across
                                restarts; written with mode 0600, it holds secrets.
                                Default: none, the state lives as long as the process
  --key-file <file>             where to write the contract's private key (PEM, mode
                                0600). Default: beside --state (x.json: x.key.pem), else a
                                temporary file removed on exit
  --access-token-lifetime <s>   lifetime of issued access tokens, seconds (default 3600)
  --refresh-token-lifetime <s>  lifetime of issued refresh tokens, seconds (default 30 days)
  --latency <ms>                delay every API call by this many milliseconds
  --fault <rule>                inject a fault; repeat for more. A rule is comma-separated
                                key=value pairs: operation (authorize|exchange|refresh|
                                write|any), endpoint (jwks|authorize|token|postbox|import),
                                library, status (400-599), error-code, retry-after (s),
                                network (ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN),
                                after-accept, latency (ms), times, probability (0-1).
                                Example: --fault endpoint=import,status=503,retry-after=1,times=2
  --seed <n>                    seed of the fault probability draws (default 0)
  --auto-approve                the consent page approves at once instead of asking
  --env                         also print the lines for your app's .env file
                                (DIGIME_APPLICATION_ID, DIGIME_CONTRACT_ID,
                                DIGIME_PRIVATE_KEY_FILE, DIGIME_BASE_URL,
                                DIGIME_ONBOARD_URL)
  --quiet                       do not log requests on the console
  -h, --help                    show this help
`;

/**
 * What the command line asked for, validated.
 *
 * @example
 * ```ts
 * const options: SandboxCommandOptions = parseSandboxArgs(["--port", "0"]);
 * ```
 */
export interface SandboxCommandOptions {
  help: boolean;
  port: number;
  host: "127.0.0.1" | "::1";
  statePath: string | undefined;
  keyFile: string | undefined;
  accessTokenLifetimeSeconds: number | undefined;
  refreshTokenLifetimeSeconds: number | undefined;
  faults: FaultRule[];
  seed: number | undefined;
  autoApprove: boolean;
  /** Print `.env` lines after the banner. */
  env: boolean;
  /** No request log. */
  quiet: boolean;
}

function integer(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max} (got "${value}")`);
  return n;
}

const FAULT_KEYS: Record<string, (rule: FaultRule, value: string | undefined, flag: string) => void> = {
  operation: (rule, value) => (rule.operation = value as FaultRule["operation"]),
  endpoint: (rule, value) => (rule.endpoint = value as FaultRule["endpoint"]),
  library: (rule, value) => (rule.libraryId = value),
  status: (rule, value, flag) => (rule.status = integer(`${flag} status`, value ?? "", 400, 599)),
  "error-code": (rule, value) => (rule.errorCode = value),
  "retry-after": (rule, value, flag) => (rule.retryAfterSeconds = integer(`${flag} retry-after`, value ?? "", 0, 86_400)),
  network: (rule, value) => (rule.network = value as FaultRule["network"]),
  "after-accept": (rule, value, flag) => {
    if (value !== undefined && value !== "true" && value !== "false") throw new UsageError(`${flag} after-accept must be true or false`);
    rule.afterAccept = value !== "false";
  },
  latency: (rule, value, flag) => (rule.latencyMs = integer(`${flag} latency`, value ?? "", 0, 600_000)),
  times: (rule, value, flag) => (rule.times = integer(`${flag} times`, value ?? "", 0, Number.MAX_SAFE_INTEGER)),
  probability: (rule, value, flag) => {
    const p = Number(value);
    if (value === undefined || value.trim() === "" || !(p >= 0 && p <= 1)) throw new UsageError(`${flag} probability must be a number from 0 to 1`);
    rule.probability = p;
  },
};

/**
 * Parse one `--fault` value (`key=value,key=value`) into a fault rule.
 *
 * @example
 * ```ts
 * parseFaultRule("endpoint=import,status=503,times=2"); // { endpoint: "import", status: 503, times: 2 }
 * ```
 */
export function parseFaultRule(text: string, flag = "--fault"): FaultRule {
  const rule: FaultRule = {};
  if (text.trim() === "") throw new UsageError(`${flag} needs a rule such as "endpoint=import,status=503"`);
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    const key = (eq === -1 ? part : part.slice(0, eq)).trim();
    const value = eq === -1 ? undefined : part.slice(eq + 1).trim();
    const apply = FAULT_KEYS[key];
    if (apply === undefined) throw new UsageError(`${flag} has an unknown key "${key}" (known: ${Object.keys(FAULT_KEYS).join(", ")})`);
    if (value === undefined && key !== "after-accept") throw new UsageError(`${flag} ${key} needs a value (${key}=…)`);
    apply(rule, value, flag);
  }
  return rule;
}

/**
 * Parse and validate the arguments after `sandbox`.
 *
 * @example
 * ```ts
 * parseSandboxArgs(["--port", "0", "--state", ".sandbox.json"]).statePath; // ".sandbox.json"
 * ```
 */
export function parseSandboxArgs(args: readonly string[]): SandboxCommandOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        port: { type: "string" },
        host: { type: "string" },
        state: { type: "string" },
        "key-file": { type: "string" },
        "access-token-lifetime": { type: "string" },
        "refresh-token-lifetime": { type: "string" },
        latency: { type: "string" },
        fault: { type: "string", multiple: true },
        seed: { type: "string" },
        "auto-approve": { type: "boolean" },
        env: { type: "boolean" },
        quiet: { type: "boolean" },
      },
    }));
  } catch (error) {
    // parseArgs names the flag: "Unknown option '--prot'", "Option '--port <value>' argument missing".
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const host = values.host ?? "127.0.0.1";
  if (host !== "127.0.0.1" && host !== "::1") throw new UsageError('--host must be a loopback address: "127.0.0.1" or "::1"');
  for (const flag of ["state", "key-file"] as const) {
    if (values[flag] !== undefined && values[flag].trim() === "") throw new UsageError(`--${flag} must be a file path`);
  }
  const faults: FaultRule[] = [];
  const latency = integer("--latency", values.latency, 0, 600_000);
  if (latency !== undefined && latency > 0) faults.push({ operation: "any", latencyMs: latency });
  for (const text of values.fault ?? []) faults.push(parseFaultRule(text));
  return {
    help: values.help ?? false,
    port: integer("--port", values.port, 0, 65_535) ?? 8787,
    host,
    statePath: values.state === undefined ? undefined : path.resolve(values.state),
    keyFile: values["key-file"] === undefined ? undefined : path.resolve(values["key-file"]),
    accessTokenLifetimeSeconds: integer("--access-token-lifetime", values["access-token-lifetime"], 1, 10 * 365 * 86_400),
    refreshTokenLifetimeSeconds: integer("--refresh-token-lifetime", values["refresh-token-lifetime"], 1, 10 * 365 * 86_400),
    faults,
    seed: integer("--seed", values.seed, 0, 2 ** 31 - 1),
    autoApprove: values["auto-approve"] ?? false,
    env: values.env ?? false,
    quiet: values.quiet ?? false,
  };
}

async function readState(file: string): Promise<SandboxSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(`--state: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  try {
    return JSON.parse(text) as SandboxSnapshot;
  } catch {
    throw new UsageError(`--state: ${file} is not JSON (a sandbox state file); move it away to start afresh`);
  }
}

/**
 * A running dev server: what it prints, and how to stop it.
 *
 * @example
 * ```ts
 * const running = await startSandboxCommand(parseSandboxArgs(["--port", "0"]));
 * console.log(running.info.baseUrl);
 * await running.stop();
 * ```
 */
export interface RunningSandboxCommand {
  readonly sandbox: Sandbox;
  readonly info: {
    url: string;
    applicationId: string;
    contractId: string;
    privateKeyFile: string;
    baseUrl: string;
    onboardUrl: string;
    stateFile: string | undefined;
    stateLoaded: boolean;
  };
  /** Save the state file now (no-op without `--state`). */
  save(): Promise<void>;
  /** Save, close the server, remove a temporary key file. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Start the dev server from parsed options.
 *
 * @example
 * ```ts
 * const running = await startSandboxCommand(parseSandboxArgs(process.argv.slice(3)));
 * ```
 */
export async function startSandboxCommand(options: SandboxCommandOptions, log: (line: string) => void = () => undefined): Promise<RunningSandboxCommand> {
  const saved = options.statePath === undefined ? undefined : await readState(options.statePath);
  let sandbox: Sandbox;
  try {
    sandbox = createSandbox({
      ...(saved === undefined ? {} : { state: saved }),
      ...(options.accessTokenLifetimeSeconds === undefined ? {} : { accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds }),
      ...(options.refreshTokenLifetimeSeconds === undefined ? {} : { refreshTokenLifetimeSeconds: options.refreshTokenLifetimeSeconds }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
  } catch (error) {
    throw new UsageError(`--state: ${options.statePath ?? ""} is not a usable sandbox state file (${error instanceof Error ? error.message : "invalid"}); move it away to start afresh`);
  }
  for (const rule of options.faults) {
    try {
      sandbox.faults.add(rule);
    } catch (error) {
      throw new UsageError(`--fault: ${error instanceof Error ? error.message : "invalid rule"}`);
    }
  }

  let tempDir: string | undefined;
  let keyFile = options.keyFile ?? (options.statePath === undefined ? undefined : `${options.statePath.replace(/\.json$/i, "")}.key.pem`);
  if (keyFile === undefined) {
    tempDir = await mkdtemp(path.join(tmpdir(), "digime-sandbox-"));
    keyFile = path.join(tempDir, "contract-private-key.pem");
  }
  await writeSecretFile(keyFile, sandbox.contractDetails.privateKey);

  let lastSaved = "";
  const save = async (): Promise<void> => {
    if (options.statePath === undefined) return;
    const text = `${JSON.stringify(sandbox.exportState(), null, 2)}\n`;
    if (text === lastSaved) return;
    await writeSecretFile(options.statePath, text);
    lastSaved = text;
  };
  await save();

  let server;
  try {
    server = await sandbox.listen({
      port: options.port,
      host: options.host,
      interactive: !options.autoApprove,
      ...(options.quiet ? {} : { onRequest: (entry: SandboxRequestLogEntry) => log(requestLine(entry)) }),
    });
  } catch (error) {
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === "EADDRINUSE" ? `port ${options.port} is in use; pick another with --port (0 picks a free one)` : `cannot listen: ${code ?? (error as Error).message}`);
  }
  // Save as the state changes (consents, exchanges, refreshes), so a crash loses little.
  let saving: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    saving = saving.then(save).catch(() => undefined);
  }, 1000);
  timer.unref();

  let stopping: Promise<void> | undefined;
  return {
    sandbox,
    info: {
      url: server.url,
      applicationId: sandbox.applicationId,
      contractId: sandbox.contractDetails.contractId,
      privateKeyFile: keyFile,
      baseUrl: server.baseUrl,
      onboardUrl: server.onboardUrl,
      stateFile: options.statePath,
      stateLoaded: saved !== undefined,
    },
    save: () => (saving = saving.then(save)),
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(timer);
        await saving.catch(() => undefined);
        await save();
        await sandbox.close();
        if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
      })()),
  };
}

/**
 * The banner the command prints once it listens: names and paths, never a
 * key or a token.
 *
 * @example
 * ```ts
 * process.stdout.write(banner(running.info));
 * ```
 */
export function banner(info: RunningSandboxCommand["info"]): string {
  const rows: Array<[string, string]> = [
    ["applicationId", info.applicationId],
    ["contractId", info.contractId],
    ["privateKeyFile", info.privateKeyFile],
    ["baseUrl", info.baseUrl],
    ["onboardUrl", info.onboardUrl],
    ["filesPage", info.url],
    ["stateFile", info.stateFile === undefined ? "(none: state is lost on exit; use --state <file>)" : `${info.stateFile} (${info.stateLoaded ? "loaded" : "new"})`],
  ];
  return `digi.me sandbox listening on ${info.url}\n${rows.map(([k, v]) => `  ${k.padEnd(15)} ${v}`).join("\n")}\nPress Ctrl-C to stop.\n`;
}

/**
 * One line of the request log: time, method, path (never the query, which
 * may hold an authorization code), status and duration.
 *
 * @example
 * ```ts
 * requestLine({ method: "POST", path: "/v1.7/oauth/token", status: 200, durationMs: 12 }); // "12:00:01 POST /v1.7/oauth/token 200 12ms"
 * ```
 */
export function requestLine(entry: SandboxRequestLogEntry, now: Date = new Date()): string {
  return `${now.toISOString().slice(11, 19)} ${entry.method} ${entry.path} ${entry.status} ${entry.durationMs}ms`;
}

/**
 * The lines for an app's `.env` file (`--env`): names and paths, never a key
 * or a token. The private key stays in its 0600 file; the app reads it.
 *
 * @example
 * ```ts
 * process.stdout.write(envLines(running.info));
 * ```
 */
export function envLines(info: RunningSandboxCommand["info"]): string {
  const quote = (value: string) => (/^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value));
  return [
    `DIGIME_APPLICATION_ID=${quote(info.applicationId)}`,
    `DIGIME_CONTRACT_ID=${quote(info.contractId)}`,
    `DIGIME_PRIVATE_KEY_FILE=${quote(info.privateKeyFile)}`,
    `DIGIME_BASE_URL=${quote(info.baseUrl)}`,
    `DIGIME_ONBOARD_URL=${quote(info.onboardUrl)}`,
  ].join("\n").concat("\n");
}
