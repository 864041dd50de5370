/**
 * `POST <baseUrl>permission-access/import` (generations B and C, SDK 9.x and
 * later). The body is the raw file; the `FileDescriptor` header is a PS512
 * JWT `{ metadata: <descriptor> }` signed with the contract key; the bearer
 * claims add `access_token`. The Content-Type is not checked: 10.x spells
 * the header `contentType`, so it never sends one. A stale or unknown access
 * token gets a bare 401, the answer on which every SDK of these generations
 * refreshes and pushes once more. The file name is not on the wire.
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { importFile, type ReceivedBody } from "../server.js";
import { fileDescriptorSchema, parseOrReject } from "./claims.js";
import type { EndpointContext } from "./context.js";
import { invalidRequest, jsonOutcome, type HttpOutcome, type SandboxHttpRequest } from "./exchange.js";
import { decodePs512, readSignedRequest, signatureProof } from "./signed-request.js";

const claimsSchema = z.object({ access_token: z.string().min(1) });
const descriptorPayloadSchema = z.object({ metadata: fileDescriptorSchema });
const DESCRIPTOR = "FileDescriptor header";

/**
 * Handle an import write.
 *
 * @example
 * ```ts
 * const outcome = await handleImport(ctx, request);
 * ```
 */
export async function handleImport(ctx: EndpointContext, request: SandboxHttpRequest): Promise<HttpOutcome> {
  const signed = readSignedRequest(request);
  const claims = parseOrReject(claimsSchema, signed.claims, "import request token");
  const descriptorJwt = request.header("filedescriptor");
  if (descriptorJwt === undefined || descriptorJwt.trim() === "") throw invalidRequest(`The import needs a ${DESCRIPTOR}`);
  const { metadata } = parseOrReject(descriptorPayloadSchema, decodePs512(descriptorJwt.trim(), DESCRIPTOR), DESCRIPTOR);
  const bytes = await request.body();
  const consentId = ctx.state.tokens.consentOfAccess(claims.access_token);
  const generation = (consentId === undefined ? undefined : ctx.http.generations.get(consentId)) === "B" ? "B" : "C";
  await importFile(ctx.state, {
    contract: signatureProof(ctx, signed, [{ jwt: descriptorJwt.trim(), name: DESCRIPTOR }]),
    accessToken: claims.access_token,
    fileName: undefined,
    fileDescriptor: metadata,
    generation,
    body: async (): Promise<Buffer | ReceivedBody> =>
      ctx.state.keepFileBytes ? bytes : { bytes: Buffer.alloc(0), size: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") },
  });
  return jsonOutcome(200, {});
}
