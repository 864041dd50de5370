/**
 * A redis-server of the test's own, on a free loopback port, with AOF on and
 * fsync on every write, so it can be killed and started again without losing
 * what it acknowledged (the machine's shared Redis keeps nothing on disk).
 * It says it is ready by answering PING, not after a fixed wait.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { Redis } from "ioredis";

export interface OwnRedis {
  readonly port: number;
  /** Kill the server with SIGKILL and resolve once it has exited. */
  kill(): Promise<void>;
  /** Start it again on the same port and data directory; resolves once it answers PING. */
  start(): Promise<void>;
  /** Kill it and remove its directory. */
  dispose(): Promise<void>;
}

/** Whether `redis-server` can be run here. */
export function redisServerInstalled(): boolean {
  return spawnSync("redis-server", ["--version"]).status === 0;
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

async function answers(port: number): Promise<void> {
  for (;;) {
    const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === "PONG") return;
    } catch {
      // not up yet: try again at once (the connect attempt itself paces the loop)
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      probe.disconnect();
    }
  }
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = await mkdtemp(nodePath.join(tmpdir(), "own-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction"], { stdio: "ignore" });
    await answers(port);
  };
  const kill = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGKILL");
    await exited;
  };
  await start();
  return { port, start, kill, dispose: async () => (await kill(), await rm(dir, { recursive: true, force: true })) };
}
