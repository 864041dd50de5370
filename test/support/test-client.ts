/**
 * The one way tests build a `WriteClient`: what every test's app shares (the
 * redirect URI, a state secret) comes from here, and each test says only
 * what it is about (the SDK, the store, retries, clocks). Worker processes
 * use it too, so a change to what a client needs is made once.
 */
import { WriteClient, type WriteClientOptions } from "../../src/index.js";

export const REDIRECT_URI = "https://app.example/digime/callback";
export const STATE_SECRET = "ojgp0V8l8W6l5TXjS8Sv7oN1_DJ60gbObEZNpO_3cUo";

/** What a test must say: the SDK, the contract and the store; anything else overrides the shared settings. */
export type TestClientOptions = Pick<WriteClientOptions, "sdk" | "contractDetails" | "tokenStore"> & Partial<WriteClientOptions>;

/** A client with the shared app settings and `options` over them. */
export function testClient(options: TestClientOptions): WriteClient {
  return new WriteClient({ redirectUri: REDIRECT_URI, stateSecret: STATE_SECRET, ...options });
}
