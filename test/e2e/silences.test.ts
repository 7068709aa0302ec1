import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertmanagerConfigSchema } from "../../src/alertmanagers/config.js";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { type FaultProxy, startFaultProxy } from "../fakes/fault-proxy.js";
import { onPath } from "../kit/apt.js";
import { type Lab, startLab } from "../kit/lab.js";
import { startTestService, type TestService } from "../kit/service.js";
import { until } from "../kit/until.js";

/**
 * Agents' decisions become silences in the real Alertmanager 0.25 of the lab (Debian's packages):
 * alertdesk runs in-process (background delivery and sync, the real clock), the lab's Prometheus
 * fires LabServiceDown and HostHighCpu through its Alertmanager into alertdesk's built-in helpdesk,
 * and an agent acts through the agent API. Every silence is checked with amtool, as an operator sees
 * it, and every alert's state with Alertmanager's own API. alertdesk talks to the Alertmanager
 * through a recording loopback proxy (test/fakes/fault-proxy.ts, no faults armed), so the test sees
 * that a verification asked Alertmanager, silenced alerts included.
 */

const run = promisify(execFile);
const TOKEN = "e2e-silences-webhook-token";
/** Prometheus 27090, Alertmanager 27093, node exporter 27100: clear of the other e2e tests' ports. */
const BASE = 27090;
/** Each wait: generous, for a slow, busy machine; a wait returns as soon as its condition holds. */
const WAIT_MS = 240_000;
/** Every wait of this file: up to WAIT_MS, polling every half second, a probe that throws is "not yet". */
const WAIT = { timeoutMs: WAIT_MS, intervalMs: 500, retryErrors: true } as const;
/** The kit's `until` with this file's limits. */
const waitUntil = <T>(what: string, probe: () => Promise<T | undefined | false>) => until(what, probe, WAIT);

const HOUR = 3_600_000;

const RULES = `
defaults:
  priority: P3
  category: function
  on_resolved: solve
  flap_threshold: 0
  escalation: []
rules:
  # The lab's always-firing alerts (severity info) are not this test's.
  - name: info-chatter
    matchers: ['severity="info"']
    ignore: true
  - name: service-down
    matchers: ['alertname="LabServiceDown"']
    priority: P1
    helpdesk: builtin
    verify_after: 5s
    silence_on_wont_fix: 1h
    silence_on_ack: 30m
  - name: cpu-high
    matchers: ['alertname="HostHighCpu"']
    priority: P2
    category: performance
    helpdesk: builtin
    verify_after: 5s
    silence_on_wont_fix: 1h
    silence_on_ack: 30m
`;

const root = mkdtempSync(join(tmpdir(), "alertdesk-e2e-silences-"));
let lab: Lab | undefined;
let service: TestService | undefined;
let proxy: FaultProxy | undefined;

beforeAll(async () => {
  proxy = await startFaultProxy(`http://127.0.0.1:${BASE + 3}`);
  service = await startTestService({
    rules: RULES,
    background: true,
    realClock: true,
    config: {
      webhookToken: TOKEN,
      delivery: { pollIntervalMs: 100, leaseMs: 5000, baseMs: 200 },
      alertmanagers: [alertmanagerConfigSchema.parse({ name: "lab", url: proxy.url })],
    },
  });
  lab = await startLab({ webhookUrl: `${service.url}/webhooks/alertmanager`, token: TOKEN, portBase: BASE, labDir: join(root, "lab") });
  if (!onPath("amtool")) throw new Error("amtool is missing although prometheus-alertmanager is installed");
  // A first run installs the lab's packages; on a slow, busy machine every daemon starts slowly.
}, 1_200_000);

afterAll(async () => {
  await lab?.stop();
  await service?.cleanup();
  await proxy?.close();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

const theLab = () => lab as Lab;
const theService = () => service as TestService;
const theProxy = () => proxy as FaultProxy;

/** Polls `probe` until it answers something; on timeout the error says what was seen last. */

async function tickets(subject: RegExp): Promise<BuiltinTicket[]> {
  const res = await theService().get("/api/tickets");
  if (!res.ok) throw new Error(`GET /api/tickets: ${res.status}`);
  return ((await res.json()) as { tickets: BuiltinTicket[] }).tickets.filter((t) => subject.test(t.subject)).sort((a, b) => a.id - b.id);
}

/** The one ticket matching `subject`, once `check` holds for it (never more than one). */
async function ticketWhen(subject: RegExp, what: string, check: (t: BuiltinTicket) => boolean): Promise<BuiltinTicket> {
  const deadline = Date.now() + WAIT_MS;
  let last: BuiltinTicket[] = [];
  for (;;) {
    last = await tickets(subject).catch(() => last);
    expect(last.length, `tickets matching ${subject}`).toBeLessThanOrEqual(1);
    const [t] = last;
    if (t && check(t)) return t;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}; last seen: ${JSON.stringify(t ?? null)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** An agent's act through the built-in helpdesk's agent API. */
async function agent(method: "PATCH" | "POST", path: string, body: Record<string, unknown>): Promise<BuiltinTicket> {
  const res = await theService().send(method, path, { author: "alice", ...body });
  const text = await res.text();
  expect(res.status, `${method} ${path}: ${text}`).toBe(method === "POST" ? 201 : 200);
  return JSON.parse(text) as BuiltinTicket;
}

interface AmSilence {
  id: string;
  status: { state: "active" | "pending" | "expired" };
  matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
  createdBy: string;
  comment: string;
  startsAt: string;
  endsAt: string;
}

/** What `amtool silence query -o json` shows (`expired`: the expired silences instead). */
async function amtool(expired = false): Promise<AmSilence[]> {
  const args = ["silence", "query", `--alertmanager.url=${theLab().amUrl}`, "-o", "json", ...(expired ? ["--expired"] : [])];
  const { stdout } = await run("amtool", args, { timeout: 60_000 });
  return JSON.parse(stdout) as AmSilence[];
}

/** alertdesk's silences for ticket `key`, as amtool shows them. */
async function silencesOf(key: string, expired = false): Promise<AmSilence[]> {
  return (await amtool(expired)).filter((s) => s.createdBy === "alertdesk" && s.comment.includes(key));
}

interface AmAlert {
  fingerprint: string;
  labels: Record<string, string>;
  status: { state: "active" | "suppressed" | "unprocessed"; silencedBy: string[]; inhibitedBy: string[] };
}

/** Alertmanager's own view of the alerts named `alertname`, silenced ones included. */
async function amAlerts(alertname: string): Promise<AmAlert[]> {
  const q = new URLSearchParams({ filter: `alertname="${alertname}"`, silenced: "true", inhibited: "true", active: "true", unprocessed: "true" });
  const res = await fetch(`${theLab().amUrl}/api/v2/alerts?${q}`);
  if (!res.ok) throw new Error(`GET /api/v2/alerts: ${res.status} ${await res.text()}`);
  return (await res.json()) as AmAlert[];
}

/** Waits until Alertmanager holds the alert with these labels in `state` (suppressed: by silence `silence`). */
async function amAlertWhen(alertname: string, labels: Record<string, string>, state: "active" | "suppressed", silence?: string): Promise<AmAlert> {
  return waitUntil(`Alertmanager to show ${alertname} ${JSON.stringify(labels)} ${state}${silence ? ` by ${silence}` : ""}`, async () => {
    const found = (await amAlerts(alertname)).find((a) => Object.entries(labels).every(([k, v]) => a.labels[k] === v));
    if (!found || found.status.state !== state) return undefined;
    if (state === "suppressed" && silence !== undefined && !found.status.silencedBy.includes(silence)) return undefined;
    if (state === "active" && found.status.silencedBy.length > 0) return undefined;
    return found;
  });
}

/** The incident of a built-in ticket, as the store keeps it (groupLabels are what a silence matches). */
async function incidentOf(ticket: BuiltinTicket) {
  const res = await theService().get("/api/incidents");
  const view = ((await res.json()) as { incidents: { id: number; ticketKey: string; ticket: { id: string } | null }[] }).incidents.find(
    (i) => i.ticket?.id === String(ticket.id),
  );
  expect(view, `the incident of ticket ${ticket.id}`).toBeDefined();
  expect(view?.ticketKey).toBe(ticket.key);
  const stored = (await theService().store.listIncidents({ limit: 100 })).find((i) => i.ticketKey === ticket.key);
  expect(stored, `the stored incident ${ticket.key}`).toBeDefined();
  return stored as NonNullable<typeof stored>;
}

/** The equality matchers of a label set, sorted by name: what a silence of the incident must match. */
function equalityMatchers(labels: Record<string, string>) {
  return Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
}

/** Waits for alertdesk's one live silence of ticket `key` (not one of `not`), and checks what it says. */
async function liveSilence(
  key: string,
  expected: { matchers: ReturnType<typeof equalityMatchers>; why: string; forMs: number; decidedAt: number },
  not: string[] = [],
): Promise<AmSilence> {
  const silence = await waitUntil(`amtool to show alertdesk's silence of ${key}`, async () => {
    const live = (await silencesOf(key)).filter((s) => !not.includes(s.id));
    return live.length > 0 ? live : undefined;
  });
  const seenAt = Date.now();
  expect(silence, "one live silence per decision").toHaveLength(1);
  const [s] = silence as [AmSilence];
  expect(s.status.state).toBe("active");
  expect(s.createdBy).toBe("alertdesk");
  expect(s.matchers.map((m) => ({ ...m, isEqual: m.isEqual ?? true }))).toEqual(expected.matchers);
  expect(s.comment).toContain(`alertdesk ticket ${key}`);
  expect(s.comment).toContain(expected.why);
  // Until the decision's time plus the rule's duration: between the act and the moment it was seen.
  const endsAt = Date.parse(s.endsAt);
  expect(endsAt).toBeGreaterThanOrEqual(expected.decidedAt + expected.forMs - 1000);
  expect(endsAt).toBeLessThanOrEqual(seenAt + expected.forMs + 1000);
  return s;
}

/** Waits until amtool lists silence `id` among the expired ones, and no live silence of `key` is left. */
async function expiredSilence(key: string, id: string): Promise<void> {
  await waitUntil(`amtool to show silence ${id} expired`, async () =>
    (await amtool(true)).some((s) => s.id === id && s.status.state === "expired") ? true : undefined,
  );
  const res = await fetch(`${theLab().amUrl}/api/v2/silence/${id}`);
  expect(((await res.json()) as AmSilence).status.state).toBe("expired");
  expect(await silencesOf(key), `live silences of ${key}`).toEqual([]);
}

/** alertdesk's requests for alerts to the Alertmanager (through the proxy) since `since`. */
function alertQueries(since: number) {
  return theProxy().requests.filter((r) => r.at >= since && r.method === "GET" && r.path.startsWith("/api/v2/alerts"));
}

/** Log lines of the service whose message is `msg`. */
function logged(msg: string): Record<string, unknown>[] {
  return theService()
    .logs.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((l) => l.msg === msg);
}

const SERVICE_DOWN = /^LabServiceDown/;
const SERVICE_DOWN_MATCHERS = equalityMatchers({ alertname: "LabServiceDown" });

describe("silences from agents' decisions, against the real Alertmanager 0.25", () => {
  it("won't fix → a silence that suppresses the alert; reopen → expired; won't fix again, then solved while the silenced alert fires → the verification reopens", async () => {
    const l = theLab();
    l.setServicesDown(["checkout"]);
    let t = await ticketWhen(SERVICE_DOWN, "the LabServiceDown ticket", () => true);
    expect(t).toMatchObject({ priority: "P1", status: "open" });
    expect(t.labels).toMatchObject({ alertname: "LabServiceDown", service: "checkout" });
    const incident = await incidentOf(t);
    // The lab's Alertmanager groups by alertname: the incident's group labels are what a silence matches.
    expect(incident.groupLabels).toEqual({ alertname: "LabServiceDown" });
    const matchers = equalityMatchers(incident.groupLabels);
    expect(matchers).toEqual(SERVICE_DOWN_MATCHERS);
    await amAlertWhen("LabServiceDown", { service: "checkout" }, "active");

    // 1. Won't fix: a silence of the incident's group for silence_on_wont_fix (1h).
    let decidedAt = Date.now();
    t = await agent("PATCH", `/api/tickets/${t.id}`, { status: "solved", resolution: "wont_fix" });
    expect(t).toMatchObject({ status: "solved", resolution: "wont_fix" });
    const first = await liveSilence(t.key, { matchers, why: "an agent decided won't fix", forMs: HOUR, decidedAt });
    await amAlertWhen("LabServiceDown", { service: "checkout" }, "suppressed", first.id);

    // 2. The agent takes the won't-fix back: the silence is expired, none replaces it, the alert is active again.
    t = await agent("PATCH", `/api/tickets/${t.id}`, { status: "open" });
    expect(t.status).toBe("open");
    await expiredSilence(t.key, first.id);
    await amAlertWhen("LabServiceDown", { service: "checkout" }, "active");

    // 3. Won't fix again: a new silence. Then the agent says it is fixed while the alert still fires,
    // hidden by that silence: the verification (verify_after 5s) asks Alertmanager, which counts the
    // silenced alert as firing, and reopens. Alertmanager notifies nothing about a silenced alert, so
    // nothing new reaches alertdesk's webhook meanwhile.
    decidedAt = Date.now();
    t = await agent("PATCH", `/api/tickets/${t.id}`, { status: "solved", resolution: "wont_fix" });
    const second = await liveSilence(t.key, { matchers, why: "an agent decided won't fix", forMs: HOUR, decidedAt }, [first.id]);
    expect(second.id).not.toBe(first.id);
    await amAlertWhen("LabServiceDown", { service: "checkout" }, "suppressed", second.id);
    const commentsBefore = t.comments.length;
    const solvedAt = Date.now();
    t = await agent("PATCH", `/api/tickets/${t.id}`, { status: "solved", resolution: "fixed" });
    expect(t).toMatchObject({ status: "solved", resolution: "fixed" });
    t = await ticketWhen(
      SERVICE_DOWN,
      "the verification's reopen",
      (x) => x.status === "open" && x.comments.slice(commentsBefore).some((c) => c.body.startsWith("Verification failed:")),
    );
    const verdict = t.comments.slice(commentsBefore).find((c) => c.body.startsWith("Verification failed:"));
    expect(verdict?.body).toMatch(/^Verification failed: 1 alert still fires after the ticket was solved; reopened \(automatic reopen 1 of 3\)\./);
    expect(verdict?.body).toContain("service=checkout");
    // The answer came from the Alertmanager: alertdesk asked it for the incident's alerts, silenced ones
    // included (without them it would have answered none, and the verification would have passed).
    const asked = alertQueries(solvedAt);
    expect(asked.length, "alertdesk's alert queries to the Alertmanager after the solve").toBeGreaterThan(0);
    for (const q of asked) {
      expect(q.status).toBe(200);
      const params = new URL(q.path, "http://x").searchParams;
      expect(params.getAll("filter")).toEqual(['alertname="LabServiceDown"']);
      expect(params.get("silenced")).toBe("true");
    }
    expect(logged("Alertmanager not asked for the verification; alertdesk's own view decides")).toEqual([]);
    expect(logged("verification of an agent's solve").map((x) => x.outcome)).toContain("failed");
    // The reopen expires the silence that hid the alert.
    await expiredSilence(t.key, second.id);
    await amAlertWhen("LabServiceDown", { service: "checkout" }, "active");
    expect(logged("delivery dead")).toEqual([]);

    l.setServicesDown([]);
    await ticketWhen(SERVICE_DOWN, "the resolve", (x) => x.status === "solved");
  }, 2_400_000); // up to a dozen waits of WAIT_MS each; each returns as soon as its condition holds

  it("the first response (a comment) → a silence for silence_on_ack; the solve of the acknowledged ticket expires it, and the verification still sees the alert", async () => {
    const l = theLab();
    const CPU = /^HostHighCpu/;
    l.setCpuUsage(90);
    let t = await ticketWhen(CPU, "the HostHighCpu ticket", () => true);
    expect(t).toMatchObject({ priority: "P2", status: "open", firstResponseAt: null });
    const incident = await incidentOf(t);
    expect(incident.groupLabels).toEqual({ alertname: "HostHighCpu" });
    const matchers = equalityMatchers(incident.groupLabels);
    const instance = t.labels.instance as string;
    await amAlertWhen("HostHighCpu", { instance }, "active");

    const decidedAt = Date.now();
    t = await agent("POST", `/api/tickets/${t.id}/comments`, { body: "Looking at it.", public: false });
    expect(t.firstResponseAt).not.toBeNull();
    const ack = await liveSilence(t.key, { matchers, why: "an agent is working on it", forMs: 30 * 60_000, decidedAt });
    await amAlertWhen("HostHighCpu", { instance }, "suppressed", ack.id);

    // A second response silences nothing more.
    t = await agent("POST", `/api/tickets/${t.id}/comments`, { body: "Still on it.", public: false });
    const commentsBefore = t.comments.length;
    t = await agent("PATCH", `/api/tickets/${t.id}`, { status: "solved" });
    expect(t).toMatchObject({ status: "solved", resolution: "fixed" });
    await expiredSilence(t.key, ack.id);
    await amAlertWhen("HostHighCpu", { instance }, "active");
    expect((await amtool(true)).filter((s) => s.comment.includes(t.key)).map((s) => s.id)).toEqual([ack.id]);
    // The CPU is still high: the verification reopens.
    t = await ticketWhen(
      CPU,
      "the verification's reopen",
      (x) => x.status === "open" && x.comments.slice(commentsBefore).some((c) => c.body.startsWith("Verification failed:")),
    );
    expect(await silencesOf(t.key), "no silence after the reopen").toEqual([]);
    expect(logged("delivery dead")).toEqual([]);

    l.setCpuUsage(undefined);
    await ticketWhen(CPU, "the CPU ticket to be solved", (x) => x.status === "solved" && x.comments.length > t.comments.length);
  }, 2_400_000);
});
