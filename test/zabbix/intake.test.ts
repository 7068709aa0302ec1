import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderSilence, silenceLabels } from "../../src/templates/render.js";
import { FIXTURES, fixture, startTestService, type TestService } from "../kit/service.js";

/**
 * POST /webhooks/zabbix through the whole service (intake, rules, lifecycle, outbox, the built-in
 * helpdesk) with the bodies the media type sent from a real Zabbix 6.0: the same answers as the other
 * intakes, and what Zabbix's retries, updates and reordered recoveries do to the ticket.
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

type Body = Record<string, unknown>;
const recorded = (name: "problem" | "update" | "recovery"): Body => JSON.parse(readFileSync(join(FIXTURES, "zabbix", `${name}.json`), "utf8")) as Body;
/** The recorded body as another problem event of the same trigger and host (`event_id`, its own times). */
function episode(name: "problem" | "update" | "recovery", eventId: string, startedAt: number): Body {
  const body: Body = { ...recorded(name), event_id: eventId, event_time: startedAt };
  if (name === "recovery") body.recovery = { event_id: String(Number(eventId) + 1), time: startedAt + 60 };
  return body;
}

interface Answer {
  http: number;
  status?: string;
  incidents: { dedupKey: string; reason: string; actions: string[]; incidentId?: number }[];
  error?: string;
  issues?: { field: string; message: string }[];
}

async function post(s: TestService, body: Body | string, at: string, headers: Record<string, string> = {}): Promise<Answer> {
  s.now = new Date(at);
  const res = await s.post("/webhooks/zabbix", typeof body === "string" ? body : JSON.stringify(body), headers);
  const json = (await res.json()) as Omit<Answer, "http">;
  await s.deliverAll();
  return { http: res.status, ...json };
}

const reasons = (a: Answer) => a.incidents.map((i) => `${i.reason}: ${i.actions.join(",")}`);

describe("POST /webhooks/zabbix answers like the other intakes", () => {
  it("200 once committed, with the incident it touched", async () => {
    svc = await startTestService();
    const a = await post(svc, recorded("problem"), "2026-12-02T07:37:01Z");
    expect(a).toEqual({
      http: 200,
      status: "stored",
      incidents: [
        { dedupKey: 'zabbix receiver="zabbix" {host="alertdesk-test-host", trigger_id="1"}', reason: "first notification", actions: ["open"], incidentId: 1 },
      ],
    });
  });

  it("400 naming the field, and nothing stored", async () => {
    svc = await startTestService();
    const a = await post(svc, { ...recorded("problem"), event_time: "2026.12.02 13:07:00", trigger_id: "{TRIGGER.ID}" }, "2026-12-02T07:37:01Z");
    expect(a.http).toBe(400);
    expect(a.issues?.map((i) => i.field)).toEqual(["event_time", "trigger_id"]);
    expect(await svc.store.listIncidents({ limit: 10 })).toEqual([]);
  });

  it("401 without the webhook token, 200 with it; the token is never logged", async () => {
    const token = "zabbix-webhook-token";
    svc = await startTestService({ config: { webhookToken: token } });
    expect((await post(svc, recorded("problem"), "2026-12-02T07:37:01Z")).http).toBe(401);
    expect((await post(svc, recorded("problem"), "2026-12-02T07:37:01Z", { authorization: "Bearer wrong" })).http).toBe(401);
    expect((await post(svc, recorded("problem"), "2026-12-02T07:37:01Z", { authorization: `Bearer ${token}` })).http).toBe(200);
    expect(svc.logs.join("")).not.toContain(token);
  });

  it("413 over the body limit", async () => {
    svc = await startTestService({ config: { bodyLimitBytes: 2048 } });
    const a = await post(svc, { ...recorded("problem"), trigger_description: "x".repeat(4096) }, "2026-12-02T07:37:01Z");
    expect(a.http).toBe(413);
    expect((await post(svc, recorded("problem"), "2026-12-02T07:37:01Z")).http).toBe(200);
  });

  it("503 with Retry-After when it cannot be stored (the media type throws, Zabbix retries)", async () => {
    // The main thread's store closed under it: ingest on the main thread (the thread's case: test/scenarios/ingest-thread.test.ts).
    svc = await startTestService({ config: { ingestThread: false } });
    await svc.store.close();
    svc.now = new Date("2026-12-02T07:37:01Z");
    const res = await svc.post("/webhooks/zabbix", JSON.stringify(recorded("problem")));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("415 for a body that is not JSON, 403 from a browser", async () => {
    svc = await startTestService();
    expect((await svc.post("/webhooks/zabbix", "x", { "content-type": "text/plain" })).status).toBe(415);
    expect((await svc.post("/webhooks/zabbix", JSON.stringify(recorded("problem")), { origin: "https://evil.example" })).status).toBe(403);
  });
});

describe("a Zabbix problem through its life: one ticket", () => {
  it("problem → P2 performance ticket; retries change nothing; an update is a comment once; the recovery solves it", async () => {
    svc = await startTestService();
    const s = svc;
    expect(reasons(await post(s, recorded("problem"), "2026-12-02T07:37:01Z"))).toEqual(["first notification: open"]);
    const [ticket] = await s.tickets();
    expect(ticket).toMatchObject({ priority: "P2", category: "performance", status: "open" });
    expect(ticket?.subject).toBe("High CPU utilization (over 80% for 5m) on alertdesk-test-host: Current utilization: 87.5 %");
    expect(ticket?.body).toContain("value 87.5");
    expect(ticket?.body).toContain("host_name:   alertdesk test host");
    expect(ticket?.body).toContain("- Event: https://zabbix.example.com/tr_events.php?triggerid=1&eventid=1");
    expect(ticket?.body).toContain("- Problem: https://zabbix.example.com/zabbix.php?action=problem.view&triggerids%5B%5D=1");
    expect(ticket?.body).toContain("- Graph: https://zabbix.example.com/history.php?action=showgraph&itemids%5B%5D=1");

    // Zabbix retried (its answer was lost): the same problem again.
    expect(reasons(await post(s, recorded("problem"), "2026-12-02T07:37:31Z"))).toEqual(["unchanged: "]);

    // Acknowledged with a message and the severity raised to High: a comment, not an alert.
    expect(reasons(await post(s, recorded("update"), "2026-12-02T07:37:05Z"))).toEqual(["alerts updated: comment"]);
    expect(reasons(await post(s, recorded("update"), "2026-12-02T07:37:35Z"))).toEqual(["unchanged: "]);
    let [updated] = await s.tickets();
    expect(updated?.comments.map((c) => c.body)).toEqual([
      expect.stringContaining(
        'Zabbix Administrator (Admin) acknowledged, commented and changed severity from Warning to High at 2026-12-02 07:37:04 UTC: "Looking into it"',
      ),
    ]);
    // A problem retry after the update does not make the update new again.
    expect(reasons(await post(s, recorded("problem"), "2026-12-02T07:37:40Z"))).toEqual(["unchanged: "]);
    expect(reasons(await post(s, recorded("update"), "2026-12-02T07:37:41Z"))).toEqual(["unchanged: "]);

    expect(reasons(await post(s, recorded("recovery"), "2026-12-02T07:37:08Z"))).toEqual(["all resolved: resolve"]);
    expect(reasons(await post(s, recorded("recovery"), "2026-12-02T07:37:38Z"))).toEqual(["duplicate: "]);
    // A retry of the problem that arrives after its recovery is stale: no reopen.
    expect(reasons(await post(s, recorded("problem"), "2026-12-02T07:38:00Z"))).toEqual(["stale: "]);
    [updated] = await s.tickets();
    expect(await s.tickets()).toHaveLength(1);
    expect(updated?.status).toBe("solved");
    expect(updated?.comments.at(-1)?.body).toMatch(/^Resolved: all 1 alert stopped firing\. The incident lasted 7s/);
  });

  it("the trigger fires again within reopen_within: a new event reopens the same ticket", async () => {
    svc = await startTestService();
    const s = svc;
    await post(s, episode("problem", "1", 1796197020), "2026-12-02T07:37:01Z");
    await post(s, episode("recovery", "1", 1796197020), "2026-12-02T07:38:01Z");
    expect(reasons(await post(s, episode("problem", "3", 1796197500), "2026-12-02T07:45:01Z"))).toEqual(["refired within window: reopen"]);
    const tickets = await s.tickets();
    expect(tickets).toHaveLength(1);
    expect(tickets[0]?.status).toBe("open");
    expect(tickets[0]?.comments.map((c) => c.body.split("\n")[0])).toEqual([
      expect.stringMatching(/^Resolved: all 1 alert stopped firing/),
      "Fired again (recurrence 1, 2 firings on this ticket); reopened.",
    ]);
  });

  it("a recovery before its problem (Zabbix's retries reordered them): no ticket, and the late problem is stale", async () => {
    svc = await startTestService();
    const s = svc;
    expect(reasons(await post(s, episode("recovery", "5", 1796197020), "2026-12-02T07:38:01Z"))).toEqual(["resolved before seen: "]);
    expect(reasons(await post(s, episode("problem", "5", 1796197020), "2026-12-02T07:38:31Z"))).toEqual(["stale: "]);
    expect(await s.tickets()).toEqual([]);
    const [incident] = await s.store.listIncidents({ limit: 10 });
    expect(incident).toMatchObject({ state: "resolved", cancelled: true });
    // The trigger's next problem is a real one: it opens the ticket.
    expect(reasons(await post(s, episode("problem", "7", 1796197600), "2026-12-02T07:46:41Z"))).toEqual(["refired within window: open"]);
    const tickets = await s.tickets();
    expect(tickets).toHaveLength(1);
    expect(tickets[0]?.status).toBe("open");
    expect(tickets[0]?.comments).toEqual([]);
  });

  it("a reordered recovery of another problem of a firing trigger (multiple problem generation): recorded, its late problem stale", async () => {
    svc = await startTestService();
    const s = svc;
    await post(s, episode("problem", "1", 1796197020), "2026-12-02T07:37:01Z");
    expect(reasons(await post(s, episode("recovery", "5", 1796197100), "2026-12-02T07:39:01Z"))).toEqual(["recorded: "]);
    expect(reasons(await post(s, episode("problem", "5", 1796197100), "2026-12-02T07:39:31Z"))).toEqual(["stale: "]);
    const [ticket] = await s.tickets();
    expect(ticket?.status).toBe("open");
    expect(ticket?.comments).toEqual([]);
  });

  it("another host of the same trigger template is another incident; a rule's group_by merges them", async () => {
    svc = await startTestService();
    await post(svc, recorded("problem"), "2026-12-02T07:37:01Z");
    await post(svc, { ...recorded("problem"), host: "web-2", trigger_id: "2", event_id: "9" }, "2026-12-02T07:37:02Z");
    expect(await svc.tickets()).toHaveLength(2);
    await svc.cleanup();

    svc = await startTestService({
      rules: `rules:
  - name: cpu-everywhere
    matchers: ['alertname=~"High CPU utilization.*"']
    group_by: [alertname]
    priority: P2
`,
    });
    await post(svc, recorded("problem"), "2026-12-02T07:37:01Z");
    const second = await post(svc, { ...recorded("problem"), host: "web-2", trigger_id: "2", event_id: "9" }, "2026-12-02T07:37:02Z");
    expect(reasons(second)).toEqual(["alerts joined: comment"]);
    expect(await svc.tickets()).toHaveLength(1);
  });

  it("no Alertmanager silence for a Zabbix incident, so a verification goes by what Zabbix said", async () => {
    svc = await startTestService();
    await post(svc, recorded("problem"), "2026-12-02T07:37:01Z");
    svc.now = new Date("2026-11-25T05:47:55Z");
    await svc.post("/webhooks/alertmanager", fixture("09-cpu-firing").body);
    const incidents = await svc.store.listIncidents({ limit: 10 });
    const zabbix = incidents.find((i) => i.source === "zabbix");
    const alertmanager = incidents.find((i) => i.source === "alertmanager");
    if (!zabbix || !alertmanager) throw new Error("both incidents expected");
    expect(silenceLabels(zabbix)).toEqual({});
    expect(renderSilence(zabbix, { action: "create", reason: "ack", until: "2026-12-02T09:00:00Z" })).toBeUndefined();
    expect(Object.keys(silenceLabels(alertmanager)).length).toBeGreaterThan(0);
  });
});
