/**
 * A digi.me API client written from the wire protocol alone, for the HTTP
 * conformance tests: it signs with `jose` and encrypts with `node:crypto`,
 * never with the sandbox's own code, so the sandbox is checked against the
 * protocol rather than against itself.
 */
import { constants, createCipheriv, createHash, createPrivateKey, publicEncrypt, randomBytes, randomInt } from "node:crypto";
import { decodeProtectedHeader, importSPKI, jwtVerify, SignJWT, type JWTPayload } from "jose";

const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** `length` random letters and digits (the SDK's nonce alphabet). */
export function alphanumeric(length: number): string {
  let text = "";
  for (let index = 0; index < length; index += 1) text += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return text;
}

/** A PKCE pair as the SDK makes it: verifier = base64url of 32 alphanumerics, challenge = base64url(sha256(verifier)). */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = Buffer.from(alphanumeric(32)).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** Who signs: the application and one of its contracts. */
export interface Signer {
  applicationId: string;
  contractId: string;
  privateKey: string;
}

/** Options to break a request on purpose. */
export interface SignOptions {
  /** Claims to leave out (e.g. "nonce"). */
  omit?: string[];
  /** Override the standard claims. */
  nonce?: unknown;
  timestamp?: unknown;
  clientId?: unknown;
  /** Sign with this key instead of the contract's. */
  signWith?: string;
}

/** A bearer JWT as the SDK signs it: PS512, no iat, client_id/nonce/timestamp plus `claims`. */
export async function signRequest(signer: Signer, claims: Record<string, unknown>, options: SignOptions = {}): Promise<string> {
  const payload: Record<string, unknown> = {
    client_id: options.clientId ?? `${signer.applicationId}_${signer.contractId}`,
    nonce: options.nonce ?? alphanumeric(32),
    timestamp: options.timestamp ?? Date.now(),
    ...claims,
  };
  for (const name of options.omit ?? []) delete payload[name];
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: "PS512", typ: "JWT" }).sign(createPrivateKey(options.signWith ?? signer.privateKey));
}

/** The `FileDescriptor` header JWT: `{ metadata }`, PS512 with the contract key, nothing else. */
export async function signDescriptor(privateKey: string, metadata: unknown): Promise<string> {
  return new SignJWT({ metadata } as JWTPayload).setProtectedHeader({ alg: "PS512", typ: "JWT" }).sign(createPrivateKey(privateKey));
}

/** What a postbox write signs and uploads, encrypted as SDK 8.x does. */
export interface SealedPostboxUpload {
  claims: { iv: string; metadata: string; symmetrical_key: string };
  cipherText: Buffer;
}

/** AES-256-CBC with a random key and IV; the key RSA-OAEP(SHA-1)-encrypted to the postbox key, as node-rsa does by default. */
export function sealForPostbox(publicKey: string, bytes: Buffer, descriptor: unknown): SealedPostboxUpload {
  const key = randomBytes(32);
  const iv = randomBytes(16);
  const encrypt = (input: Buffer) => {
    const cipher = createCipheriv("aes-256-cbc", key, iv);
    return Buffer.concat([cipher.update(input), cipher.final()]);
  };
  return {
    claims: {
      iv: iv.toString("hex"),
      metadata: encrypt(Buffer.from(JSON.stringify(descriptor))).toString("base64"),
      symmetrical_key: publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, key).toString("base64"),
    },
    cipherText: encrypt(bytes),
  };
}

/** A response read once: status, headers, text, and the JSON when it is JSON. */
export interface WireAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** POST or GET and read the whole answer. */
export async function call(url: string, init: RequestInit = {}): Promise<WireAnswer> {
  const response = await fetch(url, { redirect: "manual", ...init });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** POST with a bearer JWT and a JSON body (or raw text, to send garbage). */
export function postSigned(url: string, jwt: string | undefined, body?: string, headers: Record<string, string> = {}): Promise<WireAnswer> {
  return call(url, {
    method: "POST",
    headers: { ...(jwt === undefined ? {} : { authorization: `Bearer ${jwt}` }), ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body }),
  });
}

/**
 * Verify a token the server returned the way the SDK does: decode the
 * header, GET its `jku`, pick the key by `kid`, verify PS512 with its `pem`.
 */
export async function verifyServerToken(token: string): Promise<{ payload: JWTPayload; jku: string; kid: string }> {
  const header = decodeProtectedHeader(token);
  if (typeof header.jku !== "string" || typeof header.kid !== "string") throw new Error("token header lacks jku or kid");
  const jwks = await call(header.jku);
  const entry = (jwks.json?.keys as Array<{ kid?: string; pem?: string }> | undefined)?.find((key) => key.kid === header.kid);
  if (entry?.pem === undefined) throw new Error("no JWKS entry with a pem for the token's kid");
  const { payload } = await jwtVerify(token, await importSPKI(entry.pem, "PS512"), { algorithms: ["PS512"] });
  return { payload, jku: header.jku, kid: header.kid };
}
