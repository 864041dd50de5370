#!/usr/bin/env node
/**
 * The `digime-write-pipeline` command. One subcommand today: `sandbox`, the
 * simulated digi.me as a dev server (see `docs/testing.md`). Usage mistakes
 * print a message naming the flag and exit with code 2.
 * @module
 */
import { banner, envLines, parseSandboxArgs, SANDBOX_HELP, startSandboxCommand, UsageError } from "./sandbox-command.js";

const USAGE = `Usage: digime-write-pipeline <command> [options]

Commands:
  sandbox    start the simulated digi.me on loopback (see: digime-write-pipeline sandbox --help)
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== "sandbox") throw new UsageError(`unknown command "${command}" (known: sandbox)`);
  const options = parseSandboxArgs(rest);
  if (options.help) {
    process.stdout.write(SANDBOX_HELP);
    return 0;
  }
  const running = await startSandboxCommand(options, (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(banner(running.info));
  if (options.env) process.stdout.write(`\n# for your app's .env (the key stays in its file):\n${envLines(running.info)}\n`);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.stdout.write(`\n${signal}: saving state and stopping…\n`);
      resolve();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  await running.stop();
  process.stdout.write("stopped.\n");
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`digime-write-pipeline: ${error.message}\nRun "digime-write-pipeline sandbox --help" for the flags.\n`);
      process.exit(2);
    }
    process.stderr.write(`digime-write-pipeline: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
