import { isSolvedStatus } from "../model/helpdesk-event.js";
import type { Incident } from "../model/incident.js";
import { DEFAULT_ESCALATION, type EscalationStep, isHigher, oneStepUp, type Priority, RESPONSE_TARGET_MS } from "../model/priority.js";
import { archiveScheduled } from "./archive.js";

/**
 * Response targets somebody must meet: the response clock starts when the ticket opens (or reopens)
 * and stops at the first human response; each escalation step comes due once per clock. Pure: the
 * incident and the time in, the steps due and the incident that remembers them out.
 */

/** One escalation step that came due. */
export interface Escalation {
  /** Index of the step in the rule's `escalation:` list. */
  step: number;
  /** The target that was missed (ms), and by how much at the step's due time. */
  targetMs: number;
  lateMs: number;
  /** The priority after the step, when it raised it. */
  raisedTo?: Priority;
  raisedFrom?: Priority;
  /** A webhook helpdesk to notify. */
  notify?: string;
}

export type EscalationReason = "no clock" | "responded" | "not firing" | "nothing due" | "breached" | "escalated";

/**
 * When an acknowledgement's silence must be extended (epoch ms): a quarter of its length before it
 * ends, while the incident fires and its ticket is still being worked on; undefined otherwise.
 */
export function silenceRenewalAt(incident: Incident): number | undefined {
  const s = incident.silence;
  if (s?.reason !== "ack" || s.forMs === undefined || incident.state !== "firing") return undefined;
  if (isSolvedStatus(incident.helpdeskState?.status)) return undefined;
  return Date.parse(s.until) - s.forMs / 4;
}

/** The incident with its acknowledgement's silence extended, when that is due; undefined when not. */
export function renewedSilence(incident: Incident, now: Date): Incident | undefined {
  const at = silenceRenewalAt(incident);
  if (at === undefined || at > now.getTime() || incident.silence?.forMs === undefined) return undefined;
  return { ...incident, silence: { ...incident.silence, until: new Date(now.getTime() + incident.silence.forMs).toISOString() } };
}

/** When the current clock's response target passes (epoch ms). */
export function responseDueAt(incident: Incident): number {
  const start = Date.parse(incident.clockStartedAt ?? incident.openedAt);
  return start + (incident.responseTargetMs ?? RESPONSE_TARGET_MS[incident.priority]);
}

/**
 * The incident with `escalateAt` set to when the scheduler must look at it next (its next step, or
 * its target passing unnoticed), or removed when its clock stopped, and its archive timer
 * (lifecycle/archive.ts). Every write of an incident goes through this, so the store's indexes
 * always say which incidents are due.
 */
export function scheduled(incident: Incident, now: Date): Incident {
  const times = [nextEscalationAt(incident, now), silenceRenewalAt(incident)];
  if (clockRuns(incident, now) && incident.breachedAt === undefined) times.push(responseDueAt(incident));
  const due = times.filter((t): t is number => t !== undefined);
  // The archive timer rides along: every write of an incident comes through here.
  const next: Incident = archiveScheduled(incident, now);
  if (due.length > 0) next.escalateAt = new Date(Math.min(...due)).toISOString();
  else delete next.escalateAt;
  return next;
}

/** When a step comes due on the incident's current clock (epoch ms). */
export function stepDueAt(incident: Incident, step: EscalationStep): number {
  const start = Date.parse(incident.clockStartedAt ?? incident.openedAt);
  const target = incident.responseTargetMs ?? RESPONSE_TARGET_MS[incident.priority];
  return "percentOfTarget" in step.after ? start + (target * step.after.percentOfTarget) / 100 : start + step.after.ms;
}

/** The earliest time a step of this incident comes due, for the scheduler to wake then; undefined when none will. */
export function nextEscalationAt(incident: Incident, now: Date): number | undefined {
  if (!clockRuns(incident, now)) return undefined;
  const done = new Set((incident.escalations ?? []).map((e) => e.step));
  const steps = incident.escalation ?? DEFAULT_ESCALATION;
  const due = steps.map((s, i) => (done.has(i) ? Number.POSITIVE_INFINITY : stepDueAt(incident, s)));
  const first = Math.min(...due, Number.POSITIVE_INFINITY);
  return Number.isFinite(first) ? first : undefined;
}

/** The clock runs while the incident fires, its ticket exists, and nobody responded since it started. */
function clockRuns(incident: Incident, now: Date): boolean {
  if (incident.state !== "firing" || incident.cancelled) return false;
  if (incident.deferredUntil && Date.parse(incident.deferredUntil) > now.getTime()) return false;
  const responded = incident.helpdeskState?.firstResponseAt;
  const start = incident.clockStartedAt ?? incident.openedAt;
  return !(responded && Date.parse(responded) >= Date.parse(start));
}

/**
 * The steps due now that were not done on this clock, in order, each once. A step that came due
 * while alertdesk was down is done at the next call, once. `raise` goes one priority up from the
 * current one (never above P1) unless an agent set the priority.
 */
export function dueEscalations(
  incident: Incident,
  now: Date,
): {
  reason: EscalationReason;
  incident: Incident;
  escalations: Escalation[] /** The target passed on this clock just now (an SLA breach, counted once). */;
  breached: boolean;
} {
  if (!clockRuns(incident, now)) {
    const responded = incident.helpdeskState?.firstResponseAt !== null && incident.helpdeskState?.firstResponseAt !== undefined;
    return { reason: incident.state !== "firing" ? "not firing" : responded ? "responded" : "no clock", incident, escalations: [], breached: false };
  }
  const steps = incident.escalation ?? DEFAULT_ESCALATION;
  const done = new Set((incident.escalations ?? []).map((e) => e.step));
  const target = incident.responseTargetMs ?? RESPONSE_TARGET_MS[incident.priority];
  const next: Incident = { ...incident, escalations: [...(incident.escalations ?? [])] };
  const breached = incident.breachedAt === undefined && responseDueAt(incident) <= now.getTime();
  if (breached) next.breachedAt = now.toISOString();
  const escalations: Escalation[] = [];
  steps.forEach((s, i) => {
    if (done.has(i)) return;
    const dueAt = stepDueAt(incident, s);
    if (dueAt > now.getTime()) return;
    const e: Escalation = {
      step: i,
      targetMs: target,
      lateMs: Math.max(0, now.getTime() - (Date.parse(incident.clockStartedAt ?? incident.openedAt) + target)),
    };
    if (s.raise && next.agentPriority === undefined) {
      const raised = oneStepUp(next.priority);
      if (isHigher(raised, next.priority)) {
        e.raisedFrom = next.priority;
        e.raisedTo = raised;
        next.priority = raised;
      }
    }
    if (s.notify) e.notify = s.notify;
    next.escalations?.push({ step: i, at: now.toISOString() });
    escalations.push(e);
  });
  if (escalations.length > 0) return { reason: "escalated", incident: next, escalations, breached };
  return breached ? { reason: "breached", incident: next, escalations: [], breached } : { reason: "nothing due", incident, escalations: [], breached };
}
