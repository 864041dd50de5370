/**
 * `POST <baseUrl>permission-access/postbox/<postboxId>` (generation A, SDK
 * 5.x–8.x). A multipart form whose `file` part is the AES ciphertext; the
 * signed claims add `access_token` (only when the SDK has one), `iv`,
 * `metadata` and `symmetrical_key` (see `postbox-crypto.ts`). The answer is
 * `{ status, expires }`: `pending` (nothing stored) for a stale or missing
 * access token, which makes the SDK refresh and push once more.
 * @module
 */
import { z } from "zod";
import { writeToPostbox } from "../server.js";
import { parseOrReject } from "./claims.js";
import type { EndpointContext } from "./context.js";
import { invalidRequest, jsonOutcome, type HttpOutcome, type SandboxHttpRequest } from "./exchange.js";
import { unsealUpload } from "./postbox-crypto.js";
import { readSignedRequest, signatureProof } from "./signed-request.js";

const claimsSchema = z.object({
  access_token: z.string().optional(),
  iv: z.string().regex(/^[0-9a-fA-F]{32}$/),
  metadata: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
  symmetrical_key: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
});

/** The `file` part of a multipart body: its bytes and file name. */
async function filePartOf(request: SandboxHttpRequest): Promise<{ bytes: Buffer; fileName: string }> {
  const contentType = request.header("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType)) throw invalidRequest("The postbox expects a multipart/form-data body");
  let form: FormData;
  try {
    // The Fetch API's multipart parser, over the bytes as received.
    form = await new Response(await request.body(), { headers: { "content-type": contentType } }).formData();
  } catch {
    throw invalidRequest("The multipart body could not be parsed");
  }
  const part = form.get("file");
  if (part === null || typeof part === "string") throw invalidRequest("The multipart body has no `file` part");
  return { bytes: Buffer.from(await part.arrayBuffer()), fileName: part.name };
}

/**
 * Handle a postbox write.
 *
 * @example
 * ```ts
 * const outcome = await handlePostbox(ctx, request, { postboxId });
 * ```
 */
export async function handlePostbox(ctx: EndpointContext, request: SandboxHttpRequest, params: Record<string, string>): Promise<HttpOutcome> {
  const signed = readSignedRequest(request);
  const claims = parseOrReject(claimsSchema, signed.claims, "postbox request token");
  const part = await filePartOf(request);
  const sealed = { symmetricalKey: claims.symmetrical_key, iv: claims.iv, metadata: claims.metadata, fileName: part.fileName, keepBytes: ctx.state.keepFileBytes };
  const result = await writeToPostbox(ctx.state, {
    contract: signatureProof(ctx, signed),
    postboxId: params.postboxId ?? "",
    // The SDK leaves the claim out when it has no token; an empty one counts as none.
    accessToken: claims.access_token === "" ? undefined : claims.access_token,
    body: async () => part.bytes,
    unseal: (upload, postbox) => unsealUpload(sealed, Buffer.isBuffer(upload) ? upload : upload.bytes, postbox),
  });
  return jsonOutcome(200, result);
}
