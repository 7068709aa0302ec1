import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The way back on the built-in helpdesk, through the whole service with an injected clock: an agent
 * acts through the agent API, and alertdesk learns it (helpdeskState), verifies solves against the
 * monitoring, stops reopening at the cap, mutes a won't-fix, and never raises over an agent's priority.
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

const RULES = `
defaults:
  verify_after: 5m
  max_auto_reopens: 2
rules:
  - name: disk
    matchers: ['alertname="DiskFull"']
    priority: P3
  - name: disk-critical
    matchers: ['alertname="DiskFull"', 'severity="critical"']
    priority: P1
  - name: trusted
    matchers: ['alertname="Trusted"']
    on_agent_solved: accept
`;

/** One Alertmanager notification for the group `name`, its alerts by instance. */
function notification(name: string, alerts: Record<string, "firing" | "resolved">, startsAt: string, extra: Record<string, string> = {}): string {
  const list = Object.entries(alerts).map(([instance, status]) => ({
    status,
    labels: { alertname: name, instance, ...extra },
    annotations: { summary: `${name} on ${instance}` },
    startsAt,
    endsAt: status === "resolved" ? new Date(Date.parse(startsAt) + 600_000).toISOString() : "0001-01-01T00:00:00Z",
    generatorURL: "http://prom/graph",
    fingerprint: `${name}-${instance}`,
  }));
  return JSON.stringify({
    receiver: "alertdesk",
    status: list.some((a) => a.status === "firing") ? "firing" : "resolved",
    alerts: list,
    groupLabels: { alertname: name },
    commonLabels: { alertname: name },
    commonAnnotations: {},
    externalURL: "http://am",
    version: "4",
    groupKey: `{}:{alertname="${name}"}`,
    truncatedAlerts: 0,
  });
}

const T0 = "2026-11-25T06:00:00.000Z";
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000);

async function start(): Promise<TestService> {
  svc = await startTestService({ rules: RULES });
  svc.now = at(0);
  return svc;
}

async function alert(s: TestService, name: string, alerts: Record<string, "firing" | "resolved">, minutes: number, extra: Record<string, string> = {}) {
  s.now = at(minutes);
  const res = await s.post("/webhooks/alertmanager", notification(name, alerts, T0, extra));
  expect(res.status).toBe(200);
  await s.sync();
}

async function ticketOf(s: TestService, key = ""): Promise<BuiltinTicket> {
  const all = await s.tickets();
  const t = key ? all.find((x) => x.key === key) : all.at(-1);
  if (!t) throw new Error("no ticket");
  return t;
}

async function incident(s: TestService, name: string) {
  const res = await s.get("/api/incidents");
  const body = (await res.json()) as { incidents: Record<string, unknown>[] };
  const found = body.incidents.find((i) => String(i.dedupKey).includes(name));
  if (!found) throw new Error(`no incident for ${name}`);
  return found as {
    id: number;
    priority: string;
    state: string;
    ticketKey: string;
    helpdeskState: { status: string | null; assignee: string | null; firstResponseAt: string | null; resolution: string | null; syncedAt: string | null };
    verifyAt: string | null;
    autoReopens: number;
    mutedUntil: string | null;
  };
}

async function act(s: TestService, ticketId: number, change: Record<string, unknown>, minutes: number) {
  s.now = at(minutes);
  const res = await s.send("PATCH", `/api/tickets/${ticketId}`, change);
  expect(res.status).toBe(200);
  await s.sync();
  return (await res.json()) as BuiltinTicket;
}

async function comment(s: TestService, ticketId: number, body: string, author: string, minutes: number) {
  s.now = at(minutes);
  const res = await s.post(`/api/tickets/${ticketId}/comments`, JSON.stringify({ body, author, public: false }));
  expect(res.status).toBe(201);
  await s.sync();
  return (await res.json()) as BuiltinTicket;
}

const texts = (t: BuiltinTicket) => t.comments.map((c) => c.body);

describe("the built-in helpdesk's agent API", () => {
  it("a comment, an assignment and a status are learnt: helpdeskState, firstResponseAt, and the ticket's own fields", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    expect((await incident(s, "DiskFull")).helpdeskState).toEqual({ status: null, assignee: null, firstResponseAt: null, resolution: null, syncedAt: null });
    const commented = await comment(s, t.id, "Looking at it", "alice", 3);
    expect(commented.comments.map((c) => [c.author, c.public])).toEqual([["alice", false]]);
    expect(commented.firstResponseAt).toBe(at(3).toISOString());
    await act(s, t.id, { assignee: "bob", author: "alice" }, 4);
    const state = (await incident(s, "DiskFull")).helpdeskState;
    expect(state).toMatchObject({ assignee: "bob", firstResponseAt: at(3).toISOString(), syncedAt: at(4).toISOString() });
    const listed = (await (await s.get("/api/tickets")).json()) as { tickets: BuiltinTicket[] };
    expect(listed.tickets[0]).toMatchObject({ assignee: "bob", resolution: null, firstResponseAt: at(3).toISOString() });
    expect(listed.tickets[0]?.comments.map((c) => c.author)).toEqual(["alice"]);
  });

  it.each([
    ["an empty body", "POST", "/comments", { body: " ", author: "alice" }, 400, "body"],
    ["no author", "POST", "/comments", { body: "x" }, 400, "author"],
    ["alertdesk as the author", "POST", "/comments", { body: "x", author: "alertdesk" }, 400, "author"],
    ["an unknown key", "PATCH", "", { status: "solved", colour: "red" }, 400, ""],
    ["a bad status", "PATCH", "", { status: "done" }, 400, "status"],
    ["a bad priority", "PATCH", "", { priority: "P0" }, 400, "priority"],
    ["a resolution without a solve", "PATCH", "", { status: "pending", resolution: "fixed" }, 400, "resolution"],
    ["nothing to change", "PATCH", "", { author: "alice" }, 400, ""],
  ])("%s (%s %s) → 400 naming the field, and nothing changes", async (_why, method, suffix, body, status, field) => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const before = await ticketOf(s);
    const res = await s.send(method, `/api/tickets/${before.id}${suffix}`, body);
    expect(res.status).toBe(status);
    const answer = (await res.json()) as { issues: { field: string }[] };
    if (field) expect(answer.issues.map((i) => i.field)).toContain(field);
    else expect(answer.issues.length).toBeGreaterThan(0);
    expect(await ticketOf(s)).toEqual(before);
  });

  it("an unknown ticket is 404, a ticket id that is not one is 400, and a closed ticket refuses changes (409)", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    expect((await s.send("PATCH", "/api/tickets/99999", { status: "solved" })).status).toBe(404);
    expect((await s.post("/api/tickets/99999/comments", JSON.stringify({ body: "x", author: "a" }))).status).toBe(404);
    expect((await s.send("PATCH", "/api/tickets/abc", { status: "solved" })).status).toBe(400);
    await act(s, t.id, { status: "closed", resolution: "fixed", author: "alice" }, 2);
    const res = await s.send("PATCH", `/api/tickets/${t.id}`, { status: "open" });
    expect(res.status).toBe(409);
    expect((await ticketOf(s)).status).toBe("closed");
  });

  it("needs the admin token when one is configured; the read token is refused", async () => {
    svc = await startTestService({ rules: RULES, remoteCallers: true, config: { adminToken: "admin-secret-1", readToken: "read-secret-1" } });
    const s = svc;
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    expect((await s.send("PATCH", `/api/tickets/${t.id}`, { status: "pending" })).status).toBe(401);
    expect((await s.send("PATCH", `/api/tickets/${t.id}`, { status: "pending" }, { authorization: "Bearer read-secret-1" })).status).toBe(401);
    expect((await s.send("PATCH", `/api/tickets/${t.id}`, { status: "pending" }, { authorization: "Bearer admin-secret-1" })).status).toBe(200);
  });
});

describe("verification of an agent's solve", () => {
  it("solved while alerts still fire → after verify_after, reopened with 'Verification failed:' saying which alerts still fire", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing", b: "firing" }, 0);
    const t = await ticketOf(s);
    await act(s, t.id, { status: "solved", resolution: "fixed", author: "alice" }, 10);
    expect((await incident(s, "DiskFull")).verifyAt).toBe(at(15).toISOString());
    s.now = at(14);
    await s.sync();
    expect((await ticketOf(s)).status).toBe("solved");
    s.now = at(15);
    await s.sync();
    const reopened = await ticketOf(s);
    expect(reopened.status).toBe("open");
    const last = texts(reopened).at(-1) ?? "";
    expect(last).toMatch(/^Verification failed: 2 alerts still fire/);
    expect(last).toContain("instance=a");
    expect(last).toContain("automatic reopen 1 of 2");
    // Done once: another round changes nothing.
    s.now = at(30);
    await s.sync();
    expect((await ticketOf(s)).comments).toHaveLength(reopened.comments.length);
    expect((await incident(s, "DiskFull")).helpdeskState.status).toBe("active");
  });

  it("is durable: a verification that came due while alertdesk was stopped happens at the next start, once", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "alertdesk-verify-"));
    try {
      let s = await startTestService({ rules: RULES, dataDir });
      s.now = at(0);
      await alert(s, "DiskFull", { a: "firing" }, 0);
      const t = await ticketOf(s);
      await act(s, t.id, { status: "solved", author: "alice" }, 10);
      await s.cleanup();
      s = await startTestService({ rules: RULES, dataDir });
      svc = s;
      s.now = at(40);
      await s.sync();
      await s.sync();
      const after = await ticketOf(s);
      expect(after.status).toBe("open");
      expect(texts(after).filter((c) => c.startsWith("Verification failed:"))).toHaveLength(1);
    } finally {
      await svc?.cleanup();
      svc = undefined;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("at most max_auto_reopens times; then one comment asks a person to look, and the ticket stays solved", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    let minute = 10;
    for (let i = 0; i < 2; i++) {
      await act(s, t.id, { status: "solved", author: "alice" }, minute);
      s.now = at(minute + 5);
      await s.sync();
      expect((await ticketOf(s)).status).toBe("open");
      minute += 10;
    }
    await act(s, t.id, { status: "solved", author: "alice" }, minute);
    s.now = at(minute + 5);
    await s.sync();
    const last = await ticketOf(s);
    expect(last.status).toBe("solved");
    expect(texts(last).at(-1)).toMatch(/^Verification failed: .* will not reopen it again/);
    expect(texts(last).filter((c) => c.startsWith("Verification failed:"))).toHaveLength(3);
    expect((await incident(s, "DiskFull")).autoReopens).toBe(2);
  });

  it("the alerts resolve after the agent's solve → one 'Monitoring confirms:' comment, and no second solve", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    await act(s, t.id, { status: "solved", author: "alice" }, 10);
    await alert(s, "DiskFull", { a: "resolved" }, 12);
    const after = await ticketOf(s);
    expect(after.status).toBe("solved");
    const confirms = texts(after).filter((c) => c.startsWith("Monitoring confirms:"));
    expect(confirms).toHaveLength(1);
    expect(confirms[0]).toContain("2026-11-25 06:10");
    expect(texts(after).some((c) => c.startsWith("Resolved:"))).toBe(false);
    // The verification that was due finds nothing to do.
    s.now = at(20);
    await s.sync();
    expect((await ticketOf(s)).comments).toHaveLength(after.comments.length);
    expect((await incident(s, "DiskFull")).verifyAt).toBeNull();
  });

  it("an agent taking the ticket back before verify_after cancels the verification", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    await act(s, t.id, { status: "solved", author: "alice" }, 10);
    await act(s, t.id, { status: "open", author: "alice" }, 12);
    expect((await incident(s, "DiskFull")).verifyAt).toBeNull();
    s.now = at(30);
    await s.sync();
    expect(texts(await ticketOf(s)).some((c) => c.startsWith("Verification failed:"))).toBe(false);
  });

  it("on_agent_solved: accept trusts the agent: no verification, no reopen", async () => {
    const s = await start();
    await alert(s, "Trusted", { a: "firing" }, 0);
    const t = await ticketOf(s);
    await act(s, t.id, { status: "solved", author: "alice" }, 10);
    expect((await incident(s, "Trusted")).verifyAt).toBeNull();
    s.now = at(60);
    await s.sync();
    expect((await ticketOf(s)).status).toBe("solved");
  });
});

describe("won't fix, ownership, closed tickets", () => {
  it("won't fix mutes re-fires within mute_for: no reopen, no comment, no new ticket; counted", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    await act(s, t.id, { status: "solved", resolution: "wont_fix", author: "alice" }, 5);
    expect((await incident(s, "DiskFull")).mutedUntil).toBe(new Date(at(5).getTime() + 7 * 86_400_000).toISOString());
    await alert(s, "DiskFull", { a: "resolved" }, 10);
    await alert(s, "DiskFull", { a: "firing", b: "firing" }, 20);
    const after = await s.tickets();
    expect(after).toHaveLength(1);
    expect(after[0]?.status).toBe("solved");
    expect(after[0]?.comments).toHaveLength(t.comments.length);
    const metrics = await (await s.get("/metrics")).text();
    expect(metrics).toMatch(/alertdesk_muted_notifications_total 2/);
    expect(metrics).toMatch(/alertdesk_helpdesk_events_total\{helpdesk="builtin",event="status_changed"\} 1/);
  });

  it("a priority an agent set is never raised by alertdesk", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    expect(t.priority).toBe("P3");
    await act(s, t.id, { priority: "P4", author: "alice" }, 2);
    await alert(s, "DiskFull", { a: "firing", b: "firing" }, 5, { severity: "critical" });
    const after = await ticketOf(s);
    expect(after.priority).toBe("P4");
    expect(texts(after).at(-1)).not.toContain("Priority raised");
    expect((await incident(s, "DiskFull")).priority).toBe("P4");
  });

  it("closed is final: a re-fire within reopen_within opens a follow-up ticket that links the closed one", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    await alert(s, "DiskFull", { a: "resolved" }, 10);
    const first = await ticketOf(s);
    await act(s, first.id, { status: "closed", author: "alice" }, 11);
    s.now = at(20);
    const later = notification("DiskFull", { a: "firing" }, at(19).toISOString());
    expect((await s.post("/webhooks/alertmanager", later)).status).toBe(200);
    await s.sync();
    const all = await s.tickets();
    expect(all).toHaveLength(2);
    expect(all[0]?.status).toBe("closed");
    expect(all[1]?.status).toBe("open");
    expect(all[1]?.body).toContain(first.key);
  });

  it("alertdesk's own comments are never learnt as an agent's: no first response from them", async () => {
    const s = await start();
    await alert(s, "DiskFull", { a: "firing" }, 0);
    await alert(s, "DiskFull", { a: "firing", b: "firing" }, 3);
    const i = await incident(s, "DiskFull");
    expect((await ticketOf(s)).comments.map((c) => c.author)).toEqual(["alertdesk"]);
    expect(i.helpdeskState.firstResponseAt).toBeNull();
    expect(await s.store.helpdeskEvents(i.id)).toEqual([]);
  });
});

describe("silences from agents' decisions, as outbox rows", () => {
  const SILENCING = `
defaults:
  silence_on_ack: 1h
  silence_on_wont_fix: 1d
`;
  const silenceRows = async (s: TestService) =>
    (await s.store.listDeliveries({ limit: 100 }))
      .filter((d) => d.op === "silence")
      .reverse()
      .map((d) => ({ helpdesk: d.helpdesk, state: d.state }));

  it("a first response silences, an active ticket's silence is extended, and the solve expires it", async () => {
    svc = await startTestService({ rules: SILENCING });
    const s = svc;
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    await comment(s, t.id, "on it", "alice", 5);
    expect(await silenceRows(s)).toEqual([{ helpdesk: "alertmanagers", state: "done" }]);
    // A quarter of the hour before it ends (at 65 - 15 = 50 minutes) it is extended by an hour.
    s.now = at(49);
    await s.sync();
    expect(await silenceRows(s)).toHaveLength(1);
    s.now = at(50);
    await s.sync();
    expect(await silenceRows(s)).toHaveLength(2);
    await act(s, t.id, { status: "solved", author: "alice" }, 60);
    expect(await silenceRows(s)).toHaveLength(3);
    const incidentNow = (await s.store.listIncidents({ limit: 1 }))[0];
    expect(incidentNow?.silence).toBeUndefined();
  });

  it("a won't-fix silences for a day and its silence is not extended; the agent's reopen expires it", async () => {
    svc = await startTestService({ rules: SILENCING });
    const s = svc;
    await alert(s, "DiskFull", { a: "firing" }, 0);
    const t = await ticketOf(s);
    await act(s, t.id, { status: "solved", resolution: "wont_fix", author: "alice" }, 5);
    const [i] = await s.store.listIncidents({ limit: 1 });
    expect(i?.silence).toEqual({ reason: "wont_fix", until: new Date(at(5).getTime() + 86_400_000).toISOString() });
    s.now = at(60 * 23);
    await s.sync();
    expect(await silenceRows(s)).toHaveLength(1);
    await act(s, t.id, { status: "open", author: "alice" }, 60 * 23 + 1);
    expect(await silenceRows(s)).toHaveLength(2);
  });
});
