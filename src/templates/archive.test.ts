import { describe, expect, it } from "vitest";
import { toHtml } from "../model/doc.js";
import type { HelpdeskEvent } from "../model/helpdesk-event.js";
import type { AlertRecord, Incident } from "../model/incident.js";
import { archiveTitle, buildArchiveEntry, REVIEW_QUESTIONS } from "./archive.js";
import { renderSimilar } from "./render.js";

const T0 = Date.parse("2026-12-01T10:00:00Z");
const iso = (min: number) => new Date(T0 + min * 60_000).toISOString();

function alert(o: Partial<AlertRecord> = {}): AlertRecord {
  return {
    fingerprint: "f1",
    status: "resolved",
    labels: { alertname: "HostHighCpu", instance: "db-1", job: "node", service: "billing" },
    annotations: { summary: "CPU usage above 80% on db-1", runbook_url: "https://runbooks.example/cpu" },
    startsAt: iso(0),
    endsAt: iso(40),
    generatorURL: "https://prometheus.example/graph?g0.expr=cpu",
    links: {},
    priority: "P2",
    rule: "cpu-high",
    value: 82,
    firstValue: 85,
    peakValue: 97.5,
    ...o,
  };
}

function incident(o: Partial<Incident> = {}): Incident & { id: number } {
  return {
    id: 42,
    dedupKey: "k",
    seq: 1,
    ticketKey: "ad-0123456789abcdef-1",
    state: "resolved",
    priority: "P2",
    targetPriority: "P2",
    category: "performance",
    rule: "cpu-high",
    helpdesk: "support",
    onResolved: "solve",
    reopenWithinMs: 86_400_000,
    source: "alertmanager",
    receiver: "r",
    groupLabels: { alertname: "HostHighCpu" },
    externalURL: "https://alertmanager.example",
    truncatedAlerts: 0,
    alerts: [alert()],
    openedAt: iso(1),
    updatedAt: iso(40),
    resolvedAt: iso(40),
    dueAt: iso(31),
    responseTargetMs: 30 * 60_000,
    recurrences: 0,
    ticket: { id: "4711", url: "https://support.example/tickets/4711" },
    helpdeskState: { status: "solved", assignee: "ana", firstResponseAt: iso(6), resolution: "fixed", syncedAt: iso(39) },
    agentSolvedAt: iso(38),
    ...o,
  };
}

const events: HelpdeskEvent[] = [
  { kind: "assigned", at: iso(6), author: "ana", assignee: "ana" },
  { kind: "commented", at: iso(10), author: "ana", public: false, text: "looking at top" },
  { kind: "commented", at: iso(30), author: "ana", public: true, text: "Killed the runaway report job.\nIt had no limit." },
  { kind: "status_changed", at: iso(38), author: "ana", status: "solved", resolution: "fixed" },
  { kind: "commented", at: iso(39), author: "bob", public: true, text: "after the solve: not part of the resolution" },
];

describe("buildArchiveEntry", () => {
  const entry = buildArchiveEntry({
    incident: incident(),
    agentEvents: events,
    deliveries: [
      { op: "open", helpdesk: "support", state: "done", createdAt: iso(1), doneAt: iso(2), firstLine: "" },
      { op: "comment", helpdesk: "support", state: "done", createdAt: iso(31), doneAt: iso(31), firstLine: "Escalation: no first response within 30m" },
      { op: "resolve", helpdesk: "support", state: "done", createdAt: iso(40), doneAt: iso(40), firstLine: "Monitoring confirms: all 1 alert stopped firing" },
    ],
  });

  it("has a deterministic title naming the alert, the host, the day and the incident", () => {
    expect(entry.title).toBe("HostHighCpu on db-1 — 2026-12-01 (ad-0123456789abcdef-1)");
    expect(archiveTitle(incident())).toBe(entry.title);
  });

  it("keeps the agents' public notes up to the solve as the resolution, and their last one as the line", () => {
    expect(entry.resolution).toContain("Killed the runaway report job.");
    expect(entry.resolution).not.toContain("looking at top");
    expect(entry.resolution).not.toContain("after the solve");
    expect(entry.resolutionLine).toBe("Killed the runaway report job.");
    expect(entry.outcome).toBe("fixed");
  });

  it("says what happened, how long, how wide, the environment, the values, the links and the times against the target", () => {
    expect(entry.body).toContain("CPU usage above 80% on db-1");
    expect(entry.body).toMatch(/Lasted:\s+40m/);
    expect(entry.body).toMatch(/Time to first response:\s+5m \(target 30m, met\)/);
    expect(entry.body).toContain("first 85, peak 97.5, last 82");
    expect(entry.body).toContain("https://runbooks.example/cpu");
    expect(entry.body).toMatch(/service:\s+billing/);
    expect(entry.body).toContain("https://support.example/tickets/4711");
    expect(entry.body).toMatch(/Verification:\s+the monitoring confirmed the fix/);
    for (const q of REVIEW_QUESTIONS) expect(entry.body).toContain(q);
    expect(entry.durationMs).toBe(40 * 60_000);
  });

  it("tells the timeline in order: alerts, alertdesk's deliveries and the agents' actions", () => {
    const timeline = entry.body.split("## Timeline")[1]?.split("## Resolution")[0] ?? "";
    const order = [
      "Fired: ",
      "Incident opened (P2)",
      "Ticket opened in support",
      "Assigned to ana",
      "First response",
      "Internal note by ana",
      "Comment by ana: Killed",
      "Escalation: no first response",
      "Status solved (fixed) by ana",
      "Resolved: ",
      "Monitoring confirms",
    ];
    const positions = order.map((text) => timeline.indexOf(text));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it("keywords: alertname, service and job, category, priority, outcome and the summary's words", () => {
    expect(entry.keywords).toEqual(expect.arrayContaining(["HostHighCpu", "billing", "node", "performance", "P2", "fixed", "cpu", "usage", "db-1"]));
    expect(entry.keywords).not.toContain("above");
  });

  it("an incident that ended by itself says so, with no notes", () => {
    const ended = incident();
    delete ended.helpdeskState;
    delete ended.agentSolvedAt;
    const quiet = buildArchiveEntry({
      incident: ended,
      agentEvents: [],
      deliveries: [],
    });
    expect(quiet.outcome).toBe("resolved by itself");
    expect(quiet.resolution).toBe("");
    expect(quiet.resolutionLine).toMatch(/^Resolved by itself/);
    expect(quiet.body).toContain("No resolution note was written");
    expect(quiet.body).toMatch(/Time to first response:\s+none recorded/);
  });

  it("hostile label values stay text in every rendering", () => {
    const hostile = buildArchiveEntry({
      incident: incident({ alerts: [alert({ labels: { alertname: "X", instance: "<img src=x onerror=alert(1)>" } })] }),
      agentEvents: [],
      deliveries: [],
    });
    expect(toHtml(hostile.doc)).not.toContain("<img");
    expect(toHtml(hostile.doc)).toContain("&#60;img src=x onerror=alert(1)&#62;");
  });
});

describe("renderSimilar", () => {
  it("one line per similar incident: date, duration, ticket, first line of its resolution; nothing when none", () => {
    expect(renderSimilar([])).toEqual([]);
    const doc = renderSimilar([
      {
        entryId: 1,
        incidentId: 2,
        alertname: "HostHighCpu",
        labels: {},
        title: "t",
        ticketKey: "ad-1",
        ticketId: "4711",
        ticketUrl: "https://support.example/tickets/4711",
        startedAt: iso(0),
        durationMs: 40 * 60_000,
        hasResolution: true,
        resolutionLine: "Killed the runaway report job.",
        createdAt: iso(45),
        sameAlertname: true,
        overlap: 1,
      },
    ]);
    expect(doc).toEqual([
      { kind: "heading", text: "Similar past incidents" },
      { kind: "list", items: ["2026-12-01, lasted 40m, ticket 4711 https://support.example/tickets/4711: Killed the runaway report job."] },
    ]);
  });
});
