/**
 * Run `digime-write-pipeline sandbox` in a child process (from source, via
 * tsx) and read the banner it prints.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../../src/cli/index.ts", import.meta.url));
const cwd = fileURLToPath(new URL("../..", import.meta.url));

export interface Banner {
  url: string;
  applicationId: string;
  contractId: string;
  privateKeyFile: string;
  baseUrl: string;
  onboardUrl: string;
  filesPage: string;
  stateFile: string;
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly banner: Banner;
  /** Everything printed so far. */
  output(): string;
  /** Send a signal and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function launch(args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", cli, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
}

/** Run the command to its end (for --help and usage errors). */
export function runCli(args: string[]): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = launch(args);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Start the dev server and wait for its banner ("Press Ctrl-C to stop."). */
export function startCli(args: string[]): Promise<RunningCli> {
  return new Promise((resolve, reject) => {
    const child = launch(args);
    let stdout = "";
    let stderr = "";
    const exited = new Promise<number | null>((done) => child.once("close", (code) => done(code)));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    void exited.then((code) => reject(new Error(`the sandbox command exited with ${code} before listening: ${stderr}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!stdout.includes("Press Ctrl-C to stop.")) return;
      const field = (name: string) => {
        const match = new RegExp(`^  ${name} +(.+)$`, "m").exec(stdout);
        if (match === null) throw new Error(`no ${name} in the banner:\n${stdout}`);
        return match[1]!;
      };
      resolve({
        child,
        banner: {
          url: /listening on (\S+)/.exec(stdout)![1]!,
          applicationId: field("applicationId"),
          contractId: field("contractId"),
          privateKeyFile: field("privateKeyFile"),
          baseUrl: field("baseUrl"),
          onboardUrl: field("onboardUrl"),
          filesPage: field("filesPage"),
          stateFile: field("stateFile"),
        },
        output: () => stdout + stderr,
        stop: (signal = "SIGINT") => {
          child.kill(signal);
          return exited;
        },
      });
    });
  });
}
