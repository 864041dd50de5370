/**
 * Pages for a person, served by the loopback server when it listens with
 * `interactive: true` (the `digime-write-pipeline sandbox` dev server does):
 * a consent screen that asks (approve or deny) instead of approving at once,
 * and an overview at the server root listing the libraries and the files
 * delivered into them. Pages show ids, descriptors, sizes and hashes, never
 * a token, code, key or file content.
 * @module
 */
import { performConsent } from "../consent.js";
import type { EndpointContext } from "./context.js";
import type { HttpOutcome, SandboxHttpRequest } from "./exchange.js";

const HTML = { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" };
const STYLE =
  "body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}button{font-size:1rem;margin-right:.5rem;padding:.4rem 1rem}";

/**
 * Escape text for HTML element content and attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<a href="x">'); // "&lt;a href=&quot;x&quot;&gt;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(status: number, title: string, body: string): HttpOutcome {
  return {
    kind: "response",
    status,
    headers: HTML,
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`,
  };
}

/**
 * `GET <onboardUrl>authorize?code=…` in interactive mode: the consent screen
 * with an Approve and a Deny button. The form posts back to the same URL.
 *
 * @example
 * ```ts
 * const outcome = consentPage(ctx, request); // 200 text/html with two buttons
 * ```
 */
export function consentPage(ctx: EndpointContext, request: SandboxHttpRequest): HttpOutcome {
  const code = request.url.searchParams.get("code") ?? "";
  if (code === "" || !ctx.state.authorizations.isPendingOpen(code)) {
    return page(400, "Sandbox consent", `<h1>This authorization link cannot be used</h1><p id="problem">It is unknown, already used or expired. Start the connection again from the app.</p>`);
  }
  return page(
    200,
    "Sandbox consent",
    `<h1>digi.me sandbox: share with this app?</h1>
<p>Application <code>${escapeHtml(ctx.state.applicationId)}</code> asks to write files into your (simulated) digi.me library.</p>
<form method="post"><button id="approve" type="submit" name="decision" value="approve">Approve</button><button id="deny" type="submit" name="decision" value="deny">Deny</button></form>`,
  );
}

/**
 * `POST <onboardUrl>authorize?code=…` in interactive mode: the person's
 * decision (`decision=approve` or `decision=deny`, form-encoded); redirects
 * (303) to the app as `sandbox.consent(url, { approve })` would.
 *
 * @example
 * ```ts
 * const outcome = await consentDecision(ctx, request); // 303 to the app's callback
 * ```
 */
export async function consentDecision(ctx: EndpointContext, request: SandboxHttpRequest): Promise<HttpOutcome> {
  const decision = new URLSearchParams((await request.body()).toString("utf8")).get("decision");
  if (decision !== "approve" && decision !== "deny") {
    return page(400, "Sandbox consent", `<h1>Bad request</h1><p id="problem">The form field "decision" must be "approve" or "deny".</p>`);
  }
  let location: string;
  try {
    location = await performConsent(ctx.state, request.url.href, { approve: decision === "approve" });
  } catch (error) {
    // Consent errors are fixed texts about the URL (unknown, used, expired), never its values.
    const message = error instanceof Error ? error.message : "Sandbox consent failed";
    return page(400, "Sandbox consent", `<h1>This authorization link cannot be used</h1><p id="problem">${escapeHtml(message)}</p>`);
  }
  return { kind: "response", status: 303, headers: { ...HTML, location }, body: "" };
}

/**
 * `GET /` in interactive mode: the application, the URLs to give the SDK,
 * and every library with its delivered files (newest last).
 *
 * @example
 * ```ts
 * const outcome = overviewPage(ctx); // 200 text/html
 * ```
 */
export function overviewPage(ctx: EndpointContext): HttpOutcome {
  const libraries = ctx.state.libraries.views();
  const rows = libraries.flatMap((library) =>
    library.files.map(
      (file) =>
        `<tr class="file"><td>${escapeHtml(library.id)}</td><td>${escapeHtml(new Date(file.deliveredAt).toISOString())}</td><td>${escapeHtml(file.fileDescriptor.mimeType)}</td><td>${escapeHtml(file.fileDescriptor.reference?.join(", ") ?? file.fileName)}</td><td>${file.size}</td><td><code>${file.sha256.slice(0, 16)}…</code></td><td>${file.generation}</td></tr>`,
    ),
  );
  const files =
    rows.length === 0
      ? `<p id="no-files">No files delivered yet.</p>`
      : `<table id="files"><thead><tr><th>library</th><th>delivered</th><th>mime type</th><th>reference / name</th><th>bytes</th><th>sha256</th><th>generation</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  return page(
    200,
    "digi.me sandbox",
    `<h1>digi.me sandbox</h1>
<dl><dt>application id</dt><dd><code id="application-id">${escapeHtml(ctx.state.applicationId)}</code></dd>
<dt>contract id</dt><dd><code id="contract-id">${escapeHtml(ctx.state.defaultContract.contractId)}</code></dd>
<dt>baseUrl</dt><dd><code>${escapeHtml(ctx.mount.baseUrl)}</code></dd>
<dt>onboardUrl</dt><dd><code>${escapeHtml(ctx.mount.onboardUrl)}</code></dd></dl>
<h2>Libraries (${libraries.length}) and delivered files (${rows.length})</h2>
${files}`,
  );
}
