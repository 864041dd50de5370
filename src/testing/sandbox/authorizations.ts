/**
 * The two one-time artefacts of the OAuth dance: the pending authorization
 * behind a pre-authorization code (made by getAuthorizeUrl, ended by the
 * user's consent) and the authorization code the app exchanges for tokens.
 * @module
 */
import type { Clock } from "./clock.js";
import { randomSecret } from "./random.js";
import type { SandboxGeneration } from "./types.js";

/**
 * How long a pre-authorization code waits for the user's consent (ms).
 *
 * @example
 * ```ts
 * advanceClock(PREAUTHORIZATION_TTL_MS); // the authorize URL is now expired
 * ```
 */
export const PREAUTHORIZATION_TTL_MS = 30 * 60 * 1000;
/**
 * How long an authorization code waits for the exchange (ms).
 *
 * @example
 * ```ts
 * advanceClock(AUTHORIZATION_CODE_TTL_MS); // exchanging the code now fails
 * ```
 */
export const AUTHORIZATION_CODE_TTL_MS = 10 * 60 * 1000;

/**
 * What getAuthorizeUrl told the server.
 *
 * @example
 * ```ts
 * const pending: PendingAuthorization = authorizations.create({ contractId, generation: "C", ... });
 * ```
 */
export interface PendingAuthorization {
  readonly preauthorizationCode: string;
  readonly contractId: string;
  readonly generation: SandboxGeneration;
  readonly state: string | undefined;
  readonly codeChallenge: string;
  /** Where a successful consent goes. */
  readonly successRedirect: string;
  /** Where a denial goes. */
  readonly errorRedirect: string;
  /** The library of the access token passed to getAuthorizeUrl, if any. */
  readonly linkedLibraryId: string | undefined;
  readonly serviceId: number | undefined;
  readonly expiresAt: number;
  used: boolean;
}

/**
 * The input of {@link AuthorizationRegistry.create}.
 *
 * @example
 * ```ts
 * const input: PendingAuthorizationInput = { contractId, generation: "A", state, codeChallenge, successRedirect, errorRedirect, linkedLibraryId: undefined, serviceId: undefined };
 * ```
 */
export type PendingAuthorizationInput = Omit<PendingAuthorization, "preauthorizationCode" | "expiresAt" | "used">;

/**
 * An authorization code the user's consent produced.
 *
 * @example
 * ```ts
 * const code: AuthorizationCode = authorizations.issueCode(pending, libraryId);
 * ```
 */
export interface AuthorizationCode {
  readonly code: string;
  readonly contractId: string;
  readonly libraryId: string;
  /** The generation of the SDK that asked for the authorization. */
  readonly generation: SandboxGeneration;
  readonly codeChallenge: string;
  readonly expiresAt: number;
  used: boolean;
}

/**
 * Pending authorizations and authorization codes, each usable once.
 *
 * @example
 * ```ts
 * const pending = authorizations.create(input);
 * const code = authorizations.issueCode(authorizations.takePending(pending.preauthorizationCode), libraryId);
 * authorizations.redeem(code.code); // the code, now marked used
 * ```
 */
export class AuthorizationRegistry {
  readonly #clock: Clock;
  readonly #pending = new Map<string, PendingAuthorization>();
  readonly #codes = new Map<string, AuthorizationCode>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Forget every pending authorization and unexchanged code (the dev server's reset). */
  clear(): void {
    this.#pending.clear();
    this.#codes.clear();
  }

  /** Record a pending authorization under a fresh pre-authorization code. */
  create(input: PendingAuthorizationInput): PendingAuthorization {
    const pending: PendingAuthorization = {
      ...input,
      preauthorizationCode: randomSecret(24),
      expiresAt: this.#clock.nowMs() + PREAUTHORIZATION_TTL_MS,
      used: false,
    };
    this.#pending.set(pending.preauthorizationCode, pending);
    return pending;
  }

  /** Consume a pending authorization; throws a plain Error when unknown, used or expired (a test-author mistake). */
  takePending(preauthorizationCode: string): PendingAuthorization {
    const pending = this.#pending.get(preauthorizationCode);
    if (pending === undefined) throw new Error("Sandbox consent: unknown pre-authorization code (was this URL made by this sandbox?)");
    if (pending.used) throw new Error("Sandbox consent: this authorization URL was already used");
    if (this.#clock.nowMs() >= pending.expiresAt) throw new Error("Sandbox consent: this authorization URL has expired");
    pending.used = true;
    return pending;
  }

  /** Issue the authorization code for a consented request. */
  issueCode(pending: PendingAuthorization, libraryId: string): AuthorizationCode {
    const code: AuthorizationCode = {
      code: randomSecret(24),
      contractId: pending.contractId,
      libraryId,
      generation: pending.generation,
      codeChallenge: pending.codeChallenge,
      expiresAt: this.#clock.nowMs() + AUTHORIZATION_CODE_TTL_MS,
      used: false,
    };
    this.#codes.set(code.code, code);
    return code;
  }

  /** Whether a pre-authorization code can still be consented to (known, unused, unexpired), without consuming it. */
  isPendingOpen(preauthorizationCode: string): boolean {
    const pending = this.#pending.get(preauthorizationCode);
    return pending !== undefined && !pending.used && this.#clock.nowMs() < pending.expiresAt;
  }

  /** The code's record without consuming it (to route faults by library). */
  peekCode(code: string): AuthorizationCode | undefined {
    return this.#codes.get(code);
  }

  /**
   * Consume an authorization code. Any presentation burns it, even one that
   * then fails a check, so a leaked code cannot be tried twice.
   */
  redeem(code: string): AuthorizationCode | undefined {
    const record = this.#codes.get(code);
    if (record === undefined || record.used || this.#clock.nowMs() >= record.expiresAt) return undefined;
    record.used = true;
    return record;
  }
}
