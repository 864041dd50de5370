/**
 * The one WriteClient of the app, built once at start-up.
 *
 * - With real credentials in the environment (DIGIME_APPLICATION_ID,
 *   DIGIME_CONTRACT_ID, DIGIME_PRIVATE_KEY or DIGIME_PRIVATE_KEY_FILE,
 *   DIGIME_STATE_SECRET), it drives the real SDK, loaded at run time so
 *   the example runs without it installed, and keeps tokens in a
 *   FileTokenStore. DIGIME_BASE_URL and DIGIME_ONBOARD_URL point the real
 *   SDK elsewhere than api.digi.me: at a sandbox served over HTTP, say.
 * - Otherwise it runs against the sandbox: a simulated digi.me whose consent
 *   page is served over HTTP on 127.0.0.1 by `sandbox.listen()`, so a real
 *   browser walks the whole redirect dance.
 *
 * In your own app, import from "digime-write-pipeline" instead of ../../src.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { FileTokenStore, MemoryTokenStore, WriteClient, type DigimeSdk } from "../../src/index.js";
import { createSandbox, type Sandbox } from "../../src/testing/index.js";

export interface Digime {
  client: WriteClient;
  /** "digi.me" or "sandbox", for the page footer. */
  mode: "digi.me" | "sandbox";
  /** Set in sandbox mode, for tests that look inside. */
  sandbox?: Sandbox;
  /** Release what was started (the sandbox's HTTP server, the client's queue). */
  close(): Promise<void>;
}

export async function createDigime(options: { redirectUri: string; env?: NodeJS.ProcessEnv }): Promise<Digime> {
  const env = options.env ?? process.env;
  if (env.DIGIME_APPLICATION_ID) return realDigime(options.redirectUri, env);
  return sandboxDigime(options.redirectUri);
}

async function realDigime(redirectUri: string, env: NodeJS.ProcessEnv): Promise<Digime> {
  const required = ["DIGIME_CONTRACT_ID", "DIGIME_STATE_SECRET"].filter((name) => !env[name]);
  if (!env.DIGIME_PRIVATE_KEY && !env.DIGIME_PRIVATE_KEY_FILE) required.push("DIGIME_PRIVATE_KEY or DIGIME_PRIVATE_KEY_FILE");
  if (required.length > 0) throw new Error(`DIGIME_APPLICATION_ID is set, so these are needed too: ${required.join(", ")}`);
  // Loaded at run time, so TypeScript (and bundlers) do not need the SDK installed. DIGIME_SDK_MODULE
  // (a built SDK's directory) is for trying another SDK build; the SDK is CommonJS in every version.
  const sdkModule = env.DIGIME_SDK_MODULE ?? "@digime/digime-sdk-nodejs";
  const { init } = createRequire(import.meta.url)(sdkModule) as { init(config: { applicationId: string; baseUrl?: string; onboardUrl?: string }): DigimeSdk };
  const privateKey = env.DIGIME_PRIVATE_KEY ?? (await readFile(env.DIGIME_PRIVATE_KEY_FILE!, "utf8"));
  const client = new WriteClient({
    sdk: init({
      applicationId: env.DIGIME_APPLICATION_ID!,
      ...(env.DIGIME_BASE_URL ? { baseUrl: env.DIGIME_BASE_URL } : {}),
      ...(env.DIGIME_ONBOARD_URL ? { onboardUrl: env.DIGIME_ONBOARD_URL } : {}),
    }),
    contractDetails: { contractId: env.DIGIME_CONTRACT_ID!, privateKey },
    redirectUri,
    // Plaintext tokens on disk: .digime/ is in .gitignore; see docs/token-stores.md to encrypt them.
    tokenStore: new FileTokenStore({ path: env.DIGIME_TOKEN_FILE ?? path.resolve(".digime/tokens.json") }),
    stateSecret: env.DIGIME_STATE_SECRET!,
  });
  return { client, mode: "digi.me", close: async () => void (await client.close()) };
}

async function sandboxDigime(redirectUri: string): Promise<Digime> {
  const sandbox = createSandbox();
  // While the sandbox listens, its in-process SDK fake hands out consent URLs on the loopback server, which a browser can open.
  const server = await sandbox.listen({ port: 0 });
  const client = new WriteClient({
    sdk: sandbox.sdk("v16"),
    contractDetails: sandbox.contractDetails,
    redirectUri,
    tokenStore: new MemoryTokenStore(),
    stateSecret: randomBytes(32).toString("base64url"),
  });
  return {
    client,
    mode: "sandbox",
    sandbox,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}
