/**
 * A transparent wrapper around a sandbox SDK fake that records what crosses
 * the SDK boundary: every code verifier and authorization code, every token
 * the SDK hands to the library, and every token the SDK *dropped* (the
 * sandbox issued a new pair during a call, and no call ever handed it over:
 * generation B always, A and C when their own retry after a refresh fails).
 * A pair issued during a call but handed over by another call of the same
 * user running beside it (the library's own refresh while a write is in
 * flight) is not a drop, nor is one the library got without the SDK and
 * stored (its own refresh over `digimeApi`, noted with `libraryReceived`).
 *
 * It keeps the shape of the wrapped generation (the same methods), so the
 * library detects the same generation as with the bare fake.
 */
import type {
  DigimeSdk,
  SdkExchangeCodeOptions,
  SdkGetAuthorizeUrlOptions,
  SdkPushDataOptions,
  SdkRefreshTokenOptions,
  SdkWriteOptionsA,
  SdkWriteOptionsB,
  UserAccessToken,
} from "../../../src/sdk/index.js";
import type { Sandbox, SandboxSdkVersion } from "../../../src/testing/index.js";

/** A token the sandbox issued inside an SDK call that never reached the library. */
export interface DroppedToken {
  libraryId: string;
  /** The SDK method during which it was issued. */
  method: string;
  accessToken: string;
}

export interface SdkRecorder {
  /** Pass this to the WriteClient. */
  readonly sdk: DigimeSdk;
  readonly codeVerifiers: string[];
  readonly authorizationCodes: string[];
  /** Every token value (access and refresh) the SDK handed to the library. */
  readonly tokenValues: Set<string>;
  /** The newest token the SDK handed to the library, per library. */
  readonly newestSeen: Map<string, UserAccessToken>;
  readonly drops: DroppedToken[];
  /** Note a pair the library got without the SDK (its own refresh over `digimeApi`): not a drop. */
  libraryReceived(token: UserAccessToken): void;
  /** The most SDK calls of one library in flight at once. */
  readonly maxCallsInFlight: number;
}

/** Wrap the sandbox's fake of `version`, or `real` (a real SDK of that shape talking HTTP to the sandbox). */
export function recordingSdk(sandbox: Sandbox, version: SandboxSdkVersion, real?: DigimeSdk): SdkRecorder {
  const inner = (real ?? sandbox.sdk(version)) as unknown as Record<string, (options: never) => Promise<unknown>>;
  const recorder = {
    codeVerifiers: [] as string[],
    authorizationCodes: [] as string[],
    tokenValues: new Set<string>(),
    newestSeen: new Map<string, UserAccessToken>(),
  };
  // Pairs issued during a call that the call itself did not hand over; a drop unless another call did.
  const unhanded: DroppedToken[] = [];
  const receivedElsewhere = new Set<string>();
  const inFlight = new Map<string, number>();
  let maxCallsInFlight = 0;

  const saw = (token: UserAccessToken | undefined): void => {
    if (token === undefined) return;
    recorder.tokenValues.add(token.accessToken.value);
    recorder.tokenValues.add(token.refreshToken.value);
    const libraryId = sandbox.libraryIdOf(token.accessToken.value);
    if (libraryId !== undefined) recorder.newestSeen.set(libraryId, token);
  };

  /** Run `call` for a user's token and note a pair the sandbox issued meanwhile that the library never got. */
  const watched = async <T>(method: string, token: UserAccessToken, call: (seen: (t: UserAccessToken) => void) => Promise<T>): Promise<T> => {
    const libraryId = sandbox.libraryIdOf(token.accessToken.value);
    const before = libraryId === undefined ? undefined : sandbox.latestToken(libraryId)?.accessToken.value;
    const handed: string[] = [];
    const seen = (t: UserAccessToken): void => {
      handed.push(t.accessToken.value);
      saw(t);
    };
    const key = libraryId ?? token.accessToken.value;
    const running = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, running);
    maxCallsInFlight = Math.max(maxCallsInFlight, running);
    try {
      return await call(seen);
    } finally {
      inFlight.set(key, inFlight.get(key)! - 1);
      if (libraryId !== undefined) {
        const after = sandbox.latestToken(libraryId)?.accessToken.value;
        if (after !== undefined && after !== before && !handed.includes(after)) unhanded.push({ libraryId, method, accessToken: after });
      }
    }
  };

  const sdk: Record<string, unknown> = {
    async getAuthorizeUrl(options: SdkGetAuthorizeUrlOptions) {
      const result = (await inner.getAuthorizeUrl!(options as never)) as { codeVerifier: string };
      recorder.codeVerifiers.push(result.codeVerifier);
      return result;
    },
    async exchangeCodeForToken(options: SdkExchangeCodeOptions) {
      recorder.authorizationCodes.push(options.authorizationCode);
      const token = (await inner.exchangeCodeForToken!(options as never)) as UserAccessToken;
      saw(token);
      return token;
    },
  };
  if (version === "v16") {
    sdk.pushData = (options: SdkPushDataOptions) =>
      watched("pushData", options.userAccessToken, (seen) =>
        inner.pushData!({
          ...options,
          onAccessTokenChange: (next: UserAccessToken) => {
            seen(next);
            options.onAccessTokenChange?.(next);
          },
        } as never),
      );
    if (inner.refreshToken !== undefined) sdk.refreshToken = (options: SdkRefreshTokenOptions) =>
      watched("refreshToken", options.userAccessToken, async (seen) => {
        const token = (await inner.refreshToken!(options as never)) as UserAccessToken;
        seen(token);
        return token;
      });
  } else {
    sdk.write = (options: SdkWriteOptionsA | SdkWriteOptionsB) =>
      watched("write", options.userAccessToken, async (seen) => {
        const result = (await inner.write!(options as never)) as { userAccessToken?: UserAccessToken } | undefined;
        if (result?.userAccessToken !== undefined) seen(result.userAccessToken);
        return result;
      });
  }
  return {
    sdk: sdk as unknown as DigimeSdk,
    ...recorder,
    libraryReceived(token: UserAccessToken) {
      receivedElsewhere.add(token.accessToken.value);
    },
    get maxCallsInFlight() {
      return maxCallsInFlight;
    },
    get drops() {
      return unhanded.filter((c) => !recorder.tokenValues.has(c.accessToken) && !receivedElsewhere.has(c.accessToken));
    },
  };
}
