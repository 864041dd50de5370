/**
 * Child process for the shutdown test: replaces records in a FileTokenStore
 * as fast as it can until it is killed. Every record it writes is internally
 * consistent (both token values and `user.id` carry the same counter), so a
 * half-written record would show.
 *
 * Usage: node --import tsx file-store-hammer.ts <path> <users>
 */
import { FileTokenStore } from "../../../src/stores/file/file-token-store.js";

const [path, usersArg] = process.argv.slice(2);
if (path === undefined) throw new Error("usage: file-store-hammer <path> <users>");
const users = Number(usersArg ?? 10);
const store = new FileTokenStore({ path });
// Large enough that writing the file takes a while, so kills land mid-write.
const padding = "p".repeat(4000);

function tokenFor(n: number) {
  return {
    accessToken: { value: `a-${n}-${padding}`, expiry: 2_000_000_000 + n },
    refreshToken: { value: `r-${n}-${padding}`, expiry: 2_100_000_000 + n },
    user: { id: `n-${n}` },
  };
}

for (let n = 1; ; n += 1) {
  const key = { userId: `user-${n % users}`, contractId: "contract-1" };
  const current = await store.get(key);
  const result = await store.set(key, { userAccessToken: tokenFor(n) }, { expectedVersion: current?.version ?? null });
  if (result.status !== "stored") throw new Error(`unexpected conflict at ${n}`);
  if (n === 1) process.stdout.write("ready\n");
}
