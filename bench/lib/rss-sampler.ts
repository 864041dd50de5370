/**
 * Samples the process's RSS every few milliseconds from a worker thread, so
 * a main thread busy with a long chain of microtasks (a stream read through)
 * cannot starve the sampler.
 */
import { Worker } from "node:worker_threads";

const SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
let max = 0;
let samples = 0;
const sample = () => { samples += 1; max = Math.max(max, process.memoryUsage.rss()); };
let timer = setInterval(sample, workerData.intervalMs);
parentPort.on("message", (message) => {
  if (message === "reset") { max = 0; samples = 0; sample(); parentPort.postMessage("ready"); return; }
  clearInterval(timer);
  sample();
  parentPort.postMessage({ max, samples });
});
`;

export interface RssSampler {
  /** Forget the peak so far and start over. */
  reset(): Promise<void>;
  /** Stop; the highest RSS seen since the last reset, in bytes. */
  stop(): Promise<{ max: number; samples: number }>;
}

export async function startRssSampler(intervalMs = 2): Promise<RssSampler> {
  const worker = new Worker(SOURCE, { eval: true, workerData: { intervalMs } });
  const ask = <T>(message: string) =>
    new Promise<T>((resolve) => {
      worker.once("message", resolve);
      worker.postMessage(message);
    });
  await ask("reset");
  return {
    reset: () => ask<void>("reset"),
    async stop() {
      const result = await ask<{ max: number; samples: number }>("stop");
      await worker.terminate();
      return result;
    },
  };
}
