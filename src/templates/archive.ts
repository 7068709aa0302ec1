import type { ArchiveOutcome, NewArchiveEntry } from "../model/archive.js";
import { type Block, type Doc, toText } from "../model/doc.js";
import { formatDuration } from "../model/duration.js";
import type { HelpdeskEvent } from "../model/helpdesk-event.js";
import type { AlertRecord, Incident } from "../model/incident.js";
import { commonEntries, shortValue } from "../model/labels.js";
import { RESPONSE_TARGET_MS } from "../model/priority.js";
import type { TicketOperation } from "../model/ticket-operation.js";
import { alertName, distinct, environmentBlocks, formatValue, incidentLinks, utc } from "./render.js";

/**
 * The archive entry of an incident that is over (docs/knowledge-base.md): what happened, since when,
 * how wide, the environment, the values, the links, the timeline, the response and resolve times
 * against the target, the agents' resolution notes, the review questions, and keywords. Pure: the
 * incident, the agents' events and alertdesk's deliveries in, the entry out.
 */

/** One of alertdesk's own deliveries for the incident, as the timeline tells it. */
export interface DeliveryRecord {
  op: TicketOperation["op"];
  helpdesk: string;
  state: string;
  createdAt: string;
  doneAt: string | null;
  /** The first line of what was sent (a comment's text, a reopen's reason). */
  firstLine: string;
  /** For silences: create or expire. */
  action?: string;
}

export interface ArchiveInput {
  incident: Incident & { id: number };
  /** The title of the incident's earlier entry, kept (default: archiveTitle(incident)). */
  title?: string;
  /** The agents' events on the incident's ticket, oldest first. */
  agentEvents: readonly HelpdeskEvent[];
  deliveries: readonly DeliveryRecord[];
}

/** The review questions of the support workflow, left for people to answer. */
export const REVIEW_QUESTIONS = ["Why did it happen?", "What could be improved?", "How do we prevent it?"] as const;

const TIMELINE_ITEMS = 200;
const LISTED_ALERTS = 50;
const NOTE_CHARS = 4000;
const STOP_WORDS = new Set(
  "the and for are was were has have had not but with from this that than then into onto over under above below more less very been being its it's of on in at to by an a or is be as no yes too high low".split(
    " ",
  ),
);

function firstLine(text: string): string {
  const line =
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "") ?? "";
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** The deterministic title: `HostHighCpu on db-1 — 2026-12-01 (ad-…-1)`; the ticket key makes it unique per incident. */
export function archiveTitle(incident: Incident): string {
  const alertnames = distinct(incident.alerts.map((a) => a.labels.alertname));
  const name = alertnames.length === 1 ? (alertnames[0] as string) : alertnames.length > 1 ? alertnames.slice(0, 3).join(", ") : "Alert";
  const instances = distinct(incident.alerts.map((a) => a.labels.instance));
  let what = name;
  if (instances.length === 1) what += ` on ${instances[0]}`;
  else if (instances.length > 1) what += ` on ${instances.length} instances`;
  what = shortValue(what, 150).replace(/\s+/g, " ");
  return `${what} — ${incident.openedAt.slice(0, 10)} (${incident.ticketKey})`;
}

/** The agents' public comments up to (and at) the last solve: the notes a next person needs. */
function resolutionNotes(events: readonly HelpdeskEvent[]): { text: string; last: string } {
  const solves = events.map((e, i) => (e.kind === "status_changed" && (e.status === "solved" || e.status === "closed") ? i : -1)).filter((i) => i >= 0);
  const end = solves.length > 0 ? (solves.at(-1) as number) : events.length - 1;
  const notes = events
    .slice(0, end + 1)
    .filter((e): e is Extract<HelpdeskEvent, { kind: "commented" }> => e.kind === "commented" && e.public && e.text.trim() !== "");
  const text = notes
    .map((n) => `${n.author} (${utc(n.at)}): ${n.text.trim()}`)
    .join("\n\n")
    .slice(0, NOTE_CHARS);
  return { text, last: notes.length > 0 ? firstLine((notes.at(-1) as { text: string }).text) : "" };
}

/** How it ended: the agent's resolution when there is one, else what the helpdesk or the monitoring did. */
function outcomeOf(incident: Incident): ArchiveOutcome {
  const state = incident.helpdeskState;
  if (state?.resolution) return state.resolution;
  if (state?.status === "closed") return "closed";
  if (incident.agentSolvedAt !== undefined) return "solved";
  return "resolved by itself";
}

function outcomeText(outcome: ArchiveOutcome, who: string | undefined): string {
  const by = who ? ` by ${who}` : "";
  switch (outcome) {
    case "resolved by itself":
      return "Resolved by itself: every alert stopped firing and alertdesk solved the ticket.";
    case "wont_fix":
      return `Solved as won't fix${by}.`;
    case "cannot_reproduce":
      return `Solved as cannot reproduce${by}.`;
    case "duplicate":
      return `Solved as a duplicate${by}.`;
    case "closed":
      return `Closed${by}.`;
    default:
      return `Solved (${outcome})${by}.`;
  }
}

function eventLine(e: HelpdeskEvent): string {
  switch (e.kind) {
    case "commented":
      return `${e.public ? "Comment" : "Internal note"} by ${e.author}: ${firstLine(e.text)}`;
    case "assigned":
      return e.assignee ? `Assigned to ${e.assignee}${e.author ? ` by ${e.author}` : ""}` : `Unassigned${e.author ? ` by ${e.author}` : ""}`;
    case "status_changed":
      return `Status ${e.status}${e.resolution ? ` (${e.resolution.replace(/_/g, " ")})` : ""}${e.author ? ` by ${e.author}` : ""}`;
    case "priority_changed":
      return `Priority set to ${e.priority}${e.author ? ` by ${e.author}` : ""}`;
  }
}

function deliveryLine(d: DeliveryRecord): string | undefined {
  const failed = d.state === "dead" ? " (not delivered)" : "";
  switch (d.op) {
    case "open":
      return `Ticket opened in ${d.helpdesk}${failed}`;
    case "reopen":
      return d.firstLine.startsWith("Verification failed") ? `${d.firstLine}${failed}` : `Ticket reopened: ${d.firstLine}${failed}`;
    case "resolve":
      return `${d.firstLine}${failed}`;
    case "comment":
      return d.firstLine.startsWith("Escalation:") || d.firstLine.startsWith("Verification failed")
        ? `${d.firstLine}${failed}`
        : `Update: ${d.firstLine}${failed}`;
    case "silence":
      return d.action === "expire" ? `Alertmanager silence expired${failed}` : `Alertmanager silence created${failed}`;
    case "notify":
      return `Escalation notified ${d.helpdesk}${failed}`;
    case "archive":
      return undefined;
  }
}

/** One moment of an incident's timeline. */
export interface TimelineItem {
  at: string;
  text: string;
  /** Who or what: the monitoring, alertdesk, or an agent's act. */
  kind: "alert" | "alertdesk" | "agent";
}

/** The timeline, oldest first: alerts, alertdesk's deliveries, the agents' actions (the archive's and the console's). */
export function incidentTimeline(input: ArchiveInput): TimelineItem[] {
  const { incident } = input;
  const items: (TimelineItem & { order: number })[] = [];
  const add = (at: string | undefined, text: string, kind: TimelineItem["kind"]) => {
    if (at) items.push({ at, text, kind, order: items.length });
  };
  const alerts = incident.alerts;
  if (alerts.length <= 20) {
    for (const a of alerts) {
      add(a.startsAt, `Fired: ${alertName(a, alerts)}`, "alert");
      if (a.endsAt) add(a.endsAt, `Resolved: ${alertName(a, alerts)}`, "alert");
    }
  } else {
    const starts = alerts.map((a) => a.startsAt).sort();
    const ends = alerts.flatMap((a) => (a.endsAt ? [a.endsAt] : [])).sort();
    add(starts[0], `First of ${alerts.length} alerts fired`, "alert");
    add(starts.at(-1), "Last alert joined", "alert");
    add(ends.at(-1), "Last alert resolved", "alert");
  }
  add(incident.openedAt, `Incident opened (${incident.targetPriority ?? incident.priority})`, "alertdesk");
  for (const d of input.deliveries) {
    const line = deliveryLine(d);
    if (line) add(d.doneAt ?? d.createdAt, line, "alertdesk");
  }
  for (const e of input.agentEvents) add(e.at, eventLine(e), "agent");
  const first = incident.helpdeskState?.firstResponseAt;
  if (first) add(first, "First response: the response clock stopped", "agent");
  for (const t of incident.refiredAt ?? []) add(t, "Fired again within the reopen window", "alert");
  if (incident.archivedAt) add(incident.archivedAt, "Archived to the knowledge base", "alertdesk");
  items.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.order - b.order);
  return items.map(({ at, text, kind }) => ({ at, text, kind }));
}

/** The timeline as the entry lists it: one line each, at most 200. */
function timeline(input: ArchiveInput): string[] {
  const lines = incidentTimeline(input).map((i) => `${utc(i.at)} — ${i.text}`);
  return lines.length > TIMELINE_ITEMS ? [...lines.slice(0, TIMELINE_ITEMS), `… and ${lines.length - TIMELINE_ITEMS} more`] : lines;
}

/** What the timeline shows of one outbox row (store/ gives the rows; this turns one into words' material). */
export function deliveryRecord(d: { helpdesk: string; state: string; createdAt: string; doneAt: string | null; operation: TicketOperation }): DeliveryRecord {
  const op = d.operation;
  const first = op.body.find((b) => b.kind === "paragraph");
  const record: DeliveryRecord = {
    op: op.op,
    helpdesk: d.helpdesk,
    state: d.state,
    createdAt: d.createdAt,
    doneAt: d.doneAt,
    firstLine: (first?.kind === "paragraph" ? (first.text.split("\n")[0] ?? "") : "").slice(0, 200),
  };
  if (op.op === "silence") record.action = op.action;
  return record;
}

function valueRows(alerts: AlertRecord[], among: AlertRecord[]): string[] {
  return alerts
    .filter((a) => a.value !== undefined)
    .slice(0, 20)
    .map((a) => {
      const last = a.value as number;
      const first = a.firstValue ?? last;
      const peak = a.peakValue ?? Math.max(first, last);
      return `${alertName(a, among)}: first ${formatValue(first)}, peak ${formatValue(peak)}, last ${formatValue(last)}`;
    });
}

/** The keywords someone would search for: alertname, service/job, category, priority, outcome, and the summary's words. */
function keywordsOf(incident: Incident, outcome: ArchiveOutcome): string[] {
  const alerts = incident.alerts;
  const words = distinct(alerts.map((a) => a.annotations.summary))
    .join(" ")
    .toLowerCase()
    .match(/[\p{L}][\p{L}\p{N}_-]{2,}/gu);
  return distinct([
    ...distinct(alerts.map((a) => a.labels.alertname)),
    ...distinct(alerts.map((a) => a.labels.service)),
    ...distinct(alerts.map((a) => a.labels.job)),
    incident.category,
    incident.targetPriority ?? incident.priority,
    outcome.replace(/_/g, " "),
    ...(words ?? []).filter((w) => !STOP_WORDS.has(w)),
  ]).slice(0, 40);
}

/** The entry for an incident that is over. */
export function buildArchiveEntry(input: ArchiveInput): NewArchiveEntry {
  const { incident } = input;
  const alerts = incident.alerts;
  const startedAt = alerts.map((a) => a.startsAt).sort()[0] ?? incident.openedAt;
  const solvedAt = incident.agentSolvedAt;
  const resolvedAt = incident.resolvedAt ?? incident.updatedAt;
  const endedAt = solvedAt && Date.parse(solvedAt) > Date.parse(resolvedAt) ? solvedAt : resolvedAt;
  const durationMs = Math.max(0, Date.parse(endedAt) - Date.parse(startedAt));
  const outcome = outcomeOf(incident);
  const solver = [...input.agentEvents].reverse().find((e) => e.kind === "status_changed" && e.author !== undefined)?.author;
  const notes = resolutionNotes(input.agentEvents);
  const target = incident.responseTargetMs ?? RESPONSE_TARGET_MS[incident.targetPriority ?? incident.priority];
  const clockStart = incident.openedAt;
  const firstResponse = incident.helpdeskState?.firstResponseAt;
  const env = commonEntries(alerts.map((a) => a.labels));
  const summaries = distinct(alerts.map((a) => a.annotations.summary));
  const descriptions = distinct(alerts.map((a) => a.annotations.description ?? a.annotations.message));
  const instances = distinct(alerts.map((a) => a.labels.instance));
  const services = distinct(alerts.map((a) => a.labels.service ?? a.labels.job));
  const alertnames = distinct(alerts.map((a) => a.labels.alertname));
  const keywords = keywordsOf(incident, outcome);

  const responseText = firstResponse
    ? `${formatDuration(Math.max(0, Date.parse(firstResponse) - Date.parse(clockStart)))} (target ${formatDuration(target)}${
        Date.parse(firstResponse) - Date.parse(clockStart) > target ? ", missed" : ", met"
      })`
    : `none recorded (target ${formatDuration(target)})`;
  const resolveMs = Math.max(0, Date.parse(endedAt) - Date.parse(clockStart));
  const rows: [string, string][] = [
    [
      "Priority",
      `${incident.targetPriority ?? incident.priority}${incident.priority !== (incident.targetPriority ?? incident.priority) ? ` (raised to ${incident.priority})` : ""}`,
    ],
    ["Category", incident.category],
    ["Rule", incident.rule ?? "(defaults)"],
    [
      "Ticket",
      `${incident.ticket ? `${incident.ticket.id}${incident.ticket.url ? ` ${incident.ticket.url}` : ""}` : "(none recorded)"} in ${incident.helpdesk} (${incident.ticketKey})`,
    ],
    ["Started", utc(startedAt)],
    ["Ended", utc(endedAt)],
    ["Lasted", formatDuration(durationMs)],
    [
      "How wide",
      [
        `${alerts.length} alert${alerts.length === 1 ? "" : "s"}`,
        ...(instances.length > 0 ? [`${instances.length} instance${instances.length === 1 ? "" : "s"}`] : []),
        ...(services.length > 0 ? [`${services.length} service${services.length === 1 ? "" : "s"}`] : []),
      ].join(", "),
    ],
    ["Time to first response", responseText],
    ["Time to resolve", formatDuration(resolveMs)],
    ["Outcome", outcomeText(outcome, solver)],
  ];
  if (incident.recurrences > 0) rows.push(["Fired again", `${incident.recurrences} time${incident.recurrences === 1 ? "" : "s"} on this ticket`]);
  if ((incident.autoReopens ?? 0) > 0) rows.push(["Verification", `the fix did not hold ${incident.autoReopens} time(s): reopened`]);
  else if (solvedAt && (incident.agentPolicy?.onAgentSolved ?? "verify") === "verify") rows.push(["Verification", "the monitoring confirmed the fix"]);
  if (incident.truncatedAlerts > 0) rows.push(["Not shown", `${incident.truncatedAlerts} more alert(s) truncated by the sender`]);

  const doc: Doc = [];
  doc.push({ kind: "heading", text: "Summary" }, { kind: "fields", rows });
  doc.push({ kind: "heading", text: "What happened" });
  const what = [...summaries.slice(0, 5), ...descriptions.slice(0, 5)];
  doc.push({ kind: "paragraph", text: what.length > 0 ? what.join("\n") : `${alertnames.join(", ") || "An alert"} fired.` });
  doc.push({ kind: "heading", text: "Alerts" });
  const listed = alerts.slice(0, LISTED_ALERTS).map((a) => {
    const ended = a.endsAt ? `, resolved ${utc(a.endsAt)}` : "";
    return `${alertName(a, alerts)}, since ${utc(a.startsAt)}${ended}`;
  });
  if (alerts.length > LISTED_ALERTS) listed.push(`… and ${alerts.length - LISTED_ALERTS} more`);
  doc.push({ kind: "list", items: listed });
  const values = valueRows(alerts, alerts);
  if (values.length > 0) doc.push({ kind: "heading", text: "Values seen" }, { kind: "list", items: values });
  doc.push(...environmentBlocks(env));
  const links = incidentLinks(incident, alerts).filter((l) => l.label !== "Silence");
  if (links.length > 0) doc.push({ kind: "heading", text: "Links" }, { kind: "links", links });
  doc.push({ kind: "heading", text: "Timeline" }, { kind: "list", items: timeline(input) });
  doc.push({ kind: "heading", text: "Resolution" });
  doc.push({ kind: "paragraph", text: notes.text || "No resolution note was written on the ticket." });
  doc.push({ kind: "paragraph", text: outcomeText(outcome, solver) });
  doc.push({ kind: "heading", text: "Review" });
  for (const q of REVIEW_QUESTIONS) doc.push({ kind: "fields", rows: [[q, "(to be filled in)"]] } satisfies Block);
  doc.push({ kind: "heading", text: "Keywords" }, { kind: "paragraph", text: keywords.join(", ") });

  return {
    incidentId: incident.id,
    ticketKey: incident.ticketKey,
    title: input.title ?? archiveTitle(incident),
    labels: env,
    keywords,
    resolution: notes.text,
    resolutionLine: notes.last || outcomeText(outcome, solver),
    outcome,
    body: toText(doc),
    doc,
    alertname: alertnames.length === 1 ? (alertnames[0] as string) : null,
    priority: incident.targetPriority ?? incident.priority,
    category: incident.category,
    helpdesk: incident.helpdesk,
    ticketId: incident.ticket?.id ?? null,
    ticketUrl: incident.ticket?.url ?? null,
    startedAt,
    endedAt,
    durationMs,
  };
}
