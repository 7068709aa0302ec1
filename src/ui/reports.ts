import type { Router } from "express";
import { PAGE } from "../api/paging.js";
import { PRIORITIES, type Priority } from "../model/priority.js";
import type { QueryStore } from "../store/types.js";
import { barChart, dataTable, foldedTable, groupedBars, horizontalBars, PRIORITY_FILL } from "./charts.js";
import type { UiDeps } from "./deps.js";
import { html, type SafeHtml } from "./html.js";
import { contextOf, page, utc } from "./layout.js";
import {
  buildReport,
  type Compliance,
  formatDuration,
  formatShare,
  type PriorityTimes,
  type Report,
  type ReportIncident,
  reportIncident,
  reportWindow,
} from "./report-stats.js";

/** The period the reports cover: the last 30 UTC days, today included. */
export const REPORT_DAYS = 30;
/** The most incidents one report reads (the newest of the period): the page stays one bounded read. */
export const REPORT_MAX_INCIDENTS = 20_000;
const NOISIEST = 10;
/** Bars taller than this share of the target are cut (a p90 of ten times the target would flatten the rest). */
const RESPONSE_CHART_MAX_PERCENT = 400;

/**
 * The period's incidents, newest first through the store's pages, down to the first one opened
 * before the period (ids grow with the opening time), at most REPORT_MAX_INCIDENTS of them.
 */
async function readPeriod(store: Pick<QueryStore, "pageIncidents">, from: Date, now: Date): Promise<{ incidents: ReportIncident[]; truncated: boolean }> {
  const incidents: ReportIncident[] = [];
  let before: number | undefined;
  for (;;) {
    const limit = Math.min(PAGE.maxLimit, REPORT_MAX_INCIDENTS - incidents.length + 1);
    const read = await store.pageIncidents({ limit, maxBytes: PAGE.maxBytes, ...(before !== undefined ? { before } : {}) });
    for (const i of read.items) {
      if (Date.parse(i.openedAt) < from.getTime()) return { incidents, truncated: false };
      if (incidents.length >= REPORT_MAX_INCIDENTS) return { incidents, truncated: true };
      incidents.push(reportIncident(i, now));
    }
    if (read.next === null || read.items.length === 0) return { incidents, truncated: false };
    before = read.next;
  }
}

function section(id: string, heading: string, body: SafeHtml): SafeHtml {
  return html`<section aria-labelledby="${id}"><h2 id="${id}">${heading}</h2>${body}</section>`;
}

function prioBadge(p: Priority): SafeHtml {
  return html`<span class="${`prio ${p}`}">${p}</span>`;
}

function duration(ms: number | null): string {
  return ms === null ? "—" : formatDuration(ms);
}

function summaryCards(report: Report): SafeHtml {
  const all = report.compliance.reduce(
    (a, c) => ({ within: a.within + c.withinTarget, decided: a.decided + c.incidents - c.undecided, breached: a.breached + c.breached }),
    { within: 0, decided: 0, breached: 0 },
  );
  const noisiest = report.noisiest[0];
  const card = (label: string, figure: string, note: string) =>
    html`<div class="card"><div class="muted">${label}</div><div class="figure">${figure}</div><div class="muted">${note}</div></div>`;
  return html`<div class="cards">${[
    card("Incidents", String(report.total), `${report.ticketed} with a ticket`),
    card("Answered within target", formatShare(all.decided > 0 ? all.within / all.decided : null), `${all.within} of ${all.decided} decided`),
    card("SLA breaches", String(all.breached), "target passed without a response, or answered late"),
    card("Noisiest alert", noisiest?.alertname ?? "—", noisiest ? `${noisiest.incidents} incidents, ${noisiest.refires} re-fires` : "no incidents"),
  ]}</div>`;
}

function perDaySection(report: Report): SafeHtml {
  const chart = barChart({
    title: `Incidents per day by priority, ${report.days[0]} to ${report.days[report.days.length - 1]}`,
    categories: report.days.map((d) => d.slice(5)),
    series: PRIORITIES.map((p) => ({ name: p, fill: PRIORITY_FILL[p], values: report.perDay[p] })),
    xLabel: "day (UTC)",
    yLabel: "incidents opened",
    empty: "No incidents in the period",
  });
  const rows = report.days.flatMap((day, k) => {
    const counts = PRIORITIES.map((p) => report.perDay[p][k] ?? 0);
    const all = counts.reduce((a, b) => a + b, 0);
    return all === 0 ? [] : [[day, ...counts, all]];
  });
  const table =
    rows.length === 0
      ? ""
      : foldedTable(
          "The counts per day as a table",
          dataTable("Incidents opened per UTC day (days without any left out)", ["Day", ...PRIORITIES, "All"], rows),
        );
  return section("per-day", "Incidents per day", html`${chart}${table}`);
}

/** Bars as a share of the target (so P1's minutes and P4's hours fit one chart), labelled with the times. */
function responseChart(times: readonly PriorityTimes[]): SafeHtml {
  const percent = (ms: number | null, target: number) => (ms === null ? null : (ms / target) * 100);
  return groupedBars({
    title: "Time to first response per priority, median and p90, against the response target",
    series: [{ name: "median" }, { name: "p90" }],
    groups: times.map((t) => ({
      label: t.priority,
      fill: PRIORITY_FILL[t.priority],
      values: [percent(t.firstResponse.median, t.targetMs), percent(t.firstResponse.p90, t.targetMs)],
      texts: [duration(t.firstResponse.median), duration(t.firstResponse.p90)],
      marker: 100,
      markerText: formatDuration(t.targetMs),
    })),
    markerName: "response target",
    yLabel: "% of the response target",
    yMax: RESPONSE_CHART_MAX_PERCENT,
    format: (v) => `${Math.round(v)}%`,
    empty: "No first responses in the period",
  });
}

/** The unit the resolve chart's axis counts in: the one that keeps its longest bar a readable number. */
function resolveUnit(longestMs: number): { name: string; ms: number } {
  if (longestMs >= 3 * 86_400_000) return { name: "days", ms: 86_400_000 };
  if (longestMs >= 3 * 3_600_000) return { name: "hours", ms: 3_600_000 };
  return { name: "minutes", ms: 60_000 };
}

function resolveChart(times: readonly PriorityTimes[]): SafeHtml {
  const unit = resolveUnit(Math.max(0, ...times.map((t) => t.resolve.p90 ?? 0)));
  const inUnit = (ms: number | null) => (ms === null ? null : ms / unit.ms);
  return groupedBars({
    title: "Time to resolve per priority, median and p90",
    series: [{ name: "median" }, { name: "p90" }],
    groups: times.map((t) => ({
      label: t.priority,
      fill: PRIORITY_FILL[t.priority],
      values: [inUnit(t.resolve.median), inUnit(t.resolve.p90)],
      texts: [duration(t.resolve.median), duration(t.resolve.p90)],
    })),
    yLabel: unit.name,
    empty: "No resolved incidents in the period",
  });
}

function timesSection(report: Report): SafeHtml {
  const table = dataTable(
    "Time to first response (from the ticket's open or latest reopen) and to resolve (from the open), per priority",
    ["Priority", "Response target", "Responses", "Median response", "p90 response", "Resolved", "Median resolve", "p90 resolve"],
    report.times.map((t) => [
      prioBadge(t.priority),
      formatDuration(t.targetMs),
      t.firstResponse.count,
      duration(t.firstResponse.median),
      duration(t.firstResponse.p90),
      t.resolve.count,
      duration(t.resolve.median),
      duration(t.resolve.p90),
    ]),
  );
  return section(
    "times",
    "Time to first response and to resolve",
    html`<p class="muted">Bars of the first chart are a share of each priority's response target (the dashed line is the target); their labels are the times.</p>${responseChart(report.times)}${resolveChart(report.times)}${table}`,
  );
}

function complianceSection(compliance: readonly Compliance[]): SafeHtml {
  const chart = horizontalBars({
    title: "SLA compliance per priority: the share of decided incidents answered within their response target",
    bars: compliance.map((c) => ({
      label: c.priority,
      value: c.share === null ? 0 : c.share * 100,
      text: c.share === null ? "no decided incidents" : `${formatShare(c.share)} (${c.withinTarget} of ${c.incidents - c.undecided})`,
      fill: PRIORITY_FILL[c.priority],
    })),
    max: 100,
    format: (v) => `${Math.round(v)}%`,
    xLabel: "% answered within the target",
  });
  const table = dataTable(
    "SLA compliance per priority",
    ["Priority", "Incidents", "Within target", "Late", "No response", "Not decided", "Breached", "Compliance"],
    compliance.map((c) => [prioBadge(c.priority), c.incidents, c.withinTarget, c.late, c.noResponse, c.undecided, c.breached, formatShare(c.share)]),
  );
  return section(
    "compliance",
    "SLA compliance",
    html`<p class="muted">An incident with a ticket complies when its first response came within its response target. One without a response whose target has not passed (or that resolved before it) is not decided yet and not counted in the share.</p>${chart}${table}`,
  );
}

function noisiestSection(report: Report): SafeHtml {
  const chart = horizontalBars({
    title: `The ${NOISIEST} alerts with the most incidents`,
    bars: report.noisiest.map((n) => ({
      label: n.alertname,
      value: n.incidents,
      text: `${n.incidents} incident${n.incidents === 1 ? "" : "s"}, ${n.refires} re-fire${n.refires === 1 ? "" : "s"}`,
    })),
    xLabel: "incidents",
    empty: "No incidents in the period",
  });
  const table =
    report.noisiest.length === 0
      ? ""
      : dataTable(
          "Incidents and re-fires per alertname",
          ["Alertname", "Incidents", "Re-fires"],
          report.noisiest.map((n) => [n.alertname, n.incidents, n.refires]),
        );
  return section("noisiest", "Noisiest alerts", html`${chart}${table}`);
}

function reportBody(report: Report, truncated: boolean, oldestRead: string | undefined): SafeHtml {
  const cut = truncated
    ? html`<p class="notice" role="status">The period has more than ${REPORT_MAX_INCIDENTS.toLocaleString("en")} incidents: only the newest ${REPORT_MAX_INCIDENTS.toLocaleString("en")} are counted (opened since ${utc(oldestRead)}).</p>`
    : "";
  return html`<h1>Reports</h1>
<p class="muted">The last ${REPORT_DAYS} days: from ${utc(report.from.toISOString())} to now, ${utc(report.now.toISOString())}. ${report.total.toLocaleString("en")} incidents opened, ${report.ticketed.toLocaleString("en")} of them with a ticket; the response figures count those with a ticket.</p>
${cut}${summaryCards(report)}
${perDaySection(report)}
${timesSection(report)}
${complianceSection(report.compliance)}
${noisiestSection(report)}`;
}

/** `GET /ui/reports`: the last 30 days in charts (and their tables): volume, response and resolve times, compliance, noise. */
export function addReportPages(router: Router, deps: UiDeps): void {
  router.get("/ui/reports", async (req, res) => {
    const now = deps.clock();
    const ctx = contextOf(req, deps.sessions, now);
    const window = reportWindow(now, REPORT_DAYS);
    const { incidents, truncated } = await readPeriod(deps.store, window.from, now);
    const report = buildReport(incidents, { now, days: REPORT_DAYS, targets: deps.rules().rules.responseTargets, top: NOISIEST });
    res.type("html").send(page(ctx, "reports", "Reports", reportBody(report, truncated, incidents[incidents.length - 1]?.openedAt)));
  });
}
