import { incidentView } from "../api/incidents.js";
import type { Incident } from "../model/incident.js";
import { PRIORITIES, type Priority } from "../model/priority.js";

/**
 * The reports page's statistics, as pure functions of the incidents read: counts per UTC day,
 * medians and 90th percentiles of response and resolve times, SLA compliance, the noisiest alerts.
 * The response clock is read the way GET /api/incidents shows it (its `sla` view), so that the
 * reports and the API never disagree on whether an incident was answered in time.
 */

const DAY_MS = 86_400_000;

/** What the reports need of one incident: a few fields, so that 20,000 of them stay small. */
export interface ReportIncident {
  priority: Priority;
  openedAt: string;
  state: Incident["state"];
  resolvedAt: string | null;
  /** A ticket was (or is being) opened: not cancelled before open_after passed, not still deferred. */
  ticketed: boolean;
  /** The start of the current response clock: the ticket's open or its latest reopen. */
  clockStartedAt: string;
  /** When the current clock's target passes. */
  responseDueAt: string;
  /** The first human response on the current clock (a response before a reopen does not count for the new clock). */
  firstResponseAt: string | null;
  /** The target passed without a response (breachedAt), or the response came late: the API's `sla.breached`. */
  breached: boolean;
  /** The distinct alertnames of its alerts. */
  alertnames: string[];
  /** How many times it fired again and reopened its ticket. */
  recurrences: number;
}

/** The reports' view of an incident, at `now`. */
export function reportIncident(i: Incident, now: Date): ReportIncident {
  const sla = incidentView({ ...i, alerts: [] }, now).sla;
  const names = new Set(i.alerts.map((a) => a.labels.alertname).filter((n): n is string => typeof n === "string" && n !== ""));
  if (names.size === 0 && i.groupLabels.alertname) names.add(i.groupLabels.alertname);
  const deferred = i.deferredUntil !== undefined && Date.parse(i.deferredUntil) > now.getTime();
  return {
    priority: i.priority,
    openedAt: i.openedAt,
    state: i.state,
    resolvedAt: i.state === "resolved" ? (i.resolvedAt ?? null) : null,
    ticketed: i.cancelled !== true && !deferred,
    clockStartedAt: i.clockStartedAt ?? i.openedAt,
    responseDueAt: sla.responseDueAt,
    firstResponseAt: sla.firstResponseAt,
    breached: sla.breached,
    alertnames: [...names].sort(),
    recurrences: i.recurrences,
  };
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of the values, interpolated linearly between the two nearest ranks
 * (the usual definition: numpy's default, Excel's PERCENTILE.INC), so the median of an even count is
 * the mean of the middle two; null for no values.
 */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const below = Math.floor(rank);
  const lower = sorted[below] ?? 0;
  const upper = sorted[Math.min(sorted.length - 1, below + 1)] ?? lower;
  return lower + (upper - lower) * (rank - below);
}

export function median(values: readonly number[]): number | null {
  return quantile(values, 0.5);
}

export function p90(values: readonly number[]): number | null {
  return quantile(values, 0.9);
}

/** `2026-11-25`: the UTC day of a time. */
export function utcDay(t: string | number | Date): string {
  return new Date(t).toISOString().slice(0, 10);
}

/** The report's period: `days` whole UTC days ending with today (today's part so far), oldest first. */
export function reportWindow(now: Date, days: number): { from: Date; days: string[] } {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const from = today - (days - 1) * DAY_MS;
  return { from: new Date(from), days: Array.from({ length: days }, (_, k) => utcDay(from + k * DAY_MS)) };
}

/** `45s`, `12m 30s`, `3h 5m`, `2d 4h`: a duration as people read it. */
export function formatDuration(ms: number): string {
  const s = Math.round(Math.max(0, ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return s % 60 === 0 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 60)}m ${s % 60}s`;
  const m = Math.round(s / 60);
  if (m < 24 * 60) return m % 60 === 0 ? `${Math.floor(m / 60)}h` : `${Math.floor(m / 60)}h ${m % 60}m`;
  const h = Math.round(m / 60);
  return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `67%` (whole percent), `—` when there is nothing to divide. */
export function formatShare(share: number | null): string {
  return share === null ? "—" : `${Math.round(share * 100)}%`;
}

/** Incidents opened per UTC day and priority, one count per day of `days` (days outside it are not counted). */
export function perDayByPriority(incidents: readonly ReportIncident[], days: readonly string[]): Record<Priority, number[]> {
  const index = new Map(days.map((d, k) => [d, k]));
  const counts = Object.fromEntries(PRIORITIES.map((p) => [p, days.map(() => 0)])) as Record<Priority, number[]>;
  for (const i of incidents) {
    const k = index.get(utcDay(i.openedAt));
    const row = counts[i.priority];
    if (k !== undefined && row) row[k] = (row[k] ?? 0) + 1;
  }
  return counts;
}

/** From the start of the current response clock to the first response on it; null while there is none. */
export function firstResponseMs(i: ReportIncident): number | null {
  if (!i.ticketed || i.firstResponseAt === null) return null;
  return Math.max(0, Date.parse(i.firstResponseAt) - Date.parse(i.clockStartedAt));
}

/** From the open to the resolve, for resolved incidents that had a ticket; null otherwise. */
export function resolveMs(i: ReportIncident): number | null {
  if (!i.ticketed || i.state !== "resolved" || i.resolvedAt === null) return null;
  return Math.max(0, Date.parse(i.resolvedAt) - Date.parse(i.openedAt));
}

export interface DurationSummary {
  count: number;
  median: number | null;
  p90: number | null;
}

function summary(values: readonly number[]): DurationSummary {
  return { count: values.length, median: median(values), p90: p90(values) };
}

export interface PriorityTimes {
  priority: Priority;
  /** The rules' response target for the priority, in ms. */
  targetMs: number;
  firstResponse: DurationSummary;
  resolve: DurationSummary;
}

/** Median and p90 of the time to first response and to resolve, per priority, with the rules' target. */
export function timesByPriority(incidents: readonly ReportIncident[], targets: Record<Priority, number>): PriorityTimes[] {
  return PRIORITIES.map((priority) => {
    const mine = incidents.filter((i) => i.priority === priority);
    return {
      priority,
      targetMs: targets[priority],
      firstResponse: summary(mine.map(firstResponseMs).filter((v): v is number => v !== null)),
      resolve: summary(mine.map(resolveMs).filter((v): v is number => v !== null)),
    };
  });
}

export interface Compliance {
  priority: Priority;
  /** Incidents with a ticket. */
  incidents: number;
  /** The first response came by the target. */
  withinTarget: number;
  /** The first response came after the target. */
  late: number;
  /** No first response (on the current clock), however it ended. */
  noResponse: number;
  /**
   * Of those, the ones whose target has not passed while their clock ran (still within it, or
   * resolved before it): not decided either way, so left out of the share.
   */
  undecided: number;
  /** The target passed without a response, or the response came late (the API's `sla.breached`). */
  breached: number;
  /** withinTarget over the decided incidents (all but the undecided); null when none is. */
  share: number | null;
}

/** When the incident's response clock stopped running without a response: its resolve, or now while it fires. */
function clockEnd(i: ReportIncident, now: Date): number {
  return i.state === "resolved" && i.resolvedAt !== null ? Date.parse(i.resolvedAt) : now.getTime();
}

/** SLA compliance per priority, each incident measured against its own target (the one its ticket was given). */
export function complianceByPriority(incidents: readonly ReportIncident[], now: Date): Compliance[] {
  return PRIORITIES.map((priority) => {
    const mine = incidents.filter((i) => i.ticketed && i.priority === priority);
    const c: Compliance = { priority, incidents: mine.length, withinTarget: 0, late: 0, noResponse: 0, undecided: 0, breached: 0, share: null };
    for (const i of mine) {
      const due = Date.parse(i.responseDueAt);
      if (i.firstResponseAt !== null) {
        if (Date.parse(i.firstResponseAt) <= due) c.withinTarget++;
        else c.late++;
      } else {
        c.noResponse++;
        if (!i.breached && clockEnd(i, now) <= due) c.undecided++;
      }
      if (i.breached) c.breached++;
    }
    const decided = c.incidents - c.undecided;
    c.share = decided > 0 ? c.withinTarget / decided : null;
    return c;
  });
}

export interface NoisyAlert {
  alertname: string;
  incidents: number;
  /** The re-fires of those incidents, summed. */
  refires: number;
}

/** The alertnames with the most incidents (an incident counts once for each of its alertnames), then the most re-fires. */
export function noisiestAlerts(incidents: readonly ReportIncident[], top: number): NoisyAlert[] {
  const by = new Map<string, NoisyAlert>();
  for (const i of incidents) {
    for (const alertname of i.alertnames.length > 0 ? i.alertnames : ["(no alertname)"]) {
      const entry = by.get(alertname) ?? { alertname, incidents: 0, refires: 0 };
      entry.incidents++;
      entry.refires += i.recurrences;
      by.set(alertname, entry);
    }
  }
  return [...by.values()]
    .sort((a, b) => b.incidents - a.incidents || b.refires - a.refires || (a.alertname < b.alertname ? -1 : a.alertname > b.alertname ? 1 : 0))
    .slice(0, top);
}

export interface Report {
  from: Date;
  now: Date;
  days: string[];
  /** Every incident opened in the period. */
  total: number;
  /** Those with a ticket (the response figures count only these). */
  ticketed: number;
  perDay: Record<Priority, number[]>;
  times: PriorityTimes[];
  compliance: Compliance[];
  noisiest: NoisyAlert[];
}

/** Everything the reports page shows, of the incidents opened in the period (others are ignored). */
export function buildReport(
  incidents: readonly ReportIncident[],
  options: { now: Date; days: number; targets: Record<Priority, number>; top: number },
): Report {
  const window = reportWindow(options.now, options.days);
  const inPeriod = incidents.filter((i) => Date.parse(i.openedAt) >= window.from.getTime());
  return {
    from: window.from,
    now: options.now,
    days: window.days,
    total: inPeriod.length,
    ticketed: inPeriod.filter((i) => i.ticketed).length,
    perDay: perDayByPriority(inPeriod, window.days),
    times: timesByPriority(inPeriod, options.targets),
    compliance: complianceByPriority(inPeriod, options.now),
    noisiest: noisiestAlerts(inPeriod, options.top),
  };
}
