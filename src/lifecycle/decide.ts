import type { Alert, LabelSet, Source } from "../intake/notification.js";
import type { AlertDecision } from "../rules/evaluate.js";
import { type Priority, RESPONSE_TARGET_MS, higherPriority, isHigher } from "../rules/priority.js";
import { type AlertRecord, type Incident, type TicketRef, ticketKeyFor } from "./incident.js";

/** An alert of one notification with what the rules decided for it. */
export interface Observation {
  alert: Alert;
  decision: AlertDecision & { helpdesk: string };
}

/** Everything one notification says about one dedup key. */
export interface StepInput {
  dedupKey: string;
  source: Source;
  receiver: string;
  groupLabels: LabelSet;
  externalURL: string;
  truncatedAlerts: number;
  observations: Observation[];
  /** Response target per priority (the rules' `response_targets`); the support workflow's defaults when absent. */
  responseTargets?: Record<Priority, number>;
}

/** What to do on the helpdesk. Rendering into text happens later (templates/). */
export type TicketAction =
  | { kind: "open"; previous?: { ticketKey: string; ticket?: TicketRef } }
  | { kind: "comment"; joined: AlertRecord[]; resolved: AlertRecord[]; raisedFrom?: Priority }
  | { kind: "resolve"; solve: boolean; resolved: AlertRecord[] }
  | { kind: "reopen"; refired: AlertRecord[]; raisedFrom?: Priority };

/** Why the step did what it did; goes into logs and the lifecycle metric. */
export type Reason =
  | "first notification"
  | "refired after window"
  | "refired within window"
  | "alerts joined"
  | "alerts resolved, others firing"
  | "priority raised"
  | "all resolved"
  | "recorded"
  | "unchanged"
  | "stale"
  | "duplicate"
  | "resolved before seen";

export interface Step {
  reason: Reason;
  /** The incident to store; undefined when nothing changed (no write at all). */
  incident?: Incident;
  /** True when `incident` is a new incident (insert), false when it updates `prev`. */
  created: boolean;
  actions: TicketAction[];
}

/** How one observed alert relates to what the incident already knows about its fingerprint. */
type AlertChange = "joined" | "refired" | "resolved" | "recorded" | "unchanged" | "stale" | "duplicate";

/**
 * Per-alert rule, keyed by (fingerprint, startsAt), because notifications arrive out of order
 * (HA Alertmanager pairs send stale copies) and resolved alerts are re-sent for 15 minutes:
 * - an older episode (earlier startsAt) than the one known is stale;
 * - a firing copy of an episode already seen resolved is stale;
 * - a resolve of an episode already resolved is a duplicate;
 * - a newer episode that fires is a re-fire.
 */
function classify(o: Alert, known: AlertRecord | undefined, decision: AlertDecision): AlertChange {
  if (!known) return o.status === "firing" ? "joined" : "recorded";
  const observed = Date.parse(o.startsAt);
  const seen = Date.parse(known.startsAt);
  if (observed < seen) return "stale";
  if (observed === seen) {
    if (o.status === "resolved") return known.status === "firing" ? "resolved" : "duplicate";
    if (known.status === "resolved") return "stale";
    const changed = o.value !== known.value || isHigher(decision.priority, known.priority);
    return changed ? "recorded" : "unchanged";
  }
  if (o.status === "firing") return known.status === "firing" ? "recorded" : "refired";
  return known.status === "firing" ? "resolved" : "recorded";
}

function toRecord(o: Observation, now: string): AlertRecord {
  const a = o.alert;
  const record: AlertRecord = {
    fingerprint: a.fingerprint,
    status: a.status,
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.startsAt,
    generatorURL: a.generatorURL,
    links: a.links,
    priority: o.decision.priority,
    rule: o.decision.rule,
  };
  if (a.status === "resolved") record.endsAt = a.endsAt ?? now;
  if (a.value !== undefined) record.value = a.value;
  return record;
}

/** The observation whose decision governs the incident: highest priority, first on ties. */
function governing(observations: Observation[]): Observation {
  let top = observations[0] as Observation;
  for (const o of observations) if (isHigher(o.decision.priority, top.decision.priority)) top = o;
  return top;
}

function topPriority(records: AlertRecord[], floor: Priority): Priority {
  return records.reduce((p, r) => (r.status === "firing" ? higherPriority(p, r.priority) : p), floor);
}

/** Sets the due time (and the target behind it) from the priority's response target. */
function setDue(incident: Incident, from: Date, targets: Record<Priority, number> | undefined): void {
  const target = (targets ?? RESPONSE_TARGET_MS)[incident.priority];
  incident.dueAt = new Date(from.getTime() + target).toISOString();
  incident.responseTargetMs = target;
}

/** Strongest "nothing to do" reason among the changes. */
function quietReason(changes: AlertChange[]): Reason {
  if (changes.includes("stale")) return "stale";
  if (changes.includes("duplicate")) return "duplicate";
  return "unchanged";
}

/**
 * The incident lifecycle step: given the latest incident for a dedup key (if any), what one
 * notification says about that key, and the time, returns the next incident state, the helpdesk
 * actions and a named reason. Pure: no I/O, no clock reads.
 */
export function decide(prev: Incident | undefined, input: StepInput, now: Date): Step {
  const nowIso = now.toISOString();
  const known = new Map(prev?.alerts.map((a) => [a.fingerprint, a]));
  const changes = input.observations.map((o) => ({ o, change: classify(o.alert, known.get(o.alert.fingerprint), o.decision) }));
  const kinds = changes.map((c) => c.change);
  const firing = changes.filter((c) => c.change === "joined" || c.change === "refired");

  if (!prev || prev.state === "resolved") {
    if (firing.length === 0) {
      return { reason: prev ? quietReason(kinds) : "resolved before seen", created: false, actions: [] };
    }
    const top = governing(firing.map((c) => c.o));
    const refired = firing.map((c) => toRecord(c.o, nowIso));
    const withinWindow =
      prev?.resolvedAt !== undefined && now.getTime() - Date.parse(prev.resolvedAt) <= top.decision.reopenWithinMs;
    if (prev && withinWindow) {
      const alerts = merge(prev.alerts, changes, nowIso);
      const priority = topPriority(alerts, prev.priority);
      const raised = isHigher(priority, prev.priority);
      const incident: Incident = {
        ...prev,
        state: "firing",
        priority,
        alerts,
        onResolved: top.decision.onResolved,
        reopenWithinMs: top.decision.reopenWithinMs,
        truncatedAlerts: input.truncatedAlerts,
        updatedAt: nowIso,
        recurrences: prev.recurrences + 1,
      };
      if (raised) setDue(incident, now, input.responseTargets);
      delete incident.resolvedAt;
      const action: TicketAction = raised ? { kind: "reopen", refired, raisedFrom: prev.priority } : { kind: "reopen", refired };
      return { reason: "refired within window", incident, created: false, actions: [action] };
    }
    const seq = (prev?.seq ?? 0) + 1;
    const priority = topPriority(refired, top.decision.priority);
    const incident: Incident = {
      dedupKey: input.dedupKey,
      seq,
      ticketKey: ticketKeyFor(input.dedupKey, seq),
      state: "firing",
      priority,
      category: top.decision.category,
      rule: top.decision.rule,
      helpdesk: top.decision.helpdesk,
      onResolved: top.decision.onResolved,
      reopenWithinMs: top.decision.reopenWithinMs,
      source: input.source,
      receiver: input.receiver,
      groupLabels: input.groupLabels,
      externalURL: input.externalURL,
      truncatedAlerts: input.truncatedAlerts,
      alerts: refired,
      openedAt: nowIso,
      updatedAt: nowIso,
      dueAt: nowIso,
      recurrences: 0,
    };
    setDue(incident, now, input.responseTargets);
    const d = top.decision;
    if (d.matrix?.impact) {
      incident.impact = d.matrix.impact;
      incident.urgency = d.matrix.urgency;
    }
    if (d.assigneeGroup) incident.assigneeGroup = d.assigneeGroup;
    if (d.tags.length > 0) incident.tags = d.tags;
    if (Object.keys(d.fields).length > 0) incident.fields = d.fields;
    const action: TicketAction = { kind: "open" };
    if (prev) {
      incident.previousTicketKey = prev.ticketKey;
      action.previous = prev.ticket ? { ticketKey: prev.ticketKey, ticket: prev.ticket } : { ticketKey: prev.ticketKey };
    }
    return { reason: prev ? "refired after window" : "first notification", incident, created: true, actions: [action] };
  }

  // The incident is firing: alerts may join, resolve, or raise the priority.
  const touched = kinds.some((k) => k === "joined" || k === "refired" || k === "resolved" || k === "recorded");
  if (!touched) return { reason: quietReason(kinds), created: false, actions: [] };
  const alerts = merge(prev.alerts, changes, nowIso);
  const joined = firing.map((c) => toRecord(c.o, nowIso));
  const resolved = alerts.filter((a) => changes.some((c) => c.change === "resolved" && c.o.alert.fingerprint === a.fingerprint));
  const settings = changes.length > 0 ? governing(changes.map((c) => c.o)).decision : undefined;
  const incident: Incident = {
    ...prev,
    alerts,
    truncatedAlerts: input.truncatedAlerts,
    updatedAt: nowIso,
    onResolved: settings?.onResolved ?? prev.onResolved,
    reopenWithinMs: settings?.reopenWithinMs ?? prev.reopenWithinMs,
  };
  if (!alerts.some((a) => a.status === "firing")) {
    incident.state = "resolved";
    incident.resolvedAt = nowIso;
    const actions: TicketAction[] =
      incident.onResolved === "none" ? [] : [{ kind: "resolve", solve: incident.onResolved === "solve", resolved }];
    return { reason: "all resolved", incident, created: false, actions };
  }
  const priority = topPriority(alerts, prev.priority);
  const raised = isHigher(priority, prev.priority);
  if (raised) {
    incident.priority = priority;
    setDue(incident, now, input.responseTargets);
  }
  if (joined.length === 0 && resolved.length === 0 && !raised) {
    return { reason: "recorded", incident, created: false, actions: [] };
  }
  const action: TicketAction = raised ? { kind: "comment", joined, resolved, raisedFrom: prev.priority } : { kind: "comment", joined, resolved };
  const reason: Reason = joined.length > 0 ? "alerts joined" : resolved.length > 0 ? "alerts resolved, others firing" : "priority raised";
  return { reason, incident, created: false, actions: [action] };
}

/** Applies the changes to the incident's alert records; stale and duplicate observations change nothing. */
function merge(records: AlertRecord[], changes: { o: Observation; change: AlertChange }[], now: string): AlertRecord[] {
  const byFingerprint = new Map(records.map((r) => [r.fingerprint, r]));
  for (const { o, change } of changes) {
    if (change === "stale" || change === "duplicate" || change === "unchanged") continue;
    const next = toRecord(o, now);
    const known = byFingerprint.get(o.alert.fingerprint);
    // A resolve keeps the priority the alert had while it fired.
    if (known && change === "resolved") next.priority = known.priority;
    byFingerprint.set(o.alert.fingerprint, next);
  }
  return [...byFingerprint.values()];
}
