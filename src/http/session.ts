import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import type { Request, RequestHandler, Response } from "express";
import { isLoopback, type LocalCaller } from "./auth.js";

/**
 * The console's sessions: a login form checks a console user's bcrypt hash (or the admin token) and
 * sets an HttpOnly, SameSite=Strict cookie that carries the user and its expiry, signed with a key
 * derived from the configured credentials: every replica with the same config accepts it, and
 * changing a credential ends every session. Forms carry a CSRF token bound to the session. Without
 * any credential configured the console answers on loopback only, like the admin endpoints, and the
 * CSRF token still guards its forms (a page elsewhere can make a browser post to 127.0.0.1).
 */

export const SESSION_COOKIE = "alertdesk_session";
const SESSION_MS = 12 * 3_600_000;

export interface ConsoleCredentials {
  adminToken?: string;
  /** Console users: name → bcrypt hash (`console_users`). */
  users?: Readonly<Record<string, string>>;
  /**
   * The secret that signs sessions (`console_session_secret`): the same on every replica to share
   * them. Unset: a random key of this process. Never the credentials alone: bcrypt hashes are often
   * kept where many can read them, and a key made of them would let anyone forge a session.
   */
  sessionSecret?: string;
  /** Reads need a credential (read_token, read_users): without a console login, the console then answers nobody. */
  readsLocked?: boolean;
}

export interface ConsoleSession {
  user: string;
  expiresAt: number;
}

export interface ConsoleSessions {
  /** Whether any credential is configured (else: loopback only, no login). */
  readonly required: boolean;
  /** The session of the request's cookie, when it is valid and not expired. */
  sessionOf(req: Request): ConsoleSession | undefined;
  /** The CSRF token a form of this request must carry back. */
  csrfToken(req: Request): string;
  /** Whether a changing request carries the right CSRF token (form field `_csrf` or header `X-CSRF-Token`) and, when it says, our origin. */
  csrfValid(req: Request): boolean;
  /** Checks a login; sets the cookie on success. */
  login(res: Response, user: string, password: string): Promise<boolean>;
  logout(res: Response): void;
  /**
   * Guards console pages: a valid session (or loopback, without credentials). Else pages redirect to
   * the login form and everything else answers 401/403.
   */
  guard(options?: { loginPath: string }): RequestHandler;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString("base64url");
}

function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `localhost`, `127.x.y.z` or `[::1]`, with any port; also no Host at all (HTTP/1.0 tools). */
function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const name = host.replace(/:\d+$/, "").toLowerCase();
  return name === "localhost" || name === "[::1]" || /^127(\.\d{1,3}){3}$/.test(name);
}

function equal(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}

export function createConsoleSessions(
  credentials: ConsoleCredentials,
  options: { isLocal?: LocalCaller; now?: () => number; secure?: boolean; compare?: (password: string, hash: string) => Promise<boolean> } = {},
): ConsoleSessions {
  const users = new Map(Object.entries(credentials.users ?? {}));
  const required = Boolean(credentials.adminToken) || users.size > 0;
  const isLocal = options.isLocal ?? isLoopback;
  const now = options.now ?? Date.now;
  const compare = options.compare ?? ((password: string, hash: string) => bcrypt.compare(password, hash));
  // Derived from the credentials, so replicas agree and a changed credential ends every session; a
  // random key when there is none (loopback only: the key guards CSRF tokens, nothing else).
  const secret = credentials.sessionSecret ?? randomBytes(32).toString("hex");
  const material = `alertdesk console\u0000${secret}\u0000${credentials.adminToken ?? ""}\u0000${[...users.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([u, h]) => `${u}=${h}`)
    .join("\u0000")}`;
  const key = createHash("sha256").update(material).digest();
  const sign = (text: string) => createHmac("sha256", key).update(text).digest("base64url");
  const anyHash = [...users.values()][0] ?? "";

  function sessionOf(req: Request): ConsoleSession | undefined {
    const raw = cookieOf(req, SESSION_COOKIE);
    if (!raw) return undefined;
    const dot = raw.lastIndexOf(".");
    if (dot < 0) return undefined;
    const payload = raw.slice(0, dot);
    if (!equal(sign(payload), raw.slice(dot + 1))) return undefined;
    const [user, expires] = Buffer.from(payload, "base64url").toString("utf8").split("\u0000");
    const expiresAt = Number(expires);
    // Never longer than a login gives, whatever a cookie says.
    if (!user || !Number.isFinite(expiresAt) || expiresAt <= now() || expiresAt > now() + SESSION_MS) return undefined;
    return { user, expiresAt };
  }

  function csrfToken(req: Request): string {
    const s = sessionOf(req);
    return sign(`csrf\u0000${s ? `${s.user}\u0000${s.expiresAt}` : "anonymous"}`);
  }

  function sameOrigin(req: Request): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }

  function csrfValid(req: Request): boolean {
    const body = req.body as Record<string, unknown> | undefined;
    const presented = (typeof body?._csrf === "string" ? body._csrf : undefined) ?? req.get("x-csrf-token");
    return typeof presented === "string" && equal(presented, csrfToken(req)) && sameOrigin(req);
  }

  function setCookie(res: Response, value: string, maxAgeSeconds: number): void {
    const parts = [`${SESSION_COOKIE}=${value}`, "Path=/", "HttpOnly", "SameSite=Strict", `Max-Age=${maxAgeSeconds}`];
    if (options.secure) parts.push("Secure");
    res.append("Set-Cookie", parts.join("; "));
  }

  return {
    required,
    sessionOf,
    csrfToken,
    csrfValid,
    async login(res, user, password) {
      let ok = false;
      if (credentials.adminToken && user === "admin") ok = equal(password, credentials.adminToken);
      else {
        const hash = users.get(user);
        // An unknown user is checked against a real hash too: the time taken does not tell which names exist.
        ok = (await compare(password, hash ?? anyHash).catch(() => false)) && hash !== undefined;
      }
      if (!ok) return false;
      const expiresAt = now() + SESSION_MS;
      const payload = b64url(`${user}\u0000${expiresAt}`);
      setCookie(res, `${payload}.${sign(payload)}`, SESSION_MS / 1000);
      return true;
    },
    logout(res) {
      setCookie(res, "", 0);
    },
    guard(guardOptions) {
      return (req, res, next) => {
        if (!required) {
          if (credentials.readsLocked) {
            res.status(403).type("text").send("reads need a credential here, and the console has no login: configure console_users (or admin_token)");
            return;
          }
          // Loopback by the peer and by the name the browser used: a DNS-rebinding page (evil.example
          // resolving to 127.0.0.1) reaches the socket from loopback, but with its own Host.
          if (isLocal(req.socket.remoteAddress) && loopbackHost(req.headers.host)) return next();
          res.status(403).type("text").send("the console answers on loopback only unless admin_token or console_users is configured");
          return;
        }
        if (sessionOf(req)) return next();
        if (guardOptions && req.method === "GET" && req.accepts(["html", "json"]) === "html") {
          res.redirect(303, `${guardOptions.loginPath}?next=${encodeURIComponent(req.originalUrl)}`);
          return;
        }
        res.status(401).json({ error: "log in at /ui/login, or send a credential" });
      };
    },
  };
}
