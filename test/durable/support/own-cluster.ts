/**
 * A Redis Cluster of the test's own: three redis-server masters on free
 * loopback ports (`--cluster-enabled yes`), joined with `redis-cli --cluster
 * create`. Ready once every node says `cluster_state:ok` (polled, never a
 * fixed wait). The shared Redis is never touched.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { Redis } from "ioredis";

export interface OwnCluster {
  readonly ports: number[];
  dispose(): Promise<void>;
}

/** Whether redis-server and redis-cli can be run here. */
export function clusterToolsInstalled(): boolean {
  return spawnSync("redis-server", ["--version"]).status === 0 && spawnSync("redis-cli", ["--version"]).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`own cluster: ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function ask<T>(port: number, question: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    return await question(redis);
  } finally {
    redis.disconnect();
  }
}

export async function startOwnCluster(nodes = 3): Promise<OwnCluster> {
  const dir = await mkdtemp(nodePath.join(tmpdir(), "own-cluster-"));
  const ports: number[] = [];
  for (let i = 0; i < nodes; i += 1) ports.push(await freePort());
  const children: ChildProcess[] = ports.map((port) =>
    spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--appendonly", "no", "--save", ""], { stdio: "ignore" }),
  );
  const dispose = async (): Promise<void> => {
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((resolve) => (child.once("exit", resolve), child.kill("SIGKILL")))),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await until(() => ask(port, async (r) => (await r.ping()) === "PONG"), `node ${port} answers PING`);
    const create = spawnSync("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { encoding: "utf8", timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const port of ports) await until(() => ask(port, async (r) => /cluster_state:ok/.test(await r.cluster("INFO"))), `node ${port} reports cluster_state:ok`);
  } catch (error) {
    await dispose();
    throw error;
  }
  return { ports, dispose };
}
