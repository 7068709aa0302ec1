import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fixture, startTestService, type TestService } from "../kit/service.js";

/**
 * Real senders, as their payloads look: one incident per group as Alertmanager and Grafana define a
 * group (source, receiver, group key), Grafana's values and PUT, test notifications, and an upgrade
 * from a data directory that alertdesk 0.1 wrote under its old keys.
 */

let svc: TestService | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An Alertmanager notification of one alert, in the shape Alertmanager 0.25 sends. */
function alertmanager(o: { receiver: string; groupKey: string; alertname: string; externalURL?: string; status?: "firing" | "resolved" }): string {
  const status = o.status ?? "firing";
  return JSON.stringify({
    receiver: o.receiver,
    status,
    alerts: [
      {
        status,
        labels: { alertname: o.alertname, instance: "node-7:9100", severity: "warning" },
        annotations: { summary: `${o.alertname} on node-7:9100` },
        startsAt: "2026-11-25T05:40:00Z",
        endsAt: status === "firing" ? "0001-01-01T00:00:00Z" : "2026-11-25T05:50:00Z",
        generatorURL: "http://prometheus-2:9090/graph?g0.expr=x",
        fingerprint: `${o.alertname.length.toString(16).padStart(4, "0")}aa00bb11cc22`,
      },
    ],
    groupLabels: {},
    commonLabels: { alertname: o.alertname, instance: "node-7:9100", severity: "warning" },
    commonAnnotations: {},
    externalURL: o.externalURL ?? "http://alertmanager-2:9093",
    version: "4",
    groupKey: o.groupKey,
    truncatedAlerts: 0,
  });
}

async function post(s: TestService, path: string, body: string, method = "POST") {
  const res = await fetch(`${s.url}${path}`, { method, body, headers: { "content-type": "application/json" } });
  const json = (await res.json()) as { status: string; incidents: { dedupKey: string; reason: string; incidentId?: number }[]; detail?: string };
  await s.deliverAll();
  return { http: res.status, ...json };
}

describe("groups with empty groupLabels stay apart", () => {
  it("Grafana's documentation example, Alertmanagers of two receivers and two routes: one incident and ticket each", async () => {
    svc = await startTestService();
    const grafana = await post(svc, "/webhooks/grafana", fixture("grafana/02-docs-example-empty-group").body);
    const teamA = await post(svc, "/webhooks/alertmanager", alertmanager({ receiver: "team-a", groupKey: "{}/{}:{}", alertname: "HighCpuTemperature" }));
    const teamB = await post(svc, "/webhooks/alertmanager", alertmanager({ receiver: "team-b", groupKey: "{}/{}:{}", alertname: "DiskSlow" }));
    const routeDb = await post(svc, "/webhooks/alertmanager", alertmanager({ receiver: "team-a", groupKey: '{}/{team="db"}:{}', alertname: "ReplicationLag" }));
    const outcomes = [grafana, teamA, teamB, routeDb].map((r) => r.incidents[0]);
    expect(outcomes.map((o) => o?.reason)).toEqual(["first notification", "first notification", "first notification", "first notification"]);
    expect(outcomes.map((o) => o?.dedupKey)).toEqual([
      'grafana org=1 receiver="My Super Webhook" {}:{}',
      'alertmanager receiver="team-a" {}/{}:{}',
      'alertmanager receiver="team-b" {}/{}:{}',
      'alertmanager receiver="team-a" {}/{team="db"}:{}',
    ]);
    const tickets = await svc.tickets();
    expect(tickets).toHaveLength(4);
    expect(new Set(tickets.map((t) => t.key)).size).toBe(4);
    expect(tickets.every((t) => t.comments.length === 0)).toBe(true);
    expect(tickets[1]?.subject).toBe("HighCpuTemperature on node-7:9100: HighCpuTemperature on node-7:9100");
  });

  it("the two Alertmanagers of an HA pair (same receiver and group key, other URLs) land on one incident", async () => {
    svc = await startTestService();
    const body = (url: string) => alertmanager({ receiver: "team-a", groupKey: "{}/{}:{}", alertname: "HighCpuTemperature", externalURL: url });
    const first = await post(svc, "/webhooks/alertmanager", body("http://am-1:9093"));
    const second = await post(svc, "/webhooks/alertmanager", body("http://am-2:9093"));
    expect(second.incidents[0]).toMatchObject({ dedupKey: first.incidents[0]?.dedupKey, incidentId: first.incidents[0]?.incidentId, reason: "unchanged" });
    expect(await svc.tickets()).toHaveLength(1);
  });

  it("a rule's group_by groups across routes and receivers, as before", async () => {
    svc = await startTestService({ rules: "rules:\n  - name: by-alertname\n    matchers: ['alertname=\"DiskSlow\"']\n    group_by: [alertname]\n" });
    const a = await post(svc, "/webhooks/alertmanager", alertmanager({ receiver: "team-a", groupKey: "{}/{}:{}", alertname: "DiskSlow" }));
    const b = await post(svc, "/webhooks/alertmanager", alertmanager({ receiver: "team-b", groupKey: '{}/{team="db"}:{}', alertname: "DiskSlow" }));
    expect(a.incidents[0]?.dedupKey).toBe('{alertname="DiskSlow"}');
    expect(b.incidents[0]).toMatchObject({ dedupKey: '{alertname="DiskSlow"}', incidentId: a.incidents[0]?.incidentId });
    expect(await svc.tickets()).toHaveLength(1);
  });
});

describe("upgrade from a data directory written by alertdesk 0.1", () => {
  it("the next notification of each group continues its incident and ticket; another empty-labelled group gets its own", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "alertdesk-upgrade-"));
    dirs.push(dataDir);
    copyFileSync(new URL("../fixtures/stores/0.1.0/alertdesk.db", import.meta.url), join(dataDir, "alertdesk.db"));
    svc = await startTestService({ dataDir });
    const before = await svc.tickets();
    expect(before.map((t) => t.key)).toEqual(["ad-0c863756d34da49c-1", "ad-44136fa355b3678a-1"]);

    // LabServiceDown: 0.1 stored it as {alertname="LabServiceDown"}; db joins the group now.
    const joined = await svc.replay("04-group-gains-alert");
    expect(((await joined.json()) as { incidents: unknown[] }).incidents).toEqual([
      { dedupKey: 'alertmanager receiver="bridge" {}/{}:{alertname="LabServiceDown"}', reason: "alerts joined", incidentId: 1, actions: ["comment"] },
    ]);
    // Grafana's example: 0.1 stored it as {}; the same group again changes nothing.
    svc.now = new Date("2026-11-25T05:48:00Z");
    const again = await post(svc, "/webhooks/grafana", fixture("grafana/02-docs-example-empty-group").body);
    expect(again.incidents).toEqual([{ dedupKey: 'grafana org=1 receiver="My Super Webhook" {}:{}', reason: "unchanged", incidentId: 2, actions: [] }]);
    // An unrelated Alertmanager group with empty groupLabels no longer lands on the Grafana ticket.
    const other = await post(svc, "/webhooks/alertmanager", alertmanager({ receiver: "team-a", groupKey: "{}/{}:{}", alertname: "HighCpuTemperature" }));
    expect(other.incidents[0]).toMatchObject({ reason: "first notification", incidentId: 3 });

    const tickets = await svc.tickets();
    expect(tickets.map((t) => t.key)).toEqual(["ad-0c863756d34da49c-1", "ad-44136fa355b3678a-1", expect.stringMatching(/^ad-[0-9a-f]{16}-1$/)]);
    expect(tickets[0]?.comments.map((c) => c.body.split("\n")[0])).toEqual(["1 alert joined the incident:"]);
    expect(tickets[1]?.comments).toEqual([]);
    // The continued incidents carry the new keys from now on, and keep their ticket keys.
    const incidents = await svc.store.listIncidents({ limit: 10 });
    expect(incidents.map((i) => [i.id, i.dedupKey, i.ticketKey]).sort()).toEqual([
      [1, 'alertmanager receiver="bridge" {}/{}:{alertname="LabServiceDown"}', "ad-0c863756d34da49c-1"],
      [2, 'grafana org=1 receiver="My Super Webhook" {}:{}', "ad-44136fa355b3678a-1"],
      [3, 'alertmanager receiver="team-a" {}/{}:{}', tickets[2]?.key],
    ]);
  });
});

describe("Grafana", () => {
  it("every entry of values is on the ticket and in the template context; the first is the value rules read", async () => {
    svc = await startTestService({
      rules: [
        "rules:",
        "  - name: memory",
        "    matchers: ['alertname=\"HostMemoryHigh\"']",
        "    when: value > 1000000000",
        "    priority: P2",
        '    description: "minute {{ alerts[0].values.minute }}, B={{ alerts[0].values.B }}"',
        "",
      ].join("\n"),
    });
    const r = await post(svc, "/webhooks/grafana", fixture("grafana/03-grafana11-several-values").body);
    expect(r.http).toBe(200);
    const [ticket] = await svc.tickets();
    expect(ticket?.priority).toBe("P2");
    expect(ticket?.body).toContain("value 2473545728 (A=2473545728, B=0, C=1, minute=9)");
    expect(ticket?.body).toContain("minute 9, B=0");
  });

  it("PUT /webhooks/grafana means what POST means", async () => {
    svc = await startTestService();
    const put = await post(svc, "/webhooks/grafana", fixture("grafana/01-firing-cpu").body, "PUT");
    expect(put).toMatchObject({ http: 200, incidents: [{ reason: "first notification", actions: ["open"] }] });
    const post2 = await post(svc, "/webhooks/grafana", fixture("grafana/01-firing-cpu").body);
    expect(post2.incidents[0]).toMatchObject({ reason: "unchanged", incidentId: put.incidents[0]?.incidentId });
    expect(await svc.tickets()).toHaveLength(1);
    const bad = await fetch(`${svc.url}/webhooks/grafana`, { method: "PUT", body: "{", headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
  });

  it("a ticket of several alerts has one silence link per alert", async () => {
    svc = await startTestService();
    await post(svc, "/webhooks/grafana", fixture("grafana/02-docs-example-empty-group").body);
    const [ticket] = await svc.tickets();
    expect(ticket?.body).toContain(
      "Silence alertname=High memory usage, zone=us-1: https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2",
    );
    expect(ticket?.body).toContain(
      "Silence alertname=High CPU usage, zone=eu-1: https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1",
    );
  });

  it("the truncation line names Grafana's setting", async () => {
    svc = await startTestService();
    const body = JSON.parse(fixture("grafana/01-firing-cpu").body) as { truncatedAlerts: number };
    body.truncatedAlerts = 3;
    await post(svc, "/webhooks/grafana", JSON.stringify(body));
    const [ticket] = await svc.tickets();
    expect(ticket?.body).toContain("3 more alert(s) truncated by Grafana (the contact point's Max Alerts)");
    expect(ticket?.body).not.toContain("max_alerts");
  });

  it("legacy dashboard alerting is refused with a 400 that says what it is, naming status and alerts", async () => {
    svc = await startTestService();
    for (const path of ["/webhooks/grafana", "/webhooks/alertmanager"]) {
      const res = await fetch(`${svc.url}${path}`, {
        method: "POST",
        body: fixture("grafana/05-legacy-dashboard-alert").body,
        headers: { "content-type": "application/json" },
      });
      expect(res.status).toBe(400);
      const json = (await res.json()) as { issues: { field: string; message: string }[] };
      expect(json.issues.map((i) => i.field)).toEqual(["status", "alerts"]);
      expect(json.issues[0]?.message).toMatch(/Grafana's legacy dashboard alerting format.*unified alerting/);
    }
    expect(await svc.store.listIncidents({ limit: 10 })).toEqual([]);
  });
});

describe("test notifications", () => {
  async function counter(s: TestService, outcome: string): Promise<number> {
    const text = await (await s.get("/metrics")).text();
    const m = new RegExp(`^alertdesk_test_notifications_total\\{source="grafana",outcome="${outcome}"\\} (\\d+)$`, "m").exec(text);
    return m ? Number(m[1]) : 0;
  }

  it("Grafana's Test button is recorded and answered 200, and opens no ticket", async () => {
    svc = await startTestService();
    const r = await post(svc, "/webhooks/grafana", fixture("grafana/04-test-notification").body);
    expect(r).toMatchObject({ http: 200, status: "test", incidents: [], detail: expect.stringMatching(/test notification/) });
    expect(await svc.tickets()).toEqual([]);
    expect(await svc.store.listIncidents({ limit: 10 })).toEqual([]);
    expect(await counter(svc, "recorded")).toBe(1);
    expect(svc.logs.join("")).toMatch(/test notification recorded; no ticket/);
  });

  it("a rule can ticket test notifications", async () => {
    svc = await startTestService({
      rules: "rules:\n  - name: tests\n    matchers: ['alertname=\"TestAlert\"']\n    test_notifications: ticket\n    priority: P4\n",
    });
    const r = await post(svc, "/webhooks/grafana", fixture("grafana/04-test-notification").body);
    expect(r.incidents[0]).toMatchObject({ reason: "first notification", actions: ["open"] });
    const [ticket] = await svc.tickets();
    expect(ticket).toMatchObject({ priority: "P4", status: "open" });
    expect(await counter(svc, "ticketed")).toBe(1);
  });

  it("a real alert named TestAlert in a real group is not a test", async () => {
    svc = await startTestService();
    const r = await post(
      svc,
      "/webhooks/alertmanager",
      alertmanager({ receiver: "team-a", groupKey: '{}/{}:{alertname="TestAlert"}', alertname: "TestAlert" }),
    );
    expect(r.incidents[0]).toMatchObject({ reason: "first notification", actions: ["open"] });
  });
});
