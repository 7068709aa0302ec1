import { type AgentReason, applyHelpdeskEvent, verifySolve } from "../lifecycle/agent.js";
import { DEFAULT_AGENT_POLICY, type HelpdeskEvent, type TicketActivity } from "../model/helpdesk-event.js";
import type { Incident } from "../model/incident.js";
import type { NewOutboxRow, SyncTx } from "../store/types.js";
import { renderVerification } from "../templates/render.js";

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
    if (kind) incident.helpdeskVersions = { ...incident.helpdeskVersions, [kind]: new Date(t).toISOString() };
    outcome.applied.push({ event: e.event.kind, reason: step.reason });
  }
  if (outcome.applied.length > 0) await tx.updateIncident(incident);
  return outcome;
}

/** What a due verification did: passed (nothing to do), failed (reopened), given up (a person asked to look). */
export type VerificationOutcome = "passed" | "failed" | "given_up" | "not due";

export async function runVerification(tx: SyncTx, incidentId: number, now: Date): Promise<VerificationOutcome> {
  const incident = await tx.incidentById(incidentId);
  if (!incident) return "not due";
  const step = verifySolve(incident, incident.agentPolicy ?? DEFAULT_AGENT_POLICY, now);
  if (step.reason === "nothing to verify" || step.reason === "verification due later") return "not due";
  const next = { ...step.incident, id: incidentId };
  await tx.updateIncident(next);
  const rows: NewOutboxRow[] = step.actions.map((action) => {
    const body = renderVerification(action, next);
    return action.kind === "verification failed"
      ? { helpdesk: next.helpdesk, operation: { op: "reopen", body, priority: next.priority } }
      : { helpdesk: next.helpdesk, operation: { op: "comment", body } };
  });
  if (rows.length > 0) await tx.enqueue(incidentId, rows, now);
  return step.reason === "verification failed" ? "failed" : step.reason === "verification given up" ? "given_up" : "passed";
}
