/**
 * The dev server's state and key files: written through an exclusively
 * created temporary file, so a symlink planted at the old predictable name
 * (`${file}.${pid}.tmp`) cannot redirect the write into another file.
 */
import { lstat, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseSandboxArgs, startSandboxCommand } from "../../src/cli/sandbox-command.js";
import { writeSecretFile } from "../../src/cli/secret-file.js";

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(path.join(tmpdir(), "sandbox-secret-files-"));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe("dev server secret files", () => {
  it("a symlink planted at ${file}.${pid}.tmp is not followed: the victim file keeps its bytes, the state file is a fresh 0600 file", async () => {
    const victim = path.join(directory, "victim.txt");
    await writeFile(victim, "do not touch\n", { mode: 0o644 });
    const stateFile = path.join(directory, "sandbox.json");
    const keyFile = path.join(directory, "sandbox.key.pem");
    await symlink(victim, `${stateFile}.${process.pid}.tmp`);
    await symlink(victim, `${keyFile}.${process.pid}.tmp`);

    const running = await startSandboxCommand(parseSandboxArgs(["--port", "0", "--state", stateFile]));
    await running.stop();

    expect(await readFile(victim, "utf8")).toBe("do not touch\n");
    expect((await stat(victim)).mode & 0o777).toBe(0o644);
    for (const file of [stateFile, keyFile]) {
      const info = await lstat(file);
      expect(info.isFile()).toBe(true);
      expect(info.mode & 0o777).toBe(0o600);
    }
    expect(JSON.parse(await readFile(stateFile, "utf8"))).toHaveProperty("applicationId");
  });

  it("replaces a symlink at the destination itself instead of writing through it", async () => {
    const victim = path.join(directory, "victim.txt");
    await writeFile(victim, "do not touch\n");
    const file = path.join(directory, "state.json");
    await symlink(victim, file);
    await writeSecretFile(file, "{}\n");
    expect(await readFile(victim, "utf8")).toBe("do not touch\n");
    expect((await lstat(file)).isFile()).toBe(true);
    expect(await readFile(file, "utf8")).toBe("{}\n");
  });

  it("leaves no temporary file behind", async () => {
    const file = path.join(directory, "state.json");
    await writeSecretFile(file, "one\n");
    await writeSecretFile(file, "two\n");
    expect(await readdir(directory)).toEqual(["state.json"]);
  });
});
