import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HelpdeskConfig } from "../../src/drivers/registry.js";
import { startFaultProxy } from "../fakes/fault-proxy.js";
import { signedCallback, startWebhookReceiver, type WebhookReceiver } from "../fakes/webhook-receiver.js";
import { type FakeZendesk, startFakeZendesk } from "../fakes/zendesk.js";
import { createTestDatabase } from "../kit/postgres.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The way back with helpdesks other than the built-in one, through the whole service: doorbells
 * (signed, repeated, late, forged), the poller's cursor across a restart, and one poller among
 * replicas. The clock is the real one where a helpdesk stamps its own times.
 */

const services: TestService[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.cleanup();
  for (const c of cleanups.splice(0).reverse()) await c();
});

const HOOK_SECRET = "callback-signing-secret-7";
const ZENDESK_SECRET = "zendesk-webhook-secret-9";

function notification(name: string, status: "firing" | "resolved", startsAt: string): string {
  const labels = { alertname: name, instance: "a" };
  return JSON.stringify({
    receiver: "alertdesk",
    status,
    alerts: [{ status, labels, annotations: {}, startsAt, endsAt: "0001-01-01T00:00:00Z", generatorURL: "", fingerprint: `fp-${name}` }],
    groupLabels: { alertname: name },
    commonLabels: labels,
    commonAnnotations: {},
    externalURL: "http://am",
    version: "4",
    groupKey: `{}:{alertname="${name}"}`,
    truncatedAlerts: 0,
  });
}

async function incidentOf(s: TestService, name: string) {
  const found = (await s.store.listIncidents({ limit: 100 })).find((i) => i.dedupKey.includes(name));
  if (!found?.id) throw new Error(`no incident for ${name}`);
  return found as typeof found & { id: number };
}

describe("doorbells: the generic webhook's signed callbacks", () => {
  async function start(): Promise<{ s: TestService; receiver: WebhookReceiver; ticketId: string }> {
    const receiver = await startWebhookReceiver();
    cleanups.push(() => receiver.stop());
    const hook: HelpdeskConfig = { type: "webhook", url: receiver.url, secret: HOOK_SECRET };
    const s = await startTestService({ rules: "rules: []\n", config: { helpdesks: { hook }, defaultHelpdesk: "hook" } });
    services.push(s);
    s.now = new Date("2026-11-25T06:00:00Z");
    expect((await s.post("/webhooks/alertmanager", notification("HookAlert", "firing", "2026-11-25T05:58:00Z"))).status).toBe(200);
    await s.deliverAll();
    const ticketId = (await incidentOf(s, "HookAlert")).ticket?.id;
    if (!ticketId) throw new Error("no ticket");
    return { s, receiver, ticketId };
  }
  const seconds = Date.parse("2026-11-25T06:01:00Z") / 1000;
  const call = (ticketId: string, deliveryId: string, events: Record<string, unknown>[], secret = HOOK_SECRET) => {
    const signed = signedCallback({ version: 1, deliveryId, tickets: [{ id: ticketId, events }] }, secret, seconds);
    return { body: signed.rawBody.toString(), headers: signed.headers };
  };
  const post = (s: TestService, c: { body: string; headers: Record<string, string> }, name = "hook") => s.post(`/webhooks/helpdesk/${name}`, c.body, c.headers);

  it("a signed callback is answered 202 and learnt; a repeated delivery changes nothing; a late status is ignored", async () => {
    const { s, ticketId } = await start();
    s.now = new Date("2026-11-25T06:01:00Z");
    const solve = call(ticketId, "d1", [
      { id: "e1", kind: "assigned", at: "2026-11-25T06:00:10Z", author: "alice", assignee: "alice" },
      { id: "e2", kind: "status_changed", at: "2026-11-25T06:00:40Z", author: "alice", status: "solved", resolution: "wont_fix" },
    ]);
    const res = await post(s, solve);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: "accepted", tickets: 1 });
    let i = await incidentOf(s, "HookAlert");
    expect(i.helpdeskState).toMatchObject({ status: "solved", resolution: "wont_fix", assignee: "alice", firstResponseAt: "2026-11-25T06:00:10Z" });
    expect(i.mutedUntil).toBeDefined();
    // The same delivery again (the receiver retried): 202, stored once.
    const again = await post(s, solve);
    expect(await again.json()).toEqual({ status: "repeated", tickets: 1 });
    // An older status arriving late, under a new delivery: stored, but it does not undo the solve.
    const late = await post(s, call(ticketId, "d2", [{ id: "e0", kind: "status_changed", at: "2026-11-25T06:00:05Z", author: "alice", status: "active" }]));
    expect(late.status).toBe(202);
    i = await incidentOf(s, "HookAlert");
    expect(i.helpdeskState?.status).toBe("solved");
    expect((await s.store.helpdeskEvents(i.id)).map((e) => e.eventId)).toEqual(["e1", "e2", "e0"]);
    const metrics = await (await s.get("/metrics")).text();
    expect(metrics).toContain('alertdesk_helpdesk_events_total{helpdesk="hook",event="late"} 1');
    expect(metrics).toContain('alertdesk_helpdesk_doorbells_total{helpdesk="hook",outcome="repeated"} 1');
    // A helpdesk that only calls back still counts as synced (its empty poll runs every minute), so
    // the lag alert does not fire for it.
    await s.syncer.runOnce();
    s.now = new Date(s.now.getTime() + 10 * 60_000);
    await s.syncer.runOnce();
    expect(await (await s.get("/metrics")).text()).toContain('alertdesk_helpdesk_sync_lag_seconds{helpdesk="hook"} 0');
  });

  it("late changes count per kind: an older assignment arriving after a newer status still applies, an older status does not", async () => {
    const { s, ticketId } = await start();
    s.now = new Date("2026-11-25T06:01:00Z");
    const status = [{ id: "s1", kind: "status_changed", at: "2026-11-25T06:00:40Z", author: "alice", status: "pending" }];
    expect((await post(s, call(ticketId, "d1", status))).status).toBe(202);
    const older = [
      { id: "a1", kind: "assigned", at: "2026-11-25T06:00:10Z", author: "alice", assignee: "bob" },
      { id: "s0", kind: "status_changed", at: "2026-11-25T06:00:05Z", author: "alice", status: "active" },
    ];
    expect((await post(s, call(ticketId, "d2", older))).status).toBe(202);
    expect((await incidentOf(s, "HookAlert")).helpdeskState).toMatchObject({ status: "pending", assignee: "bob" });
  });

  it("a signed body alertdesk cannot use is 400; events for a ticket no incident has are 409 and not acknowledged", async () => {
    const { s, ticketId } = await start();
    s.now = new Date("2026-11-25T06:01:00Z");
    const bad = await post(s, call(ticketId, "d1", [{ id: "x", kind: "commented", at: "yesterday", author: "a", public: true, text: "t" }]));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/tickets\[0\]\.events\[0\]\.at/);
    const unknown = call("no-such-ticket", "d2", [{ id: "y", kind: "commented", at: "2026-11-25T06:00:10Z", author: "a", public: true, text: "t" }]);
    expect((await post(s, unknown)).status).toBe(409);
    // Not stored as a doorbell: the same delivery is looked at again when the receiver retries.
    expect((await post(s, unknown)).status).toBe(409);
  });

  it("a forged signature is 401 and stores nothing; an unknown helpdesk and one without webhooks are 404", async () => {
    const { s, ticketId } = await start();
    s.now = new Date("2026-11-25T06:01:00Z");
    const forged = call(ticketId, "d9", [{ id: "x1", kind: "commented", at: "2026-11-25T06:00:10Z", author: "mallory", public: true, text: "hi" }], "guessed");
    const res = await post(s, forged);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toMatch(/Signature does not match/);
    const i = await incidentOf(s, "HookAlert");
    expect(await s.store.helpdeskEvents(i.id)).toEqual([]);
    expect(i.helpdeskState).toBeUndefined();
    expect((await post(s, call(ticketId, "d1", []), "nosuch")).status).toBe(404);
    expect((await post(s, call(ticketId, "d1", []), "builtin")).status).toBe(404);
    expect(s.logs.join("")).not.toContain(HOOK_SECRET);
  });
});

describe("Zendesk: a doorbell re-reads the ticket, and the poller's cursor survives a restart", () => {
  async function zendesk(): Promise<FakeZendesk> {
    const fake = await startFakeZendesk();
    cleanups.push(() => fake.stop());
    return fake;
  }
  const support = (fake: FakeZendesk): HelpdeskConfig => ({
    type: "zendesk",
    url: fake.url,
    email: fake.email,
    token: fake.token,
    ticket_type: "incident",
    public_comments: false,
    webhook_secret: ZENDESK_SECRET,
    timeout: 10_000,
  });
  async function open(s: TestService, name: string): Promise<string> {
    s.now = new Date();
    expect((await s.post("/webhooks/alertmanager", notification(name, "firing", new Date(Date.now() - 60_000).toISOString()))).status).toBe(200);
    await s.deliverAll();
    const ticketId = (await incidentOf(s, name)).ticket?.id;
    if (!ticketId) throw new Error("no ticket");
    return ticketId;
  }

  it("a signed Zendesk webhook is stored, answered 202, and the ticket read again through the API", async () => {
    const fake = await zendesk();
    const s = await startTestService({ rules: "rules: []\n", config: { helpdesks: { support: support(fake) }, defaultHelpdesk: "support" } });
    services.push(s);
    const ticketId = await open(s, "ZenAlert");
    await fake.agent.comment(Number(ticketId), "Checking the disk", false);
    const body = JSON.stringify({ ticket_id: ticketId });
    const timestamp = new Date().toISOString();
    s.now = new Date();
    const signature = createHmac("sha256", ZENDESK_SECRET).update(`${timestamp}${body}`).digest("base64");
    const headers = {
      "x-zendesk-webhook-signature": signature,
      "x-zendesk-webhook-signature-timestamp": timestamp,
      "x-zendesk-webhook-invocation-id": "inv-1",
    };
    const res = await s.post("/webhooks/helpdesk/support", body, headers);
    expect(res.status).toBe(202);
    // The doorbell is stored before the answer; the ticket is read when the way back runs.
    await s.syncer.runOnce();
    const i = await incidentOf(s, "ZenAlert");
    expect(i.helpdeskState?.firstResponseAt).not.toBeNull();
    const events = await s.store.helpdeskEvents(i.id);
    // Zendesk moves a new ticket to open when an agent comments: both are the agent's.
    const comments = events.filter((e) => e.event.kind === "commented");
    expect(comments.map((e) => e.event)).toEqual([
      expect.objectContaining({ author: fake.agentUser.name, public: false, text: expect.stringContaining("Checking the disk") }),
    ]);
    expect((await s.post("/webhooks/helpdesk/support", body, { ...headers, "x-zendesk-webhook-signature": "AAAA" })).status).toBe(401);
  });

  it("the poll's cursor is stored: after a restart the poller continues from it and learns only what is new", async () => {
    const fake = await zendesk();
    const dataDir = mkdtempSync(join(tmpdir(), "alertdesk-twoway-"));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const proxy = await startFaultProxy(fake.url);
    cleanups.push(() => proxy.close());
    const config = { helpdesks: { support: { ...support(fake), url: proxy.url } }, defaultHelpdesk: "support" };
    let s = await startTestService({ rules: "rules: []\n", dataDir, config });
    const ticketId = await open(s, "ZenPoll");
    await fake.agent.assign(Number(ticketId));
    s.now = new Date();
    await s.syncer.runOnce();
    const before = await s.store.syncStatus();
    expect(before.find((x) => x.helpdesk === "support")?.cursor).toBeTruthy();
    const first = await s.store.helpdeskEvents((await incidentOf(s, "ZenPoll")).id);
    expect(first.map((e) => e.event.kind)).toContain("assigned");
    await s.cleanup();
    await fake.agent.setStatus(Number(ticketId), "solved");
    const seenBefore = proxy.requests.length;
    s = await startTestService({ rules: "rules: []\n", dataDir, config });
    services.push(s);
    s.now = new Date();
    await s.syncer.runOnce();
    const i = await incidentOf(s, "ZenPoll");
    const after = await s.store.helpdeskEvents(i.id);
    expect(after.slice(0, first.length)).toEqual(first);
    expect(after.slice(first.length).map((e) => e.event)).toEqual([expect.objectContaining({ kind: "status_changed", status: "solved" })]);
    expect(i.helpdeskState?.status).toBe("solved");
    // The second process asked Zendesk from the stored cursor, not from a start time again.
    const exports = proxy.requests.slice(seenBefore).filter((r) => r.path.startsWith("/api/v2/incremental/"));
    expect(exports[0]?.path).toMatch(/[?&]cursor=/);
    expect(exports[0]?.path).not.toMatch(/start_time=/);
    const metrics = await (await s.get("/metrics")).text();
    expect(metrics).toContain('alertdesk_helpdesk_events_total{helpdesk="support",event="status_changed"} 1');
  });

  it("two replicas on PostgreSQL: one polls at a time (the lease), and each event takes effect once", async () => {
    const fake = await zendesk();
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const proxy = await startFaultProxy(fake.url);
    cleanups.push(() => proxy.close());
    const config = { helpdesks: { support: { ...support(fake), url: proxy.url } }, defaultHelpdesk: "support", databaseUrl: db.url };
    const a = await startTestService({ rules: "rules: []\n", config });
    const b = await startTestService({ rules: "rules: []\n", config });
    services.push(a, b);
    const ticketId = await open(a, "ZenReplicas");
    await fake.agent.comment(Number(ticketId), "One of us", true);
    const exports = () => proxy.requests.filter((r) => r.path.startsWith("/api/v2/incremental/")).length;
    a.now = new Date();
    b.now = new Date();
    await Promise.all([a.syncer.runOnce(), b.syncer.runOnce()]);
    // Both replicas ran a round at once; only the lease holder asked Zendesk (one export page).
    expect(exports()).toBe(1);
    await Promise.all([a.syncer.runOnce(), b.syncer.runOnce()]);
    const i = await incidentOf(a, "ZenReplicas");
    const events = await a.store.helpdeskEvents(i.id);
    expect(events.filter((e) => e.event.kind === "commented")).toHaveLength(1);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    const leases = (await a.store.syncStatus()).filter((x) => x.helpdesk === "support");
    expect(leases).toHaveLength(1);
  });
});
