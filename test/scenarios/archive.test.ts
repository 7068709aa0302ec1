import { afterEach, describe, expect, it } from "vitest";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { alertmanagerNotification } from "../kit/notifications.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The archive on the built-in helpdesk, through the whole service with an injected clock: an
 * incident with an agent's notes and solve becomes one knowledge-base entry once it is over, found by
 * full-text search (API, page), and the next incident of the same alert lists it, with how it was
 * solved, in its ticket's "Similar past incidents".
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

const T0 = "2026-11-25T06:00:00.000Z";
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000);

/** One Alertmanager notification of HostHighCpu on `instance`, with the CPU value the default rules read. */
function cpu(instance: string, status: "firing" | "resolved", startsAt: string, value: string, extra: Record<string, string> = {}): string {
  return alertmanagerNotification(
    [
      {
        status,
        labels: { alertname: "HostHighCpu", instance, job: "node", ...extra },
        annotations: { summary: `CPU usage above 80% on ${instance}`, value },
        startsAt,
        fingerprint: `cpu-${instance}-${startsAt}`,
      },
    ],
    { groupLabels: { alertname: "HostHighCpu", instance } },
  );
}

async function post(s: TestService, body: string, minutes: number) {
  s.now = at(minutes);
  expect((await s.post("/webhooks/alertmanager", body)).status).toBe(200);
  await s.sync();
}

interface KbEntry {
  id: number;
  title: string;
  incidentId: number;
  ticketKey: string;
  labels: Record<string, string>;
  keywords: string[];
  resolution: string;
  body: string;
  createdAt: string;
  resolutionLine: string;
}

async function search(s: TestService, q: string): Promise<KbEntry[]> {
  const res = await s.get(`/api/kb?q=${encodeURIComponent(q)}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { entries: KbEntry[] }).entries;
}

async function ticket(s: TestService, predicate: (t: BuiltinTicket) => boolean): Promise<BuiltinTicket> {
  const t = (await s.tickets()).find(predicate);
  if (!t) throw new Error("no such ticket");
  return t;
}

describe("archive and similar incidents", () => {
  it("notes → solve → over → one entry with the timeline and the notes; the next incident's ticket lists it", async () => {
    const s = await startTestService();
    svc = s;
    await post(s, cpu("db-1", "firing", T0, "91.5"), 0);
    const first = await ticket(s, (t) => t.subject.includes("db-1"));
    expect(first.priority).toBe("P2");
    expect(first.body).not.toContain("Similar past incidents");

    s.now = at(5);
    const noted = await s.post(
      `/api/tickets/${first.id}/comments`,
      JSON.stringify({ body: "Killed the runaway report job.\nIt had no CPU limit.", author: "alice", public: true }),
    );
    expect(noted.status).toBe(201);
    await s.sync();
    s.now = at(8);
    expect((await s.send("PATCH", `/api/tickets/${first.id}`, { status: "solved", resolution: "fixed", author: "alice" })).status).toBe(200);
    await s.sync();
    await post(s, cpu("db-1", "resolved", T0, "42"), 10);
    // Over, but the entry waits for archive_after (2 minutes), so a note just after the solve gets in.
    expect(await search(s, "runaway")).toEqual([]);
    s.now = at(13);
    await s.sync();

    const found = await search(s, "runaway report");
    expect(found).toHaveLength(1);
    const entry = found[0] as KbEntry;
    expect(entry.title).toMatch(/^HostHighCpu on db-1 — 2026-11-25 \(ad-[0-9a-f]{16}-1\)$/);
    expect(entry.resolution).toContain("Killed the runaway report job.");
    expect(entry.resolutionLine).toBe("Killed the runaway report job.");
    expect(entry.keywords).toEqual(expect.arrayContaining(["HostHighCpu", "node", "performance", "P2", "fixed"]));
    expect(entry.labels).toMatchObject({ alertname: "HostHighCpu", instance: "db-1", job: "node" });
    expect(entry.body).toContain("## Timeline");
    expect(entry.body).toContain("Comment by alice: Killed the runaway report job.");
    expect(entry.body).toContain("Status solved (fixed) by alice");
    expect(entry.body).toMatch(/Time to first response:\s+5m \(target 30m, met\)/);
    expect(entry.body).toContain("first 91.5, peak 91.5, last 42");
    expect(entry.body).toContain("Why did it happen?");
    // Stemmed search finds it by other forms of the words; the page and the entry's own route too.
    expect((await search(s, "killing runaways")).map((e) => e.id)).toEqual([entry.id]);
    const one = await s.get(`/api/kb/${entry.id}`);
    expect(one.status).toBe(200);
    expect(((await one.json()) as KbEntry).incidentId).toBe(entry.incidentId);
    const page = await s.get("/kb?q=runaway");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain("HostHighCpu on db-1");
    expect((await s.get(`/kb/${entry.id}`)).status).toBe(200);
    expect((await s.get("/api/kb/999999")).status).toBe(404);
    const bad = await s.get("/api/kb?limit=zero");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: { field: string }[] }).issues[0]?.field).toBe("limit");

    // More rounds of the loop archive nothing twice.
    s.now = at(30);
    await s.sync();
    expect(await s.store.countArchive()).toBe(1);

    // A day later (past reopen_within), the same alert again on db-1: a new ticket that lists the first.
    await post(s, cpu("db-1", "firing", at(26 * 60).toISOString(), "88"), 26 * 60);
    const second = await ticket(s, (t) => t.id !== first.id && t.subject.includes("db-1"));
    expect(second.body).toContain("## Similar past incidents");
    expect(second.body).toContain(`- 2026-11-25, lasted 10m, ticket ${first.id} /tickets#ticket-${first.id}: Killed the runaway report job.`);
    // Another host's CPU alert shares the alertname: listed too; an unrelated alert is not.
    await post(s, cpu("web-7", "firing", at(26 * 60 + 1).toISOString(), "85"), 26 * 60 + 1);
    expect((await ticket(s, (t) => t.subject.includes("web-7"))).body).toContain("Killed the runaway report job.");
  });

  it("a re-fire within the window reopens the archived incident; its next end updates the one entry", async () => {
    const s = await startTestService();
    svc = s;
    await post(s, cpu("db-2", "firing", T0, "90"), 0);
    await post(s, cpu("db-2", "resolved", T0, "50"), 10);
    s.now = at(13);
    await s.sync();
    const before = await search(s, "db-2");
    expect(before).toHaveLength(1);
    expect(before[0]?.resolutionLine).toMatch(/^Resolved by itself/);
    // Fires again an hour later: the same ticket reopens (reopen_within 24h); no new entry while it fires.
    const again = at(70).toISOString();
    await post(s, cpu("db-2", "firing", again, "93"), 70);
    s.now = at(90);
    await s.sync();
    expect(await s.store.countArchive()).toBe(1);
    await post(s, cpu("db-2", "resolved", again, "40"), 95);
    s.now = at(98);
    await s.sync();
    const after = await search(s, "db-2");
    expect(after).toHaveLength(1);
    expect(after[0]?.id).toBe(before[0]?.id);
    expect(after[0]?.body).toContain("Fired again");
    expect(await s.store.countArchive()).toBe(1);
  });

  it("an entry written again after a re-fire with other alerts keeps its title (external knowledge bases find it by title)", async () => {
    const s = await startTestService();
    svc = s;
    const disk = (alerts: [string, "firing" | "resolved"][], startsAt: string) =>
      alertmanagerNotification(
        alerts.map(([instance, status]) => ({
          status,
          labels: { alertname: "HostDiskFull", instance },
          startsAt,
          fingerprint: `disk-${instance}-${startsAt}`,
        })),
        { groupLabels: { alertname: "HostDiskFull" } },
      );
    await post(s, disk([["db-7", "firing"]], T0), 0);
    await post(s, disk([["db-7", "resolved"]], T0), 10);
    s.now = at(13);
    await s.sync();
    const [first] = await search(s, "HostDiskFull");
    expect(first?.title).toMatch(/^HostDiskFull on db-7 — /);
    const again = at(60).toISOString();
    await post(
      s,
      disk(
        [
          ["db-7", "firing"],
          ["db-8", "firing"],
        ],
        again,
      ),
      60,
    );
    await post(
      s,
      disk(
        [
          ["db-7", "resolved"],
          ["db-8", "resolved"],
        ],
        again,
      ),
      70,
    );
    s.now = at(73);
    await s.sync();
    const after = await search(s, "HostDiskFull");
    expect(after).toHaveLength(1);
    expect(after[0]?.title).toBe(first?.title);
    expect(after[0]?.body).toContain("db-8");
  });

  it("similar_incidents: 0 turns the section off; hostile label values stay text on the page", async () => {
    const s = await startTestService({ rules: "defaults:\n  similar_incidents: 0\n  archive_after: 1m\n" });
    svc = s;
    const hostile = "<img src=x onerror=alert(1)>";
    await post(s, cpu("db-3", "firing", T0, "90", { team: hostile }), 0);
    await post(s, cpu("db-3", "resolved", T0, "50", { team: hostile }), 10);
    s.now = at(12);
    await s.sync();
    const [entry] = await search(s, "db-3");
    expect(entry?.labels.team).toBe(hostile);
    const html = await (await s.get(`/kb/${entry?.id}`)).text();
    expect(html).not.toContain("<img");
    expect(html).toContain("&#60;img src=x onerror=alert(1)&#62;");
    await post(s, cpu("db-3", "firing", at(26 * 60).toISOString(), "90"), 26 * 60);
    const tickets = await s.tickets();
    expect(tickets).toHaveLength(2);
    expect(tickets.at(-1)?.body).not.toContain("Similar past incidents");
  });
});
