import type { AgentAction } from "../lifecycle/agent.js";
import type { Flap, TicketAction } from "../lifecycle/decide.js";
import type { Escalation } from "../lifecycle/escalation.js";
import type { AlertUpdate, Source } from "../model/alert.js";
import type { SimilarIncident } from "../model/archive.js";
import type { Block, Doc } from "../model/doc.js";
import { formatDuration } from "../model/duration.js";
import type { AlertRecord, Incident } from "../model/incident.js";
import { commonEntries, formatLabelSet, labelOf, shortValue } from "../model/labels.js";
import { RESPONSE_TARGET_MS } from "../model/priority.js";
import type { SilenceOperation } from "../model/ticket-operation.js";

/**
 * The default ticket content, following the support workflow's intake: what is happening, since
 * when, how wide, the environment, the values, the links, and the response target. Pure.
 */

/** Labels that differ between the incident's alerts: what tells one alert from another. */
function distinguishingLabels(alerts: AlertRecord[]): string[] {
  if (alerts.length <= 1) return ["instance", "service"].filter((l) => alerts[0] && labelOf(alerts[0].labels, l) !== undefined);
  const known = distinguishing.get(alerts);
  if (known) return known;
  const names = new Set(alerts.flatMap((a) => Object.keys(a.labels)));
  const found = [...names].filter((n) => new Set(alerts.map((a) => labelOf(a.labels, n) ?? "")).size > 1).sort();
  distinguishing.set(alerts, found);
  return found;
}
// A body names every alert against the same list: work it out once per list, not once per alert.
const distinguishing = new WeakMap<AlertRecord[], string[]>();

/** Labels every alert of the incident shares. */
function commonLabels(alerts: AlertRecord[]): Record<string, string> {
  return commonEntries(alerts.map((a) => a.labels));
}

/** Short name of one alert inside its incident: `service=api`, or `instance=web-1`, else its alertname. */
export function alertName(alert: AlertRecord, among: AlertRecord[]): string {
  const names = distinguishingLabels(among.length > 1 ? among : [alert]);
  const parts = names.flatMap((n) => {
    const v = labelOf(alert.labels, n);
    return v === undefined ? [] : [`${n}=${shortValue(v, NAME_VALUE_CHARS)}`];
  });
  return parts.length > 0 ? parts.join(", ") : shortValue(labelOf(alert.labels, "alertname") ?? alert.fingerprint, NAME_VALUE_CHARS);
}

/**
 * How much of one label value a ticket body repeats: an alert's name in a list, a row of the
 * environment. The whole value is in the incident; a body that repeated every long value once per
 * list it appears in would store the same text several times over.
 */
const NAME_VALUE_CHARS = 200;
const FIELD_VALUE_CHARS = 1024;

export function utc(iso: string): string {
  return `${iso.slice(0, 19).replace("T", " ")} UTC`;
}

function firing(incident: Incident): AlertRecord[] {
  return incident.alerts.filter((a) => a.status === "firing");
}

export function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
}

export function distinct(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined && v !== ""))];
}

/** The ticket subject: the alertname, the instance when there is one, and the summary when all alerts share it. */
export function renderTitle(incident: Incident): string {
  const alerts = firing(incident).length > 0 ? firing(incident) : incident.alerts;
  const alertnames = distinct(alerts.map((a) => a.labels.alertname));
  const name = alertnames.length === 1 ? (alertnames[0] as string) : alertnames.length > 1 ? alertnames.join(", ") : "Alert";
  const instances = distinct(alerts.map((a) => a.labels.instance));
  let title = name;
  if (instances.length === 1) title += ` on ${instances[0]}`;
  else if (instances.length > 1) title += ` on ${instances.length} instances`;
  const summaries = distinct(alerts.map((a) => a.annotations.summary));
  if (summaries.length === 1) title += `: ${summaries[0]}`;
  else if (alerts.length > 1) title += ` (${alerts.length} alerts)`;
  return title.length > 250 ? `${title.slice(0, 247)}...` : title;
}

/**
 * Silence links: Grafana gives one per alert (each matches that alert), so every alert gets its own,
 * named after it when there are several. For Alertmanager, one link whose filter matches the whole
 * group: its group labels, or the labels every alert shares when the route groups by nothing.
 */
function silenceLinks(incident: Incident, alerts: AlertRecord[]): { label: string; url: string }[] {
  const perAlert = alerts.filter((a) => a.links.silence);
  if (perAlert.length > 0) {
    const urls = distinct(perAlert.map((a) => a.links.silence));
    if (urls.length === 1) return [{ label: "Silence", url: urls[0] as string }];
    return perAlert.map((a) => ({ label: `Silence ${alertName(a, alerts)}`, url: a.links.silence as string }));
  }
  if (incident.source !== "alertmanager" || incident.externalURL === "") return [];
  const matchers = Object.keys(incident.groupLabels).length > 0 ? incident.groupLabels : commonLabels(alerts);
  return [{ label: "Silence", url: `${incident.externalURL.replace(/\/$/, "")}/#/silences/new?filter=${encodeURIComponent(formatLabelSet(matchers))}` }];
}

/** The senders by the names their users know them. */
const SOURCE_NAMES: Record<Source, string> = { alertmanager: "Alertmanager", grafana: "Grafana", zabbix: "Zabbix" };

/** What an alert's generatorURL points at, per sender: Prometheus's graph, Grafana's alert rule, Zabbix's event. */
const GENERATOR_LABELS: Record<Source, string> = { alertmanager: "Graph", grafana: "Alert rule", zabbix: "Event" };

/**
 * Every link an agent may need, labelled, without duplicates: graph (or alert rule, or Zabbix's
 * event, problems and graph), runbook, dashboard, panel, image, silence, Alertmanager or Zabbix.
 */
export function incidentLinks(incident: Incident, alerts: AlertRecord[]): { label: string; url: string }[] {
  const links: { label: string; url: string }[] = [];
  const add = (label: string, url: string | undefined) => {
    if (url && !links.some((l) => l.url === url)) links.push({ label, url });
  };
  for (const url of distinct(alerts.map((a) => a.generatorURL))) add(GENERATOR_LABELS[incident.source] ?? "Graph", url);
  for (const url of distinct(alerts.map((a) => a.links.event))) add("Event", url);
  for (const url of distinct(alerts.map((a) => a.links.problem))) add("Problem", url);
  for (const url of distinct(alerts.map((a) => a.links.graph))) add("Graph", url);
  for (const url of distinct(alerts.map((a) => a.annotations.runbook_url ?? a.annotations.runbook))) add("Runbook", url);
  for (const url of distinct(alerts.map((a) => a.links.dashboard ?? a.annotations.dashboard_url ?? a.annotations.dashboard))) add("Dashboard", url);
  for (const url of distinct(alerts.map((a) => a.links.panel))) add("Panel", url);
  for (const url of distinct(alerts.map((a) => a.links.image))) add("Image", url);
  for (const s of silenceLinks(incident, alerts)) add(s.label, s.url);
  if (incident.source === "alertmanager" || incident.source === "zabbix") add(SOURCE_NAMES[incident.source], incident.externalURL || undefined);
  return links;
}

function linksBlock(incident: Incident, alerts: AlertRecord[]): Block | undefined {
  const links = incidentLinks(incident, alerts);
  return links.length > 0 ? { kind: "links", links } : undefined;
}

/** `value 83.44`; with Grafana's values, every refId too: `value 2473545728 (A=2473545728, B=0, C=1, minute=9)`. */
function valueText(a: AlertRecord): string | undefined {
  const all = Object.entries(a.values ?? {})
    .map(([ref, v]) => `${ref}=${formatValue(v)}`)
    .join(", ");
  if (a.value === undefined) return all === "" ? undefined : `values ${all}`;
  return all === "" ? `value ${formatValue(a.value)}` : `value ${formatValue(a.value)} (${all})`;
}

function alertLine(a: AlertRecord, among: AlertRecord[]): string {
  let line = alertName(a, among);
  const value = valueText(a);
  if (value) line += ` — ${value}`;
  line += `, since ${utc(a.startsAt)}`;
  if (a.status === "resolved" && a.endsAt) line += `, resolved ${utc(a.endsAt)}`;
  return line;
}

/** The first ticket body: the intake a support workflow wants, so nobody has to ask again. */
export function renderBody(
  incident: Incident,
  options: { previous?: { ticketKey: string; ticketId?: string }; description?: string; similar?: readonly SimilarIncident[] } = {},
): Doc {
  const { previous } = options;
  const alerts = firing(incident).length > 0 ? firing(incident) : incident.alerts;
  const doc: Doc = [];
  const summaries = distinct(alerts.map((a) => a.annotations.summary));
  const descriptions = distinct(alerts.map((a) => a.annotations.description ?? a.annotations.message));
  doc.push({ kind: "heading", text: "What is happening" });
  const what = [...summaries.slice(0, 5), ...descriptions.slice(0, 5)];
  const described = options.description?.trim();
  doc.push({ kind: "paragraph", text: described || (what.length > 0 ? what.join("\n") : `${renderTitle(incident)} is firing.`) });
  const since = alerts.map((a) => a.startsAt).sort()[0] ?? incident.openedAt;
  const instances = distinct(alerts.map((a) => a.labels.instance));
  const services = distinct(alerts.map((a) => a.labels.service ?? a.labels.job));
  const wide = [`${alerts.length} alert${alerts.length === 1 ? "" : "s"} firing`];
  if (instances.length > 0) wide.push(`${instances.length} instance${instances.length === 1 ? "" : "s"}`);
  if (services.length > 0) wide.push(`${services.length} service${services.length === 1 ? "" : "s"}`);
  const target = incident.responseTargetMs ?? RESPONSE_TARGET_MS[incident.priority];
  const rows: [string, string][] = [
    ["Priority", `${incident.priority}: respond within ${formatDuration(target)} (by ${utc(incident.dueAt)})`],
    ["Category", incident.category],
    ...(incident.impact && incident.urgency ? [["Impact × urgency", `${incident.impact} × ${incident.urgency}`] as [string, string]] : []),
    ["Since", utc(since)],
    ["How wide", wide.join(", ")],
  ];
  if (incident.truncatedAlerts > 0) {
    const by = incident.source === "grafana" ? "Grafana (the contact point's Max Alerts)" : "Alertmanager (max_alerts)";
    rows.push(["Not shown", `${incident.truncatedAlerts} more alert(s) truncated by ${by}`]);
  }
  rows.push(["Rule", incident.rule ?? "(defaults)"], ["Dedup key", incident.dedupKey]);
  if (previous) rows.push(["Previous ticket", previous.ticketId ? `${previous.ticketId} (${previous.ticketKey})` : previous.ticketKey]);
  doc.push({ kind: "fields", rows });
  doc.push({ kind: "heading", text: "Alerts" });
  doc.push({ kind: "list", items: alerts.slice(0, 50).map((a) => alertLine(a, alerts)) });
  if (alerts.length > 50) doc.push({ kind: "paragraph", text: `… and ${alerts.length - 50} more.` });
  doc.push(...environmentBlocks(commonLabels(alerts)));
  const links = linksBlock(incident, alerts);
  if (links) {
    doc.push({ kind: "heading", text: "Links" });
    doc.push(links);
  }
  doc.push(...renderSimilar(options.similar ?? []));
  return doc;
}

/**
 * The "Similar past incidents" section: one line per archived incident (its date, how long it
 * lasted, its ticket, the first line of its resolution); none when there are none.
 */
export function renderSimilar(similar: readonly SimilarIncident[]): Doc {
  if (similar.length === 0) return [];
  return [
    { kind: "heading", text: "Similar past incidents" },
    {
      kind: "list",
      items: similar.map((s) => {
        const ticket = s.ticketId ? `${s.ticketId}${s.ticketUrl ? ` ${s.ticketUrl}` : ""}` : s.ticketKey;
        return `${s.startedAt.slice(0, 10)}, lasted ${formatDuration(s.durationMs)}, ticket ${ticket}: ${s.resolutionLine}`;
      }),
    },
  ];
}

/** The "Environment" section: the labels every alert shares, sorted, long values cut; nothing when none. */
export function environmentBlocks(env: Record<string, string>): Doc {
  const names = Object.keys(env).sort();
  if (names.length === 0) return [];
  return [
    { kind: "heading", text: "Environment" },
    { kind: "fields", rows: names.map((k) => [k, shortValue(env[k] as string, FIELD_VALUE_CHARS)]) },
  ];
}

/** A list of at most 50 alerts, then how many more: a change of 40,000 alerts is one readable comment, not 40,000 lines. */
function capped(alerts: AlertRecord[], line: (a: AlertRecord) => string): string[] {
  const items = alerts.slice(0, 50).map(line);
  if (alerts.length > 50) items.push(`… and ${alerts.length - 50} more`);
  return items;
}

/** `Zabbix Administrator (Admin) acknowledged at 2026-11-25 06:10:00 UTC: "Looking into it"`. */
function updateText(u: AlertUpdate): string {
  const at = u.at ? ` at ${utc(u.at)}` : "";
  const message = u.message?.trim() ? `: "${shortValue(u.message.trim(), FIELD_VALUE_CHARS)}"` : "";
  return `${u.user ?? "Somebody"} ${u.action}${at}${message}`;
}

function lasted(a: AlertRecord): string {
  return a.endsAt ? formatDuration(Date.parse(a.endsAt) - Date.parse(a.startsAt)) : "?";
}

function stillFiring(incident: Incident): string {
  const f = firing(incident);
  return `Still firing: ${f.length} (${f
    .slice(0, 10)
    .map((a) => alertName(a, incident.alerts))
    .join("; ")}${f.length > 10 ? "; …" : ""}).`;
}

/** The comment text for an update, resolve or reopen. */
export function renderComment(action: Exclude<TicketAction, { kind: "open" | "cancel" }>, incident: Incident): Doc {
  const doc: Doc = [];
  const all = incident.alerts;
  const flapNote = (f: Flap) =>
    `Flapping: fired again ${f.refires} times within ${formatDuration(f.windowMs)}. The ticket stays open and further cycles are added as comments until it settles.`;
  switch (action.kind) {
    case "comment": {
      if (action.refire) {
        doc.push({ kind: "paragraph", text: `Fired again (recurrence ${incident.recurrences}):` });
        doc.push({ kind: "list", items: capped(action.joined, (a) => alertLine(a, all)) });
        if (action.flap) doc.push({ kind: "paragraph", text: flapNote(action.flap) });
      } else if (action.joined.length > 0) {
        doc.push({ kind: "paragraph", text: `${action.joined.length} alert${action.joined.length === 1 ? "" : "s"} joined the incident:` });
        doc.push({ kind: "list", items: capped(action.joined, (a) => alertLine(a, all)) });
      }
      if (action.resolved.length > 0) {
        doc.push({ kind: "paragraph", text: `${action.resolved.length} alert${action.resolved.length === 1 ? "" : "s"} resolved:` });
        doc.push({ kind: "list", items: capped(action.resolved, (a) => `${alertName(a, all)}, lasted ${lasted(a)}`) });
      }
      if (action.updated && action.updated.length > 0) {
        // With one alert firing, its name would only repeat the ticket's title.
        const named = firing(incident).length > 1;
        doc.push({ kind: "paragraph", text: `Updated in ${SOURCE_NAMES[incident.source] ?? incident.source}:` });
        doc.push({
          kind: "list",
          items: capped(action.updated, (a) => `${named ? `${alertName(a, all)}: ` : ""}${a.update ? updateText(a.update) : "updated"}`),
        });
      }
      if (action.raisedFrom) {
        const why = firing(incident).find((a) => a.priority === incident.priority);
        doc.push({
          kind: "paragraph",
          text: `Priority raised from ${action.raisedFrom} to ${incident.priority}${why ? `: ${alertName(why, all)} matched ${why.rule ? `rule "${why.rule}"` : "the defaults"} (${why.priority})` : ""}. Respond by ${utc(incident.dueAt)}.`,
        });
      }
      doc.push({ kind: "paragraph", text: stillFiring(incident) });
      break;
    }
    case "resolve": {
      const started = all.map((a) => a.startsAt).sort()[0] ?? incident.openedAt;
      const ended =
        all
          .map((a) => a.endsAt ?? incident.resolvedAt ?? incident.updatedAt)
          .sort()
          .at(-1) ?? incident.updatedAt;
      if (action.confirms) {
        doc.push({
          kind: "paragraph",
          text: `Monitoring confirms: all ${all.length} alert${all.length === 1 ? "" : "s"} stopped firing at ${utc(ended)}, after the ticket was solved at ${utc(action.confirms.solvedAt)}. The incident lasted ${formatDuration(Date.parse(ended) - Date.parse(started))}.`,
        });
        if (action.resolved.length > 0) doc.push({ kind: "list", items: capped(action.resolved, (a) => `${alertName(a, all)}, lasted ${lasted(a)}`) });
        break;
      }
      doc.push({
        kind: "paragraph",
        text: `Resolved: all ${all.length} alert${all.length === 1 ? "" : "s"} stopped firing. The incident lasted ${formatDuration(Date.parse(ended) - Date.parse(started))} (${utc(started)} to ${utc(ended)}).`,
      });
      if (action.resolved.length > 0) doc.push({ kind: "list", items: capped(action.resolved, (a) => `${alertName(a, all)}, lasted ${lasted(a)}`) });
      if (incident.recurrences > 0) doc.push({ kind: "paragraph", text: `It fired ${incident.recurrences + 1} times on this ticket.` });
      if (action.flap) doc.push({ kind: "paragraph", text: flapNote(action.flap) });
      break;
    }
    case "reopen": {
      const n = incident.recurrences;
      doc.push({
        kind: "paragraph",
        text: `Fired again (recurrence ${n}, ${n + 1} firings on this ticket); reopened.`,
      });
      doc.push({ kind: "list", items: capped(action.refired, (a) => alertLine(a, all)) });
      if (action.raisedFrom) doc.push({ kind: "paragraph", text: `Priority raised from ${action.raisedFrom} to ${incident.priority}.` });
      if (action.flap) doc.push({ kind: "paragraph", text: flapNote(action.flap) });
      break;
    }
  }
  return doc;
}

/**
 * What a verification of an agent's solve found: the reopen's comment (`Verification failed:`) or,
 * once the reopen budget is spent, the comment that asks a person to look.
 */
export function renderVerification(action: Extract<AgentAction, { kind: "verification failed" | "verification given up" }>, incident: Incident): Doc {
  const all = incident.alerts;
  const n = action.firing.length;
  const list: Block = { kind: "list", items: capped(action.firing, (a) => alertLine(a, all)) };
  if (action.kind === "verification failed") {
    return [
      {
        kind: "paragraph",
        text: `Verification failed: ${n} alert${n === 1 ? "" : "s"} still fire${n === 1 ? "s" : ""} after the ticket was solved; reopened (automatic reopen ${action.attempt} of ${action.max}).`,
      },
      list,
    ];
  }
  return [
    {
      kind: "paragraph",
      text: `Verification failed: ${n} alert${n === 1 ? "" : "s"} still fire${n === 1 ? "s" : ""} after the ticket was solved, and alertdesk has reopened it ${action.max} times already. It will not reopen it again: please look at the monitoring and decide.`,
    },
    list,
  ];
}

/**
 * The comment of an escalation step: which target was missed and by how much, and what the step
 * did (`Escalation: no first response within 30m (P2 target); raised to P1.`).
 */
export function renderEscalation(e: Escalation, incident: Incident, stepAfterMs: number, priorityAtClock: string): Doc {
  const target = formatDuration(e.targetMs);
  const within =
    stepAfterMs === e.targetMs
      ? `within ${target} (${priorityAtClock} target)`
      : `within ${formatDuration(stepAfterMs)} (${Math.round((stepAfterMs / e.targetMs) * 100)}% of the ${priorityAtClock} target of ${target})`;
  const did = [e.raisedTo ? `raised to ${e.raisedTo}` : "", e.notify ? `notified ${e.notify}` : ""].filter(Boolean);
  const overdue = e.lateMs > stepAfterMs - e.targetMs + 60_000 ? ` It is ${formatDuration(e.lateMs)} past the target.` : "";
  return [
    {
      kind: "paragraph",
      text: `Escalation: no first response ${within}${did.length > 0 ? `; ${did.join(", ")}` : ""}.${overdue} Respond on the ticket (a comment, an assignment or a move to open) to stop the clock (${incident.ticketKey}).`,
    },
  ];
}

/**
 * The labels a silence of the incident matches in the Alertmanagers: its group's labels, else what all
 * its alerts share; never empty when the incident has labels. None for Zabbix's problems: no
 * Alertmanager has them, so there is nothing to silence there, and a verification of an agent's solve
 * goes by alertdesk's own view (what Zabbix last said) instead of an Alertmanager's empty answer.
 */
export function silenceLabels(incident: Incident): Record<string, string> {
  if (incident.source === "zabbix") return {};
  return Object.keys(incident.groupLabels).length > 0 ? incident.groupLabels : commonEntries(incident.alerts.map((a) => a.labels));
}

/** The same labels as a silence's matchers, sorted by name. */
function silenceMatchers(incident: Incident): { name: string; value: string }[] {
  return Object.entries(silenceLabels(incident))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value }));
}

/**
 * The silence operation for an agent's decision: created until `until` with the ticket's key (its
 * marker, found again after a lost answer) and URL in the comment, or expired. Undefined when the
 * incident has no labels to match: a silence without matchers would silence everything.
 */
export function renderSilence(
  incident: Incident,
  change: { action: "create"; reason: "ack" | "wont_fix"; until: string } | { action: "expire" },
): SilenceOperation | undefined {
  const matchers = silenceMatchers(incident);
  if (matchers.length === 0) return undefined;
  const why =
    change.action === "create" ? (change.reason === "ack" ? "an agent is working on it" : "an agent decided won't fix") : "the ticket was reopened or solved";
  const comment = [`alertdesk ticket ${incident.ticketKey}`, incident.ticket?.url, why].filter((p) => p !== undefined && p !== "").join(" · ");
  const text =
    change.action === "create"
      ? `Silence ${matchers.map((m) => `${m.name}="${m.value}"`).join(", ")} until ${utc(change.until)}: ${why}.`
      : `Expire the silence of ${incident.ticketKey}: ${why}.`;
  const op: SilenceOperation = { op: "silence", action: change.action, marker: incident.ticketKey, matchers, comment, body: [{ kind: "paragraph", text }] };
  if (change.action === "create") op.endsAt = change.until;
  return op;
}
