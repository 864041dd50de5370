/**
 * The authorization bundle: everything needed to finish an authorization,
 * kept beside a random `state` because the SDK creates the code verifier only
 * after `state` is fixed.
 */
import { z } from "zod";
import { idSchema } from "../internal/ids.js";

/**
 * What `beginAuthorization` keeps until the callback arrives: sealed for a
 * cookie and saved in the {@link PendingAuthorizationStore}.
 *
 * @example
 * ```ts
 * class RedisPendingStore implements PendingAuthorizationStore {
 *   async save(bundle: AuthorizationBundle) {
 *     await redis.set(`digime:pending:${bundle.state}`, JSON.stringify(bundle), "PXAT", bundle.expiresAt);
 *   }
 *   // …consume()
 * }
 * ```
 */
export interface AuthorizationBundle {
  /** Random, unguessable value sent through digi.me and back. */
  readonly state: string;
  /** PKCE verifier the SDK made; never leaves the server except sealed. */
  readonly codeVerifier: string;
  /** Your id for the user being authorized. */
  readonly userId: string;
  /** Contract the authorization is for. */
  readonly contractId: string;
  /** Epoch milliseconds after which the bundle is refused. */
  readonly expiresAt: number;
  /** Anything JSON you passed to `beginAuthorization`, returned on completion. */
  readonly context?: unknown;
}

/** Shape check applied after a bundle is opened or loaded. */
export const authorizationBundleSchema = z.object({
  state: z.string().min(16),
  codeVerifier: z.string().min(1),
  userId: idSchema(),
  contractId: idSchema(),
  expiresAt: z.number().int().positive(),
  context: z.unknown().optional(),
});
