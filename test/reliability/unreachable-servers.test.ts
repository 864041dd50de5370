/**
 * An unreachable server is reported fast: a store call whose server is down
 * (nothing listening) or silent (a socket that accepts and never answers: a
 * dead host behind a load balancer, a partition) fails with a retryable
 * `TOKEN_STORE_FAILED` within the store's `callTimeoutMs` (3 s by default),
 * whether the library made the connection or the app passed its own client
 * or pool with the driver's defaults. No real server is needed here.
 */
import { createServer, type Server, type Socket } from "node:net";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { TokenStoreError, WriteClient } from "../../src/index.js";
import { createSandbox } from "../../src/testing/index.js";
import { PostgresTokenStore } from "../../src/postgres.js";
import { RedisTokenStore } from "../../src/redis.js";
import { rejectionOf } from "../support/store-fixtures.js";

const key = { userId: "alice", contractId: "c1" };
const closers: Array<() => Promise<unknown> | void> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** A port where nothing listens: taken, then freed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A server that accepts connections and never says a word. */
async function silentPort(): Promise<number> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as { port: number }).port;
}

/** The store call's rejection and how long it took. */
async function timed(call: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await rejectionOf(call());
  return { error, ms: Math.round(performance.now() - started) };
}

function expectFastTypedFailure(name: string, outcome: { error: unknown; ms: number }, withinMs: number): void {
  console.log(`${name}: ${(outcome.error as Error).message} after ${outcome.ms} ms`);
  expect(outcome.error).toBeInstanceOf(TokenStoreError);
  expect((outcome.error as TokenStoreError).code).toBe("TOKEN_STORE_FAILED");
  expect((outcome.error as TokenStoreError).retryable).toBe(true);
  expect(outcome.ms).toBeLessThan(withinMs);
}

describe("Redis down from the start", () => {
  it("RedisTokenStore({ connection }): get fails with a typed, retryable error within 3 s", async () => {
    const store = new RedisTokenStore({ connection: `redis://127.0.0.1:${await closedPort()}` });
    closers.push(() => store.close().catch(() => undefined));
    expectFastTypedFailure("redis connection, nothing listening", await timed(() => store.get(key)), 3_500);
  });

  it("RedisTokenStore({ client }) on a client with ioredis's defaults: get fails with a typed error within 5 s", async () => {
    const client = new Redis(`redis://127.0.0.1:${await closedPort()}`);
    client.on("error", () => undefined);
    closers.push(() => client.disconnect());
    const store = new RedisTokenStore({ client });
    expectFastTypedFailure("redis client with defaults, nothing listening", await timed(() => store.get(key)), 5_000);
  });

  it("a Redis that accepts and never answers: set fails with a typed error within 3 s, and names no token", async () => {
    const store = new RedisTokenStore({ connection: { host: "127.0.0.1", port: await silentPort() } });
    closers.push(() => store.close().catch(() => undefined));
    const userAccessToken = { accessToken: { value: "access-secret-x", expiry: 1_900_000_000 }, refreshToken: { value: "refresh-secret-x", expiry: 1_900_086_400 } };
    const outcome = await timed(() => store.set(key, { userAccessToken }, { expectedVersion: null }));
    expectFastTypedFailure("redis silent", outcome, 3_500);
    expect(String((outcome.error as Error).message)).not.toContain("secret");
  });

  it("a write for a user through a WriteClient on that store hears TOKEN_STORE_FAILED within 5 s, and is retried", async () => {
    const client = new Redis(`redis://127.0.0.1:${await closedPort()}`);
    client.on("error", () => undefined);
    closers.push(() => client.disconnect());
    const sandbox = createSandbox();
    closers.push(() => sandbox.close());
    const writer = new WriteClient({
      sdk: sandbox.sdk("v16"),
      contractDetails: sandbox.contractDetails,
      redirectUri: "https://app.example/digime/callback",
      tokenStore: new RedisTokenStore({ client }),
      retry: { retries: 1, minDelayMs: 10, maxDelayMs: 10 },
    });
    closers.push(() => writer.close({ drain: false }).catch(() => undefined));
    const started = performance.now();
    const firstRetry = new Promise<{ code: string; ms: number }>((resolve) =>
      writer.once("write:retrying", ({ error }) => resolve({ code: (error.cause as { code?: string } | undefined)?.code ?? error.code, ms: Math.round(performance.now() - started) })),
    );
    const settled = rejectionOf(writer.write("alice", { fileData: Buffer.from("x"), fileName: "x.txt", fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }] } }));
    const retry = await firstRetry;
    const error = (await settled) as { code?: string; cause?: { code?: string } };
    console.log(`write on a Redis down from the start: first write:retrying (${retry.code}) after ${retry.ms} ms; settled with ${error.code} (${error.cause?.code}) after ${Math.round(performance.now() - started)} ms`);
    expect(retry.code).toBe("TOKEN_STORE_FAILED");
    expect(retry.ms).toBeLessThan(5_000);
    expect([error.code, error.cause?.code]).toContain("TOKEN_STORE_FAILED");
  }, 20_000);

  it("callTimeoutMs sets the bound", async () => {
    const store = new RedisTokenStore({ connection: { host: "127.0.0.1", port: await silentPort() }, callTimeoutMs: 500 });
    closers.push(() => store.close().catch(() => undefined));
    expectFastTypedFailure("redis silent, callTimeoutMs 500", await timed(() => store.get(key)), 1_500);
  });
});

describe("PostgreSQL unreachable", () => {
  it("a pg Pool with pg's defaults on a server that never answers: get fails with a typed error within 3 s", async () => {
    const pool = new pg.Pool({ host: "127.0.0.1", port: await silentPort(), user: "postgres", database: "test" });
    // Not awaited: a pool still connecting to the silent server ends once its socket is destroyed, below.
    closers.push(() => void pool.end().catch(() => undefined));
    const store = new PostgresTokenStore({ pool });
    expectFastTypedFailure("postgres silent", await timed(() => store.get(key)), 3_500);
  });

  it("nothing listening: acquireRefreshLease fails with a typed error within 3 s", async () => {
    const pool = new pg.Pool({ host: "127.0.0.1", port: await closedPort(), user: "postgres", database: "test" });
    // Not awaited: a pool still connecting to the silent server ends once its socket is destroyed, below.
    closers.push(() => void pool.end().catch(() => undefined));
    const store = new PostgresTokenStore({ pool });
    expectFastTypedFailure("postgres refused", await timed(() => store.acquireRefreshLease(key, { owner: "o", ttlMs: 1_000 })), 3_500);
  });
});
