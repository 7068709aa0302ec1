import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HelpdeskConfig } from "../../src/drivers/registry.js";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { startWebhookReceiver, type WebhookReceiver } from "../fakes/webhook-receiver.js";
import { alertmanagerNotification } from "../kit/notifications.js";
import { createTestDatabase } from "../kit/postgres.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * Response targets somebody must meet, on a timeline with an injected clock: no first response →
 * each escalation step once (a comment that begins `Escalation:`, a raise, a notification), across a
 * restart and among replicas; a response in time → none; an agent's priority is never raised.
 */

const services: TestService[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.cleanup();
  for (const c of cleanups.splice(0).reverse()) await c();
});

const RULES = `
defaults:
  escalation:
    - after: 100%
      raise: true
      notify: pager
    - after: 200%
      notify: pager
rules:
  - name: disk
    matchers: ['alertname="DiskFull"']
    priority: P2
  - name: quiet
    matchers: ['alertname="Quiet"']
    priority: P2
    escalation: []
  - name: default-step
    matchers: ['alertname="Plain"']
    priority: P2
    escalation:
      - after: 100%
`;

const T0 = "2026-11-25T06:00:00.000Z";
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000);

function notification(name: string, status: "firing" | "resolved" = "firing"): string {
  return alertmanagerNotification(
    [
      {
        status,
        labels: { alertname: name, instance: "web-1:9100" },
        startsAt: T0,
        endsAt: status === "resolved" ? at(1).toISOString() : "0001-01-01T00:00:00Z",
        generatorURL: "",
        fingerprint: `fp-${name}`,
      },
    ],
    { groupLabels: { alertname: name }, externalURL: "http://am" },
  );
}

async function pager(): Promise<{ receiver: WebhookReceiver; config: HelpdeskConfig }> {
  const receiver = await startWebhookReceiver();
  cleanups.push(() => receiver.stop());
  return { receiver, config: { type: "webhook", url: receiver.url } };
}

async function start(options: { dataDir?: string; databaseUrl?: string; pagerConfig?: HelpdeskConfig } = {}): Promise<TestService> {
  const pagerConfig = options.pagerConfig ?? (await pager()).config;
  const s = await startTestService({
    rules: RULES,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    config: { helpdesks: { pager: pagerConfig }, ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}) },
  });
  services.push(s);
  s.now = at(0);
  return s;
}

async function fire(s: TestService, name: string, minutes = 0) {
  s.now = at(minutes);
  expect((await s.post("/webhooks/alertmanager", notification(name))).status).toBe(200);
  await s.sync();
}

async function tick(s: TestService, minutes: number) {
  s.now = at(minutes);
  await s.sync();
}

async function ticket(s: TestService): Promise<BuiltinTicket> {
  const t = (await s.tickets()).at(-1);
  if (!t) throw new Error("no ticket");
  return t;
}

const escalations = (t: BuiltinTicket) => t.comments.map((c) => c.body).filter((b) => b.startsWith("Escalation:"));

async function sla(s: TestService) {
  const body = (await (await s.get("/api/incidents")).json()) as { incidents: { priority: string; sla: Record<string, unknown> }[] };
  return body.incidents[0] as {
    priority: string;
    sla: { responseDueAt: string; firstResponseAt: string | null; breached: boolean; escalations: { step: number; at: string }[] };
  };
}

describe("escalation when nobody responds", () => {
  it("each step once, at its time: a comment, a raise to P1, a notification; sla says so", async () => {
    const { receiver, config } = await pager();
    const s = await start({ pagerConfig: config });
    await fire(s, "DiskFull");
    await tick(s, 29);
    expect(escalations(await ticket(s))).toEqual([]);
    await tick(s, 30);
    let t = await ticket(s);
    expect(escalations(t)).toHaveLength(1);
    expect(escalations(t)[0]).toMatch(/^Escalation: no first response within 30m \(P2 target\); raised to P1, notified pager\./);
    expect(t.priority).toBe("P1");
    await tick(s, 45);
    expect(escalations(await ticket(s))).toHaveLength(1);
    await tick(s, 60);
    t = await ticket(s);
    expect(escalations(t)).toHaveLength(2);
    expect(escalations(t)[1]).toMatch(/^Escalation: no first response within 1h \(200% of the P2 target of 30m\); notified pager\./);
    await tick(s, 600);
    expect(escalations(await ticket(s))).toHaveLength(2);
    const notified = receiver.deliveries.map((d) => JSON.parse(d.raw) as Record<string, unknown>);
    expect(notified.map((n) => [n.operation, n.event, n.step, n.priority])).toEqual([
      ["notify", "escalation", 0, "P1"],
      ["notify", "escalation", 1, "P1"],
    ]);
    expect(notified[0]).toMatchObject({ raisedFrom: "P2", ticketKey: t.key, helpdesk: "builtin", labels: { alertname: "DiskFull" } });
    const view = await sla(s);
    expect(view.priority).toBe("P1");
    expect(view.sla).toMatchObject({ responseDueAt: at(30).toISOString(), firstResponseAt: null, breached: true });
    expect(view.sla.escalations).toEqual([
      { step: 0, at: at(30).toISOString() },
      { step: 1, at: at(60).toISOString() },
    ]);
    const metrics = await (await s.get("/metrics")).text();
    expect(metrics).toContain('alertdesk_sla_breaches_total{priority="P2",helpdesk="builtin"} 1');
    expect(metrics).toMatch(/alertdesk_escalations_total\{priority="P2",helpdesk="builtin",step="0"\} 1/);
  });

  it("a first response before the target: no escalation, no breach, and the time to it measured", async () => {
    const s = await start();
    await fire(s, "DiskFull");
    const t = await ticket(s);
    s.now = at(10);
    expect((await s.post(`/api/tickets/${t.id}/comments`, JSON.stringify({ body: "on it", author: "alice" }))).status).toBe(201);
    await s.sync();
    await tick(s, 120);
    expect(escalations(await ticket(s))).toEqual([]);
    expect((await sla(s)).sla).toMatchObject({ firstResponseAt: at(10).toISOString(), breached: false, escalations: [] });
    const metrics = await (await s.get("/metrics")).text();
    expect(metrics).toContain('alertdesk_time_to_first_response_seconds_count{priority="P2"} 1');
    expect(metrics).toContain('alertdesk_time_to_first_response_seconds_bucket{le="900",priority="P2"} 1');
  });

  it("a priority an agent set is never raised by a step", async () => {
    const s = await start();
    await fire(s, "DiskFull");
    const t = await ticket(s);
    s.now = at(5);
    expect((await s.send("PATCH", `/api/tickets/${t.id}`, { priority: "P3", author: "alice" })).status).toBe(200);
    await s.sync();
    // A priority change is no first response: the clock runs on, the steps still come, without a raise.
    await tick(s, 30);
    const after = await ticket(s);
    expect(escalations(after)).toHaveLength(1);
    expect(escalations(after)[0]).not.toContain("raised");
    expect(after.priority).toBe("P3");
  });

  it("escalation: [] turns the steps off; the breach is still counted; the default step only comments", async () => {
    const s = await start();
    await fire(s, "Quiet");
    await fire(s, "Plain");
    await tick(s, 31);
    const [quiet, plain] = await s.tickets();
    expect(quiet && escalations(quiet)).toEqual([]);
    expect(plain && escalations(plain)).toEqual([expect.stringMatching(/^Escalation: no first response within 30m \(P2 target\)\. /)]);
    expect(plain?.priority).toBe("P2");
    const metrics = await (await s.get("/metrics")).text();
    expect(metrics).toContain('alertdesk_sla_breaches_total{priority="P2",helpdesk="builtin"} 2');
  });

  it("a resolve stops the clock; a reopen starts a new one, whose steps come again, each once", async () => {
    const s = await start();
    await fire(s, "Plain");
    await tick(s, 31);
    s.now = at(40);
    expect((await s.post("/webhooks/alertmanager", notification("Plain", "resolved"))).status).toBe(200);
    await s.sync();
    await tick(s, 200);
    expect(escalations(await ticket(s))).toHaveLength(1);
    s.now = at(210);
    const refire = JSON.parse(notification("Plain")) as { alerts: { startsAt: string }[] };
    for (const a of refire.alerts) a.startsAt = at(209).toISOString();
    expect((await s.post("/webhooks/alertmanager", JSON.stringify(refire))).status).toBe(200);
    await s.sync();
    await tick(s, 239);
    expect(escalations(await ticket(s))).toHaveLength(1);
    await tick(s, 240);
    expect(escalations(await ticket(s))).toHaveLength(2);
    expect((await sla(s)).sla.responseDueAt).toBe(at(240).toISOString());
  });

  it("a step that came due while alertdesk was stopped happens at the next start, once", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "alertdesk-escalation-"));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const first = await start({ dataDir });
    await fire(first, "Plain");
    services.splice(services.indexOf(first), 1);
    await first.cleanup();
    const s = await start({ dataDir });
    await tick(s, 50);
    await tick(s, 51);
    const t = await ticket(s);
    expect(escalations(t)).toHaveLength(1);
    expect(escalations(t)[0]).toMatch(/It is 20m past the target\./);
  });

  it("two replicas on PostgreSQL: each step once", async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const a = await start({ databaseUrl: db.url });
    const b = await start({ databaseUrl: db.url });
    await fire(a, "Plain");
    a.now = at(31);
    b.now = at(31);
    await Promise.all([a.syncer.runOnce(), b.syncer.runOnce(), a.syncer.runOnce(), b.syncer.runOnce()]);
    await a.deliverAll();
    await b.deliverAll();
    expect(escalations(await ticket(a))).toHaveLength(1);
  });
});
