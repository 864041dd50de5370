/**
 * Token upkeep: users who are written to rarely keep their connection.
 * A refresh token that expires between two writes would force the user to
 * consent again; client.refreshExpiring refreshes, ahead of time, every
 * stored token of the contract whose refresh token expires within a window,
 * each once across clients sharing the store. Driven by the sandbox's clock.
 */
import { describe, expect, it } from "vitest";
import { MemoryTokenStore, ReauthorizationRequiredError, WriteClient, type TokenStore, type WriteClientEvents } from "../../src/index.js";
import { createSandbox, type Sandbox } from "../../src/testing/index.js";
import { REDIRECT_URI, STATE_SECRET } from "../support/setup.js";

const DAY = 86_400_000;
const REFRESH_LIFETIME_DAYS = 30;

function world() {
  let clock = Date.parse("2030-01-01T00:00:00Z");
  const sandbox = createSandbox({ now: () => clock, refreshTokenLifetimeSeconds: (REFRESH_LIFETIME_DAYS * DAY) / 1000, accessTokenLifetimeSeconds: 3600 });
  const store = new MemoryTokenStore({ now: () => clock });
  const client = (tokenStore: TokenStore = store) =>
    new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore, stateSecret: STATE_SECRET, now: () => clock, retry: { minDelayMs: 1, maxDelayMs: 5 } });
  return {
    sandbox,
    store,
    client,
    advance: (ms: number) => void (clock += ms),
    async authorize(on: WriteClient, userId: string): Promise<void> {
      const { url, sealed } = await on.beginAuthorization({ userId });
      await on.completeAuthorization(await (sandbox as Sandbox).consent(url, { libraryId: `lib-${userId}` }), { sealed });
    },
  };
}

const file = (name: string) => ({ fileData: Buffer.from(name), fileName: name, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }] } });

describe("token upkeep (client.refreshExpiring)", () => {
  it("a user written to once a month stays connected: upkeep refreshes the token before the refresh token runs out", async () => {
    const w = world();
    const client = w.client();
    await w.authorize(client, "rare");
    await client.write("rare", file("january"));

    // Without upkeep, a write 31 days later finds the refresh token expired: consent again.
    const neglected = world();
    const other = neglected.client();
    await neglected.authorize(other, "rare");
    neglected.advance(31 * DAY);
    await expect(other.write("rare", file("february"))).rejects.toBeInstanceOf(ReauthorizationRequiredError);

    // With upkeep run on day 29 (window: 3 days), the write on day 31 goes through.
    w.sandbox.resetCounters();
    w.advance(29 * DAY);
    const report = await client.refreshExpiring({ withinMs: 3 * DAY });
    expect(report).toEqual({ checked: 1, refreshed: ["rare"], refreshedElsewhere: [], expired: [], failed: [] });
    expect(w.sandbox.counters.refreshes).toBe(1);
    w.advance(2 * DAY);
    await expect(client.write("rare", file("february"))).resolves.toMatchObject({ status: "delivered" });
    expect((await client.authorizationStatus("rare")).status).toBe("authorized");
    await Promise.all([client.close(), other.close()]);
  });

  it("refreshes only tokens expiring within the window, reports expired ones and announces them", async () => {
    const w = world();
    const client = w.client();
    const required: Array<WriteClientEvents["reauthorization:required"][0]> = [];
    client.on("reauthorization:required", (event) => required.push(event));
    await w.authorize(client, "lapsed"); // day 0: expires day 30
    w.advance(5 * DAY);
    await w.authorize(client, "due"); // day 5: expires day 35
    w.advance(10 * DAY);
    await w.authorize(client, "recent"); // day 15: expires day 45
    w.advance(16 * DAY); // day 31
    w.sandbox.resetCounters();

    const report = await client.refreshExpiring({ withinMs: 7 * DAY });
    expect(report).toEqual({ checked: 2, refreshed: ["due"], refreshedElsewhere: [], expired: ["lapsed"], failed: [] });
    expect(w.sandbox.counters.refreshes).toBe(1);
    expect(required).toEqual([{ userId: "lapsed", contractId: client.contractId, reason: "refresh-token-expired" }]);
    // Nothing is due again right after: a second pass refreshes nothing.
    expect((await client.refreshExpiring({ withinMs: 7 * DAY })).refreshed).toEqual([]);
    expect(w.sandbox.counters.refreshes).toBe(1);
    await client.close();
  });

  it("two clients sharing the store run upkeep at once: each token is refreshed once, none refused", async () => {
    const w = world();
    const first = w.client();
    const second = w.client();
    const users = Array.from({ length: 12 }, (_, i) => `user-${String(i).padStart(2, "0")}`);
    for (const userId of users) await w.authorize(first, userId);
    w.advance(28 * DAY);
    w.sandbox.resetCounters();

    const [a, b] = await Promise.all([first.refreshExpiring({ withinMs: 3 * DAY }), second.refreshExpiring({ withinMs: 3 * DAY })]);
    expect(w.sandbox.counters.refreshes).toBe(users.length);
    expect(w.sandbox.counters.failedRefreshes).toBe(0);
    expect([...a.refreshed, ...b.refreshed].sort()).toEqual(users);
    expect([...a.refreshedElsewhere, ...b.refreshedElsewhere].sort()).toEqual(users);
    expect([...a.failed, ...b.failed]).toEqual([]);
    await Promise.all([first.close(), second.close()]);
  });

  it("refuses bad options and a store without listExpiring with typed errors naming the field", async () => {
    const w = world();
    const client = w.client();
    await expect(client.refreshExpiring({ withinMs: -1 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("withinMs") });
    const { listExpiring: _omitted, ...rest } = Object.fromEntries(["get", "set", "delete", "listByUser"].map((m) => [m, (w.store as never as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(w.store)])) as unknown as TokenStore;
    const plain = w.client(rest as TokenStore);
    await expect(plain.refreshExpiring({ withinMs: DAY })).rejects.toMatchObject({ code: "INVALID_OPTIONS", message: expect.stringContaining("listExpiring") });
    await Promise.all([client.close(), plain.close()]);
  });
});
