/**
 * Writing the dev server's secret files (state, contract key): atomically,
 * mode 0600, through a temporary file that is created exclusively. The
 * temporary name carries random bytes and is opened with `wx` (O_CREAT |
 * O_EXCL), so a link planted at a guessable name (`${file}.${pid}.tmp`) is
 * neither followed nor written through: the open fails instead.
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";

/**
 * Write `content` to `file` atomically with mode 0600.
 *
 * @example
 * ```ts
 * await writeSecretFile("/tmp/sandbox.json", "{}\n");
 * ```
 */
export async function writeSecretFile(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(8).toString("hex")}.tmp`;
  // "wx": fails with EEXIST when anything (a file, a symlink, dangling or not) is at that name.
  const handle = await open(temp, "wx", 0o600);
  try {
    try {
      await handle.writeFile(content, "utf8");
      await handle.chmod(0o600); // the umask may have narrowed the mode; never widened it
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
