/**
 * Removes secrets from text that may end up in an error message or event.
 * SDK and HTTP-client errors can echo request details (a bearer JWT holds the
 * access token), and a user's token store can throw errors that carry rows of
 * tokens, so every foreign message passes through here, and every error that
 * leaves the library is scrubbed by {@link scrubError}, whoever made it.
 */

const JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const PEM_BLOCK = /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g;
/** Runs of characters a token, key or verifier is written in (no `=`, so `token=abc` splits). */
const SECRET_CHARS = /[A-Za-z0-9_\-+/.~]{8,}/g;
const MAX_MESSAGE_LENGTH = 300;
/** Shortest secret worth redacting: shorter strings would redact ordinary words; real secrets are long. */
const MIN_SECRET_LENGTH = 8;
/** A run sharing this many leading characters with a secret is taken for a truncated copy of it. */
const PREFIX_LENGTH = 12;
const IDENTIFIER = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Replace every known secret, JWT-looking or PEM block in `text`, then bound
 * its length. Fragments count too: a run of token characters that is part of
 * a secret (a truncated copy, "first 20 characters of the token"), or that
 * starts with a secret's first 12 characters, is redacted whole.
 */
export function redact(text: string, secrets: Iterable<string> = [], maxLength = MAX_MESSAGE_LENGTH, keepLineBreaks = false): string {
  let out = text.replace(PEM_BLOCK, "[redacted-pem]").replace(JWT_LIKE, "[redacted-jwt]");
  // Control characters (CR/LF, escape sequences) would let a foreign message forge log lines; a stack keeps its lines.
  out = keepLineBreaks ? out.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, " ") : out.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
  const { scanned, indexed } = secretsOf(secrets);
  for (const secret of scanned) out = out.split(secret).join("[redacted]");
  if (scanned.length > 0 || indexed !== undefined) {
    out = out.replace(SECRET_CHARS, (run) =>
      scanned.some((secret) => secret.includes(run) || (secret.length >= PREFIX_LENGTH && run.includes(secret.slice(0, PREFIX_LENGTH)))) ||
      (indexed !== undefined && indexed.matches(run))
        ? "[redacted]"
        : run,
    );
  }
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
}

/**
 * Lists longer than this (every token a busy client has seen) are matched
 * through an index instead of one scan per secret: scanning 4,096 tokens cost
 * 35 ms per error, the index well under one.
 */
const SCAN_LIMIT = 32;
/** Characters a run of {@link SECRET_CHARS} is made of: a secret of only these can be indexed. */
const RUN_ONLY = /^[A-Za-z0-9_\-+/.~]+$/;

/**
 * Secrets made of run characters (tokens), indexed: a run is redacted when it
 * is one of them, or holds the first or last 12 characters of one (a copy, a
 * truncated copy, or a copy glued to other text). What the index does not
 * see, and the linear scan does: a fragment from the middle of a token.
 */
class SecretIndex {
  readonly #exact = new Set<string>();
  readonly #ends = new Set<string>();

  constructor(secrets: readonly string[]) {
    for (const secret of secrets) {
      this.#exact.add(secret);
      if (secret.length >= PREFIX_LENGTH) {
        this.#ends.add(secret.slice(0, PREFIX_LENGTH));
        this.#ends.add(secret.slice(-PREFIX_LENGTH));
      }
    }
  }

  matches(run: string): boolean {
    if (this.#exact.has(run)) return true;
    for (let at = 0; at + PREFIX_LENGTH <= run.length; at += 1) if (this.#ends.has(run.slice(at, at + PREFIX_LENGTH))) return true;
    return false;
  }
}

interface PreparedSecrets {
  /** Matched one by one (few, or with characters a run cannot hold: a PEM, a padded secret). */
  scanned: readonly string[];
  indexed: SecretIndex | undefined;
}

/** Prepared lists by array identity: a client passes the same array until it learns a new secret. */
const prepared = new WeakMap<object, PreparedSecrets>();

function secretsOf(secrets: Iterable<string>): PreparedSecrets {
  const known = typeof secrets === "object" && secrets !== null ? prepared.get(secrets) : undefined;
  if (known !== undefined) return known;
  const list = [...secrets].filter((secret) => secret.length >= MIN_SECRET_LENGTH);
  let result: PreparedSecrets;
  if (list.length <= SCAN_LIMIT) {
    result = { scanned: list, indexed: undefined };
  } else {
    const runOnly = list.filter((secret) => RUN_ONLY.test(secret));
    result = { scanned: list.filter((secret) => !RUN_ONLY.test(secret)), indexed: new SecretIndex(runOnly) };
  }
  if (Array.isArray(secrets) && Object.isFrozen(secrets)) prepared.set(secrets, result);
  return result;
}

/**
 * The pieces of a PEM key worth redacting: the whole text, its base64 body
 * (without armour or line breaks) and each body line, since a message may
 * quote any of them.
 */
export function pemSecrets(pem: string): string[] {
  const lines = pem
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("-----"));
  return [pem, lines.join(""), ...lines];
}

/** A code or name from a foreign error: a short identifier, or nothing. */
function identifier(value: unknown): string | undefined {
  return typeof value === "string" && IDENTIFIER.test(value) ? value : undefined;
}

/**
 * A stand-in for a foreign error (from a user's store, say) that keeps its
 * name, code and redacted message but drops everything else it referenced
 * (a database error's `detail`, `parameters`, `query`).
 */
export function sanitizeError(error: unknown, secrets: Iterable<string> = []): Error {
  const source = typeof error === "object" && error !== null ? (error as { name?: unknown; message?: unknown; code?: unknown }) : {};
  const message = typeof source.message === "string" ? source.message : String(error);
  const copy = new Error(redact(message, secrets));
  copy.name = identifier(source.name) ?? "Error";
  const code = identifier(source.code);
  if (code !== undefined) (copy as Error & { code?: string }).code = code;
  return copy;
}

/** Our own errors carry messages longer than a foreign one may (a list of invalid fields); still bounded. */
const MAX_OWN_MESSAGE_LENGTH = 4096;
const MAX_CAUSE_DEPTH = 4;

/**
 * Scrub an error in place before it leaves the library: redact its message,
 * stack and string fields, replace a foreign `cause` by a sanitized stand-in
 * (recursing into causes that are library errors), and drop any other object
 * it holds. In place, so an error emitted and also thrown stays one object.
 * Needed for errors of our own classes too: a user's store may construct a
 * `TokenStoreError` with a database error, rows and all, as its `cause`.
 */
export function scrubError<E>(error: E, secrets: readonly string[], depth = 0): E {
  // Idempotent, so scrubbing again with more secrets (at the boundary, say) is safe.
  if (!(error instanceof Error)) return error;
  const target = error as Error & Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(target)) {
    const value = target[key];
    if (key === "stack") continue;
    if (key === "cause") {
      const cause = depth < MAX_CAUSE_DEPTH && isLibraryError(value) ? scrubError(value, secrets, depth + 1) : value === undefined ? undefined : sanitizeError(value, secrets);
      Object.defineProperty(target, "cause", { value: cause, writable: true, configurable: true, enumerable: false });
    } else if (typeof value === "string") {
      setOwn(target, key, redact(value, secrets, MAX_OWN_MESSAGE_LENGTH));
    } else if (key === "issues" && Array.isArray(value)) {
      setOwn(target, key, value.map((issue: unknown) => scrubIssue(issue, secrets)));
    } else if (typeof value === "object" && value !== null && key !== "info") {
      // Anything else by reference (a row, a request) may hold what the message does not.
      setOwn(target, key, undefined);
    }
  }
  // `info` of SdkCallError is our own plain description; its strings are scrubbed like the rest.
  if (typeof target.info === "object" && target.info !== null) {
    const info = { ...(target.info as Record<string, unknown>) };
    for (const [k, v] of Object.entries(info)) if (typeof v === "string") info[k] = redact(v, secrets, MAX_OWN_MESSAGE_LENGTH);
    setOwn(target, "info", Object.freeze(info));
  }
  if (typeof target.stack === "string") setOwn(target, "stack", redact(target.stack, secrets, Number.POSITIVE_INFINITY, true));
  return error;
}

/**
 * Errors whose classes this library defines (ours, or a store's instance of
 * one of ours, or the SDK failure description): scrubbed field by field
 * rather than replaced, so their codes and details stay readable.
 */
function isLibraryError(value: unknown): value is Error {
  if (!(value instanceof Error)) return false;
  if (value.name === "SdkCallError" && "info" in value) return true;
  return typeof (value as { code?: unknown }).code === "string" && "retryable" in value;
}

function scrubIssue(issue: unknown, secrets: readonly string[]): unknown {
  if (typeof issue !== "object" || issue === null) return issue;
  const { path, message } = issue as { path?: unknown; message?: unknown };
  return Object.freeze({
    path: typeof path === "string" ? redact(path, secrets, MAX_OWN_MESSAGE_LENGTH) : "",
    message: typeof message === "string" ? redact(message, secrets, MAX_OWN_MESSAGE_LENGTH) : "",
  });
}

function setOwn(target: object, key: string, value: unknown): void {
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  if (descriptor !== undefined && !descriptor.configurable && !descriptor.writable) return;
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: descriptor?.enumerable ?? true });
}
