/**
 * Loading the REAL @digime/digime-sdk-nodejs for the tests that run it:
 * - `DIGIME_SDK_PATH`: directories of built SDK packages, separated by the
 *   platform's path delimiter (":" on POSIX), e.g.
 *   `DIGIME_SDK_PATH=/tmp/sdk-build/v8.0.0:/tmp/sdk-build/v10.1.1:/tmp/sdk-build/v16.1.5`;
 * - otherwise `@digime/digime-sdk-nodejs` if it is installed.
 */
import { createRequire } from "node:module";
import { delimiter, join, resolve } from "node:path";
import type { DigimeSdk } from "../../src/sdk/types.js";

export type Generation = "A" | "B" | "C";

export interface RealSdk {
  /** Where it came from, for test names. */
  source: string;
  version: string;
  generation: Generation;
  init(config: { applicationId: string; baseUrl?: string; onboardUrl?: string }): DigimeSdk;
}

const requireHere = createRequire(import.meta.url);

function generationOf(version: string): Generation {
  const major = Number(version.split(".")[0]);
  return major <= 8 ? "A" : major <= 10 ? "B" : "C";
}

/** Load one SDK by directory or package name; a reason string when it cannot be loaded. */
function load(specifier: string, source: string): RealSdk | string {
  try {
    // require() at run time in a try: the SDK is CommonJS in every generation (and Node 22.12+ could require an ESM one).
    const manifest = requireHere(specifier.startsWith("/") ? join(specifier, "package.json") : `${specifier}/package.json`) as { name?: string; version?: string };
    const exported = requireHere(specifier) as { init?: RealSdk["init"]; default?: { init?: RealSdk["init"] } };
    const init = exported.init ?? exported.default?.init;
    if (typeof init !== "function" || typeof manifest.version !== "string") return `${source}: no init() or version`;
    return { source, version: manifest.version, generation: generationOf(manifest.version), init };
  } catch (error) {
    return `${source}: ${(error as Error).message.split("\n")[0]}`;
  }
}

export function findSdks(): { sdks: RealSdk[]; reasons: string[] } {
  const fromEnv = (process.env.DIGIME_SDK_PATH ?? "").split(delimiter).filter((entry) => entry.trim() !== "");
  const candidates = fromEnv.length > 0 ? fromEnv.map((dir) => [resolve(dir), `DIGIME_SDK_PATH ${dir}`] as const) : [["@digime/digime-sdk-nodejs", "@digime/digime-sdk-nodejs"] as const];
  const sdks: RealSdk[] = [];
  const reasons: string[] = [];
  for (const [specifier, source] of candidates) {
    const loaded = load(specifier, source);
    if (typeof loaded === "string") reasons.push(loaded);
    else sdks.push(loaded);
  }
  return { sdks, reasons };
}

