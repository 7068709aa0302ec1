import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { toHtml } from "../../src/model/doc.js";
import { renderBody } from "../../src/templates/render.js";
import { startTestService, type TestService } from "../kit/service.js";

/** The rule language through the whole service: templates, routing, matrix, response targets, hot reload. */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

const RULES = `
response_targets:
  P1: 5m
rules:
  - name: service-down
    matchers: ['alertname="LabServiceDown"']
    priority: P1
    title: "{{ labels.service | upcase }} down on {{ labels.instance }} ({{ incident.count }} alert)"
    description: |
      Service {{ labels.service }} has been down since {{ incident.firstSeen }}.
      Runbook: {{ links.runbook | default: "none" }}
    tags: [paging, team-api]
    assignee_group: platform-oncall
    fields: { component: api, sla: true }
  - name: cpu-high
    matchers: ['alertname="HostHighCpu"']
    when: value > 80
    priority: P2
    category: performance
    title: "{% include 'secrets.txt' %}"
  - name: always
    matchers: ['alertname="LabTestAlwaysFiring"']
    priority: matrix
`;

describe("templates", () => {
  it("title and description come from the rule's LiquidJS templates; the rest of the intake stays", async () => {
    svc = await startTestService({ rules: RULES });
    await svc.replay("01-first-firing-single");
    const [ticket] = await svc.tickets();
    expect(ticket?.subject).toBe("API down on 127.0.0.1:19100 (1 alert)");
    expect(ticket?.body).toContain("Service api has been down since 2026-11-25T05:46:52.075Z.\nRunbook: none");
    expect(ticket?.body).toContain("P1: respond within 5m (by 2026-11-25 05:51:53 UTC)");
    expect(ticket?.body).toContain("Graph: http://lab-host:19090/graph?g0.expr=lab_service_down");
  });

  it("a template that fails at render time falls back to the default title and counts a metric; the ticket is not dropped", async () => {
    svc = await startTestService({ rules: RULES });
    await svc.replay("09-cpu-firing");
    const [ticket] = await svc.tickets();
    expect(ticket?.subject).toBe("HostHighCpu on 127.0.0.1:19100: High CPU usage on 127.0.0.1:19100");
    expect(await svc.metrics.registry.getSingleMetricAsString("alertdesk_template_errors_total")).toContain('rule="cpu-high",template="title"} 1');
  });

  it("label values reach an HTML body escaped", () => {
    const doc = renderBody(
      {
        dedupKey: "k",
        seq: 1,
        ticketKey: "t",
        state: "firing",
        priority: "P3",
        category: "function",
        rule: null,
        helpdesk: "builtin",
        onResolved: "solve",
        reopenWithinMs: 1,
        source: "alertmanager",
        receiver: "r",
        groupLabels: {},
        externalURL: "",
        truncatedAlerts: 0,
        alerts: [
          {
            fingerprint: "f",
            status: "firing",
            labels: { alertname: "<img src=x onerror=alert(1)>" },
            annotations: { summary: "a & b" },
            startsAt: "2026-01-01T00:00:00Z",
            generatorURL: "javascript:alert(1)",
            links: {},
            priority: "P3",
            rule: null,
          },
        ],
        openedAt: "2026-01-01T00:00:00Z",
        updatedAt: "2026-01-01T00:00:00Z",
        dueAt: "2026-01-01T01:00:00Z",
        recurrences: 0,
      },
      { description: "<b>{{ not a template here }}</b>" },
    );
    const html = toHtml(doc);
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>");
    expect(html).not.toContain('href="javascript:');
    expect(html).toContain("&#60;img src=x onerror=alert(1)&#62;");
  });
});

describe("routing and matrix", () => {
  it("tags, assignee group and custom fields reach the helpdesk", async () => {
    svc = await startTestService({ rules: RULES });
    await svc.replay("01-first-firing-single");
    const [ticket] = await svc.tickets();
    expect(ticket).toMatchObject({ tags: ["paging", "team-api"], assigneeGroup: "platform-oncall", fields: { component: "api", sla: true } });
  });

  it("priority: matrix takes impact from the incident's width and urgency from severity", async () => {
    svc = await startTestService({ rules: RULES });
    // Three info alerts on three instances: impact medium (default matrix: instances >= 2), urgency low → P4.
    await svc.replay("02-grouped-firing-3-alerts");
    const [ticket] = await svc.tickets();
    expect(ticket?.priority).toBe("P4");
    expect(ticket?.body).toContain("Impact × urgency: medium × low");
  });
});

describe("hot reload", () => {
  const V1 = "rules:\n  - name: down\n    matchers: ['alertname=\"LabServiceDown\"']\n    priority: P2\n";
  const V2 = "rules:\n  - name: down\n    matchers: ['alertname=\"LabServiceDown\"']\n    priority: P1\n";

  it("POST /-/reload swaps in rules that load, and keeps the old ones running when they do not", async () => {
    svc = await startTestService({ rules: V1, config: { watchRules: false } });
    const file = join(svc.dataDir, "rules.yaml");
    writeFileSync(file, V2);
    const ok = await svc.post("/-/reload", "");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: "reloaded", rules: 1 });

    writeFileSync(file, "rules:\n  - name: down\n    priority: P5\n");
    const bad = await svc.post("/-/reload", "");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { problems: string[] }).problems).toEqual([
      expect.stringMatching(/rules\.yaml:3:15: rules\[0\]\.priority: must be one of P1, P2, P3, P4, got "P5"$/),
    ]);
    expect(await svc.metrics.registry.getSingleMetricAsString("alertdesk_rules_last_reload_success")).toContain("alertdesk_rules_last_reload_success 0");
    const view = (await (await svc.get("/api/rules")).json()) as {
      lastReload: { success: boolean; error: string };
      rules: { name: string; priority: string }[];
    };
    expect(view.lastReload.success).toBe(false);
    expect(view.lastReload.error).toContain('got "P5"');
    expect(view.rules).toMatchObject([{ name: "down", priority: "P1" }]);

    // The rules in force are V2: the service-down alert is P1.
    await svc.replay("01-first-firing-single");
    expect((await svc.tickets())[0]?.priority).toBe("P1");
  });

  it("a change to the rules file is picked up without a signal", async () => {
    svc = await startTestService({ rules: V1 });
    writeFileSync(join(svc.dataDir, "rules.yaml"), V2);
    const s = svc;
    for (let i = 0; i < 100; i++) {
      const view = (await (await s.get("/api/rules")).json()) as { rules: { priority: string }[] };
      if (view.rules[0]?.priority === "P1") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await s.replay("01-first-firing-single");
    expect((await s.tickets())[0]?.priority).toBe("P1");
  });

  it("with an admin token, /-/reload needs it", async () => {
    svc = await startTestService({ rules: V1, config: { adminToken: "admin-secret", watchRules: false } });
    expect((await svc.post("/-/reload", "")).status).toBe(401);
    expect((await svc.post("/-/reload", "", { authorization: "Bearer admin-secret" })).status).toBe(200);
  });
});

describe("flap damping through the service", () => {
  const DAMPED = "rules:\n  - name: down\n    matchers: ['alertname=\"LabServiceDown\"']\n    priority: P1\n    open_after: 2m\n";

  it("open_after: an alert resolved before it passed never opens a ticket, and is counted", async () => {
    svc = await startTestService({ rules: DAMPED });
    await svc.replay("01-first-firing-single");
    await svc.replay("04-group-gains-alert");
    await svc.replay("05-partial-resolve");
    await svc.replay("06-all-resolved"); // 36 s after the first alert started: within open_after
    svc.now = new Date("2026-11-25T06:00:00Z");
    await svc.deliverAll();
    expect(await svc.tickets()).toEqual([]);
    const states = (await svc.store.listDeliveries({ limit: 100 })).map((d) => d.state);
    expect(new Set(states)).toEqual(new Set(["cancelled"]));
    expect(await svc.metrics.registry.getSingleMetricAsString("alertdesk_lifecycle_steps_total")).toContain('reason="resolved before open_after"} 1');
    const [incident] = ((await (await svc.get("/api/incidents")).json()) as { incidents: { cancelled: boolean; ticket: unknown }[] }).incidents;
    expect(incident).toMatchObject({ cancelled: true, ticket: null });
  });

  it("open_after: an alert still firing when it passed opens one ticket that shows every alert that joined meanwhile", async () => {
    svc = await startTestService({ rules: DAMPED });
    await svc.replay("01-first-firing-single");
    await svc.replay("04-group-gains-alert");
    expect(await svc.tickets()).toEqual([]);
    svc.now = new Date("2026-11-25T05:48:53Z"); // open_after (2m) after api started at 05:46:52
    await svc.deliverAll();
    const tickets = await svc.tickets();
    expect(tickets).toHaveLength(1);
    expect(tickets[0]?.body).toContain("How wide:  2 alerts firing");
    expect(tickets[0]?.comments).toEqual([]);
  });
});
