/** Diagnostics, not a benchmark: where the bytes allocated per write come from (sampling heap profiler, collected objects included), by the innermost frame in src/ or bench/. */
//   npx tsx bench/alloc-sites.ts client|baseline [latencyMs=2] [writes=20000] [rows=40]
import { Session } from "node:inspector/promises";
import { createWorld, drive, submitter } from "./lib/world.js";
const arm = process.argv[2] as "client" | "baseline";
const latencyMs = Number(process.argv[3] ?? 2);
const writes = Number(process.argv[4] ?? 20000);
const world = await createWorld({ users: 100, concurrency: 16, latencyMs });
const submit = submitter(world, arm);
await drive(2000, 1000, submit);
const session = new Session();
session.connect();
await session.post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
await drive(writes, 1000, submit);
const { profile } = (await session.post("HeapProfiler.stopSampling")) as any;
const nodes = new Map<number, any>();
const walk = (n: any, parent: any) => { n.parent = parent; nodes.set(n.id, n); for (const c of n.children ?? []) walk(c, n); };
walk(profile.head, undefined);
const bySite = new Map<string, number>();
let total = 0;
for (const s of profile.samples) {
  const n = nodes.get(s.nodeId);
  total += s.size;
  // A sample can name a node the tree no longer holds (its function was collected): counted, not placed.
  if (n === undefined) {
    bySite.set("(node not in the profile)", (bySite.get("(node not in the profile)") ?? 0) + s.size);
    continue;
  }
  // Attribute to the first frame in the project's src/ (else the allocating frame).
  let label = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.replace(/.*\/work\/main\//, "")}:${n.callFrame.lineNumber + 1}`;
  for (let m = n; m !== undefined; m = m.parent) {
    if (m.callFrame.url.includes("/src/") || m.callFrame.url.includes("/bench/")) { label = `${m.callFrame.functionName || "(anon)"} ${m.callFrame.url.replace(/.*\/work\/main\//, "")}:${m.callFrame.lineNumber + 1}`; break; }
  }
  bySite.set(label, (bySite.get(label) ?? 0) + s.size);
}
console.log(`${arm}: ${(total / writes).toFixed(0)} B/write sampled`);
for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[5] ?? 40))) console.log(String(Math.round(v / writes)).padStart(7), k);
await world.client.close();
