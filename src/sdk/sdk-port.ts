/**
 * One port over the SDK's three write-API generations. It fills in what each
 * generation needs (redirect URI placement, callback, postbox) and turns every
 * way a generation reports a new token into one `onToken` callback.
 */
import type { Credentials } from "../stores/token-store.js";
import { checkAuthorizeUrlResult, checkUserAccessToken, checkWriteResultA } from "./response-schemas.js";
import type {
  ContractDetails,
  DigimeSdk,
  SdkFileMeta,
  SdkGeneration,
  SdkGenerationA,
  SdkGenerationB,
  SdkGenerationC,
  UserAccessToken,
} from "./types.js";

/** What the port needs to know about the app's contract and redirect targets. */
export interface SdkPortConfig {
  contractDetails: { contractId: string; privateKey: string };
  /** Where digi.me sends the user after consent. */
  redirectUri: string;
  /** Where generations A and B send failures; defaults to `redirectUri`. */
  errorRedirectUri?: string | undefined;
  /** Force a generation instead of detecting it from the SDK's shape and results. */
  generation?: SdkGeneration | undefined;
  /**
   * Refreshes over digi.me's token endpoint, for SDKs without a public
   * `refreshToken` (the SDK's own is preferred when it has one).
   */
  refresher?: ((contractDetails: ContractDetails, token: UserAccessToken) => Promise<UserAccessToken>) | undefined;
}

/** Result of one write through the port. */
export interface PortWriteResult {
  status: "delivered" | "pending";
}

/** The port's write arguments. */
export interface PortWriteInput {
  credentials: Credentials;
  data: SdkFileMeta;
  /** Called, as a method of the input, with every token the SDK returns or announces (may be the unchanged one). */
  onToken(token: UserAccessToken): void;
}

/** The uniform face of any SDK generation. */
export interface SdkPort {
  /** Detected generation; `undefined` until a `write`-style SDK has shown whether it returns a result. */
  readonly generation: SdkGeneration | undefined;
  /** Whether the port can refresh (the SDK's `refreshToken`, or the configured refresher), enabling proactive refresh. */
  readonly canRefresh: boolean;
  getAuthorizeUrl(input: { state: string; serviceId?: number | undefined; userAccessToken?: UserAccessToken | undefined }): Promise<{ url: string; codeVerifier: string }>;
  exchangeCode(input: { code: string; codeVerifier: string }): Promise<UserAccessToken>;
  write(input: PortWriteInput): Promise<PortWriteResult>;
  refresh(token: UserAccessToken): Promise<UserAccessToken>;
}

function hasMethod<K extends string>(value: unknown, name: K): value is Record<K, (...args: never[]) => unknown> {
  return typeof value === "object" && value !== null && typeof (value as Record<string, unknown>)[name] === "function";
}

/** Whether `sdk` looks like any supported SDK generation. */
export function isSupportedSdk(sdk: unknown): sdk is DigimeSdk {
  return (
    hasMethod(sdk, "getAuthorizeUrl") &&
    hasMethod(sdk, "exchangeCodeForToken") &&
    (hasMethod(sdk, "pushData") || hasMethod(sdk, "write"))
  );
}

/**
 * Build the port. `onLimitation` is called once, at the first write that
 * shows the SDK is generation A or B while the port cannot refresh on its
 * own: such an SDK refreshes inside `write` and can lose the new pair.
 */
export function createSdkPort(sdk: DigimeSdk, config: SdkPortConfig, onLimitation: (generation: "A" | "B") => void): SdkPort {
  const base = config.contractDetails;
  let generation: SdkGeneration | undefined = config.generation ?? (hasMethod(sdk, "pushData") ? "C" : undefined);
  const usesPushData = generation === "C";

  const sdkRefresh = hasMethod(sdk, "refreshToken") ? (sdk as SdkGenerationC).refreshToken : undefined;
  const canRefresh = sdkRefresh !== undefined || config.refresher !== undefined;

  let announced = false;
  const learn = (detected: SdkGeneration): void => {
    generation ??= detected;
    if (generation !== "C" && !canRefresh && !announced) {
      announced = true;
      onLimitation(generation);
    }
  };

  // Generation C's ContractDetails has no redirectUri; A and B carry it there. Frozen and made once:
  // every call gets the same, and no SDK can change it for the next.
  const contract: ContractDetails = Object.freeze(
    usesPushData ? { contractId: base.contractId, privateKey: base.privateKey } : { ...base, redirectUri: config.redirectUri },
  );

  return {
    get generation() {
      return generation;
    },
    canRefresh,

    async getAuthorizeUrl({ state, serviceId, userAccessToken }) {
      const result = await sdk.getAuthorizeUrl({
        contractDetails: contract,
        callback: usesPushData ? config.redirectUri : config.errorRedirectUri ?? config.redirectUri,
        state,
        ...(serviceId === undefined ? {} : { serviceId }),
        ...(userAccessToken === undefined ? {} : { userAccessToken }),
      });
      const checked = checkAuthorizeUrlResult(result);
      return { url: checked.url, codeVerifier: checked.codeVerifier };
    },

    async exchangeCode({ code, codeVerifier }) {
      const token = await sdk.exchangeCodeForToken({ contractDetails: contract, authorizationCode: code, codeVerifier });
      return checkUserAccessToken(token, "exchangeCodeForToken");
    },

    async refresh(token) {
      if (sdkRefresh !== undefined) return checkUserAccessToken(await sdkRefresh.call(sdk, { contractDetails: contract, userAccessToken: token }), "refreshToken");
      if (config.refresher === undefined) throw new Error("The SDK has no refreshToken method and no digimeApi option was given");
      return config.refresher({ contractId: base.contractId, privateKey: base.privateKey }, token);
    },

    write(input) {
      if (!usesPushData) return writeAorB(input);
      // A plain reaction, not an async function: this runs on every write.
      try {
        const pushed = (sdk as SdkGenerationC).pushData({
          type: "library",
          contractDetails: contract,
          userAccessToken: input.credentials.userAccessToken,
          data: input.data,
          onAccessTokenChange: (next) => input.onToken(checkUserAccessToken(next, "pushData onAccessTokenChange")),
        });
        return Promise.resolve(pushed).then(delivered);
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };

  /** Generations A and B share `write`. */
  async function writeAorB(input: PortWriteInput): Promise<PortWriteResult> {
    const { credentials, data } = input;
    const userAccessToken = credentials.userAccessToken;
    // A and B share `write`; a result object means A, `undefined` means B.
    const settle = (result: unknown): PortWriteResult => {
      if (result === undefined) {
        learn("B");
        return { status: "delivered" };
      }
      learn("A");
      const checked = checkWriteResultA(result);
      input.onToken(checkUserAccessToken(checked.userAccessToken, "write"));
      return { status: checked.status };
    };
    const { postboxId, publicKey } = credentials;
    if (postboxId !== undefined && publicKey !== undefined && generation !== "B") {
      return settle(await (sdk as SdkGenerationA).write({ contractDetails: contract, userAccessToken, postboxId, publicKey, data }));
    }
    return settle(await (sdk as SdkGenerationB).write({ contractDetails: contract, userAccessToken, data }));
  }
}

const DELIVERED: PortWriteResult = Object.freeze({ status: "delivered" });
const delivered = (): PortWriteResult => DELIVERED;
