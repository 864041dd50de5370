/**
 * An existing Express 5 app with its own sign-in, to which digi.me writing
 * is added in four routes:
 *
 * - `GET /connect` begins the authorization and keeps the sealed bundle in an
 *   httpOnly cookie, then redirects to digi.me's consent page;
 * - `GET /callback` completes it (state, expiry and one-time use are checked
 *   against the cookie) and stores the user's token;
 * - `POST /upload` writes the uploaded file into the user's digi.me library;
 * - `GET /` shows the connection and what was delivered.
 *
 * Safe to copy: state-changing requests (sign-in, sign-out, upload) must come
 * from this app's own pages (an Origin check, plus a CSRF token on upload);
 * sessions expire; behind HTTPS the cookies are `Secure` and prefixed
 * (`__Host-` for the session, `__Secure-` for the bundle); the bundle cookie
 * is sent only to /callback and is cleared on sign-out.
 *
 * In your own app, import from "digime-write-pipeline" instead of ../../src.
 */
import { randomBytes } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import {
  AuthorizationDeniedError,
  AuthorizationStateError,
  AuthorizationUserMismatchError,
  DigimeWriteError,
  ValidationError,
  type WriteClient,
} from "../../src/index.js";
import { errorPage, homePage, loginPage, type DeliveredRow } from "./views.js";

export interface AppOptions {
  client: WriteClient;
  /** Shown in the footer: which digi.me the app talks to. */
  mode: string;
  /**
   * Set the `Secure` flag on cookies, so the browser sends them over HTTPS
   * only (a network attacker cannot read the session or the sealed bundle),
   * and use the `__Host-`/`__Secure-` name prefixes, which browsers accept
   * only on Secure cookies. True behind HTTPS (production); false for
   * http://127.0.0.1, where a Secure cookie would not be sent back.
   */
  secureCookies: boolean;
  /** The origin browsers show for this app (scheme, host, port), e.g. `https://app.example`: POSTs from any other are refused. */
  origin: string;
}

/** The cookie that carries the sealed authorization bundle from /connect to /callback (`__Secure-` prefixed behind HTTPS). */
export const AUTH_COOKIE = "digime_auth";
/** Where the bundle cookie is sent: only to the callback, nowhere else in the app. */
const AUTH_COOKIE_PATH = "/callback";
const AUTH_COOKIE_MAX_AGE_MS = 15 * 60_000; // the client's default authorizationTtlMs
/** A session ends this long after sign-in, whatever happens. */
const SESSION_TTL_MS = 8 * 60 * 60_000;

interface Session {
  userId: string;
  csrfToken: string;
  expiresAt: number;
}

/** A tiny cookie reader: Express 5 has none built in, and this is all the example needs. */
export function readCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === "" || cookies.has(name)) continue;
    try {
      cookies.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      // A malformed value is treated as absent.
    }
  }
  return cookies;
}

export function createApp(options: AppOptions): express.Express {
  const { client } = options;
  const footer = `Writing to ${options.mode} with digime-write-pipeline`;
  const sessions = new Map<string, Session>(); // your app's session store
  const delivered = new Map<string, DeliveredRow[]>(); // your app's database
  // __Host-: Secure, path "/", no Domain, so no other host (a subdomain) can set or overwrite it. Needs HTTPS.
  const sessionCookie = options.secureCookies ? "__Host-sid" : "sid";
  // __Secure- (not __Host-, which demands path "/"): the bundle cookie is scoped to the callback.
  const authCookie = options.secureCookies ? `__Secure-${AUTH_COOKIE}` : AUTH_COOKIE;
  const sessionCookieOptions = { httpOnly: true, sameSite: "lax", secure: options.secureCookies, path: "/" } as const;
  const authCookieOptions = { ...sessionCookieOptions, path: AUTH_COOKIE_PATH } as const;

  const app = express();
  app.disable("x-powered-by");

  // --- the app's own sign-in (stands in for whatever you already have) ---
  const sessionOf = (req: Request): Session | undefined => {
    const sid = readCookies(req.headers.cookie).get(sessionCookie) ?? "";
    const session = sessions.get(sid);
    if (session !== undefined && session.expiresAt <= Date.now()) {
      sessions.delete(sid);
      return undefined;
    }
    return session;
  };
  const requireUser = (req: Request, res: Response, next: NextFunction): void => {
    const session = sessionOf(req);
    if (session === undefined) return res.redirect(303, "/");
    res.locals.session = session;
    next();
  };
  /**
   * Refuse a state-changing request another site made the browser send
   * (login CSRF, forced sign-out, uploads). Browsers send Origin on every
   * POST; Sec-Fetch-Site covers the rare one that omits it.
   */
  const sameOrigin = (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.get("origin");
    const site = req.get("sec-fetch-site");
    const allowed = origin !== undefined ? origin === options.origin : site === undefined || site === "same-origin" || site === "none";
    if (!allowed) return void res.status(403).type("html").send(errorPage({ title: "Request refused", message: "This request did not come from this app's pages.", footer }));
    next();
  };

  app.post("/login", sameOrigin, express.urlencoded({ extended: false, limit: "2kb" }), (req, res) => {
    const name = String((req.body as { name?: unknown } | undefined)?.name ?? "").trim();
    if (!/^[\w .@-]{1,40}$/.test(name)) return res.status(400).type("html").send(errorPage({ title: "Sign-in failed", message: "Use 1 to 40 letters, digits, spaces, dots, dashes or @.", footer }));
    const now = Date.now();
    // A fresh id at every sign-in (no fixation), and expired sessions go, so the store stays bounded.
    sessions.delete(readCookies(req.headers.cookie).get(sessionCookie) ?? "");
    for (const [sid, session] of sessions) if (session.expiresAt <= now) sessions.delete(sid);
    const sid = randomBytes(32).toString("base64url");
    sessions.set(sid, { userId: name, csrfToken: randomBytes(32).toString("base64url"), expiresAt: now + SESSION_TTL_MS });
    res.cookie(sessionCookie, sid, { ...sessionCookieOptions, maxAge: SESSION_TTL_MS }).redirect(303, "/");
  });

  app.post("/logout", sameOrigin, (req, res) => {
    sessions.delete(readCookies(req.headers.cookie).get(sessionCookie) ?? "");
    // A connection begun but not finished must not complete for whoever signs in next in this browser.
    res.clearCookie(authCookie, authCookieOptions).clearCookie(sessionCookie, sessionCookieOptions).redirect(303, "/");
  });

  app.get("/", async (req, res) => {
    const session = sessionOf(req);
    if (session === undefined) return res.type("html").send(loginPage(footer));
    const status = await client.authorizationStatus(session.userId);
    const uploaded = typeof req.query.uploaded === "string" ? req.query.uploaded : undefined;
    const notice = req.query.connected === "1" ? "digi.me is connected." : uploaded !== undefined ? `${uploaded} was delivered to your digi.me library.` : undefined;
    res.type("html").send(
      homePage({ userId: session.userId, connected: status.status === "authorized", csrfToken: session.csrfToken, notice, delivered: delivered.get(session.userId) ?? [], footer }),
    );
  });

  // --- 1. begin: seal the bundle into an httpOnly cookie, send the user to digi.me ---
  app.get("/connect", requireUser, async (_req, res) => {
    const { userId } = res.locals.session as Session;
    const { url, sealed } = await client.beginAuthorization({ userId, context: { returnTo: "/?connected=1" } });
    res.cookie(authCookie, sealed, { ...authCookieOptions, maxAge: AUTH_COOKIE_MAX_AGE_MS }).redirect(303, url);
  });

  // --- 2. complete: digi.me redirects back here with code and state ---
  app.get("/callback", requireUser, async (req, res) => {
    const { userId } = res.locals.session as Session;
    const sealed = readCookies(req.headers.cookie).get(authCookie);
    res.clearCookie(authCookie, authCookieOptions); // one attempt per cookie, whatever the outcome
    try {
      // expectedUserId: checked before the code exchange, so a consent URL someone else started is never stored.
      // requireSealed: only this browser's cookie proves it began the connection; the pending store proves nothing.
      const result = await client.completeAuthorization(req.query as Record<string, unknown>, { sealed, expectedUserId: userId, requireSealed: true });
      res.redirect(303, (result.context as { returnTo: string }).returnTo);
    } catch (error) {
      if (error instanceof AuthorizationUserMismatchError) {
        return res.status(403).type("html").send(errorPage({ title: "digi.me connection failed", message: "This connection was started by another user. Please sign in as that user.", footer }));
      }
      res.status(error instanceof AuthorizationDeniedError ? 200 : 400).type("html").send(callbackErrorPage(error, footer));
    }
  });

  // --- 3. write: the uploaded bytes go to the user's library through the queue ---
  app.post("/upload", sameOrigin, requireUser, express.raw({ type: () => true, limit: "20mb" }), async (req, res) => {
    const session = res.locals.session as Session;
    if (req.get("x-csrf-token") !== session.csrfToken) return res.status(403).json({ code: "CSRF", message: "Reload the page and try again." });
    let fileName: string;
    try {
      fileName = decodeURIComponent(req.get("x-file-name") ?? "");
    } catch {
      fileName = "";
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      const receipt = await client.write(session.userId, {
        fileData: body,
        fileName,
        fileDescriptor: { mimeType: req.get("content-type") ?? "application/octet-stream", accounts: [{ accountId: "example-app" }] },
      });
      const rows = delivered.get(session.userId) ?? [];
      rows.unshift({ fileName, size: body.byteLength, status: receipt.status, attempts: receipt.attempts, at: new Date().toISOString() });
      delivered.set(session.userId, rows);
      res.status(201).json({ fileName, status: receipt.status, attempts: receipt.attempts });
    } catch (error) {
      const code = error instanceof DigimeWriteError ? error.code : "INTERNAL";
      const status = error instanceof ValidationError ? 400 : code === "USER_NOT_AUTHORIZED" || code === "REAUTHORIZATION_REQUIRED" ? 409 : 502;
      const message =
        status === 409 ? "Connect digi.me again, then retry." : error instanceof ValidationError ? error.message : "digi.me did not accept the file; please try again later.";
      res.status(status).json({ code, message });
    }
  });

  // Anything unexpected: a plain page, no stack trace, no details.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    console.error(error);
    res.status(500).type("html").send(errorPage({ title: "Something went wrong", message: "Please try again.", footer }));
  });
  return app;
}

/** What the user sees when a callback is refused: clear, and without internals. */
function callbackErrorPage(error: unknown, footer: string): string {
  const title = "digi.me connection failed";
  if (error instanceof AuthorizationDeniedError) {
    return errorPage({ title: "digi.me not connected", message: "You cancelled the connection at digi.me. Nothing was shared.", code: error.code, footer });
  }
  if (error instanceof AuthorizationStateError) {
    const message =
      error.code === "STATE_TAMPERED"
        ? "This connection request was altered or cannot be verified, so it was refused. Nothing was connected. Please start again."
        : error.code === "STATE_EXPIRED"
          ? "This connection request took too long and expired. Please start again."
          : error.code === "STATE_REPLAYED"
            ? "This connection request was already used. Please start again."
            : "This connection request does not match the one this browser started. Please start again.";
    return errorPage({ title, message, code: error.code, footer });
  }
  const code = error instanceof DigimeWriteError ? error.code : undefined;
  return errorPage({ title, message: "digi.me could not complete the connection. Please try again.", code, footer });
}
