import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import type { RequestHandler } from "express";

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/** Credentials a webhook may present: a bearer token, HTTP basic auth, or either. */
export interface WebhookCredentials {
  token?: string;
  basic?: { username: string; password: string };
}

/**
 * Requires `Authorization: Bearer <token>` and/or `Authorization: Basic …` when configured (Alertmanager's
 * `http_config.authorization` or `basic_auth`). Compares digests in constant time (equal length by
 * construction) and answers 401 without saying what was wrong.
 */
export function webhookAuth(credentials: WebhookCredentials, onReject: (req: Parameters<RequestHandler>[0]) => void): RequestHandler {
  const accepted: Buffer[] = [];
  if (credentials.token) accepted.push(digest(`Bearer ${credentials.token}`));
  if (credentials.basic) accepted.push(digest(`Basic ${Buffer.from(`${credentials.basic.username}:${credentials.basic.password}`).toString("base64")}`));
  if (accepted.length === 0) return (_req, _res, next) => next();
  return (req, res, next) => {
    const header = (req.headers.authorization ?? "").trim();
    // "bearer" and "basic" are case-insensitive schemes; the credentials are not.
    const m = /^(bearer|basic)\s+(.+)$/i.exec(header);
    const presented = digest(m ? `${(m[1] as string).toLowerCase() === "bearer" ? "Bearer" : "Basic"} ${(m[2] as string).trim()}` : "");
    let ok = false;
    for (const a of accepted) ok = timingSafeEqual(presented, a) || ok;
    if (ok) return next();
    onReject(req);
    res.set("WWW-Authenticate", 'Bearer realm="alertdesk"').status(401).json({ error: "unauthorized" });
  };
}

/** Bearer-only guard (admin endpoints). */
export function bearerAuth(token: string | undefined, onReject: (req: Parameters<RequestHandler>[0]) => void): RequestHandler {
  return webhookAuth(token ? { token } : {}, onReject);
}

/** The socket's peer address (never X-Forwarded-For, which any caller can write) is on loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || /^(::ffff:)?127\./.test(address);
}

/** Lets loopback callers through and answers everybody else 403 with `why`. */
/** Whether a peer address counts as this machine: loopback, unless the composition root says otherwise (tests). */
export type LocalCaller = (address: string | undefined) => boolean;

function loopbackOnly(why: string, isLocal: LocalCaller): RequestHandler {
  return (req, res, next) => {
    if (isLocal(req.socket.remoteAddress)) return next();
    res.status(403).json({ error: why });
  };
}

/**
 * Whether a browser sent the request from a web page: it then carries an `Origin` (every cross-origin
 * POST, and same-origin ones in current browsers) or a `Sec-Fetch-Site` other than `none` (typed or
 * bookmarked). curl, amtool and scripts send neither.
 */
function fromWebPage(req: Parameters<RequestHandler>[0]): boolean {
  const site = req.headers["sec-fetch-site"];
  return req.headers.origin !== undefined || (site !== undefined && site !== "none");
}

/**
 * Guards admin endpoints (/-/reload, replay): with a token configured, `Authorization: Bearer <token>`
 * (constant-time); without one, only callers on loopback (403 for everybody else), and never a
 * request a browser sends from a web page: a page open on this machine must not reload the rules or
 * replay deliveries by posting to 127.0.0.1 (the console has its own forms, with a CSRF token).
 */
export function adminAuth(token: string | undefined, isLocal: LocalCaller = isLoopback): RequestHandler {
  if (token) return bearerAuth(token, () => {});
  const loopback = loopbackOnly("admin endpoints answer on loopback only unless an admin token is configured", isLocal);
  return (req, res, next) => {
    if (fromWebPage(req)) {
      res.status(403).json({ error: "admin endpoints refuse requests a browser sends from a web page; use curl, or the console's forms" });
      return;
    }
    loopback(req, res, next);
  };
}

/** Who may use the read endpoints (and /metrics, unless `metrics_auth: none`). */
export interface ReadAccess {
  /** The admin token reads too. */
  adminToken?: string;
  /** A token that reads and never administers. */
  readToken?: string;
  /** HTTP basic auth users: name → bcrypt hash. */
  readUsers?: Readonly<Record<string, string>>;
  /** Everybody reads without a credential (`reads_open: true`). */
  open?: boolean;
}

export interface ReadAuthOptions {
  /** bcrypt's comparison (bcryptjs); tests count its calls. */
  compare?: (password: string, hash: string) => Promise<boolean>;
  /** Milliseconds now, for the cache of checked passwords. */
  now?: () => number;
  /** How long a checked user and password is remembered (default 60 s). */
  cacheTtlMs?: number;
  /** Who counts as this machine when no credential is configured (default: loopback). */
  isLocal?: LocalCaller;
}

/** Checked (user, password) pairs remembered at most: a few scrapers and readers, not every guess. */
const PASSWORD_CACHE_MAX = 256;

/**
 * Guards the read endpoints, like Prometheus' and Alertmanager's web config. With a credential
 * configured (admin token, read token, basic-auth users), a request needs one of them: a bearer
 * token (constant-time comparison) or `Basic` user and password checked against the user's bcrypt
 * hash; 401 with `WWW-Authenticate` otherwise. With none configured, loopback callers only (403 for
 * everybody else), unless `open`.
 *
 * bcrypt is slow on purpose (about 50-100 ms at cost 10 in JavaScript), so a pair that passed is
 * remembered for `cacheTtlMs` under an HMAC with a key of this process: a Prometheus scraping every
 * 15 s costs one bcrypt a minute, not four. Failures are never remembered. An unknown user is
 * checked against a configured hash too, so the time taken does not tell which user names exist.
 */
export function readAuth(access: ReadAccess, options: ReadAuthOptions = {}): RequestHandler {
  if (access.open) return (_req, _res, next) => next();
  const tokens = [access.adminToken, access.readToken].filter((t): t is string => Boolean(t)).map(digest);
  const users = new Map(Object.entries(access.readUsers ?? {}));
  if (tokens.length === 0 && users.size === 0) {
    return loopbackOnly(
      "read endpoints answer on loopback only unless a read credential is configured (read_token, read_users, admin_token) or reads_open: true",
      options.isLocal ?? isLoopback,
    );
  }
  const challenge = [users.size > 0 ? 'Basic realm="alertdesk", charset="UTF-8"' : "", tokens.length > 0 ? 'Bearer realm="alertdesk"' : ""]
    .filter(Boolean)
    .join(", ");
  const compare = options.compare ?? ((password: string, hash: string) => bcrypt.compare(password, hash));
  const now = options.now ?? Date.now;
  const ttl = options.cacheTtlMs ?? 60_000;
  const cacheKey = randomBytes(32);
  const checked = new Map<string, number>();
  const anyHash = [...users.values()][0] ?? "";

  return (req, res, next) => {
    const deny = () => {
      res.set("WWW-Authenticate", challenge).status(401).json({ error: "unauthorized" });
    };
    // "bearer" and "basic" are case-insensitive schemes; the credentials are not.
    const m = /^(bearer|basic)\s+(\S+)$/i.exec((req.headers.authorization ?? "").trim());
    if (!m) return deny();
    const [, scheme, value] = m as unknown as [string, string, string];
    if (scheme.toLowerCase() === "bearer") {
      const presented = digest(value);
      let ok = false;
      for (const t of tokens) ok = timingSafeEqual(presented, t) || ok;
      return ok ? next() : deny();
    }
    if (users.size === 0) return deny();
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return deny();
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = users.get(user);
    const key = createHmac("sha256", cacheKey).update(`${user.length}:${user}:${password}`).digest("base64");
    const at = now();
    if (hash !== undefined && (checked.get(key) ?? 0) > at) return next();
    compare(password, hash ?? anyHash).then((ok) => {
      if (!ok || hash === undefined) return deny();
      if (checked.size >= PASSWORD_CACHE_MAX) checked.clear();
      checked.set(key, at + ttl);
      next();
    }, next);
  };
}
