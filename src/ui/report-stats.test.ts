import { describe, expect, it } from "vitest";
import type { Incident } from "../model/incident.js";
import { RESPONSE_TARGET_MS } from "../model/priority.js";
import {
  buildReport,
  complianceByPriority,
  firstResponseMs,
  formatDuration,
  formatShare,
  median,
  noisiestAlerts,
  p90,
  perDayByPriority,
  quantile,
  type ReportIncident,
  reportIncident,
  reportWindow,
  resolveMs,
  timesByPriority,
  utcDay,
} from "./report-stats.js";

const NOW = new Date("2026-11-25T12:00:00.000Z");
const MIN = 60_000;
const iso = (msFromNow: number) => new Date(NOW.getTime() + msFromNow).toISOString();

/** A report incident opened `openedMin` minutes from NOW (negative: before), firing, P1 unless told. */
function ri(openedMin: number, over: Partial<ReportIncident> = {}): ReportIncident {
  const openedAt = iso(openedMin * MIN);
  return {
    priority: "P1",
    openedAt,
    state: "firing",
    resolvedAt: null,
    ticketed: true,
    clockStartedAt: openedAt,
    responseDueAt: iso((openedMin + 15) * MIN),
    firstResponseAt: null,
    breached: false,
    alertnames: ["A"],
    recurrences: 0,
    ...over,
  };
}

describe("quantiles", () => {
  it.each([
    ["no values", [], 0.5, null],
    ["one value", [7], 0.5, 7],
    ["odd count: the middle one", [5, 1, 3], 0.5, 3],
    ["even count: the mean of the middle two", [4, 1, 3, 2], 0.5, 2.5],
    ["p90 of 1..10, interpolated", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9.1],
    ["p90 of two", [0, 100], 0.9, 90],
    ["q above 1 is the maximum", [1, 2], 2, 2],
  ])("%s", (_why, values, q, expected) => {
    const got = quantile(values, q);
    if (expected === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(expected, 9);
  });

  it("median and p90 are the 0.5 and 0.9 quantiles", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(p90([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])).toBeCloseTo(91, 9);
  });
});

describe("days and formats", () => {
  it.each([
    ["2026-11-25T00:00:00.000Z", "2026-11-25"],
    ["2026-11-24T23:59:59.999Z", "2026-11-24"],
    ["2026-11-25T01:30:00+02:00", "2026-11-24"],
  ])("utcDay(%s) = %s", (t, day) => {
    expect(utcDay(t)).toBe(day);
  });

  it("the window: 30 UTC days ending today, from today's midnight minus 29 days", () => {
    const w = reportWindow(NOW, 30);
    expect(w.days).toHaveLength(30);
    expect(w.days[0]).toBe("2026-10-27");
    expect(w.days[29]).toBe("2026-11-25");
    expect(w.from.toISOString()).toBe("2026-10-27T00:00:00.000Z");
  });

  it.each([
    [0, "0s"],
    [45_400, "45s"],
    [5 * MIN, "5m"],
    [12 * MIN + 30_000, "12m 30s"],
    [60 * MIN, "1h"],
    [3 * 60 * MIN + 5 * MIN, "3h 5m"],
    [24 * 60 * MIN, "1d"],
    [52 * 60 * MIN, "2d 4h"],
  ])("formatDuration(%d) = %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([
    [null, "—"],
    [0, "0%"],
    [2 / 3, "67%"],
    [1, "100%"],
  ])("formatShare(%s) = %s", (share, text) => {
    expect(formatShare(share)).toBe(text);
  });
});

describe("per day by priority", () => {
  it("counts each incident on its opening's UTC day, ignoring days outside the window", () => {
    const days = ["2026-11-24", "2026-11-25"];
    const counts = perDayByPriority([ri(-11 * 60 - 59), ri(-12 * 60 - 1), ri(-60, { priority: "P3" }), ri(-60), ri(-3 * 24 * 60)], days);
    expect(counts).toEqual({ P1: [1, 2], P2: [0, 0], P3: [0, 1], P4: [0, 0] });
  });
});

describe("response and resolve times", () => {
  it.each([
    ["no response", ri(-60), null, null],
    ["a response 5 minutes into the clock", ri(-60, { firstResponseAt: iso(-55 * MIN) }), 5 * MIN, null],
    ["a reopen's clock: from clockStartedAt", ri(-60, { clockStartedAt: iso(-30 * MIN), firstResponseAt: iso(-20 * MIN) }), 10 * MIN, null],
    ["resolved after 40 minutes", ri(-60, { state: "resolved", resolvedAt: iso(-20 * MIN) }), null, 40 * MIN],
    [
      "no ticket (cancelled before open_after): neither",
      ri(-60, { ticketed: false, firstResponseAt: iso(-55 * MIN), state: "resolved", resolvedAt: iso(-50 * MIN) }),
      null,
      null,
    ],
  ])("%s", (_why, incident, response, resolve) => {
    expect(firstResponseMs(incident)).toBe(response);
    expect(resolveMs(incident)).toBe(resolve);
  });

  it("per priority: median and p90 of each, with the rules' target", () => {
    const incidents = [2, 4, 6, 20].map((m) => ri(-100, { firstResponseAt: iso((-100 + m) * MIN) }));
    incidents.push(ri(-100, { priority: "P2", state: "resolved", resolvedAt: iso(-40 * MIN) }));
    const times = timesByPriority(incidents, RESPONSE_TARGET_MS);
    expect(times.map((t) => t.priority)).toEqual(["P1", "P2", "P3", "P4"]);
    expect(times[0]).toMatchObject({ targetMs: 15 * MIN, firstResponse: { count: 4, median: 5 * MIN }, resolve: { count: 0, median: null, p90: null } });
    expect(times[0]?.firstResponse.p90).toBeCloseTo(15.8 * MIN, 6);
    expect(times[1]).toMatchObject({ firstResponse: { count: 0, median: null }, resolve: { count: 1, median: 60 * MIN, p90: 60 * MIN } });
  });
});

describe("SLA compliance", () => {
  it.each<[string, ReportIncident, Partial<Record<"withinTarget" | "late" | "noResponse" | "undecided" | "breached", number>>]>([
    ["answered within the target", ri(-60, { firstResponseAt: iso(-50 * MIN) }), { withinTarget: 1 }],
    ["answered exactly at the target", ri(-60, { firstResponseAt: iso(-45 * MIN) }), { withinTarget: 1 }],
    ["answered late (the API calls it breached)", ri(-60, { firstResponseAt: iso(-40 * MIN), breached: true }), { late: 1, breached: 1 }],
    ["no response, target passed, breachedAt set", ri(-60, { breached: true }), { noResponse: 1, breached: 1 }],
    ["no response, still within the target: undecided", ri(-5), { noResponse: 1, undecided: 1 }],
    ["no response, resolved before the target: undecided", ri(-60, { state: "resolved", resolvedAt: iso(-50 * MIN) }), { noResponse: 1, undecided: 1 }],
    ["no response, resolved after the target, not marked: missed", ri(-60, { state: "resolved", resolvedAt: iso(-10 * MIN) }), { noResponse: 1 }],
  ])("%s", (_why, incident, counts) => {
    const [p1] = complianceByPriority([incident], NOW);
    expect(p1).toMatchObject({ incidents: 1, withinTarget: 0, late: 0, noResponse: 0, undecided: 0, breached: 0, ...counts });
  });

  it("the share is of the decided incidents; none decided: null; no ticket: not counted", () => {
    const incidents = [
      ri(-60, { firstResponseAt: iso(-50 * MIN) }),
      ri(-60, { firstResponseAt: iso(-55 * MIN) }),
      ri(-60, { breached: true }),
      ri(-5),
      ri(-60, { ticketed: false }),
      ri(-5, { priority: "P2", responseDueAt: iso(25 * MIN) }),
    ];
    const [p1, p2, p3] = complianceByPriority(incidents, NOW);
    expect(p1).toMatchObject({ incidents: 4, withinTarget: 2, undecided: 1 });
    expect(p1?.share).toBeCloseTo(2 / 3, 9);
    expect(p2).toMatchObject({ incidents: 1, undecided: 1, share: null });
    expect(p3).toMatchObject({ incidents: 0, share: null });
  });
});

describe("noisiest alerts", () => {
  it("ranks alertnames by incidents, then re-fires, then name; an incident counts once per alertname", () => {
    const incidents = [
      ri(-1, { alertnames: ["Disk"], recurrences: 2 }),
      ri(-2, { alertnames: ["Disk", "Cpu"] }),
      ri(-3, { alertnames: ["Cpu"], recurrences: 5 }),
      ri(-4, { alertnames: ["Mem"] }),
      ri(-5, { alertnames: ["Net"] }),
      ri(-6, { alertnames: [] }),
    ];
    expect(noisiestAlerts(incidents, 4)).toEqual([
      { alertname: "Cpu", incidents: 2, refires: 5 },
      { alertname: "Disk", incidents: 2, refires: 2 },
      { alertname: "(no alertname)", incidents: 1, refires: 0 },
      { alertname: "Mem", incidents: 1, refires: 0 },
    ]);
  });
});

describe("an incident as the reports read it", () => {
  const base: Incident = {
    id: 1,
    dedupKey: "k",
    seq: 1,
    ticketKey: "ad-1",
    state: "firing",
    priority: "P2",
    category: "function",
    rule: null,
    helpdesk: "builtin",
    onResolved: "solve",
    reopenWithinMs: 0,
    source: "alertmanager",
    receiver: "r",
    groupLabels: { alertname: "Group" },
    externalURL: "",
    truncatedAlerts: 0,
    alerts: [],
    openedAt: iso(-120 * MIN),
    updatedAt: iso(-120 * MIN),
    dueAt: iso(-90 * MIN),
    responseTargetMs: 30 * MIN,
    recurrences: 1,
  };
  const alert = (name: string | undefined) => ({
    fingerprint: name ?? "none",
    status: "firing" as const,
    labels: name === undefined ? {} : { alertname: name },
    annotations: {},
    startsAt: base.openedAt,
    generatorURL: "",
    links: {},
    priority: "P2" as const,
    rule: null,
  });

  it.each<[string, Partial<Incident>, Partial<ReportIncident>]>([
    ["alertnames from the alerts, distinct and sorted", { alerts: [alert("B"), alert("A"), alert("B"), alert(undefined)] }, { alertnames: ["A", "B"] }],
    ["no alertname on the alerts: the group's", { alerts: [alert(undefined)] }, { alertnames: ["Group"] }],
    ["the response clock as the API's sla shows it", {}, { responseDueAt: iso(-90 * MIN), firstResponseAt: null, breached: true, ticketed: true }],
    [
      "a response before a reopen does not count for the new clock",
      {
        clockStartedAt: iso(-10 * MIN),
        helpdeskState: { status: "active", assignee: null, firstResponseAt: iso(-100 * MIN), resolution: null, syncedAt: null },
      },
      { clockStartedAt: iso(-10 * MIN), firstResponseAt: null, breached: false },
    ],
    [
      "cancelled before open_after: no ticket",
      { cancelled: true, state: "resolved", resolvedAt: iso(-100 * MIN) },
      { ticketed: false, resolvedAt: iso(-100 * MIN) },
    ],
    ["still deferred: no ticket yet", { deferredUntil: iso(5 * MIN) }, { ticketed: false }],
    ["a resolve time kept on a reopened (firing) incident is not a resolve", { resolvedAt: iso(-60 * MIN) }, { resolvedAt: null }],
  ])("%s", (_why, over, expected) => {
    expect(reportIncident({ ...base, ...over }, NOW)).toMatchObject(expected);
  });
});

describe("buildReport", () => {
  it("counts only incidents opened in the period", () => {
    const report = buildReport([ri(-60, { alertnames: ["In"] }), ri(-31 * 24 * 60, { alertnames: ["Out"] })], {
      now: NOW,
      days: 30,
      targets: RESPONSE_TARGET_MS,
      top: 10,
    });
    expect(report.total).toBe(1);
    expect(report.ticketed).toBe(1);
    expect(report.noisiest.map((n) => n.alertname)).toEqual(["In"]);
    expect(report.perDay.P1.reduce((a, b) => a + b, 0)).toBe(1);
    expect(report.days).toHaveLength(30);
  });
});
