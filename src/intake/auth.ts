import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/**
 * Requires `Authorization: Bearer <token>` when a token is configured. Compares digests in constant
 * time (equal length by construction), and answers 401 without saying what was wrong.
 */
export function bearerAuth(token: string | undefined, onReject: (req: Parameters<RequestHandler>[0]) => void): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const expected = digest(token);
  return (req, res, next) => {
    const header = req.headers.authorization ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const ok = m !== null && timingSafeEqual(digest((m[1] as string).trim()), expected);
    if (ok) return next();
    onReject(req);
    res.set("WWW-Authenticate", 'Bearer realm="alertdesk"').status(401).json({ error: "unauthorized" });
  };
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || /^(::ffff:)?127\./.test(address);
}

/**
 * Guards admin endpoints (/-/reload): with a token configured, `Authorization: Bearer <token>`
 * (constant-time); without one, only callers on loopback (403 for everybody else).
 */
export function adminAuth(token: string | undefined): RequestHandler {
  if (token) return bearerAuth(token, () => {});
  return (req, res, next) => {
    if (isLoopback(req.socket.remoteAddress)) return next();
    res.status(403).json({ error: "admin endpoints answer on loopback only unless an admin token is configured" });
  };
}
