/** HTML of the example app: plain template strings, every value escaped. */

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function layout(title: string, body: string, footer: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  .notice { padding: .5rem 1rem; background: #eef7ee; border-left: 4px solid #3a3; }
  .error { padding: .5rem 1rem; background: #fbeeee; border-left: 4px solid #c33; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ddd; }
  footer { margin-top: 3rem; color: #777; font-size: .85rem; }
</style>
</head>
<body>
${body}
<footer>${escapeHtml(footer)}</footer>
</body>
</html>`;
}

export function loginPage(footer: string): string {
  return layout(
    "Sign in",
    `<h1>Example app</h1>
<p>Sign in (any name: this stands in for your app's own login).</p>
<form method="post" action="/login">
  <label>Your name <input name="name" required maxlength="40" autofocus></label>
  <button type="submit">Sign in</button>
</form>`,
    footer,
  );
}

export interface DeliveredRow {
  fileName: string;
  size: number;
  status: string;
  attempts: number;
  at: string;
}

export function homePage(input: {
  userId: string;
  connected: boolean;
  csrfToken: string;
  notice?: string | undefined;
  delivered: readonly DeliveredRow[];
  footer: string;
}): string {
  const notice = input.notice === undefined ? "" : `<p class="notice" id="notice">${escapeHtml(input.notice)}</p>`;
  const connect = input.connected
    ? `<p id="digime-status">digi.me: <strong>connected</strong>. <a href="/connect">Connect again</a></p>`
    : `<p id="digime-status">digi.me: not connected.</p>
<p><a id="connect" href="/connect">Connect digi.me</a> to keep copies of your files in your own digi.me library.</p>`;
  const upload = input.connected
    ? `<h2>Send a file to digi.me</h2>
<form id="upload">
  <input type="file" id="file" required>
  <button type="submit">Upload</button>
</form>
<p class="error" id="upload-error" hidden></p>
<script>
  document.getElementById("upload").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("file").files[0];
    const response = await fetch("/upload", {
      method: "POST",
      headers: {
        "content-type": file.type || "application/octet-stream",
        "x-file-name": encodeURIComponent(file.name),
        "x-csrf-token": ${JSON.stringify(input.csrfToken)},
      },
      body: file,
    });
    if (response.ok) return location.assign("/?uploaded=" + encodeURIComponent(file.name));
    const problem = await response.json().catch(() => ({ message: response.statusText }));
    const box = document.getElementById("upload-error");
    box.textContent = problem.message;
    box.hidden = false;
  });
</script>`
    : "";
  const rows = input.delivered
    .map(
      (row) =>
        `<tr><td class="file-name">${escapeHtml(row.fileName)}</td><td>${escapeHtml(row.size)} bytes</td><td class="status">${escapeHtml(row.status)}</td><td>${escapeHtml(row.attempts)}</td><td>${escapeHtml(row.at)}</td></tr>`,
    )
    .join("\n");
  const delivered =
    input.delivered.length === 0
      ? `<p id="delivered-empty">Nothing delivered yet.</p>`
      : `<table id="delivered"><thead><tr><th>File</th><th>Size</th><th>Status</th><th>Attempts</th><th>When</th></tr></thead><tbody>
${rows}
</tbody></table>`;
  return layout(
    "Example app",
    `<h1>Hello, ${escapeHtml(input.userId)}</h1>
${notice}
${connect}
${upload}
<h2>Delivered to your digi.me library</h2>
${delivered}
<form method="post" action="/logout"><button type="submit">Sign out</button></form>`,
    input.footer,
  );
}

export function errorPage(input: { title: string; message: string; code?: string | undefined; footer: string }): string {
  return layout(
    input.title,
    `<h1>${escapeHtml(input.title)}</h1>
<p class="error" id="error-message">${escapeHtml(input.message)}</p>
${input.code === undefined ? "" : `<p>Error code: <code id="error-code">${escapeHtml(input.code)}</code></p>`}
<p><a href="/">Back to the app</a></p>`,
    input.footer,
  );
}
