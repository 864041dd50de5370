/** Self time by function and by file of a .cpuprofile (from node --cpu-prof). */
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
const profile = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const total = profile.samples.length;
const byFn = new Map<string, number>();
const byFile = new Map<string, number>();
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0;
  const file = node.callFrame.url.replace(/^.*\/work\/main\//, "").replace(/^file:\/\//, "") || "(native)";
  const fn = `${node.callFrame.functionName || "(anonymous)"} ${file}:${node.callFrame.lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + hits);
  const group = file.replace(/node_modules\/([^/]+)\/.*/, "node_modules/$1");
  byFile.set(group, (byFile.get(group) ?? 0) + hits);
}
const top = (map: Map<string, number>, n: number) =>
  [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
console.log(`samples: ${total}\n--- by file ---\n${top(byFile, 25)}\n--- by function ---\n${top(byFn, Number(process.argv[3] ?? 40))}`);
