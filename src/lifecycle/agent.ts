import {
  type Acknowledging,
  type AgentPolicy,
  type HelpdeskEvent,
  type HelpdeskState,
  isSolvedStatus,
  UNKNOWN_HELPDESK_STATE,
} from "../model/helpdesk-event.js";
import type { AlertRecord, Incident } from "../model/incident.js";

/**
 * The other half of the loop: what alertdesk does when an agent acts on its ticket. Pure, like
 * decide(): the incident, one agent event (already deduplicated and stripped of alertdesk's own
 * echoes by the sync), the incident's policy and the time in; the next incident, the actions and one
 * named reason out.
 */

/** What alertdesk does on the ticket because of what an agent did or what the verification found. */
export type AgentAction =
  /** The fix did not hold: reopen, saying which alerts still fire. */
  | { kind: "verification failed"; firing: AlertRecord[]; attempt: number; max: number }
  /** The reopen budget is spent: one comment asks a person to look, no more reopens. */
  | { kind: "verification given up"; firing: AlertRecord[]; max: number }
  /** Silence the incident's alerts in the Alertmanagers until then (silence_on_ack, silence_on_wont_fix). */
  | { kind: "silence"; reason: "ack" | "wont_fix"; until: string }
  /** Expire alertdesk's silence of the incident: the ticket was reopened, or an acknowledged one solved. */
  | { kind: "unsilence" };

export type AgentReason =
  | "agent commented"
  | "agent assigned"
  | "agent set priority"
  | "agent changed status"
  | "agent reopened"
  | "agent solved"
  | "agent solved, verifying"
  | "agent solved, accepted"
  | "won't fix, muted"
  | "verification due later"
  | "verification passed"
  | "verification failed"
  | "verification given up"
  | "nothing to verify";

export interface AgentStep {
  reason: AgentReason;
  incident: Incident;
  actions: AgentAction[];
}

function firing(incident: Incident): AlertRecord[] {
  return incident.alerts.filter((a) => a.status === "firing");
}

/** The incident with the helpdesk's state updated, and the first response set once, by the first action that counts. */
function noted(incident: Incident, change: Partial<HelpdeskState>, counts: boolean, event: HelpdeskEvent, now: Date): Incident {
  const state: HelpdeskState = { ...UNKNOWN_HELPDESK_STATE, ...incident.helpdeskState, ...change, syncedAt: now.toISOString() };
  if (counts && state.firstResponseAt === null) state.firstResponseAt = event.at;
  return { ...incident, helpdeskState: state };
}

/** One agent event applied to its incident, with the silence it starts or ends. */
export function applyHelpdeskEvent(incident: Incident, event: HelpdeskEvent, policy: AgentPolicy, now: Date): AgentStep {
  return withSilence(incident, applied(incident, event, policy, now), event, policy, now);
}

/**
 * The agent's decision fed back to the monitoring: the first response silences the incident's
 * alerts for silence_on_ack, a won't-fix for silence_on_wont_fix; a reopen (or the solve of an
 * acknowledged ticket) expires the silence.
 */
function withSilence(before: Incident, step: AgentStep, event: HelpdeskEvent, policy: AgentPolicy, now: Date): AgentStep {
  const next: Incident = { ...step.incident };
  const wontFix = event.kind === "status_changed" && isSolvedStatus(event.status) && event.resolution === "wont_fix";
  const acked = before.helpdeskState?.firstResponseAt == null && next.helpdeskState?.firstResponseAt != null;
  const until = (ms: number) => new Date(now.getTime() + ms).toISOString();
  const solvedAcked = event.kind === "status_changed" && isSolvedStatus(event.status) && !wontFix && before.silence?.reason === "ack";
  if (before.silence && (step.reason === "agent reopened" || solvedAcked)) {
    delete next.silence;
    return { ...step, incident: next, actions: [...step.actions, { kind: "unsilence" }] };
  }
  if (wontFix && policy.silenceOnWontFixMs !== undefined) {
    next.silence = { reason: "wont_fix", until: until(policy.silenceOnWontFixMs) };
    return { ...step, incident: next, actions: [...step.actions, { kind: "silence", reason: "wont_fix", until: next.silence.until }] };
  }
  if (acked && policy.silenceOnAckMs !== undefined && next.state === "firing" && !isSolvedStatus(next.helpdeskState?.status)) {
    next.silence = { reason: "ack", until: until(policy.silenceOnAckMs), forMs: policy.silenceOnAckMs };
    return { ...step, incident: next, actions: [...step.actions, { kind: "silence", reason: "ack", until: next.silence.until }] };
  }
  return step;
}

function applied(incident: Incident, event: HelpdeskEvent, policy: AgentPolicy, now: Date): AgentStep {
  const acks = new Set(policy.acknowledging);
  switch (event.kind) {
    case "commented":
      return { reason: "agent commented", incident: noted(incident, {}, acks.has("comment"), event, now), actions: [] };
    case "assigned":
      return {
        reason: "agent assigned",
        incident: noted(incident, { assignee: event.assignee }, acks.has("assignment") && event.assignee !== null, event, now),
        actions: [],
      };
    case "priority_changed": {
      // A priority an agent set is theirs: alertdesk never raises over it.
      const next = noted({ ...incident, priority: event.priority, agentPriority: event.priority }, {}, false, event, now);
      return { reason: "agent set priority", incident: next, actions: [] };
    }
    case "status_changed":
      return statusChanged(incident, event, policy, acks, now);
  }
}

function statusChanged(
  incident: Incident,
  event: Extract<HelpdeskEvent, { kind: "status_changed" }>,
  policy: AgentPolicy,
  acks: ReadonlySet<Acknowledging>,
  now: Date,
): AgentStep {
  const wasSolved = isSolvedStatus(incident.helpdeskState?.status);
  if (!isSolvedStatus(event.status)) {
    const next = noted(incident, { status: event.status, resolution: null }, event.status === "active" && acks.has("active"), event, now);
    if (!wasSolved) return { reason: "agent changed status", incident: next, actions: [] };
    // The agent took the ticket back: no verification of a solve, and no mute of a won't-fix, that no longer stands.
    delete next.verifyAt;
    delete next.agentSolvedAt;
    delete next.mutedUntil;
    return { reason: "agent reopened", incident: next, actions: [] };
  }
  const next = noted(incident, { status: event.status, resolution: event.resolution ?? null }, false, event, now);
  next.agentSolvedAt = event.at;
  delete next.verifyAt;
  delete next.mutedUntil; // a solve that is not a won't-fix ends an earlier mute; a won't-fix sets it again below
  if (event.resolution === "wont_fix" && policy.onWontFix === "mute") {
    next.mutedUntil = new Date(now.getTime() + policy.muteForMs).toISOString();
    return { reason: "won't fix, muted", incident: next, actions: [] };
  }
  if (firing(next).length === 0) return { reason: "agent solved", incident: next, actions: [] };
  if (policy.onAgentSolved === "accept" || event.status !== "solved") return { reason: "agent solved, accepted", incident: next, actions: [] };
  next.verifyAt = new Date(now.getTime() + policy.verifyAfterMs).toISOString();
  return { reason: "agent solved, verifying", incident: next, actions: [] };
}

/**
 * The verification of an agent's solve, when it comes due: alerts that still fire (the caller
 * counts those an Alertmanager silence hides as firing) reopen the ticket, up to maxAutoReopens times.
 */
export function verifySolve(incident: Incident, policy: AgentPolicy, now: Date, firingNow?: AlertRecord[]): AgentStep {
  if (incident.verifyAt === undefined) return { reason: "nothing to verify", incident, actions: [] };
  if (Date.parse(incident.verifyAt) > now.getTime()) return { reason: "verification due later", incident, actions: [] };
  const next: Incident = { ...incident };
  delete next.verifyAt;
  // The monitoring's own answer when there is one (an Alertmanager counts its silenced alerts as firing), else alertdesk's view.
  const still = firingNow ?? firing(next);
  if (still.length === 0 || !isSolvedStatus(next.helpdeskState?.status)) return { reason: "verification passed", incident: next, actions: [] };
  const done = next.autoReopens ?? 0;
  if (done >= policy.maxAutoReopens) {
    return { reason: "verification given up", incident: next, actions: [{ kind: "verification given up", firing: still, max: policy.maxAutoReopens }] };
  }
  next.autoReopens = done + 1;
  const unsilence: AgentAction[] = next.silence ? [{ kind: "unsilence" }] : [];
  delete next.silence;
  delete next.agentSolvedAt;
  next.helpdeskState = { ...UNKNOWN_HELPDESK_STATE, ...next.helpdeskState, status: "active", resolution: null, syncedAt: now.toISOString() };
  next.helpdeskVersions = { ...next.helpdeskVersions, status_changed: now.toISOString() };
  // The reopen starts a new response clock, as a re-fire's does.
  next.clockStartedAt = now.toISOString();
  next.escalations = [];
  delete next.breachedAt;
  return {
    reason: "verification failed",
    incident: next,
    actions: [{ kind: "verification failed", firing: still, attempt: done + 1, max: policy.maxAutoReopens }, ...unsilence],
  };
}

/** Whether a re-fire of this incident should change nothing: an agent said won't fix, and the mute has not run out. */
export function isMuted(incident: Incident, now: Date): boolean {
  return incident.mutedUntil !== undefined && Date.parse(incident.mutedUntil) > now.getTime();
}
