import { afterEach, describe, expect, it } from "vitest";
import { fixture, startTestService, type TestService } from "../kit/service.js";

/** The HTTP surface: every status code the webhook receivers and read APIs answer, and that errors change no state. */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

/** Everything a bad request must leave untouched. */
async function state(s: TestService) {
  return {
    incidents: (await s.store.listIncidents({ limit: 10_000 })).length,
    deliveries: (await s.store.listDeliveries({ limit: 10_000 })).length,
    tickets: (await s.tickets()).length,
  };
}

const FIRING = fixture("01-first-firing-single").body;

describe("POST /webhooks/alertmanager", () => {
  it("stores a valid notification and answers 200 with what it did", async () => {
    svc = await startTestService();
    const res = await svc.post("/webhooks/alertmanager", FIRING);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "stored",
      incidents: [
        { dedupKey: 'alertmanager receiver="bridge" {}/{}:{alertname="LabServiceDown"}', reason: "first notification", incidentId: 1, actions: ["open"] },
      ],
    });
    expect(await state(svc)).toEqual({ incidents: 1, deliveries: 1, tickets: 0 });
  });

  it.each([
    ["broken JSON", '{"receiver": ', /not valid JSON/],
    ["an empty body", "", /not valid JSON|invalid payload/],
    ["a JSON string instead of an object", '"hello"', /not valid JSON|invalid payload/],
  ])("answers 400 to %s and changes nothing", async (_why, body, error) => {
    svc = await startTestService();
    const before = await state(svc);
    const res = await svc.post("/webhooks/alertmanager", body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(error);
    expect(await state(svc)).toEqual(before);
  });

  it.each([
    ["alerts missing", (p: Record<string, unknown>) => delete p.alerts, "alerts"],
    ["alerts not an array", (p: Record<string, unknown>) => (p.alerts = {}), "alerts"],
    [
      "labels of the first alert not an object",
      (p: { alerts: Record<string, unknown>[] }) => ((p.alerts[0] as Record<string, unknown>).labels = "x"),
      "alerts[0].labels",
    ],
    [
      "a label value that is a number",
      (p: { alerts: { labels: Record<string, unknown> }[] }) => ((p.alerts[0] as { labels: Record<string, unknown> }).labels.severity = 3),
      "alerts[0].labels.severity",
    ],
    ["a bad alert status", (p: { alerts: Record<string, unknown>[] }) => ((p.alerts[0] as Record<string, unknown>).status = "burning"), "alerts[0].status"],
    [
      "a startsAt that is not a time",
      (p: { alerts: Record<string, unknown>[] }) => ((p.alerts[0] as Record<string, unknown>).startsAt = "yesterday"),
      "alerts[0].startsAt",
    ],
    ["status missing", (p: Record<string, unknown>) => delete p.status, "status"],
  ] as const)("answers 400 naming the field when %s, and changes nothing", async (_why, mutate, field) => {
    svc = await startTestService();
    const payload = JSON.parse(FIRING) as never;
    (mutate as (p: never) => void)(payload);
    const before = await state(svc);
    const res = await svc.post("/webhooks/alertmanager", JSON.stringify(payload));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; issues: { field: string; message: string }[] };
    expect(body.error).toBe("invalid payload");
    expect(body.issues.map((i) => i.field)).toContain(field);
    expect(body.issues.every((i) => i.message.length > 0)).toBe(true);
    expect(await state(svc)).toEqual(before);
  });

  it("answers 413 to a body over the limit and changes nothing", async () => {
    svc = await startTestService({ config: { bodyLimitBytes: 2048 } });
    const payload = JSON.parse(FIRING) as { alerts: { annotations: Record<string, string> }[] };
    (payload.alerts[0] as { annotations: Record<string, string> }).annotations.description = "x".repeat(4096);
    const res = await svc.post("/webhooks/alertmanager", JSON.stringify(payload));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain("2048 bytes");
    expect(await state(svc)).toEqual({ incidents: 0, deliveries: 0, tickets: 0 });
    // The same notification under the limit is accepted.
    expect((await svc.post("/webhooks/alertmanager", FIRING)).status).toBe(200);
  });

  it("answers 503 with Retry-After when the notification cannot be stored", async () => {
    // The main thread's store closed under it (with the ingest thread, test/scenarios/ingest-thread.test.ts stops that instead).
    svc = await startTestService({ config: { ingestThread: false } });
    await svc.store.close();
    const res = await svc.post("/webhooks/alertmanager", FIRING);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect((await svc.get("/readyz")).status).toBe(503);
  });
});

describe("webhook bearer token (ALERTDESK_WEBHOOK_TOKEN)", () => {
  const token = "s3cret-token-value";
  it.each([
    ["no Authorization header", {}],
    ["a wrong token", { authorization: "Bearer wrong" }],
    ["the token as basic auth", { authorization: `Basic ${Buffer.from(`x:${token}`).toString("base64")}` }],
    ["a prefix of the token", { authorization: `Bearer ${token.slice(0, 5)}` }],
  ])("answers 401 to %s without detail, and stores nothing", async (_why, headers) => {
    svc = await startTestService({ config: { webhookToken: token } });
    for (const path of ["/webhooks/alertmanager", "/webhooks/grafana"]) {
      const res = await svc.post(path, FIRING, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "unauthorized" });
    }
    expect(await state(svc)).toEqual({ incidents: 0, deliveries: 0, tickets: 0 });
  });

  it("accepts the right token, and checks it before reading the body", async () => {
    svc = await startTestService({ config: { webhookToken: token } });
    expect((await svc.post("/webhooks/alertmanager", FIRING, { authorization: `Bearer ${token}` })).status).toBe(200);
    // Unauthenticated garbage is 401, not 400: nothing about the payload leaks to a caller without the token.
    expect((await svc.post("/webhooks/alertmanager", "{broken")).status).toBe(401);
  });

  it("never writes the token to the log", async () => {
    svc = await startTestService({ config: { webhookToken: token } });
    await svc.post("/webhooks/alertmanager", FIRING, { authorization: `Bearer ${token}` });
    await svc.post("/webhooks/alertmanager", FIRING, { authorization: "Bearer wrong" });
    expect(svc.logs.length).toBeGreaterThan(0);
    expect(svc.logs.join("")).not.toContain(token);
  });
});

describe("POST /webhooks/grafana", () => {
  it("accepts Grafana's payload and rejects a bad one with the field path", async () => {
    svc = await startTestService();
    const body = fixture("grafana/01-firing-cpu").body;
    expect((await svc.post("/webhooks/grafana", body)).status).toBe(200);
    const bad = JSON.parse(body) as { alerts: { values: unknown }[] };
    (bad.alerts[0] as { values: unknown }).values = { B: "high" };
    const res = await svc.post("/webhooks/grafana", JSON.stringify(bad));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { issues: { field: string }[] }).issues[0]?.field).toBe("alerts[0].values.B");
  });
});

describe("health, readiness, metrics", () => {
  it("/healthz and /readyz answer 200 when the store is open and rules are loaded", async () => {
    svc = await startTestService();
    expect((await svc.get("/healthz")).status).toBe(200);
    const ready = await svc.get("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  it("/metrics exports the alertdesk_ metrics the runbook and dashboard use", async () => {
    svc = await startTestService();
    await svc.replay("01-first-firing-single");
    await svc.post("/webhooks/alertmanager", "{");
    const res = await svc.get("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    for (const line of [
      'alertdesk_notifications_received_total{source="alertmanager",outcome="accepted"} 1',
      'alertdesk_notifications_received_total{source="alertmanager",outcome="invalid"} 1',
      'alertdesk_alerts_received_total{source="alertmanager",status="firing"} 1',
      'alertdesk_incidents{state="firing"} 1',
      'alertdesk_tickets_total{helpdesk="builtin",action="opened"} 1',
      'alertdesk_tickets_total{helpdesk="builtin",action="reopened"} 0',
      'alertdesk_delivery_attempts_total{helpdesk="builtin",op="open"} 1',
      'alertdesk_delivery_failures_total{helpdesk="builtin",reason="server"} 0',
      'alertdesk_outbox_depth{state="pending"} 0',
      "alertdesk_rules_loaded ",
      "alertdesk_delivery_latency_seconds_bucket",
    ]) {
      expect(text).toContain(line);
    }
  });
});

describe("read APIs", () => {
  it("GET /api/tickets lists the built-in helpdesk's tickets in the pinned shape", async () => {
    svc = await startTestService();
    await svc.replay("01-first-firing-single");
    await svc.replay("04-group-gains-alert");
    const res = await svc.get("/api/tickets");
    expect(res.status).toBe(200);
    const { tickets } = (await res.json()) as { tickets: Record<string, unknown>[] };
    expect(tickets).toHaveLength(1);
    expect(tickets[0]).toMatchObject({
      id: 1,
      subject: "LabServiceDown on 127.0.0.1:19100: Service api is down",
      priority: "P1",
      status: "open",
      category: "function",
      comments: [{ body: expect.stringContaining("1 alert joined the incident") as unknown, createdAt: "2026-11-25T05:47:08.085Z" }],
      createdAt: "2026-11-25T05:46:53.081Z",
      updatedAt: "2026-11-25T05:47:08.085Z",
    });
    expect((await svc.get("/api/tickets?status=solved").then((r) => r.json())) as unknown).toEqual({ tickets: [] });
  });

  it("GET /api/incidents shows dedup key, state, firing alerts, priority and the ticket reference", async () => {
    svc = await startTestService();
    await svc.replay("01-first-firing-single");
    const { incidents } = (await (await svc.get("/api/incidents")).json()) as { incidents: Record<string, unknown>[] };
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({
      dedupKey: 'alertmanager receiver="bridge" {}/{}:{alertname="LabServiceDown"}',
      state: "firing",
      priority: "P1",
      ticket: { id: "1" },
      firingAlerts: [{ fingerprint: "829e647f700439a9", labels: { service: "api" } }],
    });
    const byKey = await svc.get(`/api/incidents?key=${encodeURIComponent('{alertname="Nope"}')}`);
    expect(await byKey.json()).toEqual({ incidents: [] });
  });

  it.each(["/api/tickets?status=done", "/api/tickets?limit=0", "/api/incidents?state=open", "/api/deliveries?bogus=1"])(
    "answers 400 to a bad query: %s",
    async (path) => {
      svc = await startTestService();
      const res = await svc.get(path);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { issues: unknown[] }).issues.length).toBeGreaterThan(0);
    },
  );

  it("an unknown route is a JSON 404", async () => {
    svc = await startTestService();
    const res = await svc.get("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found" });
  });

  it("/tickets is an HTML page with every value escaped and security headers", async () => {
    svc = await startTestService();
    const payload = JSON.parse(FIRING) as { alerts: { annotations: Record<string, string> }[] };
    (payload.alerts[0] as { annotations: Record<string, string> }).annotations.summary = '<script>alert("x")</script>';
    await svc.post("/webhooks/alertmanager", JSON.stringify(payload));
    await svc.deliverAll();
    const res = await svc.get("/tickets");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    expect(html).not.toContain("<script>");
    expect(html).toContain("&#60;script&#62;");
  });
});

describe("basic auth and request ids", () => {
  it("accepts HTTP basic auth when configured (Alertmanager's basic_auth), besides the bearer token", async () => {
    svc = await startTestService({ config: { webhookToken: "tok-123456", webhookBasicAuth: { username: "am", password: "pw-654321" } } });
    const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}` });
    expect((await svc.post("/webhooks/alertmanager", FIRING, basic("am", "pw-654321"))).status).toBe(200);
    expect((await svc.post("/webhooks/alertmanager", FIRING, { authorization: "Bearer tok-123456" })).status).toBe(200);
    expect((await svc.post("/webhooks/alertmanager", FIRING, basic("am", "wrong"))).status).toBe(401);
    expect((await svc.post("/webhooks/alertmanager", FIRING, basic("other", "pw-654321"))).status).toBe(401);
    expect(svc.logs.join("")).not.toContain("pw-654321");
  });

  it("echoes X-Request-Id (or makes one) and logs it with the webhook", async () => {
    svc = await startTestService();
    const res = await svc.post("/webhooks/alertmanager", FIRING, { "x-request-id": "am-req-42" });
    expect(res.headers.get("x-request-id")).toBe("am-req-42");
    expect(svc.logs.join("")).toContain('"requestId":"am-req-42"');
    const made = await svc.post("/webhooks/alertmanager", "{", { "x-request-id": "bad id with spaces" });
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});
