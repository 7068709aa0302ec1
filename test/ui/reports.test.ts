import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import type { Incident } from "../../src/model/incident.js";
import type { IncidentQuery, Page } from "../../src/store/types.js";
import type { UiDeps } from "../../src/ui/deps.js";
import { addReportPages, REPORT_MAX_INCIDENTS } from "../../src/ui/reports.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The reports page through the whole service with an injected clock: incidents of different
 * priorities and alertnames on different days, an agent's responses through the built-in helpdesk's
 * agent API, resolves and a re-fire; then the figures the page shows (counts per day, a median,
 * compliance) and its charts, each an SVG with a title. And, on a stub store, the page's bounds.
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

const HOSTILE = "<img src=x onerror=alert(1)>";
const RULES = `
response_targets:
  P1: 10m
rules:
  - name: down
    matchers: ['alertname="ServiceDown"']
    priority: P1
  - name: disk
    matchers: ['alertname="DiskFull"']
    priority: P2
  - name: cert
    matchers: ['alertname="CertExpiry"']
    priority: P4
`;

/** One Alertmanager notification of alert `name` on `instance`, its own group. */
function notification(name: string, instance: string, status: "firing" | "resolved", startsAt: string): string {
  const labels = { alertname: name, instance };
  return JSON.stringify({
    receiver: "alertdesk",
    status,
    alerts: [
      {
        status,
        labels,
        annotations: { summary: `${name} on ${instance}` },
        startsAt,
        endsAt: status === "resolved" ? new Date(Date.parse(startsAt) + 600_000).toISOString() : "0001-01-01T00:00:00Z",
        generatorURL: "http://prom/graph",
        fingerprint: `${instance}-${startsAt}`,
      },
    ],
    groupLabels: { instance },
    commonLabels: labels,
    commonAnnotations: {},
    externalURL: "http://am",
    version: "4",
    groupKey: `{}:{instance="${instance}"}`,
    truncatedAlerts: 0,
  });
}

async function alert(s: TestService, name: string, instance: string, status: "firing" | "resolved", at: string, startsAt = at) {
  s.now = new Date(at);
  expect((await s.post("/webhooks/alertmanager", notification(name, instance, status, startsAt))).status).toBe(200);
  await s.sync();
}

/** An agent's comment on the ticket of the incident on `instance`: the first response. */
async function respond(s: TestService, instance: string, at: string) {
  s.now = new Date(at);
  const body = (await (await s.get("/api/incidents?limit=1000")).json()) as { incidents: { dedupKey: string; ticketKey: string }[] };
  const incident = body.incidents.find((i) => i.dedupKey.includes(`instance="${instance}"`));
  const ticket = (await s.tickets()).find((t) => t.key === incident?.ticketKey);
  if (!ticket) throw new Error(`no ticket for ${instance}`);
  const res = await s.post(`/api/tickets/${ticket.id}/comments`, JSON.stringify({ body: "Looking at it", author: "alice" }));
  expect(res.status).toBe(201);
  await s.sync();
}

/** Advances the clock and lets the scheduler see what is due (an SLA breach is marked then). */
async function tick(s: TestService, at: string) {
  s.now = new Date(at);
  await s.sync();
}

async function reportPage(s: TestService): Promise<string> {
  const res = await s.get("/ui/reports");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/text\/html/);
  return res.text();
}

/** The text of a table row whose heading cell contains `head`, tags stripped, cells joined by |. */
function row(page: string, caption: string, head: string): string {
  const table = page.slice(page.indexOf(caption));
  const rows = table.slice(0, table.indexOf("</table>")).split("<tr>");
  const found = rows.find((r) => r.includes(`<th scope="row">${head}`) || r.includes(`<th scope="row"><span class="prio ${head}">`));
  if (!found) throw new Error(`no row ${head} under ${caption}`);
  return found
    .split(/<\/t[hd]>/)
    .map((cell) => cell.replace(/<[^>]*>/g, "").trim())
    .filter((c) => c !== "")
    .join("|");
}

describe("GET /ui/reports", () => {
  it("shows the last 30 days: incidents per day, response and resolve times, compliance, the noisiest alerts", async () => {
    const s = await startTestService({ rules: RULES });
    svc = s;
    // Outside the period: 40 days ago.
    await alert(s, "ServiceDown", "old", "firing", "2026-10-16T10:00:00.000Z");
    // P1 answered after 4 minutes (target 10m), resolved after 30 minutes.
    await alert(s, "ServiceDown", "a", "firing", "2026-11-22T10:00:00.000Z");
    await respond(s, "a", "2026-11-22T10:04:00.000Z");
    await alert(s, "ServiceDown", "a", "resolved", "2026-11-22T10:30:00.000Z", "2026-11-22T10:00:00.000Z");
    // P1 answered after 20 minutes (late), resolved after 2 hours.
    await alert(s, "ServiceDown", "b", "firing", "2026-11-23T09:00:00.000Z");
    await respond(s, "b", "2026-11-23T09:20:00.000Z");
    await alert(s, "ServiceDown", "b", "resolved", "2026-11-23T11:00:00.000Z", "2026-11-23T09:00:00.000Z");
    // P2 never answered: the target (30m) passes, then it resolves after an hour.
    await alert(s, "DiskFull", "host1", "firing", "2026-11-24T08:00:00.000Z");
    await tick(s, "2026-11-24T08:40:00.000Z");
    await alert(s, "DiskFull", "host1", "resolved", "2026-11-24T09:00:00.000Z", "2026-11-24T08:00:00.000Z");
    // P4 fires, resolves, fires again within reopen_within: one incident, one re-fire; its target (24h) has not passed.
    await alert(s, "CertExpiry", "web", "firing", "2026-11-25T06:00:00.000Z");
    await alert(s, "CertExpiry", "web", "resolved", "2026-11-25T07:00:00.000Z", "2026-11-25T06:00:00.000Z");
    await alert(s, "CertExpiry", "web", "firing", "2026-11-25T08:00:00.000Z");
    // P3 (the defaults) with a hostile alertname, ten minutes old.
    await alert(s, HOSTILE, "evil", "firing", "2026-11-25T11:50:00.000Z");
    s.now = new Date("2026-11-25T12:00:00.000Z");

    const page = await reportPage(s);
    expect(page).toContain("<h1>Reports</h1>");
    expect(page).toContain('aria-current="page">Reports');
    expect(page).toContain("from 2026-10-27 00:00 UTC to now, 2026-11-25 12:00 UTC. 5 incidents opened, 5 of them with a ticket");

    // (a) Per day: one P1 on the 22nd and the 23rd, a P2 on the 24th, a P3 and a P4 today; nothing from October 16th.
    const perDay = "Incidents opened per UTC day";
    expect(row(page, perDay, "2026-11-22")).toBe("2026-11-22|1|0|0|0|1");
    expect(row(page, perDay, "2026-11-24")).toBe("2026-11-24|0|1|0|0|1");
    expect(row(page, perDay, "2026-11-25")).toBe("2026-11-25|0|0|1|1|2");
    expect(page).not.toContain("2026-10-16");
    expect(page).toContain("<title>11-22, P1: 1</title>");

    // (b) P1's first responses 4m and 20m: median 12m, p90 18m 24s, against the rules' 10m; resolves 30m and 2h.
    expect(row(page, "Time to first response (from", "P1")).toBe("P1|10m|2|12m|18m 24s|2|1h 15m|1h 51m");
    expect(row(page, "Time to first response (from", "P2")).toBe("P2|30m|0|—|—|1|1h|1h");
    expect(page).toContain("P1: median 12m, p90 18m 24s, response target 10m");

    // (c) Compliance: P1 one of two in time (50%), P2 none of one and breached; P3 and P4 not decided yet.
    expect(row(page, "SLA compliance per priority", "P1")).toBe("P1|2|1|1|0|0|1|50%");
    expect(row(page, "SLA compliance per priority", "P2")).toBe("P2|1|0|0|1|0|1|0%");
    expect(row(page, "SLA compliance per priority", "P3")).toBe("P3|1|0|0|1|1|0|—");
    expect(row(page, "SLA compliance per priority", "P4")).toBe("P4|1|0|0|1|1|0|—");
    expect(page).toContain(">50% (1 of 2)</text>");
    expect(page).toMatch(/Answered within target<\/div><div class="figure">33%<\/div><div class="muted">1 of 3 decided/);

    // (d) Noisiest: ServiceDown's two incidents first, then CertExpiry's one with its re-fire.
    const noisy = "Incidents and re-fires per alertname";
    expect(row(page, noisy, "ServiceDown")).toBe("ServiceDown|2|0");
    expect(row(page, noisy, "CertExpiry")).toBe("CertExpiry|1|1");
    const order = ["ServiceDown", "CertExpiry", "DiskFull"].map((n) => page.indexOf(`<th scope="row">${n}</th>`, page.indexOf(noisy)));
    expect(order).toEqual([...order].sort((a, b) => a - b));

    // The hostile alertname is text everywhere: in the table and in the SVG.
    expect(page).not.toContain("<img");
    expect(page).toContain("&#60;img src=x onerror=alert(1)&#62;");
    expect(page).toContain(`<th scope="row">&#60;img src=x onerror=alert(1)&#62;</th><td>1</td><td>0</td>`);

    // Charts, not tables alone: five SVGs, each named by its title and described.
    const svgs = [...page.matchAll(/<svg class="chart" role="img" aria-labelledby="([^" ]+) ([^"]+)"/g)];
    expect(svgs).toHaveLength(5);
    for (const [, titleId, descId] of svgs) {
      expect(page).toMatch(new RegExp(`<title id="${titleId}">[^<]+</title><desc id="${descId}">[^<]+</desc>`));
    }
    expect(page).toContain(">Incidents per day by priority, 2026-10-27 to 2026-11-25</title>");
    expect(page).toContain(">Time to first response per priority, median and p90, against the response target</title>");
    expect(page).toContain('fill="#b00020"');
    expect(page).not.toContain("style=");
    expect(page).not.toMatch(/<script>/);
  });

  it("an empty period says so in every chart", async () => {
    svc = await startTestService({ rules: RULES });
    const page = await reportPage(svc);
    expect(page).toContain("0 incidents opened");
    expect(page).toMatch(/<text [^>]*>No incidents in the period<\/text>/);
    expect(page).toMatch(/<text [^>]*>No first responses in the period<\/text>/);
    expect(page).toMatch(/<text [^>]*>No resolved incidents in the period<\/text>/);
    expect(page.match(/<svg class="chart"/g)).toHaveLength(5);
  });
});

/** A stub of the page's dependencies: a store of `count` incidents, one every `spacingMs` back from now, newest first. */
function stubDeps(count: number, now: Date, spacingMs: number): { deps: UiDeps; reads: IncidentQuery[] } {
  const reads: IncidentQuery[] = [];
  const incidentAt = (id: number): Incident => {
    const openedAt = new Date(now.getTime() - (count - id) * spacingMs).toISOString();
    return {
      id,
      dedupKey: `k${id}`,
      seq: 1,
      ticketKey: `ad-${id}`,
      state: "firing",
      priority: "P3",
      category: "function",
      rule: null,
      helpdesk: "builtin",
      onResolved: "solve",
      reopenWithinMs: 0,
      source: "alertmanager",
      receiver: "r",
      groupLabels: {},
      externalURL: "",
      truncatedAlerts: 0,
      alerts: [],
      openedAt,
      updatedAt: openedAt,
      dueAt: openedAt,
      recurrences: 0,
    };
  };
  const store = {
    async pageIncidents(q: IncidentQuery): Promise<Page<Incident>> {
      reads.push(q);
      const top = Math.min(q.before ?? count + 1, count + 1) - 1;
      const items: Incident[] = [];
      for (let id = top; id >= 1 && items.length < q.limit; id--) items.push(incidentAt(id));
      const last = items[items.length - 1]?.id ?? 1;
      return { items, next: last > 1 ? last : null };
    },
  };
  const deps = {
    store,
    clock: () => now,
    sessions: { sessionOf: () => undefined, csrfToken: () => "token", required: false },
    rules: () => ({ rules: { responseTargets: { P1: 900_000, P2: 1_800_000, P3: 3_600_000, P4: 86_400_000 } } }),
  } as unknown as UiDeps;
  return { deps, reads };
}

async function serve(deps: UiDeps): Promise<{ get: (path: string) => Promise<Response>; close: () => void }> {
  const app = express();
  const router = express.Router();
  addReportPages(router, deps);
  app.use(router);
  const server = await new Promise<import("node:http").Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { get: (path) => fetch(`http://127.0.0.1:${port}${path}`), close: () => server.close() };
}

describe("the reports page's bounds", () => {
  const now = new Date("2026-11-25T12:00:00.000Z");

  it(`reads at most ${REPORT_MAX_INCIDENTS.toLocaleString("en")} incidents, page by page, and says so`, async () => {
    const { deps, reads } = stubDeps(25_000, now, 60_000);
    const app = await serve(deps);
    try {
      const page = await (await app.get("/ui/reports")).text();
      expect(page).toContain(`only the newest 20,000 are counted`);
      expect(page).toContain("20,000 incidents opened");
      expect(reads.length).toBeGreaterThan(1);
      expect(reads.every((q) => q.limit <= 1000)).toBe(true);
      expect(reads.slice(1).every((q) => q.before !== undefined)).toBe(true);
    } finally {
      app.close();
    }
  });

  it("stops reading at the first incident opened before the period", async () => {
    // One every 6 minutes for 41 days; the period (2026-10-27 00:00 to now, 42,480 minutes) holds 7,081 of them.
    const { deps, reads } = stubDeps(10_000, now, 6 * 60_000);
    const app = await serve(deps);
    try {
      const page = await (await app.get("/ui/reports")).text();
      expect(page).toContain("7,081 incidents opened");
      expect(page).not.toContain("only the newest");
      // Eight pages of 1,000: the eighth holds the first incident older than the period; nothing after it is read.
      expect(reads).toHaveLength(8);
    } finally {
      app.close();
    }
  });
});
