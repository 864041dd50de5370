import { MemoryTokenStore, WriteClient, type WriteClientEvents, type WriteClientOptions, type TokenStore } from "../../src/index.js";
import { createSandbox, type Sandbox, type SandboxOptions, type SandboxSdkVersion } from "../../src/testing/index.js";
import { testClient } from "./test-client.js";

export { REDIRECT_URI, STATE_SECRET, testClient } from "./test-client.js";

export interface Harness {
  sandbox: Sandbox;
  client: WriteClient;
  store: TokenStore;
  events: Array<{ name: keyof WriteClientEvents; payload: unknown }>;
  /** Authorize `userId` end to end; returns the sandbox library id. */
  authorize(userId: string, libraryId?: string): Promise<string>;
}

/** A client on a fresh sandbox, with every event recorded and fast retries. */
export function setup(
  version: SandboxSdkVersion,
  overrides: Partial<WriteClientOptions> = {},
  sandboxOptions: SandboxOptions = {},
): Harness {
  return setupOn(createSandbox(sandboxOptions), version, overrides);
}

/**
 * A client on a sandbox that listens over HTTP, with the `digimeApi` option
 * pointing at it: the in-process SDK fake and the library's own token
 * refresher then share one sandbox state. Close it with `sandbox.close()`.
 */
export async function setupWire(
  version: SandboxSdkVersion,
  overrides: Partial<WriteClientOptions> = {},
  sandboxOptions: SandboxOptions = {},
): Promise<Harness> {
  const sandbox = createSandbox(sandboxOptions);
  await sandbox.listen();
  return setupOn(sandbox, version, { digimeApi: { applicationId: sandbox.applicationId, baseUrl: sandbox.baseUrl }, ...overrides });
}

function setupOn(sandbox: Sandbox, version: SandboxSdkVersion, overrides: Partial<WriteClientOptions>): Harness {
  const store = overrides.tokenStore ?? new MemoryTokenStore();
  const client = testClient({
    sdk: sandbox.sdk(version),
    contractDetails: sandbox.contractDetails,
    tokenStore: store,
    now: sandbox.now,
    retry: { minDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 50 },
    ...overrides,
  });
  const events: Harness["events"] = [];
  for (const name of EVENT_NAMES) client.on(name, (payload: unknown) => events.push({ name, payload }));
  let counter = 0;
  return {
    sandbox,
    client,
    store,
    events,
    async authorize(userId, libraryId = `lib-${userId}-${++counter}`) {
      const { url, sealed } = await client.beginAuthorization({ userId });
      const callback = await sandbox.consent(url, { libraryId });
      await client.completeAuthorization(callback, { sealed });
      return libraryId;
    },
  };
}

/** Every event of the client, for recorders. */
export const EVENT_NAMES: Array<keyof WriteClientEvents> = [
    "authorization:completed",
    "authorization:failed",
    "write:queued",
    "write:started",
    "write:retrying",
    "write:succeeded",
    "write:failed",
    "token:refreshed",
    "token:persist-failed",
    "reauthorization:required",
    "sdk:limitation",
    "config:warning",
    "queue:idle",
];

/** A small JSON file to write. */
export function jsonFile(n: number, accountId = "acc-1") {
  return {
    fileData: Buffer.from(JSON.stringify({ n })),
    fileName: `file-${n}.json`,
    // The name again as a reference: SDKs 9+ never send fileName, so tests find files by reference.
    fileDescriptor: { mimeType: "application/json", accounts: [{ accountId }], reference: [`file-${n}.json`] },
  };
}

export const GENERATIONS: SandboxSdkVersion[] = ["v8", "v10", "v16"];
export const REFRESH_VISIBLE: SandboxSdkVersion[] = ["v8", "v16"];
