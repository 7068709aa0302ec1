import bcrypt from "bcryptjs";
import express from "express";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ServiceConfig } from "../../src/config/service.js";
import { isLoopback, readAuth } from "../../src/http/auth.js";
import { fixture, startTestService, type TestService } from "../kit/service.js";

/**
 * Who may read: every read endpoint (the read path's routes and /metrics) × every way of asking.
 * With a credential configured (admin token, read token, basic-auth users with bcrypt hashes) a
 * request needs one; with none, only loopback callers read, unless reads_open. /healthz and /readyz
 * stay open; a read credential never grants the admin endpoints.
 */

const READS = ["/api/tickets", "/tickets", "/api/incidents", "/api/deliveries", "/api/rules", "/metrics"];
const OPEN = ["/healthz", "/readyz"];
const ADMIN_TOKEN = "admin-secret-token";
const READ_TOKEN = "read-secret-token";
const USER = "prometheus";
const PASSWORD = "scrape pass: with a colon";
// Cost 4, the smallest bcrypt allows: these tests check passwords many times.
// grafana's hash as htpasswd -B writes it ($2y$).
const READ_USERS = { [USER]: bcrypt.hashSync(PASSWORD, 4), grafana: bcrypt.hashSync("another-password", 4).replace(/^\$2b\$/, "$2y$") };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

function get(svc: TestService, path: string, authorization?: string, method = "GET"): Promise<Response> {
  return fetch(`${svc.url}${path}`, { method, headers: authorization ? { authorization } : {} });
}

const started: TestService[] = [];
/** A service on 127.0.0.1; `remote`: it sees every caller as coming from the network (the peer address check says no). */
async function service(config: Partial<ServiceConfig>, remote = false): Promise<TestService> {
  const svc = await startTestService({ config: { watchRules: false, ...config }, remoteCallers: remote });
  started.push(svc);
  return svc;
}
afterAll(async () => {
  for (const s of started) await s.cleanup();
});

describe("no read credential configured", () => {
  let local: TestService;
  let remote: TestService;
  beforeAll(async () => {
    local = await service({});
    remote = await service({}, true);
  });

  it.each(READS)("GET %s from loopback → 200", async (path) => {
    expect((await get(local, path)).status).toBe(200);
  });

  it("who is on this machine is the socket's peer address, never a header", () => {
    for (const a of ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"]) expect(isLoopback(a), a).toBe(true);
    for (const a of ["192.0.2.2", "10.0.0.1", "::ffff:10.1.2.3", "fe80::1", "", undefined]) expect(isLoopback(a), String(a)).toBe(false);
  });

  it("X-Forwarded-For cannot make a network caller local", async () => {
    const res = await fetch(`${remote.url}/api/tickets`, { headers: { "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1" } });
    expect(res.status).toBe(403);
  });

  it.each(READS)("GET %s from the network → 403, saying how to open it", async (path) => {
    const res = await get(remote, path);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/loopback only unless a read credential is configured .* or reads_open: true/);
  });

  it("admin endpoints on loopback refuse what a browser sends from a web page (no CSRF on 127.0.0.1)", async () => {
    expect((await fetch(`${local.url}/-/reload`, { method: "POST" })).status).toBe(200);
    for (const headers of [{ origin: "https://evil.example" }, { origin: "null" }, { "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-origin" }]) {
      const res = await fetch(`${local.url}/-/reload`, { method: "POST", headers });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(/browser sends from a web page/);
    }
    const replay = await fetch(`${local.url}/api/deliveries/replay`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://127.0.0.1" },
      body: JSON.stringify({ all: true }),
    });
    expect(replay.status).toBe(403);
  });

  it("a token sent anyway does not help from the network (there is none to match)", async () => {
    expect((await get(remote, "/api/tickets", `Bearer ${READ_TOKEN}`)).status).toBe(403);
  });

  it.each(OPEN)("GET %s from the network → 200", async (path) => {
    expect((await get(remote, path)).status).toBe(200);
  });

  it("reads_open: true answers the network without a credential; admin endpoints stay loopback-only", async () => {
    const open = await service({ readsOpen: true }, true);
    for (const path of READS) expect((await get(open, path)).status, path).toBe(200);
    expect((await fetch(`${open.url}/-/reload`, { method: "POST" })).status).toBe(403);
  });

  it("metrics_auth: none opens /metrics to the network, and nothing else", async () => {
    const svc = await service({ metricsAuth: "none" }, true);
    expect((await get(svc, "/metrics")).status).toBe(200);
    expect((await get(svc, "/api/tickets")).status).toBe(403);
  });
});

describe("with a read credential configured", () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await service({ adminToken: ADMIN_TOKEN, readToken: READ_TOKEN, readUsers: READ_USERS });
  });

  describe.each(READS)("GET %s", (path) => {
    it("without a credential → 401 with both challenges", async () => {
      const res = await get(svc, path);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Basic realm="alertdesk", charset="UTF-8", Bearer realm="alertdesk"');
      expect(await res.json()).toEqual({ error: "unauthorized" });
    });
    it("with a wrong token → 401", async () => {
      expect((await get(svc, path, "Bearer not-the-token")).status).toBe(401);
    });
    it("with the read token → 200", async () => {
      expect((await get(svc, path, `Bearer ${READ_TOKEN}`)).status).toBe(200);
    });
    it("with the admin token → 200", async () => {
      expect((await get(svc, path, `Bearer ${ADMIN_TOKEN}`)).status).toBe(200);
    });
    it("as a read user with the right password → 200", async () => {
      expect((await get(svc, path, basic(USER, PASSWORD))).status).toBe(200);
    });
    it("as a read user with a wrong password → 401", async () => {
      expect((await get(svc, path, basic(USER, "wrong"))).status).toBe(401);
    });
  });

  it("another user's password, an unknown user, a token as basic password, and garbage → 401", async () => {
    for (const authorization of [
      basic("grafana", PASSWORD),
      basic("nobody", PASSWORD),
      basic(USER, READ_TOKEN),
      `Basic ${Buffer.from(USER).toString("base64")}`,
      "Basic",
      `Token ${READ_TOKEN}`,
      READ_TOKEN,
    ]) {
      expect((await get(svc, "/api/tickets", authorization)).status, authorization).toBe(401);
    }
  });

  it("a $2y$ hash (htpasswd -B) checks like the others", async () => {
    expect(READ_USERS.grafana).toMatch(/^\$2y\$04\$/);
    expect((await get(svc, "/api/tickets", basic("grafana", "another-password"))).status).toBe(200);
  });

  it("the scheme is case-insensitive, the credential is not", async () => {
    expect((await get(svc, "/api/tickets", `bearer ${READ_TOKEN}`)).status).toBe(200);
    expect((await get(svc, "/api/tickets", `BASIC ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`)).status).toBe(200);
    expect((await get(svc, "/api/tickets", `Bearer ${READ_TOKEN.toUpperCase()}`)).status).toBe(401);
  });

  it("HEAD is a read too", async () => {
    expect((await get(svc, "/api/tickets", undefined, "HEAD")).status).toBe(401);
    expect((await get(svc, "/api/tickets", `Bearer ${READ_TOKEN}`, "HEAD")).status).toBe(200);
  });

  it("an unknown path answers 401, not a 404 that tells which paths exist", async () => {
    expect((await get(svc, "/api/secrets")).status).toBe(401);
    expect((await get(svc, "/api/secrets", `Bearer ${READ_TOKEN}`)).status).toBe(404);
  });

  it.each(OPEN)("GET %s stays open", async (path) => {
    expect((await get(svc, path)).status).toBe(200);
  });

  it("the read token does not grant the admin endpoints; the admin token does", async () => {
    const post = (path: string, authorization: string, body = "") =>
      fetch(`${svc.url}${path}`, { method: "POST", body, headers: { authorization, "content-type": "application/json" } });
    expect((await post("/-/reload", `Bearer ${READ_TOKEN}`)).status).toBe(401);
    expect((await post("/-/reload", basic(USER, PASSWORD))).status).toBe(401);
    expect((await post("/api/deliveries/replay", `Bearer ${READ_TOKEN}`, '{"all": true}')).status).toBe(401);
    expect((await post("/-/reload", `Bearer ${ADMIN_TOKEN}`)).status).toBe(200);
    expect((await post("/api/deliveries/replay", `Bearer ${ADMIN_TOKEN}`, '{"all": true}')).status).toBe(200);
  });

  it("webhooks keep their own authentication: no read credential needed, a read token is no webhook token", async () => {
    const FIRING = fixture("01-first-firing-single").body;
    expect((await svc.post("/webhooks/alertmanager", FIRING)).status).toBe(200);
    const guarded = await service({ readToken: READ_TOKEN, webhookToken: "webhook-token" });
    expect((await guarded.post("/webhooks/alertmanager", FIRING, { authorization: `Bearer ${READ_TOKEN}` })).status).toBe(401);
  });

  it("metrics_auth: none leaves /metrics open while the other reads need the credential", async () => {
    const s = await service({ readToken: READ_TOKEN, metricsAuth: "none" });
    expect((await get(s, "/metrics")).status).toBe(200);
    expect((await get(s, "/api/tickets")).status).toBe(401);
  });

  it("with only tokens configured, the challenge is Bearer alone (a browser shows no login it cannot pass)", async () => {
    const s = await service({ readToken: READ_TOKEN });
    const res = await get(s, "/tickets");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="alertdesk"');
    expect((await get(s, "/tickets", basic(USER, PASSWORD))).status).toBe(401);
  });

  it("the admin token alone protects the reads too (it is a credential)", async () => {
    const s = await service({ adminToken: ADMIN_TOKEN });
    expect((await get(s, "/api/incidents")).status).toBe(401);
    expect((await get(s, "/api/incidents", `Bearer ${ADMIN_TOKEN}`)).status).toBe(200);
  });
});

describe("a read token from the network, without an admin token", () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await service({ readToken: READ_TOKEN }, true);
  });

  it("reads, but the admin endpoints stay loopback-only (403)", async () => {
    expect((await get(svc, "/api/rules", `Bearer ${READ_TOKEN}`)).status).toBe(200);
    const res = await fetch(`${svc.url}/-/reload`, { method: "POST", headers: { authorization: `Bearer ${READ_TOKEN}` } });
    expect(res.status).toBe(403);
  });
});

describe("checked passwords are remembered for a short time", () => {
  let server: import("node:http").Server | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.close(r));
    server = undefined;
  });

  /** The guard alone on a loopback server, with a counting bcrypt and a clock the test moves. */
  async function guarded(): Promise<{ url: string; compares: () => number; advance: (ms: number) => void }> {
    let calls = 0;
    let now = 1_000_000;
    const app = express();
    app.get(
      "/",
      readAuth(
        { readUsers: READ_USERS },
        {
          compare: (p, h) => {
            calls++;
            return bcrypt.compare(p, h);
          },
          now: () => now,
          cacheTtlMs: 60_000,
        },
      ),
      (_req, res) => {
        res.send("ok");
      },
    );
    const s = app.listen(0, "127.0.0.1");
    server = s;
    await new Promise((r) => s.once("listening", r));
    const { port } = s.address() as import("node:net").AddressInfo;
    return { url: `http://127.0.0.1:${port}/`, compares: () => calls, advance: (ms) => (now += ms) };
  }
  const ask = (url: string, authorization: string) => fetch(url, { headers: { authorization } }).then((r) => r.status);

  it("a scrape every 15 s costs one bcrypt per minute", async () => {
    const g = await guarded();
    for (let i = 0; i < 4; i++) {
      expect(await ask(g.url, basic(USER, PASSWORD))).toBe(200);
      g.advance(15_000);
    }
    expect(g.compares()).toBe(1);
    expect(await ask(g.url, basic(USER, PASSWORD))).toBe(200); // 60 s after the first check
    expect(g.compares()).toBe(2);
  });

  it("a wrong password is never remembered, nor does a remembered one let another password in", async () => {
    const g = await guarded();
    expect(await ask(g.url, basic(USER, PASSWORD))).toBe(200);
    expect(await ask(g.url, basic(USER, "wrong"))).toBe(401);
    expect(await ask(g.url, basic(USER, "wrong"))).toBe(401);
    expect(await ask(g.url, basic("grafana", PASSWORD))).toBe(401);
    expect(g.compares()).toBe(4);
  });
});
