/** P1 is the most urgent. Response targets follow the support workflow. */
export const PRIORITIES = ["P1", "P2", "P3", "P4"] as const;
export type Priority = (typeof PRIORITIES)[number];

/** The support workflow's five categories. */
export const CATEGORIES = ["function", "performance", "network", "configuration", "consultation"] as const;
export type Category = (typeof CATEGORIES)[number];

/** How long the helpdesk has to respond, by priority (P1 15 min, P2 30 min, P3 1 h, P4 24 h). */
export const RESPONSE_TARGET_MS: Record<Priority, number> = {
  P1: 15 * 60_000,
  P2: 30 * 60_000,
  P3: 60 * 60_000,
  P4: 24 * 60 * 60_000,
};

/** The more urgent of two priorities. */
export function higherPriority(a: Priority, b: Priority): Priority {
  return PRIORITIES.indexOf(a) <= PRIORITIES.indexOf(b) ? a : b;
}

/** True when `a` is strictly more urgent than `b`. */
export function isHigher(a: Priority, b: Priority): boolean {
  return PRIORITIES.indexOf(a) < PRIORITIES.indexOf(b);
}

/** Impact and urgency levels of the ITIL / ServiceNow priority matrix. */
export const LEVELS = ["high", "medium", "low"] as const;
export type Level = (typeof LEVELS)[number];

/** The ITIL table: impact → urgency → priority. */
export const ITIL_MATRIX: Record<Level, Record<Level, Priority>> = {
  high: { high: "P1", medium: "P2", low: "P3" },
  medium: { high: "P2", medium: "P3", low: "P4" },
  low: { high: "P3", medium: "P4", low: "P4" },
};

/** One step more urgent, never above P1 (an escalation's `raise: true`). */
export function oneStepUp(p: Priority): Priority {
  return PRIORITIES[Math.max(0, PRIORITIES.indexOf(p) - 1)] as Priority;
}

/**
 * One step of an escalation: when it comes due (a share of the incident's response target, or a
 * fixed time after the ticket opened), whether it raises the priority, and which webhook helpdesk
 * it notifies.
 */
export interface EscalationStep {
  after: { percentOfTarget: number } | { ms: number };
  raise: boolean;
  notify?: string;
}

/** Without `escalation:`, one step at 100 % of the target that only comments. */
export const DEFAULT_ESCALATION: readonly EscalationStep[] = [{ after: { percentOfTarget: 100 }, raise: false }];
