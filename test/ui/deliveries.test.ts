import { afterEach, describe, expect, it } from "vitest";
import { webhookConfigSchema } from "../../src/drivers/webhook/driver.js";
import { replayTarget } from "../../src/ui/deliveries.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The console's deliveries page through the whole service with an injected clock: a helpdesk that
 * always fails moves an operation from Pending to Retrying to Dead letters, every label escaped; the
 * page's replay form (CSRF-guarded) puts it back in the queue, as GET /api/deliveries shows.
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

const HOSTILE = "<img src=x onerror=alert(1)>";
const RULES = `
defaults:
  priority: P3
  category: function
rules:
  - name: cpu
    matchers: ['alertname="HostHighCpu"']
    priority: P2
    category: performance
`;

/** One firing Alertmanager notification of HostHighCpu on `instance`, with a hostile label value. */
function cpu(instance: string): string {
  const labels = { alertname: "HostHighCpu", instance, job: "node", team: HOSTILE };
  return JSON.stringify({
    receiver: "alertdesk",
    status: "firing",
    alerts: [
      {
        status: "firing",
        labels,
        annotations: { summary: `CPU usage above 80% on ${instance}`, value: "91" },
        startsAt: "2026-11-25T05:40:00Z",
        endsAt: "0001-01-01T00:00:00Z",
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

/** A service whose only helpdesk never answers (nothing listens on port 9): every delivery fails. */
async function brokenService(): Promise<TestService> {
  const broken = webhookConfigSchema.parse({ type: "webhook", url: "http://127.0.0.1:9/never", timeout: "2s" });
  return startTestService({ rules: RULES, config: { helpdesks: { broken }, defaultHelpdesk: "broken", delivery: { pollIntervalMs: 50, maxAttempts: 2 } } });
}

interface Delivery {
  id: number;
  incidentId: number;
  state: string;
  attempts: number;
  lastError: string | null;
}

async function deliveries(s: TestService, state: string): Promise<Delivery[]> {
  const res = await s.get(`/api/deliveries?state=${state}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { deliveries: Delivery[] }).deliveries;
}

async function deliveriesPage(s: TestService, query = ""): Promise<string> {
  const res = await s.get(`/ui/deliveries${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/text\/html/);
  expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
  return res.text();
}

/** The text of the `<section>` whose heading has this id. */
function section(page: string, id: string): string {
  const start = page.indexOf(`<section aria-labelledby="${id}">`);
  expect(start, `section ${id}`).toBeGreaterThanOrEqual(0);
  return page.slice(start, page.indexOf("</section>", start));
}

function csrfOf(page: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!m?.[1]) throw new Error("no _csrf field on the page");
  return m[1];
}

function postForm(s: TestService, path: string, fields: Record<string, string>): Promise<Response> {
  return fetch(`${s.url}${path}`, {
    method: "POST",
    body: new URLSearchParams(fields),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    redirect: "manual",
  });
}

describe("console: deliveries", () => {
  it("shows an operation pending, retrying, then dead, escaped; replays it through the page", async () => {
    const s = await brokenService();
    svc = s;
    expect((await s.post("/webhooks/alertmanager", cpu("db-1"))).status).toBe(200);

    // Not attempted yet: Pending.
    let page = await deliveriesPage(s);
    expect(page).toContain("<h1>Deliveries</h1>");
    expect(page).toContain('data-live="5000"');
    for (const heading of ["Pending", "Retrying", "Dead letters"]) expect(page).toMatch(new RegExp(`<h2 id="[a-z]+">${heading}</h2>`));
    const [row] = await deliveries(s, "pending");
    if (!row) throw new Error("no pending delivery");
    let pending = section(page, "pending");
    expect(pending).toContain(`<td>${row.id}</td><td>open</td><td>broken</td>`);
    expect(pending).toContain(`<a href="/ui/incidents/${row.incidentId}">#${row.incidentId}</a>`);
    expect(pending).toContain("alertname=HostHighCpu, instance=db-1, job=node");
    expect(page).not.toContain(HOSTILE);
    expect(page).not.toContain("<img");
    expect(page).toContain("team=&#60;img src=x onerror=alert(1)&#62;");
    expect(section(page, "retrying")).toContain('class="empty"');
    expect(section(page, "dead")).toContain("No dead letters.");

    // The first attempt fails: Retrying, with the attempt count and the error.
    await s.deliverAll();
    page = await deliveriesPage(s);
    const retrying = section(page, "retrying");
    expect(retrying).toContain(`<td>${row.id}</td>`);
    expect(retrying).toMatch(/<td>1<\/td><td><time datetime="[^"]+">2026-11-25 \d\d:\d\d UTC<\/time><\/td>/);
    expect(retrying).toContain("[webhook broken]");
    pending = section(page, "pending");
    expect(pending).toContain("Nothing waits for its first attempt.");

    // The second (the last of max_attempts 2) fails too: a dead letter, with its replay buttons.
    s.now = new Date(s.now.getTime() + 10 * 60_000);
    await s.deliverAll();
    expect((await deliveries(s, "dead")).map((d) => d.id)).toEqual([row.id]);
    page = await deliveriesPage(s);
    const dead = section(page, "dead");
    expect(dead).toContain(`<td>${row.id}</td><td>open</td>`);
    expect(dead).toContain("[webhook broken]");
    expect(dead).toContain(`<input type="hidden" name="ids" value="${row.id}">`);
    expect(dead).toContain('<input type="hidden" name="all" value="1">');
    expect(dead).toContain(`aria-label="Replay delivery ${row.id}"`);
    expect(dead).not.toContain(HOSTILE);
    expect(section(page, "retrying")).toContain("Nothing is being retried.");

    // Without the token: refused, nothing replayed.
    expect((await postForm(s, "/ui/deliveries/replay", { ids: String(row.id) })).status).toBe(403);
    expect((await postForm(s, "/ui/deliveries/replay", { ids: String(row.id), _csrf: "forged" })).status).toBe(403);
    expect(await deliveries(s, "dead")).toHaveLength(1);

    // A bad id: a 400 page naming the field.
    const csrf = csrfOf(page);
    const bad = await postForm(s, "/ui/deliveries/replay", { ids: "12; DROP TABLE", _csrf: csrf });
    expect(bad.status).toBe(400);
    const badPage = await bad.text();
    expect(badPage).toContain('<p class="error" role="alert"><strong>ids</strong>');
    expect(await deliveries(s, "dead")).toHaveLength(1);

    // With the token: replayed, redirected with a confirmation, pending again with no attempts.
    const ok = await postForm(s, "/ui/deliveries/replay", { ids: String(row.id), _csrf: csrf });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/ui/deliveries?done=replayed-1");
    expect(await deliveries(s, "dead")).toEqual([]);
    expect(await deliveries(s, "pending")).toMatchObject([{ id: row.id, state: "pending", attempts: 0 }]);
    page = await deliveriesPage(s, "?done=replayed-1");
    expect(page).toContain('<p class="notice" role="status">Replayed 1 dead letter: back in the queue.</p>');
    expect(section(page, "pending")).toContain(`<td>${row.id}</td>`);
    expect(section(page, "dead")).toContain("No dead letters.");
  });

  it("replays every dead letter with all=1", async () => {
    const s = await brokenService();
    svc = s;
    for (const instance of ["db-1", "db-2"]) expect((await s.post("/webhooks/alertmanager", cpu(instance))).status).toBe(200);
    await s.deliverAll();
    s.now = new Date(s.now.getTime() + 10 * 60_000);
    await s.deliverAll();
    expect(await deliveries(s, "dead")).toHaveLength(2);

    const page = await deliveriesPage(s);
    const res = await postForm(s, "/ui/deliveries/replay", { all: "1", _csrf: csrfOf(page) });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/ui/deliveries?done=replayed-2");
    expect(await deliveries(s, "dead")).toEqual([]);
    expect(await deliveries(s, "pending")).toHaveLength(2);

    // Nothing left: a second replay says so.
    const again = await postForm(s, "/ui/deliveries/replay", { all: "1", _csrf: csrfOf(page) });
    expect(again.headers.get("location")).toBe("/ui/deliveries?done=replayed-0");
    expect(await deliveriesPage(s, "?done=replayed-0")).toContain("Nothing to replay");
  });

  it("shows empty sections on an empty outbox, and ignores a forged confirmation", async () => {
    svc = await startTestService({ rules: RULES });
    const page = await deliveriesPage(svc, "?done=%3Cscript%3E");
    expect(page).toContain("Nothing waits for its first attempt.");
    expect(page).toContain("Nothing is being retried.");
    expect(page).toContain("No dead letters.");
    expect(page).not.toContain('class="notice"');
    expect(page).not.toContain("<script>");
  });
});

describe("replayTarget", () => {
  it("reads all=1, one id, several ids; names the field otherwise", () => {
    expect(replayTarget({ all: "1" })).toEqual({ target: "all" });
    expect(replayTarget({ ids: "7" })).toEqual({ target: [7] });
    expect(replayTarget({ ids: ["7", "9", "7"] })).toEqual({ target: [7, 9] });
    expect(replayTarget({ ids: "3, 4" })).toEqual({ target: [3, 4] });
    expect(replayTarget({})).toMatchObject({ field: "ids" });
    expect(replayTarget({ ids: "0" })).toMatchObject({ field: "ids" });
    expect(replayTarget({ ids: "-1" })).toMatchObject({ field: "ids" });
    expect(replayTarget({ ids: "1e3" })).toMatchObject({ field: "ids" });
    expect(replayTarget({ all: "yes" })).toMatchObject({ field: "ids" });
  });
});
