/**
 * Reads the redirect digi.me sends back after consent, whatever form the app
 * has it in, and validates every parameter before anything trusts it.
 */
import { z } from "zod";
import { ValidationError } from "../errors.js";
import { parseOrThrow } from "../internal/zod-issues.js";

/**
 * The callback as an app may hold it: full URL, `URL`, `URLSearchParams`, or a parsed query object (`req.query`).
 *
 * @example
 * ```ts
 * const input: CallbackInput = req.query; // or req.originalUrl, new URL(...), new URLSearchParams(...)
 * await client.completeAuthorization(input, { sealed });
 * ```
 */
export type CallbackInput = string | URL | URLSearchParams | Readonly<Record<string, unknown>>;

/**
 * A validated callback: consent given (`success: true`) or refused.
 *
 * @example
 * ```ts
 * function describe(callback: ParsedCallback): string {
 *   return callback.success ? "consent given" : `refused: ${callback.errorCode}`;
 * }
 * ```
 */
export type ParsedCallback =
  | {
      /** The user gave consent. */
      readonly success: true;
      /** Authorization code to exchange for a token. A secret. */
      readonly code: string;
      /** The state sent through digi.me. */
      readonly state: string;
      /** Generation A write contracts: the user's postbox. */
      readonly postboxId?: string | undefined;
      /** Generation A write contracts: the postbox's PEM public key. */
      readonly publicKey?: string | undefined;
      /** Generation C with a service onboarded: the account reference. */
      readonly accountReference?: string | undefined;
    }
  | {
      /** Consent was refused or failed. */
      readonly success: false;
      /** Why, for example `UserCancelled`. */
      readonly errorCode: string;
      /**
       * digi.me documents only `success` and `errorCode` on a failure redirect
       * (SDK repository, `documents/create-user/authorizing.md` and
       * `documents/create-user/reauthorizing.md`, "On failure"), so `state` is
       * usually absent; when a denial does carry one, it is checked like any state.
       */
      readonly state?: string | undefined;
    };

const KNOWN_PARAMS = ["success", "code", "state", "postboxId", "publicKey", "accountReference", "errorCode"] as const;
/** Longer input than this is refused before parsing, so an oversized query costs nothing. */
const MAX_INPUT_LENGTH = 16_384;

const state = z.string().min(16, "must be at least 16 characters").max(512).regex(/^[A-Za-z0-9_-]+$/, "must be base64url");
/**
 * Callback values end up in error messages and logs: printable ASCII only, so
 * no CR/LF or escape sequence can forge a log line or recolour a terminal.
 */
const printable = /^[\x21-\x7e]+$/;
/** `errorCode` is quoted in `AuthorizationDeniedError`'s message: a short identifier. */
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;
/** A PEM body: base64, its armour lines and line breaks. */
const PEM_CHARS = /^[A-Za-z0-9+/=\r\n -]+$/;

/**
 * Longest value of each parameter. Checked for every parameter present, also
 * those the variant ignores (an `errorCode` beside `success=true`), so no
 * oversized value passes unnoticed.
 */
const MAX_PARAM_LENGTH: Record<(typeof KNOWN_PARAMS)[number], number> = {
  success: 5,
  code: 4096,
  state: 512,
  postboxId: 512,
  publicKey: 16_384,
  accountReference: 1024,
  errorCode: 64,
};

const callbackSchema = z.discriminatedUnion("success", [
  z.object({
    success: z.literal("true"),
    code: z.string().min(1).max(4096).regex(printable, "must be printable ASCII without spaces"),
    state,
    postboxId: z.string().min(1).max(512).regex(printable, "must be printable ASCII without spaces").optional(),
    publicKey: z
      .string()
      .max(16_384)
      .regex(PEM_CHARS, "must hold only PEM characters")
      .refine((pem) => pem.includes("-----BEGIN") && pem.includes("PUBLIC KEY-----"), "must be a PEM public key")
      .optional(),
    accountReference: z.string().max(1024).regex(printable, "must be printable ASCII without spaces").optional(),
  }),
  z.object({
    success: z.literal("false"),
    errorCode: z.string().regex(ERROR_CODE, "must be 1 to 64 letters, digits, '_', '.' or '-'"),
    // Optional: digi.me's failure redirect carries only `success` and `errorCode`
    // (documents/create-user/authorizing.md, "On failure"; the same in reauthorizing.md).
    // A denial therefore proves nothing and consumes nothing (see the authorizer).
    state: state.optional(),
  }),
]);

function invalid(path: string, message: string): ValidationError {
  return new ValidationError("INVALID_CALLBACK", "callback", [{ path: `callback.${path}`, message }]);
}

/** Collect the known parameters; a parameter given twice is refused (parameter pollution). */
function fromSearchParams(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KNOWN_PARAMS) {
    const values = params.getAll(name);
    if (values.length > 1) throw invalid(name, "must appear once");
    if (values[0] !== undefined) out[name] = values[0];
  }
  return out;
}

function fromObject(query: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of KNOWN_PARAMS) {
    let value: unknown;
    try {
      // Own properties only: an inherited or prototype-polluted value is not a parameter.
      if (!Object.prototype.hasOwnProperty.call(query, name)) continue;
      value = query[name];
    } catch {
      // A getter or proxy that throws is not a query a server parsed.
      throw invalid(name, "could not be read");
    }
    if (Array.isArray(value)) throw invalid(name, "must appear once");
    out[name] = typeof value === "boolean" ? String(value) : value;
  }
  return out;
}

function toParams(input: CallbackInput): Record<string, unknown> {
  if (typeof input === "string") {
    if (input.length > MAX_INPUT_LENGTH) throw invalid("url", `must be at most ${MAX_INPUT_LENGTH} characters`);
    const query = input.includes("?") ? input.slice(input.indexOf("?") + 1).split("#")[0] ?? "" : input;
    return fromSearchParams(new URLSearchParams(query));
  }
  if (input instanceof URL) return toParams(input.href);
  if (input instanceof URLSearchParams) return toParams(input.toString());
  if (typeof input === "object" && input !== null) return fromObject(input);
  throw invalid("url", "must be a URL string, URL, URLSearchParams or query object");
}

/** Parse and validate a callback; throws `ValidationError` (`INVALID_CALLBACK`) naming the bad field. */
export function parseCallback(input: CallbackInput): ParsedCallback {
  const params = toParams(input);
  if (params.success === undefined) throw invalid("success", 'is required and must be "true" or "false"');
  for (const name of KNOWN_PARAMS) {
    const value = params[name];
    if (value === undefined) continue;
    if (typeof value !== "string") throw invalid(name, "must be a string");
    if (value.length > MAX_PARAM_LENGTH[name]) throw invalid(name, `must be at most ${MAX_PARAM_LENGTH[name]} characters`);
  }
  const parsed = parseOrThrow(callbackSchema, params, "INVALID_CALLBACK", "callback");
  if (parsed.success === "false") return { success: false, errorCode: parsed.errorCode, ...(parsed.state === undefined ? {} : { state: parsed.state }) };
  return { ...parsed, success: true };
}
