import { afterEach, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The console's knowledge-base pages, through the whole service with an injected clock: an incident
 * with an agent's note is over and archived, the search page finds it (the same entries as
 * `GET /api/kb`), and the entry's page shows it in full, every value escaped.
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

const HOSTILE = "<img src=x onerror=alert(1)>";
const T0 = "2026-11-25T06:00:00.000Z";
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000);

/** One Alertmanager notification of HostHighCpu on `instance`. */
function cpu(instance: string, status: "firing" | "resolved", value: string): string {
  const labels = { alertname: "HostHighCpu", instance, job: "node", owner: HOSTILE };
  return JSON.stringify({
    receiver: "alertdesk",
    status,
    alerts: [
      {
        status,
        labels,
        annotations: { summary: `CPU usage above 80% on ${instance}`, value },
        startsAt: T0,
        endsAt: status === "resolved" ? at(10).toISOString() : "0001-01-01T00:00:00Z",
        generatorURL: "http://prom/graph",
        fingerprint: `cpu-${instance}`,
      },
    ],
    groupLabels: { alertname: "HostHighCpu", instance },
    commonLabels: labels,
    commonAnnotations: {},
    externalURL: "http://am",
    version: "4",
    groupKey: `{}:{alertname="HostHighCpu", instance="${instance}"}`,
    truncatedAlerts: 0,
  });
}

async function post(s: TestService, body: string, minutes: number): Promise<void> {
  s.now = at(minutes);
  expect((await s.post("/webhooks/alertmanager", body)).status).toBe(200);
  await s.sync();
}

async function getPage(s: TestService, path: string): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await s.get(path);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

interface KbEntry {
  id: number;
  title: string;
  resolutionLine: string;
  priority: string;
  ticketId: string | null;
}

/** A service with one archived incident: fired, noted by an agent (with hostile markup), resolved, over. */
async function serviceWithEntry(): Promise<{ s: TestService; entry: KbEntry }> {
  const s = await startTestService();
  svc = s;
  await post(s, cpu("db-1", "firing", "91.5"), 0);
  const [ticket] = await s.tickets();
  if (!ticket) throw new Error("the alert opened no ticket");
  s.now = at(5);
  const note = JSON.stringify({ body: `Killed the runaway report job ${HOSTILE}.`, author: "alice", public: true });
  expect((await s.post(`/api/tickets/${ticket.id}/comments`, note)).status).toBe(201);
  await s.sync();
  await post(s, cpu("db-1", "resolved", "42"), 10);
  s.now = at(13);
  await s.sync();
  const res = await s.get("/api/kb?q=runaway");
  const [entry] = ((await res.json()) as { entries: KbEntry[] }).entries;
  if (!entry) throw new Error("the incident was not archived");
  return { s, entry };
}

describe("the console's knowledge base", () => {
  it("searches the archive: a labelled search field, and the entries GET /api/kb finds", async () => {
    const { s, entry } = await serviceWithEntry();
    const found = await getPage(s, "/ui/kb?q=runaway+report");
    expect(found.status).toBe(200);
    expect(found.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(found.text).toContain("<h1>Knowledge base</h1>");
    expect(found.text).toContain('<label for="kb-q">');
    expect(found.text).toContain('<input type="search" id="kb-q" name="q" value="runaway report"');
    expect(found.text).toContain('aria-current="page">Knowledge base</a>');
    expect(found.text).toContain("1 entry for “runaway report”");
    expect(found.text).toContain(`<a href="/ui/kb/${entry.id}">HostHighCpu on db-1 — 2026-11-25`);
    expect(found.text).toContain('<time datetime="2026-11-25T06:00:00.000Z">2026-11-25</time>');
    expect(found.text).toContain("<td>10m</td>");
    expect(found.text).toContain(`<span class="prio ${entry.priority}">${entry.priority}</span>`);
    expect(found.text).toContain(`<a href="/ui/tickets/${entry.ticketId}">#${entry.ticketId}</a>`);
    expect(found.text).toContain("Killed the runaway report job &#60;img src=x onerror=alert(1)&#62;.");
    expect(found.text).not.toContain(HOSTILE);
    expect(found.text).not.toMatch(/style=|<script>/);
    // Stemmed like the API; nothing found says so; no query lists the newest.
    expect((await getPage(s, "/ui/kb?q=killing+runaways")).text).toContain(`/ui/kb/${entry.id}`);
    expect((await getPage(s, "/ui/kb?q=nothing+like+this")).text).toContain('<p class="empty">No entry found.</p>');
    const newest = await getPage(s, "/ui/kb");
    expect(newest.text).toContain("The newest entries (1 in all).");
    expect(newest.text).toContain(`/ui/kb/${entry.id}`);
    // The query's own rules: too long is a 400 naming the field.
    const tooLong = await getPage(s, `/ui/kb?q=${"x".repeat(501)}`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.text).toContain("<strong>q</strong>: must be at most 500 characters");
    // A hostile query is text, in the field and in the summary.
    const hostileQuery = await getPage(s, `/ui/kb?q=${encodeURIComponent(HOSTILE)}`);
    expect(hostileQuery.status).toBe(200);
    expect(hostileQuery.text).not.toContain(HOSTILE);
  });

  it("shows one entry in full; unknown ids are 404, bad ones 400", async () => {
    const { s, entry } = await serviceWithEntry();
    const one = await getPage(s, `/ui/kb/${entry.id}`);
    expect(one.status).toBe(200);
    expect(one.text).toContain(`<h1>${entry.title}</h1>`);
    expect(one.text).toContain('<dl class="facts">');
    expect(one.text).toContain("Timeline");
    expect(one.text).toContain("Killed the runaway report job &#60;img src=x onerror=alert(1)&#62;.");
    expect(one.text).toContain("<code>owner</code>=<code>&#60;img src=x onerror=alert(1)&#62;</code>");
    expect(one.text).not.toContain(HOSTILE);
    expect(one.text).toContain(`<a href="/api/kb/${entry.id}">`);
    expect(one.text).toMatch(/<a href="\/ui\/incidents\/\d+">incident \d+<\/a>/);
    // No external knowledge base is configured: no external link.
    expect(one.text).not.toContain("External knowledge base");
    expect((await getPage(s, "/ui/kb/999999")).status).toBe(404);
    const bad = await getPage(s, "/ui/kb/first");
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("<strong>id</strong>");
  });
});
