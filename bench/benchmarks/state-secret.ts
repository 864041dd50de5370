/**
 * 15. What guessing the state secret costs an attacker, and what sealing
 * tokens at rest costs a write.
 * - 15a: one offline guess of `stateSecret` against a sealed cookie or a
 *   state: the derivation the library runs per secret (scrypt, N 2^16, r 8,
 *   64 MiB), against the HKDF derivation used before. Goal: at least 50 ms
 *   of one core per guess. Measured with node's `scrypt` on the libuv pool,
 *   one derivation at a time, each on a fresh secret (no memo).
 * - 15b: `encryptedTokenStore` over `MemoryTokenStore`: µs per `set` and per
 *   `get`, against the bare store, over rounds of compare-and-set writes.
 */
import { hkdfSync, randomBytes, scrypt } from "node:crypto";
import { STATE_SECRET_SCRYPT } from "../../src/authorization/seal.js";
import { encryptedTokenStore, MemoryTokenStore, type TokenStore } from "../../src/index.js";
import type { Benchmark } from "../lib/report.js";
import { median } from "../lib/stats.js";

function scryptOnce(secret: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    scrypt(secret, "digime-write-pipeline/state-secret v2", 32, STATE_SECRET_SCRYPT, (error) => (error === null ? resolve(performance.now() - t0) : reject(error)));
  });
}

function hkdfOnce(secret: string): number {
  const t0 = performance.now();
  hkdfSync("sha256", secret, "digime-write-pipeline/authorization-bundle", "A256GCM v1", 32);
  return performance.now() - t0;
}

const token = (n: number) => ({
  accessToken: { value: `eyJhbGciOiJQUzUxMiJ9.${randomBytes(300).toString("base64url")}.${n}`, expiry: 1_900_000_000 },
  refreshToken: { value: `eyJhbGciOiJQUzUxMiJ9.${randomBytes(300).toString("base64url")}.${n}`, expiry: 1_900_086_400 },
});

/** µs per set and per get over `users` users, each written `writes` times by compare-and-set. */
async function storeCost(store: TokenStore, users: number, writes: number): Promise<{ setUs: number; getUs: number }> {
  const tokens = Array.from({ length: 16 }, (_, i) => token(i));
  let setMs = 0;
  let getMs = 0;
  for (let u = 0; u < users; u += 1) {
    const key = { userId: `user-${u}`, contractId: "c1" };
    let version: number | null = null;
    for (let w = 0; w < writes; w += 1) {
      const t0 = performance.now();
      const result = await store.set(key, { userAccessToken: tokens[(u + w) % tokens.length]! }, { expectedVersion: version });
      const t1 = performance.now();
      await store.get(key);
      getMs += performance.now() - t1;
      setMs += t1 - t0;
      version = result.status === "stored" ? result.record.version : null;
    }
  }
  const n = users * writes;
  return { setUs: (setMs / n) * 1000, getUs: (getMs / n) * 1000 };
}

export const stateSecret: Benchmark = {
  name: "state-secret",
  async run({ quick }) {
    const rounds = quick ? 3 : 9;
    const scryptMs: number[] = [];
    const hkdfMs: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      scryptMs.push(await scryptOnce(randomBytes(32).toString("base64url")));
      // HKDF is too fast to time once: the mean of 10,000.
      let sum = 0;
      for (let j = 0; j < 10_000; j += 1) sum += hkdfOnce(randomBytes(32).toString("base64url"));
      hkdfMs.push(sum / 10_000);
    }
    const guessMs = median(scryptMs);
    const oldGuessMs = median(hkdfMs);

    const keys = [randomBytes(32).toString("base64url")];
    const users = quick ? 200 : 1_000;
    const writes = quick ? 5 : 10;
    const plain: Array<{ setUs: number; getUs: number }> = [];
    const sealed: Array<{ setUs: number; getUs: number }> = [];
    for (let i = 0; i < rounds; i += 1) {
      // Interleaved, so drift on a shared machine hits both arms alike.
      plain.push(await storeCost(new MemoryTokenStore(), users, writes));
      sealed.push(await storeCost(encryptedTokenStore(new MemoryTokenStore(), { keys }), users, writes));
    }
    const setPlain = median(plain.map((r) => r.setUs));
    const setSealed = median(sealed.map((r) => r.setUs));
    const getPlain = median(plain.map((r) => r.getUs));
    const getSealed = median(sealed.map((r) => r.getUs));
    return {
      rows: [
        {
          id: "15a",
          figure: "one offline guess of stateSecret (scrypt N=2^16 r=8, vs HKDF before)",
          unit: "ms",
          client: guessMs,
          baseline: oldGuessMs,
          ratio: guessMs / oldGuessMs,
          goal: "≥ 50 ms per guess",
          met: guessMs >= 50,
        },
        { id: "15b", figure: "guesses per second per core (scrypt vs HKDF)", unit: "guesses/s", client: 1000 / guessMs, baseline: 1000 / oldGuessMs, ratio: oldGuessMs / guessMs },
        { id: "15c", figure: "encryptedTokenStore set (memory), vs bare MemoryTokenStore", unit: "µs/write", client: setSealed, baseline: setPlain, ratio: setSealed / setPlain },
        { id: "15d", figure: "encryptedTokenStore get (memory), vs bare MemoryTokenStore", unit: "µs/read", client: getSealed, baseline: getPlain, ratio: getSealed / getPlain },
      ],
      details: { scryptMs, hkdfMs, plain, sealed, scrypt: STATE_SECRET_SCRYPT, users, writes },
    };
  },
};
