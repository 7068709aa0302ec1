import { createHash, timingSafeEqual } from "node:crypto";
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

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || /^(::ffff:)?127\./.test(address);
}

/**
 * Guards admin endpoints (/-/reload, replay): with a token configured, `Authorization: Bearer <token>`
 * (constant-time); without one, only callers on loopback (403 for everybody else).
 */
export function adminAuth(token: string | undefined): RequestHandler {
  if (token) return bearerAuth(token, () => {});
  return (req, res, next) => {
    if (isLoopback(req.socket.remoteAddress)) return next();
    res.status(403).json({ error: "admin endpoints answer on loopback only unless an admin token is configured" });
  };
}
