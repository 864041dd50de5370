/**
 * The benchmark world: a fresh sandbox, its SDK 16.x fake, a WriteClient on
 * it with authorized users, and the bare baseline (the same fake called
 * through a p-queue of the same concurrency: no store, no events, no retries).
 */
import { performance } from "node:perf_hooks";
import PQueue from "p-queue";
import { MemoryTokenStore, WriteClient, type TokenStore, type UserAccessToken, type WriteClientOptions, type WriteFileMeta } from "../../src/index.js";
import { createSandbox, type Sandbox, type SandboxOptions, type SandboxSdkV16 } from "../../src/testing/index.js";
import { collect } from "./stats.js";

export const REDIRECT_URI = "https://app.example/digime/callback";
export const STATE_SECRET = "H38NzVsR9vidqueo0uM-8p7Mu57lDU5ZSxTNff45khM";

/** The small payload every write of the small-write benchmarks shares. */
export const SMALL_FILE: WriteFileMeta = Object.freeze({
  fileData: Buffer.from(JSON.stringify({ type: "order", id: 1042, total: 19.99, currency: "EUR" })),
  fileName: "order.json",
  fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "shop" }] },
});

/** The same file in the shape `pushData` takes. */
export const SMALL_SDK_FILE = { fileData: SMALL_FILE.fileData as Buffer, fileName: SMALL_FILE.fileName, fileDescriptor: SMALL_FILE.fileDescriptor };

export interface WorldOptions {
  /** How many users to authorize (ids `user-0`…). */
  users: number;
  /** Global concurrency of both the client and the baseline. */
  concurrency: number;
  /** Simulated latency of every SDK write (a sandbox fault rule), in ms. Default 0. */
  latencyMs?: number;
  /** Extra WriteClient options. */
  client?: Partial<WriteClientOptions>;
  /** Extra sandbox options. */
  sandbox?: SandboxOptions;
  /** The client's token store. Default: a new `MemoryTokenStore`. */
  store?: TokenStore;
  /**
   * App users to write for, when more than `users`: each is stored with the
   * token of one of the `users` authorized ones (digi.me is indifferent to
   * which app user id a token sits under), so 100,000 distinct users cost no
   * 100,000 authorizations.
   */
  distinctUsers?: number;
  /**
   * Writes go to this instead of the fake's `pushData`, on both sides
   * (authorization still runs on the fake): for timing what the client and
   * the baseline cost around an SDK call that does no work of its own.
   */
  pushData?: SandboxSdkV16["pushData"];
}

export interface World {
  sandbox: Sandbox;
  sdk: SandboxSdkV16;
  client: WriteClient;
  store: TokenStore;
  users: string[];
  /** The token each user holds after authorization: the baseline starts from the very same one. */
  tokens: Map<string, UserAccessToken>;
  /** Move the shared sandbox/client clock forward. */
  advanceClock(ms: number): void;
  baseline(): Baseline;
}

/** The bare baseline: what a user writes without this library. */
export interface Baseline {
  /** Calls `pushData` through the p-queue; a new token announced by the SDK replaces the user's token in memory. */
  write(userId: string, data?: typeof SMALL_SDK_FILE | { fileData: Buffer | NodeJS.ReadableStream; fileName: string; fileDescriptor: WriteFileMeta["fileDescriptor"] }): Promise<void>;
  onIdle(): Promise<void>;
  readonly queue: PQueue;
}

/**
 * A `MemoryTokenStore` behind a store of the app's own that answers every
 * call with a promise: what the client pays for its per-write store read when
 * the store is not in this process's memory (it reads a `MemoryTokenStore`
 * at once), without a network round trip on top.
 */
export function storeOfYourOwn(): TokenStore {
  const inner = new MemoryTokenStore();
  return {
    get: (key) => inner.get(key),
    set: (key, credentials, options) => inner.set(key, credentials, options),
    delete: (key) => inner.delete(key),
    listByUser: (userId) => inner.listByUser(userId),
  };
}

/** A fresh sandbox with `users` authorized users and a client on the sandbox's SDK 16.x fake. */
export async function createWorld(options: WorldOptions): Promise<World> {
  let offset = 0;
  const sandbox = createSandbox({ keepFileBytes: false, ...options.sandbox, now: () => Date.now() + offset });
  const fake = sandbox.sdk("v16");
  const sdk: SandboxSdkV16 = options.pushData === undefined ? fake : { ...fake, pushData: options.pushData };
  const store = options.store ?? new MemoryTokenStore();
  const client = new WriteClient({
    sdk,
    contractDetails: sandbox.contractDetails,
    redirectUri: REDIRECT_URI,
    tokenStore: store,
    stateSecret: STATE_SECRET,
    now: sandbox.now,
    ...options.client,
    // Benchmarks queue far more than a service would: lift the per-user and byte bounds with the total.
    queue: { concurrency: options.concurrency, maxQueued: 1_000_000, maxQueuedPerUser: 1_000_000, maxQueuedBytes: Number.MAX_SAFE_INTEGER, ...options.client?.queue },
  });
  const users: string[] = [];
  const tokens = new Map<string, UserAccessToken>();
  for (let i = 0; i < options.users; i += 1) {
    const userId = `user-${i}`;
    const { url, sealed } = await client.beginAuthorization({ userId });
    const callback = await sandbox.consent(url, { libraryId: `library-${i}` });
    await client.completeAuthorization(callback, { sealed });
    const stored = await store.get({ userId, contractId: sandbox.contractDetails.contractId });
    if (stored === undefined) throw new Error(`authorizing ${userId} stored nothing`);
    users.push(userId);
    tokens.set(userId, stored.userAccessToken);
  }
  for (let i = users.length; i < (options.distinctUsers ?? 0); i += 1) {
    const userId = `user-${i}`;
    const token = tokens.get(`user-${i % options.users}`)!;
    await store.set({ userId, contractId: sandbox.contractDetails.contractId }, { userAccessToken: token }, { expectedVersion: null });
    users.push(userId);
    tokens.set(userId, token);
  }
  if ((options.latencyMs ?? 0) > 0) sandbox.faults.add({ operation: "write", latencyMs: options.latencyMs! });
  sandbox.resetCounters();

  return {
    sandbox,
    sdk,
    client,
    store,
    users,
    tokens,
    advanceClock(ms) {
      offset += ms;
    },
    baseline: () => createBaseline(sdk, sandbox.contractDetails, new Map(tokens), options.concurrency),
  };
}

function createBaseline(sdk: SandboxSdkV16, contractDetails: { contractId: string; privateKey: string }, tokens: Map<string, UserAccessToken>, concurrency: number): Baseline {
  const queue = new PQueue({ concurrency });
  return {
    queue,
    write(userId, data = SMALL_SDK_FILE) {
      return queue.add(() =>
        sdk.pushData({
          type: "library",
          contractDetails,
          userAccessToken: tokens.get(userId)!,
          data: data as typeof SMALL_SDK_FILE,
          onAccessTokenChange: (token) => tokens.set(userId, token),
        }),
      );
    },
    onIdle: () => queue.onIdle(),
  };
}

/**
 * Submit `count` writes with at most `window` outstanding (a service with
 * backpressure); resolves with the number that failed.
 */
export function drive(count: number, window: number, submit: (index: number) => Promise<unknown>): Promise<number> {
  return new Promise((resolve) => {
    let next = 0;
    let active = 0;
    let failed = 0;
    const settle = (): void => {
      active -= 1;
      launch();
    };
    const fail = (): void => {
      failed += 1;
      settle();
    };
    const launch = (): void => {
      while (active < window && next < count) {
        active += 1;
        submit(next++).then(settle, fail);
      }
      if (active === 0 && next >= count) resolve(failed);
    };
    launch();
  });
}

/** CPU per write in µs: the whole process (every thread), and the main thread alone. */
export interface CpuPerWrite {
  process: number;
  mainThread: number;
}

/** {@link drive} `count` writes and measure the CPU they cost; throws when a write failed. */
export async function cpuPerWrite(label: string, count: number, window: number, submit: (index: number) => Promise<unknown>): Promise<CpuPerWrite> {
  const before = process.cpuUsage();
  const beforeThread = process.threadCpuUsage();
  const failed = await drive(count, window, submit);
  const used = process.cpuUsage(before);
  const thread = process.threadCpuUsage(beforeThread);
  if (failed !== 0) throw new Error(`${label}: ${failed} of ${count} writes failed`);
  return { process: (used.user + used.system) / count, mainThread: (thread.user + thread.system) / count };
}

/** One reading of every round, per arm. */
export function column(rounds: Record<Arm, CpuPerWrite[]>, reading: keyof CpuPerWrite): Record<Arm, number[]> {
  return { client: rounds.client.map((r) => r[reading]), baseline: rounds.baseline.map((r) => r[reading]) };
}

/** Submit `count` writes at once, without waiting for any. */
export function submitAll(count: number, submit: (index: number) => Promise<unknown>): Array<Promise<unknown>> {
  const all: Array<Promise<unknown>> = new Array(count);
  for (let i = 0; i < count; i += 1) all[i] = submit(i);
  return all;
}

/** Resolves, once every write has settled, with the number that failed. */
export async function failures(writes: Array<Promise<unknown>>): Promise<number> {
  const results = await Promise.allSettled(writes);
  let failed = 0;
  for (const r of results) if (r.status === "rejected") failed += 1;
  return failed;
}

/** Submit `count` writes at once; resolves with the number that failed. */
export function burst(count: number, submit: (index: number) => Promise<unknown>): Promise<number> {
  return failures(submitAll(count, submit));
}

/** Which side of a comparison a round measures. */
export type Arm = "client" | "baseline";

/**
 * Submits write `i` for user `i % users` through the client or the bare
 * baseline. Every write gets a new file object and descriptor, as
 * application code makes one per write (a frozen object reused for every
 * write would flatter the client's validation). `freshPayload: false` is for
 * profiling the reused-object case only.
 */
export function submitter(world: World, arm: Arm, options: { freshPayload?: boolean } = {}): (i: number) => Promise<unknown> {
  const { users } = world;
  const fresh = options.freshPayload !== false;
  if (arm === "client") return (i) => world.client.write(users[i % users.length]!, fresh ? freshFile(i) : SMALL_FILE);
  const baseline = world.baseline();
  return (i) => baseline.write(users[i % users.length]!, fresh ? freshFile(i) : undefined);
}

/** A new small file object, its descriptor too. */
function freshFile(i: number): typeof SMALL_SDK_FILE {
  return {
    fileData: Buffer.from(`{"type":"order","id":${i}}`),
    fileName: `order-${i}.json`,
    fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "shop" }] },
  };
}

/**
 * One full round of each arm, not counted: both are measured warm, as a
 * long-running service is. A short warm-up left the client (more code to
 * optimize) still warming through the first counted pairs.
 */
export async function warmUp(round: (arm: Arm) => Promise<unknown>): Promise<void> {
  await round("client");
  await round("baseline");
}

/**
 * Run `rounds` pairs of rounds, alternating which side goes first so drift
 * in the machine's load falls on both, and collect each side's figures.
 */
export async function alternateRounds<T = number>(rounds: number, round: (arm: Arm) => Promise<T>): Promise<Record<Arm, T[]>> {
  const perArm: Record<Arm, T[]> = { client: [], baseline: [] };
  for (let r = 0; r < rounds; r += 1) {
    const order: Arm[] = r % 2 === 0 ? ["baseline", "client"] : ["client", "baseline"];
    for (const arm of order) perArm[arm].push(await round(arm));
  }
  return perArm;
}

/**
 * One round of a throughput benchmark: a fresh world, `writes` submitted at
 * once through `arm`, writes per second. Throws when a write failed or the
 * sandbox did not receive every file.
 */
export async function rateRound(label: string, options: WorldOptions, arm: Arm, writes: number, submit: { freshPayload?: boolean } = {}): Promise<number> {
  const world = await createWorld(options);
  const send = submitter(world, arm, submit);
  await collect();
  const started = performance.now();
  const failed = await burst(writes, send);
  const seconds = (performance.now() - started) / 1000;
  await world.client.close();
  if (failed !== 0) throw new Error(`${label} (${arm}): ${failed} of ${writes} writes failed`);
  if (world.sandbox.counters.deliveries !== writes) throw new Error(`${label} (${arm}): ${world.sandbox.counters.deliveries} deliveries for ${writes} writes`);
  return writes / seconds;
}
