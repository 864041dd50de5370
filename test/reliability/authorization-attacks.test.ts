/**
 * Authorization attacks, property-based: whatever an attacker does to the
 * sealed bundle or the callback, completion fails with the right typed error
 * and digi.me never sees a code exchange.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DigimeWriteError, MemoryTokenStore, WriteClient, type ErrorCode } from "../../src/index.js";
import { createSealer } from "../../src/authorization/seal.js";
import { createSandbox, type Sandbox } from "../../src/testing/index.js";
import { REDIRECT_URI, STATE_SECRET } from "../support/setup.js";

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const T0 = Date.UTC(2030, 0, 1);
/** Completion through the pending store: the app opted in and names the signed-in user. */
const PENDING = { allowPendingStore: true, expectedUserId: "alice" } as const;

interface World {
  sandbox: Sandbox;
  client: WriteClient;
  clock: { now: number };
  failedEvents: number;
}

function world(stateSecret: string | string[] = STATE_SECRET, shared?: { sandbox: Sandbox; clock: { now: number } }): World {
  const clock = shared?.clock ?? { now: T0 };
  const sandbox = shared?.sandbox ?? createSandbox({ now: () => clock.now });
  const client = new WriteClient({
    sdk: sandbox.sdk("v16"),
    contractDetails: sandbox.contractDetails,
    redirectUri: REDIRECT_URI,
    tokenStore: new MemoryTokenStore(),
    stateSecret,
    now: () => clock.now,
  });
  const w: World = { sandbox, client, clock, failedEvents: 0 };
  client.on("authorization:failed", () => (w.failedEvents += 1));
  return w;
}

async function begun(w: World, userId = "alice") {
  const begin = await w.client.beginAuthorization({ userId });
  const callback = await w.sandbox.consent(begin.url);
  return { ...begin, callback };
}

/** Completion must fail with one of `codes`: a typed error, never another exception. */
async function refused(w: World, run: () => Promise<unknown>, codes: readonly ErrorCode[]): Promise<DigimeWriteError> {
  const exchanges = w.sandbox.counters.exchanges;
  const events = w.failedEvents;
  let outcome: unknown;
  try {
    await run();
    outcome = "completed";
  } catch (error) {
    outcome = error;
  }
  expect(outcome).toBeInstanceOf(DigimeWriteError);
  const error = outcome as DigimeWriteError;
  expect(codes, `${error.code}: ${error.message}`).toContain(error.code);
  expect(w.sandbox.counters.exchanges, "no token exchange").toBe(exchanges);
  expect(w.failedEvents, "authorization:failed heard").toBe(events + 1);
  return error;
}

/** Secrets as a client accepts them (32 random-looking bytes), reproducible from fast-check's seed. */
const strongSecret = fc.nat().map((n) => createHash("sha256").update(`secret-${n}`).digest("base64url"));

const segmentsOf = (sealed: string) => sealed.split(".");

/** Every way to alter a sealed bundle, as a function of the original. */
const tamper: fc.Arbitrary<(sealed: string) => string> = fc.oneof(
  // Replace one character (with any character, or another base64url character).
  fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...BASE64URL), fc.string({ minLength: 1, maxLength: 1, unit: "binary" }))).map(
    ([at, c]) =>
      (s: string) => {
        const i = at % s.length;
        return s.slice(0, i) + c + s.slice(i + 1);
      },
  ),
  // Flip one bit of the bytes a segment encodes.
  fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 7 })).map(([seg, at, bit]) => (s: string) => {
    const parts = segmentsOf(s);
    const nonEmpty = parts.map((p, i) => [p, i] as const).filter(([p]) => p.length > 0);
    const [segment, index] = nonEmpty[seg % nonEmpty.length]!;
    const bytes = Buffer.from(segment, "base64url");
    bytes[at % bytes.length]! ^= 1 << bit;
    parts[index] = bytes.toString("base64url");
    return parts.join(".");
  }),
  // Cut it short.
  fc.nat().map((n) => (s: string) => s.slice(0, n % s.length)),
  // Append or prepend anything: padding, whitespace, dots, base64url, unicode.
  fc
    .tuple(fc.oneof(fc.constantFrom("=", "==", " ", "\n", ".", "A", "AA", "\u0000"), fc.string({ minLength: 1, maxLength: 40, unit: "binary" })), fc.boolean())
    .map(([extra, atEnd]) => (s: string) => (atEnd ? s + extra : extra + s)),
  // Insert anything anywhere.
  fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 8 })).map(([at, extra]) => (s: string) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + extra + s.slice(i);
  }),
  // Swap two segments.
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })).map(([a, b]) => (s: string) => {
    const parts = segmentsOf(s);
    [parts[a], parts[b]] = [parts[b]!, parts[a]!];
    return parts.join(".");
  }),
  // Drop or duplicate a segment.
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.boolean()).map(([a, duplicate]) => (s: string) => {
    const parts = segmentsOf(s);
    parts.splice(a, duplicate ? 0 : 1, ...(duplicate ? [parts[a]!] : []));
    return parts.join(".");
  }),
);

describe("a sealed bundle with any change is refused as STATE_TAMPERED, before any exchange", () => {
  it("bit flips, replaced or inserted characters, truncation, appended bytes, swapped, dropped or doubled segments", async () => {
    const w = world();
    const { sealed, callback } = await begun(w);
    await fc.assert(
      fc.asyncProperty(tamper, async (change) => {
        const altered = change(sealed);
        fc.pre(altered !== sealed);
        // An empty or oversized value never reaches the bundle check: it is a bad argument.
        const codes: ErrorCode[] = altered.length === 0 || altered.length > 16_384 ? ["INVALID_ARGUMENT"] : ["STATE_TAMPERED"];
        await refused(w, () => w.client.completeAuthorization(callback, { sealed: altered }), codes);
      }),
      { numRuns: 400 },
    );
    // The genuine bundle still completes: no attack used it up.
    await expect(w.client.completeAuthorization(callback, { sealed })).resolves.toMatchObject({ userId: "alice" });
    expect(w.sandbox.counters.exchanges).toBe(1);
  });

  it("segments spliced from another genuine bundle of the same client", async () => {
    const w = world();
    const { sealed, callback } = await begun(w);
    const other = await w.client.beginAuthorization({ userId: "mallory" });
    await fc.assert(
      fc.asyncProperty(fc.subarray([0, 2, 3, 4], { minLength: 1 }), async (taken) => {
        const parts = segmentsOf(sealed);
        const donor = segmentsOf(other.sealed);
        for (const i of taken) parts[i] = donor[i]!;
        const spliced = parts.join(".");
        fc.pre(spliced !== sealed && spliced !== other.sealed);
        await refused(w, () => w.client.completeAuthorization(callback, { sealed: spliced }), ["STATE_TAMPERED"]);
      }),
    );
  });

  it("random strings of any shape", async () => {
    const w = world();
    const { callback } = await begun(w);
    const jweLike = fc
      .array(fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength: 80 }), { minLength: 5, maxLength: 5 })
      .map((parts) => parts.join("."));
    await fc.assert(
      fc.asyncProperty(fc.oneof(jweLike, fc.string({ minLength: 1, maxLength: 300, unit: "binary" })), async (garbage) => {
        await refused(w, () => w.client.completeAuthorization(callback, { sealed: garbage }), ["STATE_TAMPERED"]);
      }),
      { numRuns: 300 },
    );
  });
});

describe("a bundle or state that belongs to someone else is refused", () => {
  it("another user's sealed bundle, or another user's state in the callback: STATE_MISMATCH", async () => {
    const w = world();
    const victim = await begun(w, "victim");
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 256 }), async (attacker) => {
        const theirs = await begun(w, attacker);
        // The victim's callback with the attacker's bundle, and the other way round.
        await refused(w, () => w.client.completeAuthorization(victim.callback, { sealed: theirs.sealed }), ["STATE_MISMATCH"]);
        await refused(w, () => w.client.completeAuthorization(theirs.callback, { sealed: victim.sealed }), ["STATE_MISMATCH"]);
      }),
      { numRuns: 40 },
    );
    await expect(w.client.completeAuthorization(victim.callback, { sealed: victim.sealed })).resolves.toMatchObject({ userId: "victim" });
  });

  it("any well-formed state this client never issued: STATE_MISMATCH with a bundle, STATE_UNKNOWN without, and never stored", async () => {
    const w = world();
    const { sealed, callback } = await begun(w);
    const code = new URL(callback).searchParams.get("code")!;
    const presented = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: 16, maxLength: 512 }), async (forged) => {
        fc.pre(forged !== new URL(callback).searchParams.get("state"));
        const url = `${REDIRECT_URI}?success=true&code=${code}&state=${forged}`;
        await refused(w, () => w.client.completeAuthorization(url, { sealed }), ["STATE_MISMATCH"]);
        // By default, without the bundle, nothing is looked up at all.
        await refused(w, () => w.client.completeAuthorization(url), ["STATE_UNKNOWN"]);
        // Through the pending store, a forged state fails its MAC: never stored, so unknown however often it comes
        // (names like "__proto__" or "constructor" included).
        await refused(w, () => w.client.completeAuthorization(url, PENDING), ["STATE_UNKNOWN"]);
        presented.add(forged);
      }),
      { numRuns: 200 },
    );
  });

  it("a bundle sealed under another secret: STATE_TAMPERED", async () => {
    const w = world();
    const { callback } = await begun(w);
    await fc.assert(
      fc.asyncProperty(strongSecret, async (secret) => {
        fc.pre(secret !== STATE_SECRET);
        const stranger = world(secret, w);
        const foreign = await stranger.client.beginAuthorization({ userId: "alice" });
        await refused(w, () => w.client.completeAuthorization(callback, { sealed: foreign.sealed }), ["STATE_TAMPERED"]);
      }),
      { numRuns: 25 },
    );
  });

  it("a bundle sealed with the same secret for another contract: STATE_TAMPERED", async () => {
    const w = world();
    const { callback } = await begun(w);
    const other = new WriteClient({
      sdk: w.sandbox.sdk("v16"),
      contractDetails: w.sandbox.addContract(),
      redirectUri: REDIRECT_URI,
      tokenStore: new MemoryTokenStore(),
      stateSecret: STATE_SECRET,
    });
    const foreign = await other.beginAuthorization({ userId: "alice" });
    await refused(w, () => w.client.completeAuthorization(callback, { sealed: foreign.sealed }), ["STATE_TAMPERED"]);
  });
});

describe("an expired or used authorization is refused", () => {
  it("any time after expiry: STATE_EXPIRED, with or without the bundle", async () => {
    const w = world();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 365 * 24 * 3600 * 1000 }), async (late) => {
        w.clock.now = T0;
        const { sealed, callback, expiresAt } = await begun(w);
        w.clock.now = expiresAt + late;
        await refused(w, () => w.client.completeAuthorization(callback, PENDING), ["STATE_EXPIRED"]);
        // The bundle carries its expiry: it stays expired however often it is presented.
        await refused(w, () => w.client.completeAuthorization(callback, { sealed }), ["STATE_EXPIRED"]);
        await refused(w, () => w.client.completeAuthorization(callback, { sealed }), ["STATE_EXPIRED"]);
        // Without it, the pending store only knows the state was presented before.
        await refused(w, () => w.client.completeAuthorization(callback, PENDING), ["STATE_REPLAYED", "STATE_UNKNOWN"]);
      }),
      { numRuns: 40 },
    );
  });

  it("a completed authorization replayed in any form: STATE_REPLAYED", async () => {
    const w = world();
    const { sealed, callback } = await begun(w);
    await w.client.completeAuthorization(callback, { sealed });
    const params = Object.fromEntries(new URL(callback).searchParams);
    const forms = fc.constantFrom<Array<(code: string) => Parameters<WriteClient["completeAuthorization"]>[0]>>(
      (code) => `${REDIRECT_URI}?${new URLSearchParams({ ...params, code })}`,
      (code) => new URL(`${REDIRECT_URI}?${new URLSearchParams({ ...params, code })}`),
      (code) => new URLSearchParams({ ...params, code }),
      (code) => ({ ...params, code }),
    );
    await fc.assert(
      fc.asyncProperty(forms, fc.boolean(), fc.oneof(fc.constant(params.code!), fc.string({ minLength: 1, maxLength: 64, unit: fc.constantFrom(...BASE64URL) })), async (form, withBundle, code) => {
        await refused(w, () => w.client.completeAuthorization(form(code), withBundle ? { sealed } : PENDING), ["STATE_REPLAYED"]);
      }),
      { numRuns: 100 },
    );
    expect(w.sandbox.counters.exchanges).toBe(1);
  });
});

describe("a malformed or oversized callback is refused as INVALID_CALLBACK", () => {
  const state = "s".repeat(43);
  const known = ["success", "code", "state", "postboxId", "publicKey", "accountReference", "errorCode"];

  it("query objects with values of any type, arrays, objects and __proto__ or constructor keys", async () => {
    const w = world();
    const { sealed } = await begun(w);
    const badValue = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.constant(null),
      fc.array(fc.string(), { minLength: 2, maxLength: 3 }),
      fc.object({ maxDepth: 1 }),
      fc.constant(""),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("success", "code", "state"), badValue, fc.boolean(), fc.boolean(), async (field, value, polluted, withBundle) => {
        const base: Record<string, unknown> = { success: "true", code: "abc", state };
        base[field] = value;
        // Extra keys as JSON.parse makes them: own properties named __proto__ and constructor.
        const query = polluted
          ? (JSON.parse(`{"__proto__":{"success":"true","code":"x","state":"${state}"},"constructor":{"prototype":{"x":1}}}`) as Record<string, unknown>)
          : {};
        Object.assign(query, base);
        await refused(w, () => w.client.completeAuthorization(query, withBundle ? { sealed } : undefined), ["INVALID_CALLBACK"]);
      }),
      { numRuns: 200 },
    );
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("a query whose parameters sit only on __proto__ or constructor", async () => {
    const w = world();
    for (const json of [
      `{"__proto__":{"success":"true","code":"abc","state":"${state}"}}`,
      `{"constructor":{"success":"true","code":"abc","state":"${state}"}}`,
      `{"success":"true","__proto__":{"code":"abc","state":"${state}"}}`,
    ]) {
      const error = await refused(w, () => w.client.completeAuthorization(JSON.parse(json) as Record<string, unknown>), ["INVALID_CALLBACK"]);
      expect(error.message).toMatch(/callback\.(success|code)/);
    }
  });

  it("duplicated parameters, in any form", async () => {
    const w = world();
    const { sealed, callback } = await begun(w);
    const query = new URL(callback).searchParams;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...known), fc.string({ maxLength: 20 }), fc.boolean(), async (name, value, asUrl) => {
        const twice = new URLSearchParams(query);
        if (!twice.has(name)) twice.append(name, value);
        twice.append(name, value);
        const input = asUrl ? `${REDIRECT_URI}?${twice}` : twice;
        await refused(w, () => w.client.completeAuthorization(input, { sealed }), ["INVALID_CALLBACK"]);
      }),
      { numRuns: 100 },
    );
    // The real callback is intact afterwards.
    await expect(w.client.completeAuthorization(callback, { sealed })).resolves.toMatchObject({ userId: "alice" });
  });

  it("oversized values and oversized callbacks", async () => {
    const w = world();
    const { sealed, callback } = await begun(w);
    const params = Object.fromEntries(new URL(callback).searchParams);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...known), fc.integer({ min: 4097, max: 40_000 }), fc.boolean(), async (name, size, asObject) => {
        const huge = { ...params, [name]: "A".repeat(size) };
        const input = asObject ? huge : `${REDIRECT_URI}?${new URLSearchParams(huge)}`;
        // A huge publicKey is refused as not a PEM before its length is checked; both are INVALID_CALLBACK.
        await refused(w, () => w.client.completeAuthorization(input, { sealed }), ["INVALID_CALLBACK"]);
      }),
      { numRuns: 60 },
    );
    await expect(w.client.completeAuthorization(callback, { sealed })).resolves.toMatchObject({ userId: "alice" });
  });

  it("anything at all: a typed refusal, never another exception, never an exchange", async () => {
    const w = world();
    const { sealed } = await begun(w);
    const queryString = fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...known, "__proto__", "constructor"), fc.string({ maxLength: 10 })), fc.string({ maxLength: 30 })), { maxLength: 8 })
      .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&"));
    const anyCallback = fc.oneof(
      fc.anything(),
      fc.string({ unit: "binary", maxLength: 200 }),
      queryString,
      queryString.map((q) => `${REDIRECT_URI}?${q}`),
      queryString.map((q) => new URLSearchParams(q)),
      fc.dictionary(fc.constantFrom(...known, "__proto__", "constructor"), fc.anything(), { maxKeys: 7 }),
    );
    // A well-formed denial is an AUTHORIZATION_DENIED; a well-formed success with a strange state is a state error.
    const codes: ErrorCode[] = ["INVALID_CALLBACK", "AUTHORIZATION_DENIED", "STATE_MISMATCH", "STATE_UNKNOWN", "STATE_REPLAYED"];
    await fc.assert(
      fc.asyncProperty(anyCallback, fc.boolean(), async (input, withBundle) => {
        await refused(w, () => w.client.completeAuthorization(input as never, withBundle ? { sealed } : undefined), codes);
      }),
      { numRuns: 500 },
    );
  });

  it("options of any shape: INVALID_ARGUMENT, or the bundle or state check refuses", async () => {
    const w = world();
    const forged = fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: 43, maxLength: 43 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), fc.record({ sealed: fc.anything() })), forged, async (options, state) => {
        const url = `${REDIRECT_URI}?success=true&code=abc&state=${state}`;
        await refused(w, () => w.client.completeAuthorization(url, options as never), ["INVALID_ARGUMENT", "STATE_TAMPERED", "STATE_UNKNOWN"]);
      }),
      { numRuns: 300 },
    );
  });

  it("a query object whose getters throw", async () => {
    const w = world();
    const hostile = Object.defineProperty({ success: "true", state }, "code", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    const trap = new Proxy({}, { get: () => { throw new Error("trap"); }, has: () => { throw new Error("trap"); }, getOwnPropertyDescriptor: () => { throw new Error("trap"); } });
    await refused(w, () => w.client.completeAuthorization(hostile), ["INVALID_CALLBACK"]);
    await refused(w, () => w.client.completeAuthorization(trap), ["INVALID_CALLBACK"]);
  });
});

describe("key rotation", () => {
  it("a bundle sealed under an old secret opens while the secret is listed, anywhere in the list, and not after", async () => {
    const secret = strongSecret;
    const clock = { now: T0 };
    const sandbox = createSandbox({ now: () => clock.now });
    await fc.assert(
      fc.asyncProperty(secret, fc.array(secret, { minLength: 1, maxLength: 4 }), fc.nat(), async (old, others, at) => {
        fc.pre(!others.includes(old));
        const before = world([old], { sandbox, clock });
        const { sealed, callback } = await begun(before);
        const listed = [...others];
        listed.splice(at % (others.length + 1), 0, old);
        // Without the old secret: refused, nothing exchanged.
        const retired = world(others, { sandbox, clock });
        await refused(retired, () => retired.client.completeAuthorization(callback, { sealed }), ["STATE_TAMPERED"]);
        // With it, at any position: completes.
        const rotated = world(listed, { sandbox, clock });
        await expect(rotated.client.completeAuthorization(callback, { sealed })).resolves.toMatchObject({ userId: "alice" });
      }),
      { numRuns: 20 },
    );
  });

  it("the sealer: the first secret seals, every listed one opens, an unlisted one cannot open it", async () => {
    const secret = fc.string({ minLength: 1, maxLength: 64 });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(secret, { minLength: 2, maxLength: 5 }), fc.jsonValue(), async (secrets, payload) => {
        // The list logic, on the fast derivation (the client's own scrypt path is covered by the property above).
        const sealer = (list: string[]) => createSealer(list, { derivation: "hkdf" });
        const [newest, ...older] = secrets as [string, ...string[]];
        const sealedNewest = await sealer([newest]).seal(payload);
        const sealedOldest = await sealer([older.at(-1)!]).seal(payload);
        const all = sealer(secrets);
        const roundTrip = JSON.parse(JSON.stringify(payload)) as unknown;
        expect(await all.open(sealedNewest)).toEqual({ ok: true, payload: roundTrip });
        expect(await all.open(sealedOldest)).toEqual({ ok: true, payload: roundTrip });
        expect(await sealer([newest]).open(sealedOldest)).toEqual({ ok: false, reason: "tampered" });
        // What the rotated list seals opens under the newest secret alone; so do its states.
        expect((await sealer([newest]).open(await all.seal(payload))).ok).toBe(true);
        expect(await all.checkState(await sealer([older.at(-1)!]).newState())).toBe(true);
        expect(await sealer([newest]).checkState(await sealer([older.at(-1)!]).newState())).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
