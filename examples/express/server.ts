/**
 * Start the example: `npx tsx examples/express/server.ts`, then open the URL
 * it prints. PORT (default 3000) and HOST (default 127.0.0.1) move it.
 *
 * Without configuration it runs against the sandbox (a simulated digi.me on
 * 127.0.0.1); set DIGIME_APPLICATION_ID and friends (see digime.ts) to use
 * the real SDK, and DIGIME_REDIRECT_URI to the public callback URL that is
 * registered for your contract.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { createApp } from "./app.js";
import { createDigime, type Digime } from "./digime.js";

export interface RunningExample {
  /** The app's root, e.g. `http://127.0.0.1:3000/`. */
  url: string;
  digime: Digime;
  close(): Promise<void>;
}

export async function startExample(options: { port?: number; host?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunningExample> {
  const env = options.env ?? process.env;
  const host = options.host ?? "127.0.0.1";
  // Listen first: with port 0 the callback URL is known only once bound.
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 3000, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;
  const redirectUri = env.DIGIME_REDIRECT_URI ?? `${url}callback`;
  const digime = await createDigime({ redirectUri, env });
  // The callback is served by this app, so its origin is the one browsers show for the app's pages.
  const origin = new URL(redirectUri).origin;
  server.on("request", createApp({ client: digime.client, mode: digime.mode, secureCookies: redirectUri.startsWith("https:"), origin }));
  return {
    url,
    digime,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await digime.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const running = await startExample({ port: Number(process.env.PORT || 3000), host: process.env.HOST || "127.0.0.1" });
  console.log(`Example app on ${running.url} (writing to ${running.digime.mode}); Ctrl-C to stop`);
  const stop = (): void => {
    void running.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
