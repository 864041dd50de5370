/**
 * Loading an optional peer dependency (msw, @opentelemetry/api) from the
 * app's project, synchronously, only when a feature that needs it is used.
 * @module
 */
import { createRequire } from "node:module";
import { join } from "node:path";

/**
 * `require(name)` from where the app installed it. The CJS build resolves
 * from this file. The ESM build has no `__filename` and cannot say
 * `import.meta` (the CJS build would not parse): it resolves from the
 * working directory (the app's project), then from the entry script (a tool
 * installed in that project). Throws the first resolution failure.
 * @internal
 */
export function requireOptionalPeer<T>(name: string): T {
  const anchors = [typeof __filename === "string" ? __filename : undefined, join(process.cwd(), "package.json"), process.argv[1]];
  let failure: unknown;
  for (const anchor of anchors) {
    if (anchor === undefined) continue;
    try {
      return createRequire(anchor)(name) as T;
    } catch (error) {
      failure ??= error;
    }
  }
  throw failure;
}
