import type { Incident } from "../model/incident.js";
import { DEFAULT_ESCALATION, type EscalationStep, isHigher, oneStepUp, type Priority, RESPONSE_TARGET_MS } from "../model/priority.js";

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

export type EscalationReason = "no clock" | "responded" | "not firing" | "nothing due" | "escalated";

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
export function dueEscalations(incident: Incident, now: Date): { reason: EscalationReason; incident: Incident; escalations: Escalation[] } {
  if (!clockRuns(incident, now)) {
    const responded = incident.helpdeskState?.firstResponseAt !== null && incident.helpdeskState?.firstResponseAt !== undefined;
    return { reason: incident.state !== "firing" ? "not firing" : responded ? "responded" : "no clock", incident, escalations: [] };
  }
  const steps = incident.escalation ?? DEFAULT_ESCALATION;
  const done = new Set((incident.escalations ?? []).map((e) => e.step));
  const target = incident.responseTargetMs ?? RESPONSE_TARGET_MS[incident.priority];
  const next: Incident = { ...incident, escalations: [...(incident.escalations ?? [])] };
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
  return escalations.length > 0 ? { reason: "escalated", incident: next, escalations } : { reason: "nothing due", incident, escalations: [] };
}
