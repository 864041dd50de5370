/**
 * Pages for a person, served by the loopback server when it listens with
 * `interactive: true` (the `digime-write-pipeline sandbox` dev server does):
 * a consent screen that asks (approve or deny) instead of approving at once,
 * and an overview at the server root: the application, the users
 * (libraries) with their tokens' state and the files delivered to them, the
 * fault rules and counters, refreshed by itself every two seconds, with
 * controls to expire a user's tokens, add and clear faults, and reset.
 * Pages show ids, descriptors, sizes, hashes and expiry times, never a
 * token, code, key or file content. Every form carries a token (see
 * dev-security.ts).
 * @module
 */
import { performConsent } from "../consent.js";
import type { EndpointContext } from "./context.js";
import type { ControlOutcome } from "./dev-controls.js";
import { PAGE_HEADERS, type FormTokens } from "./dev-security.js";
import type { HttpOutcome, SandboxHttpRequest } from "./exchange.js";

/** What the pages need beyond the endpoints' context. */
export interface DevPagesContext extends EndpointContext {
  readonly forms: FormTokens;
}

/** The purpose the control forms' token is made for. */
export const CONTROLS_PURPOSE = "controls";
const consentPurpose = (code: string) => `consent:${code}`;

const STYLE =
  "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}" +
  "button{font-size:1rem;margin-right:.5rem;padding:.4rem 1rem}td button{font-size:.85rem;padding:.2rem .5rem}form.inline{display:inline}.note{padding:.5rem;background:#eef6ee;border:1px solid #9c9}.problem{background:#fbeaea;border-color:#d99}" +
  "fieldset{margin:.5rem 0}label{margin-right:.75rem}input[type=number]{width:5rem}pre{background:#f4f4f4;padding:.5rem;overflow:auto}";

// Refresh the live part of the overview every two seconds, without touching the forms outside it.
const LIVE_SCRIPT = `<script>
setInterval(async () => {
  try {
    const response = await fetch("/_sandbox/live", { cache: "no-store" });
    if (!response.ok) return;
    const html = await response.text();
    const live = document.getElementById("live");
    if (live && live.innerHTML !== html) live.innerHTML = html;
  } catch {}
}, 2000);
</script>`;

/**
 * Escape text for HTML element content and attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<a href="x">'); // "&#60;a href=&#34;x&#34;&#62;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(status: number, title: string, body: string): HttpOutcome {
  return {
    kind: "response",
    status,
    headers: { ...PAGE_HEADERS },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`,
  };
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

async function formOf(request: SandboxHttpRequest): Promise<URLSearchParams> {
  return new URLSearchParams((await request.body()).toString("utf8"));
}

const forbidden = () =>
  page(403, "Sandbox", `<h1>Forbidden</h1><p id="problem">This form's token is missing or wrong. Load the page again and retry; forms from other sites are refused.</p>`);

/**
 * `GET <onboardUrl>authorize?code=…` in interactive mode: the consent screen
 * with an Approve and a Deny button. The form posts back to the same URL
 * with a token bound to this code.
 *
 * @example
 * ```ts
 * const outcome = consentPage(ctx, request); // 200 text/html with two buttons
 * ```
 */
export function consentPage(ctx: DevPagesContext, request: SandboxHttpRequest): HttpOutcome {
  const code = request.url.searchParams.get("code") ?? "";
  if (code === "" || !ctx.state.authorizations.isPendingOpen(code)) {
    return page(400, "Sandbox consent", `<h1>This authorization link cannot be used</h1><p id="problem">It is unknown, already used or expired. Start the connection again from the app.</p>`);
  }
  return page(
    200,
    "Sandbox consent",
    `<h1>digi.me sandbox: share with this app?</h1>
<p>Application <code>${escapeHtml(ctx.state.applicationId)}</code> asks to write files into your (simulated) digi.me library.</p>
<form method="post">${hidden("csrf", ctx.forms.token(consentPurpose(code)))}<button id="approve" type="submit" name="decision" value="approve">Approve</button><button id="deny" type="submit" name="decision" value="deny">Deny</button></form>`,
  );
}

/**
 * `POST <onboardUrl>authorize?code=…` in interactive mode: the person's
 * decision (`decision=approve` or `decision=deny`, form-encoded, with the
 * page's `csrf` token); redirects (303) to the app as
 * `sandbox.consent(url, { approve })` would.
 *
 * @example
 * ```ts
 * const outcome = await consentDecision(ctx, request); // 303 to the app's callback
 * ```
 */
export async function consentDecision(ctx: DevPagesContext, request: SandboxHttpRequest): Promise<HttpOutcome> {
  const form = await formOf(request);
  const code = request.url.searchParams.get("code") ?? "";
  if (!ctx.forms.verify(consentPurpose(code), form.get("csrf"))) return forbidden();
  const decision = form.get("decision");
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
  return { kind: "response", status: 303, headers: { ...PAGE_HEADERS, location }, body: "" };
}

/**
 * `POST /_sandbox/<control>` in interactive mode: check the form's token,
 * run the control, and send the person back to the overview, which shows
 * what was done (or why not).
 *
 * @example
 * ```ts
 * const outcome = await controlPost(ctx, request, (form) => expireTokens(ctx.state, form));
 * ```
 */
export async function controlPost(ctx: DevPagesContext, request: SandboxHttpRequest, control: (form: URLSearchParams) => ControlOutcome): Promise<HttpOutcome> {
  const form = await formOf(request);
  if (!ctx.forms.verify(CONTROLS_PURPOSE, form.get("csrf"))) return forbidden();
  const outcome = control(form);
  const query = outcome.ok ? `done=${encodeURIComponent(outcome.done)}` : `problem=${encodeURIComponent(outcome.problem)}`;
  return { kind: "response", status: 303, headers: { ...PAGE_HEADERS, location: `/?${query}` }, body: "" };
}

function when(epochSeconds: number, nowSeconds: number): string {
  const left = epochSeconds - nowSeconds;
  if (left <= 0) return "expired";
  if (left >= 86_400) return `${Math.floor(left / 86_400)} d left`;
  if (left >= 3600) return `${Math.floor(left / 3600)} h left`;
  return left >= 60 ? `${Math.floor(left / 60)} min left` : `${left} s left`;
}

function usersTable(ctx: DevPagesContext): string {
  const libraries = ctx.state.libraries.views();
  if (libraries.length === 0) return `<p id="no-users">No users yet: authorize one from your app.</p>`;
  const now = ctx.state.clock.nowSeconds();
  const csrf = hidden("csrf", ctx.forms.token(CONTROLS_PURPOSE));
  const rows = libraries.map((library) => {
    const latest = ctx.state.tokens.latest(library.id, ctx.state.defaultContract.contractId);
    const access = latest === undefined ? "none" : latest.accessRevoked ? "expired" : when(latest.accessToken.expiry, now);
    const refresh = latest === undefined ? "none" : latest.refreshRevoked || latest.refreshUsed ? "expired" : when(latest.refreshToken.expiry, now);
    const expire = (kind: "access" | "refresh", label: string) =>
      `<form class="inline" method="post" action="/_sandbox/expire">${csrf}${hidden("library", library.id)}${hidden("kind", kind)}<button type="submit" data-library="${escapeHtml(library.id)}" data-kind="${kind}">${label}</button></form>`;
    return `<tr class="user"><td><code>${escapeHtml(library.id)}</code></td><td>${library.files.length}</td><td>${access}</td><td>${refresh}</td><td>${expire("access", "Expire access token")}${expire("refresh", "Expire refresh token")}</td></tr>`;
  });
  return `<table id="users"><thead><tr><th>library (user)</th><th>files</th><th>access token</th><th>refresh token</th><th>controls</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function faultsList(ctx: DevPagesContext): string {
  const rules = ctx.state.faults.list();
  if (rules.length === 0) return `<p id="no-faults">No fault rules.</p>`;
  const items = rules.map(({ rule, hits, remaining }) => {
    const text = Object.entries(rule)
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(", ");
    return `<li class="fault"><code>${escapeHtml(text)}</code>: ${hits} hit(s), ${Number.isFinite(remaining) ? `${remaining} left` : "no limit"}</li>`;
  });
  return `<ul id="faults">${items.join("")}</ul>`;
}

function filesTable(ctx: DevPagesContext): string {
  const rows = ctx.state.libraries.views().flatMap((library) =>
    library.files.map(
      (file) =>
        `<tr class="file"><td>${escapeHtml(library.id)}</td><td>${escapeHtml(new Date(file.deliveredAt).toISOString())}</td><td>${escapeHtml(file.fileDescriptor.mimeType)}</td><td>${escapeHtml(file.fileDescriptor.reference?.join(", ") ?? file.fileName)}</td><td>${file.size}</td><td><code>${file.sha256.slice(0, 16)}…</code></td><td>${file.generation}</td></tr>`,
    ),
  );
  const table =
    rows.length === 0
      ? `<p id="no-files">No files delivered yet.</p>`
      : `<table id="files"><thead><tr><th>library</th><th>delivered</th><th>mime type</th><th>reference / name</th><th>bytes</th><th>sha256</th><th>generation</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  return `<h2>Delivered files (${rows.length})</h2>${table}`;
}

/**
 * The part of the overview that changes: users, faults, counters, files.
 * `GET /_sandbox/live` serves it alone for the page's refresh.
 *
 * @example
 * ```ts
 * const html = liveSection(ctx);
 * ```
 */
export function liveSection(ctx: DevPagesContext): string {
  const counters = Object.entries(ctx.state.counters)
    .map(([name, value]) => `<td>${escapeHtml(name)}: <strong>${String(value)}</strong></td>`)
    .join("");
  return `<h2>Users (${ctx.state.libraries.views().length})</h2>${usersTable(ctx)}
<h2>Fault rules</h2>${faultsList(ctx)}
<h2>Counters</h2><table id="counters"><tr>${counters}</tr></table>
${filesTable(ctx)}`;
}

/**
 * `GET /_sandbox/live` in interactive mode: the live part of the overview.
 *
 * @example
 * ```ts
 * const outcome = livePage(ctx); // 200 text/html fragment
 * ```
 */
export function livePage(ctx: DevPagesContext): HttpOutcome {
  return { kind: "response", status: 200, headers: { ...PAGE_HEADERS }, body: liveSection(ctx) };
}

/**
 * `GET /` in interactive mode: the application, the URLs to give the SDK,
 * the live state (refreshed every two seconds) and the controls.
 *
 * @example
 * ```ts
 * const outcome = overviewPage(ctx, request); // 200 text/html
 * ```
 */
export function overviewPage(ctx: DevPagesContext, request?: SandboxHttpRequest): HttpOutcome {
  const done = request?.url.searchParams.get("done");
  const problem = request?.url.searchParams.get("problem");
  const note =
    problem !== null && problem !== undefined
      ? `<p id="note" class="note problem">${escapeHtml(problem)}</p>`
      : done !== null && done !== undefined
        ? `<p id="note" class="note">Done: ${escapeHtml(done)}</p>`
        : "";
  const csrf = hidden("csrf", ctx.forms.token(CONTROLS_PURPOSE));
  const options = (values: readonly string[]) => values.map((v) => `<option value="${v}">${v === "" ? "(any)" : v}</option>`).join("");
  return page(
    200,
    "digi.me sandbox",
    `<h1>digi.me sandbox</h1>${note}
<dl><dt>application id</dt><dd><code id="application-id">${escapeHtml(ctx.state.applicationId)}</code></dd>
<dt>contract id</dt><dd><code id="contract-id">${escapeHtml(ctx.state.defaultContract.contractId)}</code></dd>
<dt>baseUrl</dt><dd><code>${escapeHtml(ctx.mount.baseUrl)}</code></dd>
<dt>onboardUrl</dt><dd><code>${escapeHtml(ctx.mount.onboardUrl)}</code></dd></dl>
<div id="live">${liveSection(ctx)}</div>
<h2>Controls</h2>
<form id="add-fault" method="post" action="/_sandbox/faults"><fieldset><legend>Add a fault rule</legend>${csrf}
<label>endpoint <select name="endpoint">${options(["", "import", "postbox", "token", "authorize", "jwks"])}</select></label>
<label>status <input type="number" name="status" min="400" max="599" value="503"></label>
<label>retry-after (s) <input type="number" name="retry-after" min="0"></label>
<label>network <select name="network">${options(["", "ECONNRESET", "ETIMEDOUT", "ECONNREFUSED", "EAI_AGAIN"])}</select></label>
<label>times <input type="number" name="times" min="0" value="1"></label>
<button id="add-fault-button" type="submit">Add fault</button></fieldset></form>
<form class="inline" method="post" action="/_sandbox/faults/clear">${csrf}<button id="clear-faults" type="submit">Clear faults</button></form>
<form class="inline" method="post" action="/_sandbox/reset">${csrf}<button id="reset" type="submit">Reset sandbox</button></form>
<p>Reset forgets every user, token, file and fault rule; the application and contract stay, so your app's settings keep working (its stored tokens do not).</p>
${LIVE_SCRIPT}`,
  );
}
