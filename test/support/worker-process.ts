/**
 * Starts a test worker process and lets a test meet it by its messages (JSON
 * lines on stdout), never by the clock.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const cwd = fileURLToPath(new URL("../..", import.meta.url));

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Every message so far, in order. */
  readonly messages: Array<Record<string, unknown>>;
  /** Resolves with the first message (past or future) that `match` accepts. */
  waitFor(match: (message: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited, with its exit code or signal. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** Ask it to close cleanly (a `close` line on stdin). */
  close(): void;
  stderr(): string;
}

/** `script`: a path relative to this folder, or absolute. */
export function startWorker(script: string, config: object, env: Record<string, string> = {}): WorkerProcess {
  const path = script.startsWith("/") ? script : fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", path, JSON.stringify(config)], {
    cwd,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }> = [];
  let buffered = "";
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      messages.push(message);
      for (const waiter of [...waiters]) {
        if (waiter.match(message)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(message);
        }
      }
    }
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  void exited.then(() => {
    for (const waiter of waiters.splice(0)) waiter.reject(new Error(`worker exited before the awaited message: ${stderr.slice(-2000)}`));
  });
  return {
    child,
    messages,
    exited,
    stderr: () => stderr,
    close: () => void child.stdin!.write("close\n"),
    waitFor(match) {
      const seen = messages.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      if (child.exitCode !== null || child.signalCode !== null) return Promise.reject(new Error(`worker exited: ${stderr.slice(-2000)}`));
      return new Promise((resolve, reject) => waiters.push({ match, resolve, reject }));
    },
  };
}

/** Run a worker to its end and resolve with its last message; rejects when it exits otherwise than with 0. */
export async function runToEnd<T = Record<string, unknown>>(script: string, config: object): Promise<T> {
  const worker = startWorker(script, config);
  worker.child.stdin!.end();
  // "close", not "exit": stdout may still hold the last line when the process has exited.
  const code = await new Promise<number | null>((resolve) => worker.child.once("close", (exitCode) => resolve(exitCode)));
  const last = worker.messages.at(-1);
  if (code !== 0 || last === undefined) throw new Error(`worker ${script} exited with ${code}: ${worker.stderr().slice(-2000)}`);
  return last as T;
}
