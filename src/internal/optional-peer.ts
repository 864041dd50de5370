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

/**
 * An optional peer dependency a subpath needs is not installed. The message
 * names the package and the command that installs it.
 */
export class MissingPeerDependencyError extends Error {
  /** Stable code. */
  readonly code = "MISSING_PEER_DEPENDENCY" as const;
  constructor(
    /** The package to install. */
    readonly peer: string,
    /** The subpath that needs it, e.g. `digime-write-pipeline/redis`. */
    readonly entry: string,
    cause: unknown,
  ) {
    super(`${entry} needs the optional peer dependency ${peer}, which is not installed: npm install ${peer}`, { cause });
    this.name = "MissingPeerDependencyError";
  }
}

/**
 * Load the peer a subpath entry needs, when that entry is imported (ESM or
 * CJS alike): a missing package becomes {@link MissingPeerDependencyError}
 * naming it, not a bare `ERR_MODULE_NOT_FOUND`. Any other failure (a broken
 * install, a syntax error in the peer) is thrown as it is.
 */
export function requirePeerOf<T>(peer: string, entry: string): T {
  try {
    return requireOptionalPeer<T>(peer);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    // Only the peer itself missing: a peer installed without one of its own dependencies is another problem.
    const names = error instanceof Error && error.message.includes(`'${peer}'`);
    if ((code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND") && names) throw new MissingPeerDependencyError(peer, entry, error);
    throw error;
  }
}
