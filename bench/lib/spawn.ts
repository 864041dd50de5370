/** Starting a benchmark in a child process of its own (fresh heap, --expose-gc). */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchOutcome } from "./report.js";

/**
 * The bundled child (bench/results/build/child.mjs). The runner names it in
 * BENCH_CHILD; inside the bundle, this module is part of that very file.
 */
function childScript(): string {
  return process.env.BENCH_CHILD ?? fileURLToPath(import.meta.url);
}

/** Run benchmark `name` (optionally one `arm` of it) in a child process; rejects if it throws, exits non-zero or times out. */
export function runInChild<T = BenchOutcome>(name: string, options: { quick: boolean; arm?: string; timeoutMs: number }): Promise<T> {
  const args = [name, ...(options.quick ? ["--quick"] : []), ...(options.arm ? ["--arm", options.arm] : [])];
  return new Promise((resolve, reject) => {
    const child = fork(childScript(), args, {
      execArgv: ["--expose-gc", "--enable-source-maps"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let outcome: T | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`benchmark ${name} timed out after ${options.timeoutMs / 1000} s`));
    }, options.timeoutMs);
    child.on("message", (message) => {
      outcome = message as T;
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && outcome !== undefined) resolve(outcome);
      else reject(new Error(`benchmark ${name}${options.arm ? ` (${options.arm})` : ""} failed: exit code ${code ?? "none"}${signal ? `, signal ${signal}` : ""}`));
    });
  });
}
