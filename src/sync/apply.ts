import { type AgentAction, type AgentReason, applyHelpdeskEvent, verifySolve } from "../lifecycle/agent.js";
import { dueEscalations, type Escalation, renewedSilence, scheduled } from "../lifecycle/escalation.js";
import { DEFAULT_AGENT_POLICY, type HelpdeskEvent, type TicketActivity } from "../model/helpdesk-event.js";
import type { AlertRecord, Incident } from "../model/incident.js";
import { DEFAULT_ESCALATION } from "../model/priority.js";
import { SILENCES_TARGET } from "../model/ticket-operation.js";
import type { NewOutboxRow, SyncTx } from "../store/types.js";
import { renderEscalation, renderSilence, renderVerification } from "../templates/render.js";

/**
 * The way back, inside one store transaction: agents' events onto their incident (each event id
 * once, status changes in the helpdesk's order), and due verifications into outbox rows.
 */

/** What one ticket's activity did. */
export interface ActivityOutcome {
  ticketId: string;
  /** Undefined: no incident has this ticket (a ticket alertdesk did not open). */
  incidentId?: number;
  /** One reason per event applied. */
  applied: { event: HelpdeskEvent["kind"]; reason: AgentReason }[];
  /** Events stored before (a repeated doorbell or poll). */
  repeated: number;
  /** Status, assignment or priority changes older than one already applied (a late delivery). */
  late: number;
  /** Outbox rows the events caused (silences). */
  enqueued?: number;
  /** The events stopped the response clock: how long the first response took. */
  firstResponse?: { priority: string; seconds: number };
}

/** Changes whose order matters: a late one must not undo a newer one of its kind. Comments only add. */
type Ordered = "status_changed" | "assigned" | "priority_changed";
const ORDERED = new Set<HelpdeskEvent["kind"]>(["status_changed", "assigned", "priority_changed"]);

/** How far ahead of alertdesk's clock a helpdesk's time may be: beyond it, the time counts as now (a skewed clock must not make every later change look late). */
const MAX_SKEW_MS = 5 * 60_000;

export async function applyActivity(tx: SyncTx, helpdesk: string, activity: TicketActivity, now: Date): Promise<ActivityOutcome> {
  const outcome: ActivityOutcome = { ticketId: activity.ticketId, applied: [], repeated: 0, late: 0 };
  const found = await tx.incidentByTicket(helpdesk, activity.ticketId, activity.ticketKey);
  if (!found) return outcome;
  outcome.incidentId = found.id;
  let incident: Incident & { id: number } = found;
  const policy = incident.agentPolicy ?? DEFAULT_AGENT_POLICY;
  const actions: AgentAction[] = [];
  const timeOf = (at: string) => {
    const t = Date.parse(at);
    return Number.isNaN(t) ? now.getTime() : Math.min(t, now.getTime() + MAX_SKEW_MS);
  };
  // Oldest first, by the helpdesk's clock; equal times keep the helpdesk's order.
  const events = activity.events.map((e, i) => ({ e, i, t: timeOf(e.event.at) })).sort((a, b) => a.t - b.t || a.i - b.i);
  for (const { e, t } of events) {
    if (!(await tx.recordEvent(incident.id, helpdesk, activity.ticketId, e, now))) {
      outcome.repeated++;
      continue;
    }
    const kind = ORDERED.has(e.event.kind) ? (e.event.kind as Ordered) : undefined;
    const version = kind ? incident.helpdeskVersions?.[kind] : undefined;
    if (kind && version !== undefined && t < timeOf(version)) {
      outcome.late++;
      continue;
    }
    const step = applyHelpdeskEvent(incident, e.event, policy, now);
    incident = { ...step.incident, id: incident.id };
    actions.push(...step.actions);
    if (kind) incident.helpdeskVersions = { ...incident.helpdeskVersions, [kind]: new Date(t).toISOString() };
    outcome.applied.push({ event: e.event.kind, reason: step.reason });
  }
  if (outcome.applied.length > 0) {
    const stopped = found.helpdeskState?.firstResponseAt == null && incident.helpdeskState?.firstResponseAt != null;
    if (stopped) outcome.firstResponse = { priority: incident.priority, seconds: firstResponseSeconds(incident) };
    const next = { ...scheduled(incident, now), id: incident.id };
    await tx.updateIncident(next);
    // An agent took an archived incident's ticket back: its archive write waits for the next end.
    if (found.archivedAt !== undefined && next.archivedAt === undefined) await tx.cancelArchive(incident.id, now);
    const rows = agentRows(actions, incident);
    if (rows.length > 0) await tx.enqueue(incident.id, rows, now);
    outcome.enqueued = rows.length;
  }
  return outcome;
}

/** Seconds from the start of the response clock to the first response. */
function firstResponseSeconds(incident: Incident): number {
  const start = Date.parse(incident.clockStartedAt ?? incident.openedAt);
  return Math.max(0, (Date.parse(incident.helpdeskState?.firstResponseAt ?? "") - start) / 1000) || 0;
}

/** The outbox rows of what alertdesk does because of an agent's act or a verification. */
function agentRows(actions: readonly AgentAction[], incident: Incident): NewOutboxRow[] {
  const rows: NewOutboxRow[] = [];
  for (const action of actions) {
    if (action.kind === "verification failed") {
      rows.push({ helpdesk: incident.helpdesk, operation: { op: "reopen", body: renderVerification(action, incident), priority: incident.priority } });
    } else if (action.kind === "verification given up") {
      rows.push({ helpdesk: incident.helpdesk, operation: { op: "comment", body: renderVerification(action, incident) } });
    } else {
      const op = renderSilence(incident, action.kind === "silence" ? { action: "create", reason: action.reason, until: action.until } : { action: "expire" });
      if (op) rows.push({ helpdesk: SILENCES_TARGET, operation: op });
    }
  }
  return rows;
}

/** What a due verification did: passed (nothing to do), failed (reopened), given up (a person asked to look). */
export type VerificationOutcome = "passed" | "failed" | "given_up" | "not due";

/** An alert the monitoring says still fires (an Alertmanager's answer, silenced and inhibited ones included). */
export interface MonitoredAlert {
  fingerprint: string;
  labels: Record<string, string>;
  startsAt: string;
}

/** The incident's alerts that the monitoring says still fire, and any it fires that alertdesk has not seen. */
function stillFiring(incident: Incident, monitored: readonly MonitoredAlert[]): AlertRecord[] {
  const known = new Map(incident.alerts.map((a) => [a.fingerprint, a]));
  return monitored.map((m): AlertRecord => {
    const seen = known.get(m.fingerprint);
    if (seen) return { ...seen, status: "firing" };
    return {
      fingerprint: m.fingerprint,
      status: "firing",
      labels: m.labels,
      annotations: {},
      startsAt: m.startsAt,
      generatorURL: "",
      links: {},
      priority: incident.priority,
      rule: incident.rule,
    };
  });
}

export async function runVerification(tx: SyncTx, incidentId: number, now: Date, monitored?: readonly MonitoredAlert[]): Promise<VerificationOutcome> {
  const incident = await tx.incidentById(incidentId);
  if (!incident) return "not due";
  const step = verifySolve(incident, incident.agentPolicy ?? DEFAULT_AGENT_POLICY, now, monitored ? stillFiring(incident, monitored) : undefined);
  if (step.reason === "nothing to verify" || step.reason === "verification due later") return "not due";
  const next = { ...scheduled(step.incident, now), id: incidentId };
  await tx.updateIncident(next);
  const rows = agentRows(step.actions, next);
  if (rows.length > 0) await tx.enqueue(incidentId, rows, now);
  return step.reason === "verification failed" ? "failed" : step.reason === "verification given up" ? "given_up" : "passed";
}

/** What a due escalation did: steps done (each once), a breach counted, or nothing. */
export interface EscalationOutcome {
  steps: Escalation[];
  /** An acknowledgement's silence was extended. */
  renewed: boolean;
  breached: boolean;
  priority: string;
  helpdesk: string;
}

/**
 * The escalation steps due on an incident, each once: a comment on its ticket that begins
 * `Escalation:` (with the raised priority), and a notification to each step's `notify:` helpdesk,
 * queued with the incident's other operations. The schedule moves on in the same transaction.
 */
export async function runEscalation(tx: SyncTx, incidentId: number, now: Date): Promise<EscalationOutcome | undefined> {
  const incident = await tx.incidentById(incidentId);
  if (!incident) return undefined;
  const due = dueEscalations(incident, now);
  // The same timer extends an acknowledgement's silence while the ticket stays active.
  const renewed = renewedSilence(due.incident, now);
  const next = { ...scheduled(renewed ?? due.incident, now), id: incidentId };
  await tx.updateIncident(next);
  const steps = next.escalation ?? DEFAULT_ESCALATION;
  const rows: NewOutboxRow[] = [];
  let priority = incident.priority;
  for (const e of due.escalations) {
    const step = steps[e.step];
    const afterMs =
      step && "ms" in step.after ? step.after.ms : (e.targetMs * (step && "percentOfTarget" in step.after ? step.after.percentOfTarget : 100)) / 100;
    const body = renderEscalation(e, next, afterMs, incident.targetPriority ?? incident.priority);
    rows.push({ helpdesk: next.helpdesk, operation: e.raisedTo ? { op: "comment", body, priority: e.raisedTo } : { op: "comment", body } });
    if (e.notify) {
      const labels = next.alerts.find((a) => a.status === "firing")?.labels ?? next.groupLabels;
      rows.push({
        helpdesk: e.notify,
        operation: {
          op: "notify",
          event: "escalation",
          body,
          ticketKey: next.ticketKey,
          ticket: next.ticket ? { id: next.ticket.id, ...(next.ticket.url ? { url: next.ticket.url } : {}) } : null,
          helpdesk: next.helpdesk,
          priority: e.raisedTo ?? priority,
          ...(e.raisedFrom ? { raisedFrom: e.raisedFrom } : {}),
          step: e.step,
          targetMs: e.targetMs,
          lateMs: e.lateMs,
          labels: { ...labels },
        },
      });
    }
    if (e.raisedTo) priority = e.raisedTo;
  }
  if (renewed?.silence) {
    const op = renderSilence(next, { action: "create", reason: "ack", until: renewed.silence.until });
    if (op) rows.push({ helpdesk: SILENCES_TARGET, operation: op });
  }
  if (rows.length > 0) await tx.enqueue(incidentId, rows, now);
  return { steps: due.escalations, breached: due.breached, priority: incident.priority, helpdesk: incident.helpdesk, renewed: renewed !== undefined };
}
