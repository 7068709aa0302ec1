import { afterEach, describe, expect, it } from "vitest";
import { fixture, startTestService, type TestService } from "../kit/service.js";

/**
 * Timelines replayed from real Alertmanager 0.25 captures (test/fixtures/alertmanager), in
 * order, each at the time it was received, through the whole service: HTTP → rules → lifecycle →
 * store/outbox → built-in helpdesk.
 */

// The default rules ignore severity="info"; these scenarios need the lab's info alerts as tickets.
const GROUPING_RULES = `
rules:
  - name: service-down
    matchers: ['alertname="LabServiceDown"']
    priority: P1
  - name: cpu-high
    matchers: ['alertname="HostHighCpu"']
    when: value > 80
    priority: P2
    category: performance
`;

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

async function deliveries(s: TestService) {
  return s.store.listDeliveries({ limit: 10_000 });
}

describe("LabServiceDown: open, join, partial resolve, resolve, re-fire, re-delivered resolve", () => {
  it("keeps one ticket through the whole timeline", async () => {
    svc = await startTestService();
    expect((await svc.replay("01-first-firing-single")).status).toBe(200);
    let [ticket] = await svc.tickets();
    expect(ticket).toMatchObject({ priority: "P1", status: "open", category: "function" });
    expect(ticket?.subject).toBe("LabServiceDown on 127.0.0.1:19100: Service api is down");
    expect(ticket?.body).toContain("Since:     2026-11-25 05:46:52 UTC");
    expect(ticket?.body).toContain("P1: respond within 15m");
    expect(ticket?.body).toContain("http://lab-host:19090/graph?g0.expr=lab_service_down+%3D%3D+1&g0.tab=1");
    expect(ticket?.body).toContain("Silence: http://lab-host:19093/#/silences/new?filter=");

    await svc.replay("04-group-gains-alert");
    await svc.replay("05-partial-resolve");
    await svc.replay("06-all-resolved");
    [ticket] = await svc.tickets();
    expect(ticket?.status).toBe("solved");
    expect(ticket?.comments.map((c) => c.body.split("\n")[0])).toEqual([
      "1 alert joined the incident:",
      "1 alert resolved:",
      "Resolved: all 2 alerts stopped firing. The incident lasted 36s (2026-11-25 05:46:52 UTC to 2026-11-25 05:47:28 UTC).",
    ]);

    // 07: api fires again 15 s after the resolve (same fingerprint, newer startsAt): same ticket, reopened.
    await svc.replay("07-refire-after-resolve");
    // 08: the old resolved db alert comes back inside a firing notification: nothing happens.
    await svc.replay("08-resolved-alert-redelivered");
    const tickets = await svc.tickets();
    expect(tickets).toHaveLength(1);
    expect(tickets[0]?.status).toBe("open");
    expect(tickets[0]?.comments).toHaveLength(4);
    expect(tickets[0]?.comments[3]?.body).toContain("Fired again (recurrence 1");
    expect((await deliveries(svc)).map((d) => d.op).reverse()).toEqual(["open", "comment", "comment", "resolve", "reopen"]);
  });
});

describe("HostHighCpu: the seed's example", () => {
  it("CPU > 80 % opens one P2 performance ticket with the value, a repeat changes nothing, the resolve solves it", async () => {
    svc = await startTestService();
    await svc.replay("09-cpu-firing");
    await svc.replay("10-cpu-repeat-stale-value");
    expect(await deliveries(svc)).toHaveLength(1);
    await svc.replay("11-cpu-resolved");
    const [ticket, ...more] = await svc.tickets();
    expect(more).toHaveLength(0);
    expect(ticket).toMatchObject({ priority: "P2", category: "performance", status: "solved" });
    expect(ticket?.subject).toBe("HostHighCpu on 127.0.0.1:19100: High CPU usage on 127.0.0.1:19100");
    expect(ticket?.body).toContain("value 83.44");
    expect(ticket?.body).toContain("Rule:      cpu-high");
    expect(ticket?.body).toContain("P2: respond within 30m");
    expect(ticket?.comments[0]?.body).toContain("The incident lasted 46s");
  });
});

describe("HA Alertmanager pairs", () => {
  it("with gossip: a stale firing copy after the resolve and a duplicate resolve change nothing", async () => {
    svc = await startTestService();
    await svc.replay("14-ha-am1-firing");
    await svc.replay("15-ha-am1-all-resolved");
    await svc.replay("16-ha-am2-stale-firing-after-resolve");
    await svc.replay("17-ha-am2-duplicate-resolved");
    const tickets = await svc.tickets();
    expect(tickets).toHaveLength(1);
    expect(tickets[0]?.status).toBe("solved");
    expect((await deliveries(svc)).map((d) => d.op).reverse()).toEqual(["open", "resolve"]);
  });

  it("without gossip: the same notification twice opens one ticket", async () => {
    svc = await startTestService();
    await svc.replay("18-ha-nocluster-dup-am1");
    await svc.replay("19-ha-nocluster-dup-am2");
    expect(await svc.tickets()).toHaveLength(1);
    expect(await deliveries(svc)).toHaveLength(1);
  });

  it("without gossip, both copies at the same moment (concurrently) open one ticket", async () => {
    svc = await startTestService();
    const s = svc;
    const [a, b] = await Promise.all([
      s.post("/webhooks/alertmanager", fixture("18-ha-nocluster-dup-am1").body),
      s.post("/webhooks/alertmanager", fixture("19-ha-nocluster-dup-am2").body),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await s.deliverAll();
    expect(await s.tickets()).toHaveLength(1);
    expect(await deliveries(s)).toHaveLength(1);
  });

  it("50 concurrent identical webhooks open one ticket", async () => {
    svc = await startTestService();
    const s = svc;
    const body = fixture("09-cpu-firing").body;
    const statuses = await Promise.all(Array.from({ length: 50 }, () => s.post("/webhooks/alertmanager", body).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([200]));
    await s.deliverAll();
    expect(await s.tickets()).toHaveLength(1);
    expect(await deliveries(s)).toHaveLength(1);
  });
});

describe("grouping", () => {
  it("a group of three alerts is one ticket; the byte-identical repeat makes no helpdesk call", async () => {
    svc = await startTestService({ rules: GROUPING_RULES });
    await svc.replay("02-grouped-firing-3-alerts");
    await svc.replay("03-repeat-unchanged");
    const tickets = await svc.tickets();
    expect(tickets).toHaveLength(1);
    expect(tickets[0]?.subject).toBe("LabTestAlwaysFiring on 3 instances (3 alerts)");
    expect(tickets[0]?.body).toContain("How wide:  3 alerts firing, 3 instances");
    expect(tickets[0]?.comments).toHaveLength(0);
    expect(await deliveries(svc)).toHaveLength(1);
  });

  it("group_by ['...'] in Alertmanager (groupLabels = every label) gives one ticket per alert", async () => {
    svc = await startTestService({ rules: GROUPING_RULES });
    await svc.replay("02-grouped-firing-3-alerts");
    await svc.replay("12-per-alert-grouping");
    const incidents = await svc.store.listIncidents({ limit: 100 });
    // Two routes, two groups: the root route's group of three, and the per-alert route's group of one.
    expect(incidents.map((i) => i.dedupKey).sort()).toEqual([
      'alertmanager receiver="bridge" {}/{}:{alertname="LabTestAlwaysFiring"}',
      'alertmanager receiver="bridge-per-alert" {}/{alertname="LabTestAlwaysFiring"}:{alertname="LabTestAlwaysFiring", instance="test-c", severity="info"}',
    ]);
    expect(await svc.tickets()).toHaveLength(2);
  });

  it("a truncated notification says how many alerts are not shown", async () => {
    svc = await startTestService({ rules: GROUPING_RULES });
    await svc.replay("13-truncated-max-alerts");
    const [ticket] = await svc.tickets();
    expect(ticket?.body).toContain("1 more alert(s) truncated by Alertmanager (max_alerts)");
  });

  it("the default rules ignore info alerts: no incident, no ticket, counted", async () => {
    svc = await startTestService();
    expect((await svc.replay("02-grouped-firing-3-alerts")).status).toBe(200);
    expect(await svc.tickets()).toHaveLength(0);
    expect(await svc.store.listIncidents({ limit: 10 })).toHaveLength(0);
    expect(await svc.metrics.registry.getSingleMetricAsString("alertdesk_alerts_ignored_total")).toContain('rule="info-chatter"} 3');
  });
});

describe("Grafana", () => {
  it("a Grafana alert becomes a ticket with its value and its dashboard, panel and silence links", async () => {
    svc = await startTestService();
    expect((await svc.replay("grafana/01-firing-cpu")).status).toBe(200);
    const [ticket] = await svc.tickets();
    expect(ticket).toMatchObject({ priority: "P2", category: "performance" });
    expect(ticket?.body).toContain("value 83.44");
    expect(ticket?.body).toContain("Dashboard: http://lab-host:3000/d/rYdddlPWk?from=1795582070000&orgId=1&to=1795585675000");
    expect(ticket?.body).toContain("Panel: http://lab-host:3000/d/rYdddlPWk");
    expect(ticket?.body).toContain("Silence: http://lab-host:3000/alerting/silence/new?alertmanager=grafana");
    expect(ticket?.body).toContain("Alert rule: http://lab-host:3000/alerting/grafana/fe3kq1cpu0001a/view?orgId=1");
  });
});
