/**
 * The run of issue 11, with the sandbox's fakes of SDK 8.x (A), 10.x (B) and
 * 16.x (C): 3 users, 500 writes over 30 s of sandbox time, 3-second access
 * tokens, 15 % of write requests answered 503. Without `digimeApi`, A and B
 * refresh inside writes and lose pairs (A when the push after its refresh
 * fails, B always), and users end up needing a new consent. With it, the
 * client refreshes first over the token endpoint (the sandbox over
 * `listen()`), the SDK never has to, and no token is lost.
 */
import { describe, expect, it } from "vitest";
import { MemoryTokenStore, ReauthorizationRequiredError, WriteClient } from "../../src/index.js";
import { createSandbox, type SandboxSdkVersion } from "../../src/testing/index.js";
import { recordingSdk } from "./support/recording-sdk.js";
import { REDIRECT_URI, STATE_SECRET, prng } from "./support/soak.js";
import { findSdks, type RealSdk } from "../support/real-sdk.js";

const USERS = 3;
const WRITES = 500;
const RUN_MS = 30_000;

interface TableRow {
  delivered: number;
  reauthorizationRequired: number;
  otherFailures: number;
  /** Token pairs digi.me issued inside an SDK call that never reached the client. */
  droppedBySdk: number;
  /** Users whose stored token is not the newest pair digi.me issued. */
  usersBehind: number;
}

async function run(version: SandboxSdkVersion, withOption: boolean, real?: RealSdk): Promise<TableRow> {
  let now = Date.UTC(2030, 0, 1);
  const sandbox = createSandbox({ seed: 11, now: () => now, accessTokenLifetimeSeconds: 3 });
  try {
    if (withOption || real !== undefined) await sandbox.listen();
    const sdk = real?.init({ applicationId: sandbox.applicationId, baseUrl: sandbox.baseUrl, onboardUrl: sandbox.onboardUrl });
    const recorder = recordingSdk(sandbox, version, sdk);
    const store = new MemoryTokenStore({ now: () => now });
    const client = new WriteClient({
      sdk: recorder.sdk,
      contractDetails: sandbox.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: store,
      stateSecret: STATE_SECRET,
      now: () => now,
      retry: { minDelayMs: 0, maxDelayMs: 2, jitter: false },
      // One write per user at a time, as when the table was measured: sandbox time jumps 60 ms per settled
      // write, so several writes of a user in flight (and their retries) can outlive a 3 s token mid-call,
      // which wall-clock time within the refresh window does not.
      queue: { perUserConcurrency: 1 },
      ...(withOption ? { digimeApi: { applicationId: sandbox.applicationId, baseUrl: sandbox.baseUrl } } : {}),
    });
    const userIds = Array.from({ length: USERS }, (_, u) => `user-${u}`);
    const libraries: string[] = [];
    for (const userId of userIds) {
      const { url, sealed } = await client.beginAuthorization({ userId });
      await client.completeAuthorization(await sandbox.consent(url, { libraryId: `lib-${userId}` }), { sealed });
      libraries.push(`lib-${userId}`);
    }
    sandbox.faults.add({ operation: "write", status: 503, probability: 0.15 });

    const random = prng(11);
    const row: TableRow = { delivered: 0, reauthorizationRequired: 0, otherFailures: 0, droppedBySdk: 0, usersBehind: 0 };
    // Sandbox time moves 60 ms per settled write: 500 writes span 30 s, ten access-token lifetimes.
    await Promise.all(
      Array.from({ length: WRITES }, async (_, i) => {
        const userId = userIds[Math.floor(random() * USERS)]!;
        try {
          await client.write(userId, { fileData: Buffer.from(`{"i":${i}}`), fileName: `w${i}.json`, fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "a" }] } });
          row.delivered += 1;
        } catch (error) {
          if (error instanceof ReauthorizationRequiredError) row.reauthorizationRequired += 1;
          else row.otherFailures += 1;
        }
        now += RUN_MS / WRITES;
      }),
    );
    await client.close();
    row.droppedBySdk = recorder.drops.length;
    for (const [u, userId] of userIds.entries()) {
      const stored = await store.get({ userId, contractId: sandbox.contractDetails.contractId });
      if (stored?.userAccessToken.refreshToken.value !== sandbox.latestToken(libraries[u]!)?.refreshToken.value) row.usersBehind += 1;
    }
    return row;
  } finally {
    await sandbox.close();
  }
}

describe("issue 11's run: 3 users, 500 writes over 30 s, 3 s access tokens, 15 % 503 on writes", () => {
  it.each(["v8", "v10"] as const)("SDK %s without digimeApi loses token pairs and users must consent again", async (version) => {
    const row = await run(version, false);
    console.log(`refresh-loss ${version} without digimeApi: ${JSON.stringify(row)}`);
    expect(row.delivered + row.reauthorizationRequired + row.otherFailures).toBe(WRITES);
    expect(row.droppedBySdk).toBeGreaterThan(0);
    expect(row.reauthorizationRequired).toBeGreaterThan(0);
  });

  it.each(["v8", "v10"] as const)("SDK %s with digimeApi loses no token and delivers every write", async (version) => {
    const row = await run(version, true);
    console.log(`refresh-loss ${version} with digimeApi: ${JSON.stringify(row)}`);
    expect(row).toEqual({ delivered: WRITES, reauthorizationRequired: 0, otherFailures: 0, droppedBySdk: 0, usersBehind: 0 });
  });

  it("SDK 16 (its own refreshToken) loses nothing either: the reference", async () => {
    const row = await run("v16", false);
    console.log(`refresh-loss v16: ${JSON.stringify(row)}`);
    expect(row).toEqual({ delivered: WRITES, reauthorizationRequired: 0, otherFailures: 0, droppedBySdk: 0, usersBehind: 0 });
  });
});

// The same run with the real SDK over HTTP, where DIGIME_SDK_PATH names builds (see docs/testing.md).
const realSdks = process.env.DIGIME_SDK_PATH === undefined ? [] : findSdks().sdks;
const VERSION_OF = { A: "v8", B: "v10", C: "v16" } as const;

describe.skipIf(realSdks.length === 0)("issue 11's run with the real SDK over HTTP", () => {
  const cases = realSdks.flatMap((sdk) => (sdk.generation === "C" ? [false] : [false, true]).map((withOption) => ({ sdk, withOption, name: `${sdk.version} ${withOption ? "with" : "without"} digimeApi` })));
  it.each(cases)(
    "SDK $name",
    async ({ sdk, withOption }) => {
      const row = await run(VERSION_OF[sdk.generation], withOption, sdk);
      console.log(`refresh-loss real ${sdk.version} ${withOption ? "with" : "without"} digimeApi: ${JSON.stringify(row)}`);
      expect(row.delivered + row.reauthorizationRequired + row.otherFailures).toBe(WRITES);
      if (withOption || sdk.generation === "C") {
        expect(row).toEqual({ delivered: WRITES, reauthorizationRequired: 0, otherFailures: 0, droppedBySdk: 0, usersBehind: 0 });
      } else {
        expect(row.reauthorizationRequired).toBeGreaterThan(0);
      }
    },
    60_000,
  );
});
