/**
 * Removes secrets from text that may end up in an error message or event.
 * SDK and HTTP-client errors can echo request details (a bearer JWT holds the
 * access token), so every foreign message passes through here first.
 */

const JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const PEM_BLOCK = /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g;
const MAX_MESSAGE_LENGTH = 300;

/** Replace every known secret, JWT-looking or PEM block in `text`, then bound its length. */
export function redact(text: string, secrets: Iterable<string> = []): string {
  let out = text.replace(PEM_BLOCK, "[redacted-pem]").replace(JWT_LIKE, "[redacted-jwt]");
  for (const secret of secrets) {
    // Short strings would redact ordinary words; real secrets are long.
    if (secret.length >= 8) out = out.split(secret).join("[redacted]");
  }
  return out.length > MAX_MESSAGE_LENGTH ? `${out.slice(0, MAX_MESSAGE_LENGTH)}…` : out;
}

/**
 * A stand-in for a foreign error (from a user's store, say) that keeps its
 * name, code and redacted message but drops everything else it referenced.
 */
export function sanitizeError(error: unknown, secrets: Iterable<string> = []): Error {
  const source = typeof error === "object" && error !== null ? (error as { name?: unknown; message?: unknown; code?: unknown }) : {};
  const message = typeof source.message === "string" ? source.message : String(error);
  const copy = new Error(redact(message, secrets));
  copy.name = typeof source.name === "string" ? source.name : "Error";
  if (typeof source.code === "string") (copy as Error & { code?: string }).code = source.code;
  return copy;
}
