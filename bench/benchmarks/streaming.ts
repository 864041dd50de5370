/**
 * 5. Streaming: one 512 MiB upload from a stream factory, in 64 KiB chunks.
 * Peak RSS growth over the RSS just before the write, sampled every 2 ms by a
 * worker thread. Every run is a process of its own, so no run inherits
 * another's heap.
 *
 * Two sources:
 * - "recycled": the source hands out chunks from a small pool, so nothing
 *   but what the pipeline itself holds can grow the process: this is the
 *   figure the goal is about;
 * - "fresh": a new Buffer per chunk, as fs.createReadStream makes them.
 *   V8 frees spent chunks only when its external-memory accounting triggers
 *   a GC, so RSS grows by tens of MiB whoever reads the stream; the same
 *   source read with no SDK at all shows it.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import type { BenchOutcome, Benchmark } from "../lib/report.js";
import { startRssSampler } from "../lib/rss-sampler.js";
import { runInChild } from "../lib/spawn.js";
import { collect, median } from "../lib/stats.js";
import { createWorld } from "../lib/world.js";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

type Source = "recycled" | "fresh";
type Reader = "client" | "baseline" | "alone";

/** A Readable of `size` bytes in 64 KiB chunks. */
function source(kind: Source, size: number): Readable {
  const pool = kind === "recycled" ? Array.from({ length: 8 }, (_, i) => Buffer.alloc(CHUNK, i)) : [];
  let left = size;
  let n = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const length = Math.min(CHUNK, left);
      left -= length;
      const chunk = kind === "recycled" ? pool[n % pool.length]!.subarray(0, length) : Buffer.alloc(length, n & 0xff);
      n += 1;
      this.push(chunk);
    },
  });
}

interface RunResult {
  peakGrowthMiB: number;
  seconds: number;
  samples: number;
}

async function upload(reader: Reader, kind: Source, size: number): Promise<RunResult> {
  const world = await createWorld({ users: 1, concurrency: 16 });
  const user = world.users[0]!;
  const baseline = world.baseline();
  const file = { fileName: "video.bin", fileDescriptor: { mimeType: "application/octet-stream", accounts: [{ accountId: "camera" }] } };
  const once = async (bytes: number): Promise<void> => {
    if (reader === "client") await world.client.write(user, { ...file, fileData: () => source(kind, bytes) });
    else if (reader === "baseline") await baseline.write(user, { ...file, fileData: source(kind, bytes) });
    else {
      const hash = createHash("sha256");
      for await (const chunk of source(kind, bytes)) hash.update(chunk as Buffer);
    }
  };
  await once(4 * MiB); // warm up: compiling the path is not what we measure
  world.sandbox.resetCounters();
  const sampler = await startRssSampler(2);
  await collect();
  const before = process.memoryUsage.rss();
  await sampler.reset();
  const started = performance.now();
  await once(size);
  const seconds = (performance.now() - started) / 1000;
  const { max, samples } = await sampler.stop();
  if (reader !== "alone") {
    const delivered = world.sandbox.libraries().flatMap((library) => library.files).at(-1);
    if (delivered?.size !== size) throw new Error(`streaming (${reader}): ${delivered?.size ?? 0} of ${size} bytes arrived`);
  }
  await world.client.close();
  return { peakGrowthMiB: Math.max(0, max - before) / MiB, seconds, samples };
}

export const streaming: Benchmark = {
  name: "streaming",
  async run({ quick, arm }): Promise<BenchOutcome> {
    const size = (quick ? 64 : 512) * MiB;
    if (arm !== undefined) {
      const [reader, kind] = arm.split(":") as [Reader, Source];
      return { rows: [], details: { ...(await upload(reader, kind, size)) } };
    }
    const runs = quick ? 1 : 3;
    const results: Record<string, RunResult[]> = {};
    for (let r = 0; r < runs; r += 1) {
      for (const kind of ["recycled", "fresh"] as const) {
        for (const reader of ["baseline", "client", "alone"] as const) {
          if (kind === "recycled" && reader === "alone") continue;
          const key = `${reader}:${kind}`;
          const outcome = await runInChild("streaming", { quick, arm: key, timeoutMs: 120_000 });
          (results[key] ??= []).push(outcome.details as unknown as RunResult);
        }
      }
    }
    const peak = (key: string) => median(results[key]!.map((result) => result.peakGrowthMiB));
    const seconds = (key: string) => median(results[key]!.map((result) => result.seconds));
    const client = peak("client:recycled");
    const baseline = peak("baseline:recycled");
    return {
      rows: [
        {
          id: "5a",
          figure: `streaming: one ${size / MiB} MiB upload from a stream factory — peak RSS growth (source recycles its chunks)`,
          unit: "MiB",
          client,
          baseline,
          ratio: client / baseline,
          goal: "≤ 64 MiB",
          met: client <= 64,
        },
        {
          id: "5b",
          figure: `streaming — peak RSS growth, fresh 64 KiB Buffer per chunk (reading it with no SDK at all: ${peak("alone:fresh").toFixed(0)} MiB)`,
          unit: "MiB",
          client: peak("client:fresh"),
          baseline: peak("baseline:fresh"),
          ratio: peak("client:fresh") / peak("baseline:fresh"),
        },
        {
          id: "5c",
          figure: "streaming — upload rate (recycled source)",
          unit: "MiB/s",
          client: size / MiB / seconds("client:recycled"),
          baseline: size / MiB / seconds("baseline:recycled"),
          ratio: seconds("baseline:recycled") / seconds("client:recycled"),
        },
      ],
      details: { sizeMiB: size / MiB, chunkBytes: CHUNK, runs: results },
    };
  },
};
