/**
 * Removing a lock or lease file that was judged stale, without removing one
 * another process wrote in its place meanwhile: shared by the file store's
 * lock and its refresh leases.
 * @module
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";

/**
 * What {@link removeIfUnchanged} did: `removed` the file that still held the
 * judged content; found a `live` one (someone else's, put back unless
 * replaced again); found it `gone`; or found it `stuck` (it cannot be moved:
 * another owner, a read-only file system).
 */
export type RemovalOutcome = "removed" | "live" | "gone" | "stuck";

/**
 * Move `path` aside, then check it still held `judged`: the file is only
 * removed if it did, else it is put back. Moving first makes the check and
 * the removal one step for everyone else.
 */
export async function removeIfUnchanged(path: string, judged: string): Promise<RemovalOutcome> {
  const aside = `${path}.${randomBytes(6).toString("hex")}.stale`;
  try {
    await fs.rename(path, aside);
  } catch (error) {
    return (error as { code?: unknown }).code === "ENOENT" ? "gone" : "stuck";
  }
  const moved = await fs.readFile(aside, "utf8").catch(() => undefined);
  const live = moved !== undefined && moved !== judged;
  // A live file goes back, unless someone already made a new one.
  if (live) await fs.link(aside, path).catch(() => undefined);
  await fs.rm(aside, { force: true }).catch(() => undefined);
  return live ? "live" : "removed";
}
