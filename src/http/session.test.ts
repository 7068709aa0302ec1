import bcrypt from "bcryptjs";
import type { Request, Response } from "express";
import { describe, expect, it } from "vitest";
import { createConsoleSessions, SESSION_COOKIE } from "./session.js";

/** A response that records the cookies it was given. */
function response(): Response & { cookies: string[] } {
  const cookies: string[] = [];
  return Object.assign({ cookies }, { append: (_name: string, value: string) => cookies.push(value) }) as unknown as Response & { cookies: string[] };
}

function request(cookie: string | undefined, extra: { body?: Record<string, string>; origin?: string; host?: string } = {}): Request {
  const headers: Record<string, string> = { host: extra.host ?? "127.0.0.1:9095" };
  if (cookie) headers.cookie = cookie;
  if (extra.origin) headers.origin = extra.origin;
  return { headers, body: extra.body, get: (name: string) => headers[name.toLowerCase()] } as unknown as Request;
}

const cookieValue = (res: { cookies: string[] }) => (res.cookies[0] ?? "").split(";")[0] as string;

describe("console sessions", () => {
  const hash = bcrypt.hashSync("alice-password", 4);
  let now = Date.parse("2026-12-01T10:00:00Z");
  const sessions = createConsoleSessions({ adminToken: "admin-secret-token", users: { alice: hash } }, { now: () => now });

  it("a right password sets an HttpOnly, SameSite=Strict cookie that names the user; a wrong one sets nothing", async () => {
    const bad = response();
    expect(await sessions.login(bad, "alice", "wrong")).toBe(false);
    expect(await sessions.login(bad, "mallory", "alice-password")).toBe(false);
    expect(bad.cookies).toEqual([]);
    const ok = response();
    expect(await sessions.login(ok, "alice", "alice-password")).toBe(true);
    expect(ok.cookies[0]).toMatch(new RegExp(`^${SESSION_COOKIE}=[^;]+; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200$`));
    expect(sessions.sessionOf(request(cookieValue(ok)))?.user).toBe("alice");
    const admin = response();
    expect(await sessions.login(admin, "admin", "admin-secret-token")).toBe(true);
    expect(sessions.sessionOf(request(cookieValue(admin)))?.user).toBe("admin");
  });

  it("a tampered, foreign or expired cookie is no session; another config's sessions are not this one's", async () => {
    const ok = response();
    await sessions.login(ok, "alice", "alice-password");
    const value = cookieValue(ok);
    const [payload, signature] = value.slice(SESSION_COOKIE.length + 1).split(".") as [string, string];
    const forged = Buffer.from(`admin\u0000${now + 3_600_000}`).toString("base64url");
    expect(sessions.sessionOf(request(`${SESSION_COOKIE}=${forged}.${signature}`))).toBeUndefined();
    expect(sessions.sessionOf(request(`${SESSION_COOKIE}=${payload}.x${signature.slice(1)}`))).toBeUndefined();
    const other = createConsoleSessions({ adminToken: "another-token", users: { alice: hash } }, { now: () => now });
    expect(other.sessionOf(request(value))).toBeUndefined();
    const before = now;
    now += 12 * 3_600_000 + 1;
    expect(sessions.sessionOf(request(value))).toBeUndefined();
    now = before;
  });

  it("the CSRF token belongs to the session and the form must come from this origin", async () => {
    const ok = response();
    await sessions.login(ok, "alice", "alice-password");
    const cookie = cookieValue(ok);
    const token = sessions.csrfToken(request(cookie));
    expect(sessions.csrfValid(request(cookie, { body: { _csrf: token } }))).toBe(true);
    expect(sessions.csrfValid(request(cookie, { body: { _csrf: token }, origin: "http://127.0.0.1:9095" }))).toBe(true);
    expect(sessions.csrfValid(request(cookie, { body: { _csrf: token }, origin: "https://evil.example" }))).toBe(false);
    expect(sessions.csrfValid(request(cookie, { body: { _csrf: token }, origin: "null" }))).toBe(false);
    expect(sessions.csrfValid(request(cookie, { body: {} }))).toBe(false);
    // Without the session, the anonymous token is another one.
    expect(sessions.csrfValid(request(undefined, { body: { _csrf: token } }))).toBe(false);
  });

  it("without any credential no login is possible, and the guard lets loopback callers only", async () => {
    const open = createConsoleSessions({}, { isLocal: (a) => a === "127.0.0.1" });
    expect(open.required).toBe(false);
    expect(await open.login(response(), "admin", "")).toBe(false);
    const guard = open.guard({ loginPath: "/ui/login" });
    let passed = 0;
    let status = 0;
    const refuse = (s: number) => {
      status = s;
    };
    const res = { status: (s: number) => ({ type: () => ({ send: () => refuse(s) }) }) } as unknown as Response;
    guard({ socket: { remoteAddress: "127.0.0.1" }, headers: {} } as unknown as Request, res, () => passed++);
    guard({ socket: { remoteAddress: "10.0.0.5" }, headers: {} } as unknown as Request, res, () => passed++);
    expect(passed).toBe(1);
    expect(status).toBe(403);
  });

  it("a session is signed with a secret, not with the credentials alone: a cookie made from the config's hashes is refused", async () => {
    const a = createConsoleSessions({ users: { alice: hash } }, { now: () => now });
    const b = createConsoleSessions({ users: { alice: hash } }, { now: () => now });
    const res = response();
    await a.login(res, "alice", "alice-password");
    expect(a.sessionOf(request(cookieValue(res)))?.user).toBe("alice");
    // Another process that knows the same config (hashes included) does not accept it…
    expect(b.sessionOf(request(cookieValue(res)))).toBeUndefined();
    // …unless both share console_session_secret (replicas).
    const c = createConsoleSessions({ users: { alice: hash }, sessionSecret: "shared-secret" }, { now: () => now });
    const d = createConsoleSessions({ users: { alice: hash }, sessionSecret: "shared-secret" }, { now: () => now });
    const shared = response();
    await c.login(shared, "alice", "alice-password");
    expect(d.sessionOf(request(cookieValue(shared)))?.user).toBe("alice");
  });

  it("without a console login: 403 when reads need a credential; a DNS-rebinding Host is refused on loopback", () => {
    const calls = (sessions: ReturnType<typeof createConsoleSessions>, host: string) => {
      let passed = false;
      let status = 0;
      const refuse = (s: number) => {
        status = s;
      };
      const res = { status: (s: number) => ({ type: () => ({ send: () => refuse(s) }) }) } as unknown as Response;
      sessions.guard()({ socket: { remoteAddress: "127.0.0.1" }, headers: { host } } as unknown as Request, res, () => {
        passed = true;
      });
      return passed ? 200 : status;
    };
    const open = createConsoleSessions({}, {});
    expect(calls(open, "127.0.0.1:9095")).toBe(200);
    expect(calls(open, "localhost:9095")).toBe(200);
    expect(calls(open, "evil.example:9095")).toBe(403);
    const locked = createConsoleSessions({ readsLocked: true }, {});
    expect(calls(locked, "127.0.0.1:9095")).toBe(403);
  });
});
