import { type Alert, type AlertUpdate, type LabelSet, resolvesOnce, type Source } from "../model/alert.js";
import { type AlertRecord, type Incident, type TicketRef, ticketKeyFor } from "../model/incident.js";
import { higherPriority, isHigher, type Priority, RESPONSE_TARGET_MS } from "../model/priority.js";
import type { AlertDecision } from "../rules/evaluate.js";
import { isMuted } from "./agent.js";

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

/** How often an incident re-fired recently, when that makes it flapping. */
export interface Flap {
  refires: number;
  windowMs: number;
}

/** What to do on the helpdesk. Rendering into text happens later (templates/). */
export type TicketAction =
  | {
      kind: "open";
      previous?: { ticketKey: string; ticket?: TicketRef };
      /** open_after: deliver no earlier than this (ISO); a pending open is replaced when the incident changes. */
      notBefore?: string;
      /** Replaces the incident's deferred open that is still waiting. */
      replacesPending?: boolean;
    }
  | {
      kind: "comment";
      joined: AlertRecord[];
      resolved: AlertRecord[];
      raisedFrom?: Priority;
      /** The joined alerts fired again on a ticket kept open (flapping). */
      refire?: boolean;
      /** Firing alerts a person updated in the sender (Zabbix: acknowledged, severity changed, a message), each with its `update`. */
      updated?: AlertRecord[];
      flap?: Flap;
    }
  | {
      kind: "resolve";
      solve: boolean;
      resolved: AlertRecord[];
      flap?: Flap;
      /** An agent solved the ticket before the alerts resolved: the comment confirms it (no second solve). */
      confirms?: { solvedAt: string };
    }
  | { kind: "reopen"; refired: AlertRecord[]; raisedFrom?: Priority; flap?: Flap }
  /** Withdraws the incident's deferred open: it resolved before open_after passed. */
  | { kind: "cancel" }
  /** Expires alertdesk's Alertmanager silence of the incident (its ticket reopens, or an acknowledged incident resolved). */
  | { kind: "unsilence" };

/** Why the step did what it did; goes into logs and the lifecycle metric. */
export type Reason =
  | "first notification"
  | "refired after window"
  | "refired within window"
  | "alerts joined"
  | "alerts updated"
  | "alerts resolved, others firing"
  | "priority raised"
  | "all resolved"
  | "recorded"
  | "unchanged"
  | "stale"
  | "duplicate"
  | "resolved before seen"
  | "open deferred"
  | "deferred open updated"
  | "resolved before open_after"
  | "flapping"
  | "muted"
  | "ticket closed";

export interface Step {
  reason: Reason;
  /** The incident to store; undefined when nothing changed (no write at all). */
  incident?: Incident;
  /** True when `incident` is a new incident (insert), false when it updates `prev`. */
  created: boolean;
  actions: TicketAction[];
}

/** How one observed alert relates to what the incident already knows about its fingerprint. */
type AlertChange = "joined" | "refired" | "resolved" | "recorded" | "updated" | "unchanged" | "stale" | "duplicate";

/**
 * Per-alert rule, keyed by (fingerprint, startsAt), because notifications arrive out of order
 * (HA Alertmanager pairs send stale copies) and resolved alerts are re-sent for 15 minutes:
 * - an older episode (earlier startsAt) than the one known is stale;
 * - a firing copy of an episode already seen resolved is stale;
 * - a resolve of an episode already resolved is a duplicate;
 * - a newer episode that fires is a re-fire;
 * - a firing alert with an update not seen before (a person acted on it in the sender) is updated.
 */
function classify(o: Alert, known: AlertRecord | undefined, decision: AlertDecision): AlertChange {
  if (!known) return o.status === "firing" ? "joined" : "recorded";
  const observed = Date.parse(o.startsAt);
  const seen = Date.parse(known.startsAt);
  if (observed < seen) return "stale";
  if (o.status === "firing" && known.status === "firing" && isNewUpdate(o.update, known.update)) return "updated";
  if (observed === seen) {
    if (o.status === "resolved") return known.status === "firing" ? "resolved" : "duplicate";
    if (known.status === "resolved") return "stale";
    const changed = o.value !== known.value || isHigher(decision.priority, known.priority);
    return changed ? "recorded" : "unchanged";
  }
  if (o.status === "firing") return known.status === "firing" ? "recorded" : "refired";
  return known.status === "firing" ? "resolved" : "recorded";
}

/** An update not applied yet: another id, and not older than the last one (a retry that arrives late is not news). */
function isNewUpdate(update: AlertUpdate | undefined, last: AlertUpdate | undefined): boolean {
  if (!update) return false;
  if (!last) return true;
  if (update.id === last.id) return false;
  return update.at === undefined || last.at === undefined || Date.parse(update.at) >= Date.parse(last.at);
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
  if (a.values !== undefined) record.values = a.values;
  if (a.update !== undefined) record.update = a.update;
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
  incident.targetPriority = incident.priority;
}

/** Copies the lifecycle knobs of the governing decision onto the incident. */
function setKnobs(incident: Incident, d: AlertDecision): void {
  incident.onResolved = d.onResolved;
  incident.reopenWithinMs = d.reopenWithinMs;
  incident.openAfterMs = d.openAfterMs;
  incident.flapThreshold = d.flapThreshold;
  incident.flapWindowMs = d.flapWindowMs;
  incident.escalation = [...d.escalation];
  incident.agentPolicy = d.agentPolicy;
  incident.similarIncidents = d.similarIncidents;
  incident.archiveAfterMs = d.archiveAfterMs;
}

/** Strongest "nothing to do" reason among the changes. */
function quietReason(changes: AlertChange[]): Reason {
  if (changes.includes("stale")) return "stale";
  if (changes.includes("duplicate")) return "duplicate";
  return "unchanged";
}

/** When a deferred open becomes due: open_after after the earliest firing alert started; undefined when due already. */
function deferredUntil(alerts: AlertRecord[], openAfterMs: number, now: Date): string | undefined {
  if (openAfterMs <= 0) return undefined;
  const starts = alerts.filter((a) => a.status === "firing").map((a) => Date.parse(a.startsAt));
  if (starts.length === 0) return undefined;
  const due = starts.reduce((a, b) => Math.min(a, b)) + openAfterMs;
  return due > now.getTime() ? new Date(due).toISOString() : undefined;
}

function openAction(incident: Incident, extra: Partial<Extract<TicketAction, { kind: "open" }>> = {}): TicketAction {
  const action: Extract<TicketAction, { kind: "open" }> = { kind: "open", ...extra };
  if (incident.deferredUntil) action.notBefore = incident.deferredUntil;
  return action;
}

/** One observed alert and how it relates to what the incident knows of its fingerprint. */
interface Change {
  o: Observation;
  change: AlertChange;
}

/**
 * The incident lifecycle step: given the latest incident for a dedup key (if any), what one
 * notification says about that key, and the time, returns the next incident state, the helpdesk
 * actions and a named reason. Pure: no I/O, no clock reads. Each sub-decision below returns one
 * outcome with its one reason.
 */
export function decide(prev: Incident | undefined, input: StepInput, now: Date): Step {
  const known = new Map(prev?.alerts.map((a) => [a.fingerprint, a]));
  const changes: Change[] = input.observations.map((o) => ({ o, change: classify(o.alert, known.get(o.alert.fingerprint), o.decision) }));
  if (prev && isMuted(prev, now)) return decideMuted(prev, input, changes, now);
  if (!prev || prev.state === "resolved") return decideQuietKey(prev, input, changes, now);
  return decideFiringIncident(prev, input, changes, now);
}

/**
 * An agent said won't fix and the mute has not run out: the incident records what the monitoring
 * says, and nothing reaches the helpdesk (no open, reopen or comment).
 */
function decideMuted(prev: Incident, input: StepInput, changes: Change[], now: Date): Step {
  const kinds = changes.map((c) => c.change);
  if (!kinds.some(changesRecords)) return nothing(quietReason(kinds));
  const nowIso = now.toISOString();
  const alerts = merge(prev.alerts, changes, nowIso);
  const firing = alerts.some((a) => a.status === "firing");
  const incident: Incident = { ...prev, alerts, truncatedAlerts: input.truncatedAlerts, updatedAt: nowIso, state: firing ? "firing" : "resolved" };
  if (firing) delete incident.resolvedAt;
  else incident.resolvedAt ??= nowIso;
  return { reason: "muted", incident, created: false, actions: [] };
}

/** The priority alertdesk gives the incident now: the agent's, once an agent set one (never raised over). */
function ownedPriority(incident: Incident, alerts: AlertRecord[], floor: Priority): Priority {
  return incident.agentPriority ?? topPriority(alerts, floor);
}

/** Nothing to store, nothing to send. */
function nothing(reason: Reason): Step {
  return { reason, created: false, actions: [] };
}

/** Whether a change is stored in the incident's alert records (the others change nothing). */
function changesRecords(k: AlertChange): boolean {
  return k === "joined" || k === "refired" || k === "resolved" || k === "recorded" || k === "updated";
}

function firingChanges(changes: Change[]): Change[] {
  return changes.filter((c) => c.change === "joined" || c.change === "refired");
}

/** No incident of the key is firing: alerts that fire open a new incident, or reopen the last one within its window. */
function decideQuietKey(prev: Incident | undefined, input: StepInput, changes: Change[], now: Date): Step {
  const firing = firingChanges(changes);
  if (firing.length === 0) {
    if (resolvesOnce(input.source) && changes.some((c) => c.change === "recorded")) return rememberEarlyResolves(prev, input, changes, now);
    return nothing(prev ? quietReason(changes.map((c) => c.change)) : "resolved before seen");
  }
  const top = governing(firing.map((c) => c.o));
  const refired = firing.map((c) => toRecord(c.o, now.toISOString()));
  const withinWindow = prev?.resolvedAt !== undefined && now.getTime() - Date.parse(prev.resolvedAt) <= top.decision.reopenWithinMs;
  // A closed ticket is final: the re-fire opens a follow-up that links it, as after the window.
  const closed = prev?.helpdeskState?.status === "closed";
  if (prev && withinWindow && !closed) return refire(prev, input, changes, refired, top, now);
  const step = openIncident(prev, input, refired, top, now);
  return closed && withinWindow && step.reason === "refired after window" ? { ...step, reason: "ticket closed" } : step;
}

/**
 * A sender that tells each resolve once (Zabbix) resolved alerts this incident never saw firing:
 * retries reordered them. They are recorded, with no helpdesk call, so that the late firing copy is
 * stale (classify) instead of a ticket nothing would resolve. With no incident yet, the record is a
 * resolved incident that never had a ticket (`cancelled`, like a resolve before open_after): the next
 * real firing opens its ticket.
 */
function rememberEarlyResolves(prev: Incident | undefined, input: StepInput, changes: Change[], now: Date): Step {
  const nowIso = now.toISOString();
  if (prev) {
    const incident: Incident = { ...prev, alerts: merge(prev.alerts, changes, nowIso), updatedAt: nowIso };
    return { reason: "resolved before seen", incident, created: false, actions: [] };
  }
  const early = changes.filter((c) => c.change === "recorded");
  const records = early.map((c) => toRecord(c.o, nowIso));
  const opened = openIncident(undefined, input, records, governing(early.map((c) => c.o)), now).incident as Incident;
  const incident: Incident = { ...opened, state: "resolved", resolvedAt: nowIso, cancelled: true };
  delete incident.deferredUntil;
  return { reason: "resolved before seen", incident, created: true, actions: [] };
}

/** A new incident: the key's first, or the next one after the reopen window passed (it links the previous ticket). */
function openIncident(prev: Incident | undefined, input: StepInput, refired: AlertRecord[], top: Observation, now: Date): Step {
  const nowIso = now.toISOString();
  const seq = (prev?.seq ?? 0) + 1;
  const d = top.decision;
  const incident: Incident = {
    dedupKey: input.dedupKey,
    seq,
    ticketKey: ticketKeyFor(input.dedupKey, seq),
    state: "firing",
    priority: topPriority(refired, d.priority),
    category: d.category,
    rule: d.rule,
    helpdesk: d.helpdesk,
    onResolved: d.onResolved,
    reopenWithinMs: d.reopenWithinMs,
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
  setKnobs(incident, d);
  setDue(incident, now, input.responseTargets);
  if (d.matrix?.impact) {
    incident.impact = d.matrix.impact;
    incident.urgency = d.matrix.urgency;
  }
  if (d.assigneeGroup) incident.assigneeGroup = d.assigneeGroup;
  if (d.tags.length > 0) incident.tags = d.tags;
  if (Object.keys(d.fields).length > 0) incident.fields = d.fields;
  const deferred = deferredUntil(refired, d.openAfterMs, now);
  if (deferred) incident.deferredUntil = deferred;
  // The response clock starts when the ticket opens: after open_after, when the open was deferred.
  incident.clockStartedAt = deferred ?? nowIso;
  const action = openAction(incident);
  // A previous incident that never got its ticket (resolved before open_after) has nothing to link.
  if (prev && !prev.cancelled && action.kind === "open") {
    incident.previousTicketKey = prev.ticketKey;
    action.previous = prev.ticket ? { ticketKey: prev.ticketKey, ticket: prev.ticket } : { ticketKey: prev.ticketKey };
  }
  const reason: Reason = deferred ? "open deferred" : prev ? "refired after window" : "first notification";
  return { reason, incident, created: true, actions: [action] };
}

/** The incident fires: alerts may join, resolve, or raise the priority; a deferred open is still waiting or not. */
function decideFiringIncident(prev: Incident, input: StepInput, changes: Change[], now: Date): Step {
  const kinds = changes.map((c) => c.change);
  if (!kinds.some(changesRecords)) return nothing(quietReason(kinds));
  const nowIso = now.toISOString();
  const alerts = merge(prev.alerts, changes, nowIso);
  const joined = firingChanges(changes).map((c) => toRecord(c.o, nowIso));
  const updatedNow = new Set(changes.filter((c) => c.change === "updated").map((c) => c.o.alert.fingerprint));
  const updated = alerts.filter((a) => updatedNow.has(a.fingerprint));
  // A set, not a search per alert: resolving half of an 80,000-alert group was quadratic (61 s).
  const resolvedNow = new Set(changes.filter((c) => c.change === "resolved").map((c) => c.o.alert.fingerprint));
  const resolved = alerts.filter((a) => resolvedNow.has(a.fingerprint));
  const incident: Incident = { ...prev, alerts, truncatedAlerts: input.truncatedAlerts, updatedAt: nowIso };
  if (changes.length > 0) setKnobs(incident, governing(changes.map((c) => c.o)).decision);
  const allResolved = !alerts.some((a) => a.status === "firing");
  const pending = prev.deferredUntil !== undefined && Date.parse(prev.deferredUntil) > now.getTime();
  if (pending) return updateDeferredOpen(prev, incident, { joined, resolved, allResolved }, input, now);
  delete incident.deferredUntil;
  // An agent closed the ticket while alerts still fire: closed is final, so nothing more goes on it
  // (helpdesks refuse updates to closed tickets); a re-fire after the resolve opens a follow-up.
  if (prev.helpdeskState?.status === "closed") {
    if (allResolved) {
      incident.state = "resolved";
      incident.resolvedAt = nowIso;
    }
    return { reason: "ticket closed", incident, created: false, actions: [] };
  }
  if (allResolved) return resolveIncident(incident, resolved, now);
  return updateTicket(prev, incident, { joined, resolved, updated }, input, now);
}

/** open_after has not passed: nothing reached the helpdesk yet, so the waiting open is withdrawn or rendered again. */
function updateDeferredOpen(
  prev: Incident,
  incident: Incident,
  change: { joined: AlertRecord[]; resolved: AlertRecord[]; allResolved: boolean },
  input: StepInput,
  now: Date,
): Step {
  if (change.allResolved) {
    incident.state = "resolved";
    incident.resolvedAt = now.toISOString();
    incident.cancelled = true;
    delete incident.deferredUntil;
    return { reason: "resolved before open_after", incident, created: false, actions: [{ kind: "cancel" }] };
  }
  incident.priority = ownedPriority(prev, incident.alerts, prev.priority);
  if (isHigher(incident.priority, prev.priority)) setDue(incident, now, input.responseTargets);
  if (change.joined.length === 0 && change.resolved.length === 0 && incident.priority === prev.priority) {
    return { reason: "recorded", incident, created: false, actions: [] };
  }
  // The deferred open is rendered again so it shows the incident as it will be when it opens.
  return { reason: "deferred open updated", incident, created: false, actions: [openAction(incident, { replacesPending: true })] };
}

/** The last alert resolved: the ticket is solved (or commented, or left alone), unless the incident is flapping. */
function resolveIncident(incident: Incident, resolved: AlertRecord[], now: Date): Step {
  incident.state = "resolved";
  incident.resolvedAt = now.toISOString();
  // An acknowledgement's silence has done its work once the alerts resolved (a won't-fix's stays).
  if (incident.silence?.reason === "ack") {
    delete incident.silence;
    const step = resolveIncident(incident, resolved, now);
    return { ...step, actions: [...step.actions, { kind: "unsilence" }] };
  }
  if (incident.onResolved === "none") return { reason: "all resolved", incident, created: false, actions: [] };
  // A flapping incident's ticket stays open: its resolves are comments until it settles.
  const flap = flapOf(incident, now);
  if (flap) {
    incident.keptOpen = true;
    return { reason: "flapping", incident, created: false, actions: [{ kind: "resolve", solve: false, resolved, flap }] };
  }
  delete incident.keptOpen;
  if (incident.agentSolvedAt !== undefined) {
    // The agent's solve holds: the monitoring confirms it, and the ticket is not solved a second time.
    delete incident.verifyAt;
    return {
      reason: "all resolved",
      incident,
      created: false,
      actions: [{ kind: "resolve", solve: false, resolved, confirms: { solvedAt: incident.agentSolvedAt } }],
    };
  }
  return { reason: "all resolved", incident, created: false, actions: [{ kind: "resolve", solve: incident.onResolved === "solve", resolved }] };
}

/** Some alerts still fire: one comment for what joined, resolved or was updated in the sender, and for a raised priority. */
function updateTicket(
  prev: Incident,
  incident: Incident,
  change: { joined: AlertRecord[]; resolved: AlertRecord[]; updated: AlertRecord[] },
  input: StepInput,
  now: Date,
): Step {
  const { joined, resolved, updated } = change;
  const priority = ownedPriority(prev, incident.alerts, prev.priority);
  const raised = isHigher(priority, prev.priority);
  if (raised) {
    incident.priority = priority;
    setDue(incident, now, input.responseTargets);
  }
  if (joined.length === 0 && resolved.length === 0 && updated.length === 0 && !raised) return { reason: "recorded", incident, created: false, actions: [] };
  const action: Extract<TicketAction, { kind: "comment" }> = { kind: "comment", joined, resolved };
  if (updated.length > 0) action.updated = updated;
  if (raised) action.raisedFrom = prev.priority;
  const reason: Reason =
    joined.length > 0 ? "alerts joined" : resolved.length > 0 ? "alerts resolved, others firing" : updated.length > 0 ? "alerts updated" : "priority raised";
  return { reason, incident, created: false, actions: [action] };
}

/** The flap counter: the re-fires within flap_window, when there are flap_threshold of them. */
function flapOf(incident: Incident, now: Date): Flap | undefined {
  const threshold = incident.flapThreshold ?? 0;
  const windowMs = incident.flapWindowMs ?? 3_600_000;
  const refires = (incident.refiredAt ?? []).filter((t) => now.getTime() - Date.parse(t) <= windowMs).length;
  return threshold > 0 && refires >= threshold ? { refires, windowMs } : undefined;
}

/**
 * A resolved incident fires again within reopen_within. Normally the ticket is reopened. When the
 * incident re-fired flap_threshold times within flap_window it is flapping: the ticket is reopened
 * once and kept open, and further cycles become comments instead of a reopen/solve storm. An
 * incident whose ticket was never opened (open_after) gets a new deferred open instead.
 */
function refire(prev: Incident, input: StepInput, changes: Change[], refired: AlertRecord[], top: Observation, now: Date): Step {
  const nowIso = now.toISOString();
  const alerts = merge(prev.alerts, changes, nowIso);
  const priority = ownedPriority(prev, alerts, prev.priority);
  const raised = isHigher(priority, prev.priority);
  const d = top.decision;
  const recent = [...(prev.refiredAt ?? []), nowIso].filter((t) => now.getTime() - Date.parse(t) <= d.flapWindowMs);
  const incident: Incident = {
    ...prev,
    state: "firing",
    priority,
    alerts,
    truncatedAlerts: input.truncatedAlerts,
    updatedAt: nowIso,
    recurrences: prev.recurrences + 1,
    refiredAt: recent,
    // A reopen starts a new response clock: its escalations happen again, each once.
    clockStartedAt: nowIso,
    escalations: [],
  };
  delete incident.resolvedAt;
  delete incident.breachedAt;
  // The reopen ends the silence the agent's decision started: the monitoring speaks again.
  const unsilence: TicketAction[] = prev.silence ? [{ kind: "unsilence" }] : [];
  delete incident.silence;
  // The agent's solve (or won't-fix, once its mute ran out) no longer stands: the ticket is active again.
  delete incident.agentSolvedAt;
  delete incident.verifyAt;
  delete incident.mutedUntil;
  if (incident.helpdeskState) incident.helpdeskState = { ...incident.helpdeskState, status: "active", resolution: null };
  // alertdesk's reopen is the newest status: an agent's solve from before it, arriving late, changes nothing.
  incident.helpdeskVersions = { ...incident.helpdeskVersions, status_changed: nowIso };
  setKnobs(incident, d);
  if (raised) setDue(incident, now, input.responseTargets);

  if (prev.cancelled) {
    delete incident.cancelled;
    const deferred = deferredUntil(alerts, d.openAfterMs, now);
    if (deferred) incident.deferredUntil = deferred;
    else delete incident.deferredUntil;
    return { reason: deferred ? "open deferred" : "refired within window", incident, created: false, actions: [openAction(incident), ...unsilence] };
  }

  const flap = flapOf(incident, now);
  if (prev.keptOpen) {
    // The ticket was kept open at the last resolve (flapping): a comment says it fired again.
    delete incident.keptOpen;
    const action: Extract<TicketAction, { kind: "comment" }> = { kind: "comment", joined: refired, resolved: [], refire: true };
    if (raised) action.raisedFrom = prev.priority;
    if (flap) action.flap = flap;
    return { reason: flap ? "flapping" : "refired within window", incident, created: false, actions: [action, ...unsilence] };
  }
  const action: TicketAction = { kind: "reopen", refired };
  if (raised) action.raisedFrom = prev.priority;
  if (flap) action.flap = flap;
  return { reason: flap ? "flapping" : "refired within window", incident, created: false, actions: [action, ...unsilence] };
}

/** Values kept per alert episode for the console's chart: the first and the latest ones. */
const VALUE_SAMPLES = 60;
/** Incidents with more alerts keep no samples: a chart of thousands of lines says nothing, and the incident would grow with each. */
const SAMPLED_ALERTS = 50;

/**
 * The first and the peak value of one episode, carried over as its value changes (absent: the same
 * as `value`), and, on small incidents, the values seen with when they were seen.
 */
function keepValueHistory(known: AlertRecord, next: AlertRecord, now: string, sampled: boolean): void {
  const first = known.firstValue ?? known.value;
  const peak = Math.max(...[known.peakValue, known.value, next.value].filter((v): v is number => v !== undefined));
  if (first !== undefined && first !== next.value) next.firstValue = first;
  if (Number.isFinite(peak) && peak !== next.value) next.peakValue = peak;
  if (!sampled || next.value === undefined) return;
  const samples: [string, number][] = known.samples ? [...known.samples] : known.value !== undefined ? [[known.startsAt, known.value]] : [];
  if (samples.at(-1)?.[1] !== next.value) samples.push([now, next.value]);
  // The first and the newest: where it started and how it went lately.
  next.samples = samples.length > VALUE_SAMPLES ? [samples[0] as [string, number], ...samples.slice(-(VALUE_SAMPLES - 1))] : samples;
}

/** Applies the changes to the incident's alert records; stale and duplicate observations change nothing. */
function merge(records: AlertRecord[], changes: Change[], now: string): AlertRecord[] {
  const byFingerprint = new Map(records.map((r) => [r.fingerprint, r]));
  for (const { o, change } of changes) {
    if (change === "stale" || change === "duplicate" || change === "unchanged") continue;
    const next = toRecord(o, now);
    const known = byFingerprint.get(o.alert.fingerprint);
    // A resolve keeps the priority the alert had while it fired.
    if (known && change === "resolved") next.priority = known.priority;
    if (known && known.startsAt === next.startsAt) keepValueHistory(known, next, now, records.length <= SAMPLED_ALERTS);
    // A copy without the update (a retried problem) does not forget it: the update's retry stays recognised.
    if (known?.update && next.update === undefined && known.startsAt === next.startsAt) next.update = known.update;
    byFingerprint.set(o.alert.fingerprint, next);
  }
  return [...byFingerprint.values()];
}
