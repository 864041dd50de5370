/**
 * What a queued write keeps on the heap: queues N writes on a paused sandbox,
 * takes a heap snapshot, and lists the objects by constructor, with their
 * count and shallow size per queued write.
 *   npx tsx bench/build-only.ts && npx node --expose-gc bench/results/build/heap-profile.mjs client 20000
 * SHOW_STRINGS=1 also groups strings by their first 60 characters.
 */
import { readFileSync, rmSync } from "node:fs";
import { writeHeapSnapshot } from "node:v8";
import { collect, turns } from "./lib/stats.js";
import { createWorld, SMALL_FILE } from "./lib/world.js";

const arm = process.argv[2] ?? "client";
const writes = Number(process.argv[3] ?? 20_000);
const world = await createWorld({ users: 100, concurrency: 16, client: { queue: { maxQueued: writes } } });
const baseline = world.baseline();
const submit = (i: number) => (arm === "client" ? world.client.write(world.users[i % 100]!, SMALL_FILE) : baseline.write(world.users[i % 100]!));
for (let i = 0; i < 1_000; i += 1) await submit(i);

function summarize(path: string): Map<string, { count: number; size: number }> {
  const snapshot = JSON.parse(readFileSync(path, "utf8"));
  const { node_fields: fields, node_types: [types] } = snapshot.snapshot.meta;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]];
    const raw = snapshot.strings[snapshot.nodes[i + nameAt]] as string;
    const name = type === "object" || type === "closure" || type === "native" ? raw : process.env.SHOW_STRINGS && type.includes("string") ? JSON.stringify(raw.slice(0, 60)) : "";
    const key = `${type}${name ? ` ${name}` : ""}`;
    const entry = out.get(key) ?? { count: 0, size: 0 };
    entry.count += 1;
    entry.size += snapshot.nodes[i + sizeAt];
    out.set(key, entry);
  }
  return out;
}

world.sandbox.pause();
await collect();
const beforePath = writeHeapSnapshot();
const pending: Array<Promise<unknown>> = [];
for (let i = 0; i < writes; i += 1) pending.push(submit(i));
await turns(5);
await collect();
const afterPath = writeHeapSnapshot();
const before = summarize(beforePath);
const after = summarize(afterPath);
rmSync(beforePath);
rmSync(afterPath);
const rows = [...after]
  .map(([key, a]) => ({ key, count: (a.count - (before.get(key)?.count ?? 0)) / writes, size: (a.size - (before.get(key)?.size ?? 0)) / writes }))
  .filter((row) => Math.abs(row.size) >= 2)
  .sort((x, y) => y.size - x.size);
let total = 0;
for (const row of rows) total += row.size;
console.log(`${arm}: ${writes} queued writes, ${total.toFixed(0)} bytes each (shallow sizes)`);
for (const row of rows.slice(0, 40)) console.log(`${row.size.toFixed(1).padStart(8)} B  ${row.count.toFixed(2).padStart(6)}×  ${row.key}`);
world.sandbox.resume();
await Promise.allSettled(pending);
await world.client.close();
