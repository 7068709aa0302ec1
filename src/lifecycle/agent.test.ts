import { describe, expect, it } from "vitest";
import type { HelpdeskEvent } from "../model/helpdesk-event.js";
import { type AgentPolicy, DEFAULT_AGENT_POLICY } from "../model/helpdesk-event.js";
import type { AlertRecord, Incident } from "../model/incident.js";
import { type AgentAction, applyHelpdeskEvent, isMuted, verifySolve } from "./agent.js";

const T0 = Date.parse("2026-12-01T10:00:00Z");
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = (s: number) => new Date(T0 + s * 1000);

function alert(fp: string, status: "firing" | "resolved"): AlertRecord {
  return {
    fingerprint: fp,
    status,
    labels: { alertname: "X", instance: fp },
    annotations: {},
    startsAt: iso(0),
    generatorURL: "",
    links: {},
    priority: "P2",
    rule: null,
  };
}

function incident(o: { firing?: number; resolved?: number; state?: Incident["helpdeskState"]; verifyAt?: number; autoReopens?: number } = {}): Incident {
  const alerts = [
    ...Array.from({ length: o.firing ?? 1 }, (_, i) => alert(`f${i}`, "firing")),
    ...Array.from({ length: o.resolved ?? 0 }, (_, i) => alert(`r${i}`, "resolved")),
  ];
  const i: Incident = {
    id: 1,
    dedupKey: "k",
    seq: 1,
    ticketKey: "ad-k-1",
    state: alerts.some((a) => a.status === "firing") ? "firing" : "resolved",
    priority: "P2",
    category: "function",
    rule: null,
    helpdesk: "builtin",
    onResolved: "solve",
    reopenWithinMs: 86_400_000,
    source: "alertmanager",
    receiver: "r",
    groupLabels: {},
    externalURL: "",
    truncatedAlerts: 0,
    alerts,
    openedAt: iso(0),
    updatedAt: iso(0),
    dueAt: iso(1800),
    recurrences: 0,
  };
  if (o.state) i.helpdeskState = o.state;
  if (o.verifyAt !== undefined) i.verifyAt = iso(o.verifyAt);
  if (o.autoReopens !== undefined) i.autoReopens = o.autoReopens;
  return i;
}

const solved = { status: "solved" as const, assignee: null, firstResponseAt: null, resolution: "fixed" as const, syncedAt: iso(0) };
const policy = (p: Partial<AgentPolicy> = {}): AgentPolicy => ({ ...DEFAULT_AGENT_POLICY, ...p });

describe("applyHelpdeskEvent", () => {
  // Each row: the rule of behaviour, the incident, the event, the policy → reason, and what the incident shows.
  it.each<[string, Incident, HelpdeskEvent, AgentPolicy, string, Record<string, unknown>]>([
    [
      "an agent's comment is the first response",
      incident(),
      { kind: "commented", at: iso(60), author: "alice", public: true, text: "looking" },
      policy(),
      "agent commented",
      { helpdeskState: { status: null, assignee: null, firstResponseAt: iso(60), resolution: null, syncedAt: iso(90) } },
    ],
    [
      "an assignment is the first response, and names the assignee",
      incident(),
      { kind: "assigned", at: iso(30), assignee: "bob" },
      policy(),
      "agent assigned",
      { helpdeskState: { status: null, assignee: "bob", firstResponseAt: iso(30), resolution: null, syncedAt: iso(90) } },
    ],
    [
      "what counts as a response is configurable: a comment need not",
      incident(),
      { kind: "commented", at: iso(60), author: "alice", public: false, text: "internal" },
      policy({ acknowledging: ["assignment"] }),
      "agent commented",
      { helpdeskState: { status: null, assignee: null, firstResponseAt: null, resolution: null, syncedAt: iso(90) } },
    ],
    [
      "the first response is kept when later actions come",
      incident({ state: { status: "active", assignee: "bob", firstResponseAt: iso(10), resolution: null, syncedAt: iso(10) } }),
      { kind: "status_changed", at: iso(60), status: "active" },
      policy(),
      "agent changed status",
      { helpdeskState: { status: "active", assignee: "bob", firstResponseAt: iso(10), resolution: null, syncedAt: iso(90) } },
    ],
    [
      "a priority an agent set is theirs",
      incident(),
      { kind: "priority_changed", at: iso(60), author: "alice", priority: "P4" },
      policy(),
      "agent set priority",
      { priority: "P4", agentPriority: "P4" },
    ],
    [
      "a solve while alerts fire is verified after verify_after",
      incident({ firing: 2 }),
      { kind: "status_changed", at: iso(60), author: "alice", status: "solved", resolution: "fixed" },
      policy(),
      "agent solved, verifying",
      { verifyAt: iso(90 + 300), agentSolvedAt: iso(60) },
    ],
    [
      "accept trusts the agent: no verification",
      incident(),
      { kind: "status_changed", at: iso(60), status: "solved" },
      policy({ onAgentSolved: "accept" }),
      "agent solved, accepted",
      { verifyAt: undefined },
    ],
    [
      "a solve after the alerts resolved needs no verification",
      incident({ firing: 0, resolved: 1 }),
      { kind: "status_changed", at: iso(60), status: "solved" },
      policy(),
      "agent solved",
      { verifyAt: undefined, agentSolvedAt: iso(60) },
    ],
    [
      "won't fix mutes re-fires for mute_for, and is not verified",
      incident(),
      { kind: "status_changed", at: iso(60), status: "solved", resolution: "wont_fix" },
      policy({ muteForMs: 3_600_000 }),
      "won't fix, muted",
      { mutedUntil: iso(90 + 3600), verifyAt: undefined },
    ],
    [
      "won't fix with on_wont_fix: ignore is any solve",
      incident(),
      { kind: "status_changed", at: iso(60), status: "solved", resolution: "wont_fix" },
      policy({ onWontFix: "ignore" }),
      "agent solved, verifying",
      { mutedUntil: undefined, verifyAt: iso(390) },
    ],
    [
      "an agent taking a solved ticket back cancels its verification",
      incident({ state: solved, verifyAt: 390 }),
      { kind: "status_changed", at: iso(120), status: "active" },
      policy(),
      "agent reopened",
      { verifyAt: undefined, agentSolvedAt: undefined },
    ],
    [
      "an agent taking a won't-fix back ends its mute",
      { ...incident({ state: { ...solved, resolution: "wont_fix" } }), mutedUntil: iso(7200) },
      { kind: "status_changed", at: iso(120), status: "active" },
      policy(),
      "agent reopened",
      { mutedUntil: undefined },
    ],
    [
      "a won't-fix solved again as a fix ends the mute and is verified",
      { ...incident({ state: { ...solved, resolution: "wont_fix" } }), mutedUntil: iso(7200) },
      { kind: "status_changed", at: iso(120), status: "solved", resolution: "fixed" },
      policy(),
      "agent solved, verifying",
      { mutedUntil: undefined, verifyAt: iso(390) },
    ],
  ])("%s", (_why, before, event, p, reason, shows) => {
    const step = applyHelpdeskEvent(before, event, p, at(90));
    expect(step.reason).toBe(reason);
    expect(step.actions).toEqual([]);
    for (const [key, value] of Object.entries(shows)) expect(step.incident[key as keyof Incident], key).toEqual(value);
  });
});

describe("verifySolve", () => {
  it.each<[string, Incident, number, string, string[]]>([
    ["nothing scheduled, nothing to do", incident({ state: solved }), 400, "nothing to verify", []],
    ["not yet due", incident({ state: solved, verifyAt: 390 }), 300, "verification due later", []],
    ["the alerts resolved meanwhile: the fix held", incident({ firing: 0, resolved: 1, state: solved, verifyAt: 390 }), 400, "verification passed", []],
    ["alerts still fire: reopen, first of three", incident({ firing: 2, state: solved, verifyAt: 390 }), 400, "verification failed", ["verification failed"]],
    [
      "the third failed verification still reopens",
      incident({ state: solved, verifyAt: 390, autoReopens: 2 }),
      400,
      "verification failed",
      ["verification failed"],
    ],
    [
      "after max_auto_reopens, a person is asked to look and nothing reopens",
      incident({ state: solved, verifyAt: 390, autoReopens: 3 }),
      400,
      "verification given up",
      ["verification given up"],
    ],
  ])("%s", (_why, before, seconds, reason, actions) => {
    const step = verifySolve(before, policy(), at(seconds));
    expect(step.reason).toBe(reason);
    expect(step.actions.map((a) => a.kind)).toEqual(actions);
    if (reason !== "verification due later") expect(step.incident.verifyAt).toBeUndefined();
  });

  it("a failed verification counts the reopen, says which alerts fire, and the ticket is active again", () => {
    const step = verifySolve(incident({ firing: 2, state: solved, verifyAt: 390, autoReopens: 1 }), policy(), at(400));
    expect(step.incident.autoReopens).toBe(2);
    expect(step.incident.helpdeskState?.status).toBe("active");
    expect(step.actions).toEqual([{ kind: "verification failed", firing: step.incident.alerts, attempt: 2, max: 3 }]);
  });
});

describe("isMuted", () => {
  it.each([
    ["no won't fix", undefined, 100, false],
    ["within mute_for", 3600, 100, true],
    ["after mute_for", 3600, 3601, false],
  ])("%s", (_why, until, now, muted) => {
    const i = incident();
    if (until !== undefined) i.mutedUntil = iso(until);
    expect(isMuted(i, at(now))).toBe(muted);
  });
});

describe("agents' decisions fed back as Alertmanager silences", () => {
  const withSilences = policy({ silenceOnAckMs: 1_800_000, silenceOnWontFixMs: 3_600_000 });
  const acked = { status: "active" as const, assignee: null, firstResponseAt: iso(30), resolution: null, syncedAt: iso(30) };
  it.each<[string, Incident, HelpdeskEvent, AgentPolicy, AgentAction["kind"][], Incident["silence"] | undefined]>([
    [
      "the first response silences for silence_on_ack",
      incident(),
      { kind: "commented", at: iso(30), author: "alice", public: false, text: "on it" },
      withSilences,
      ["silence"],
      { reason: "ack", until: iso(90 + 1800), forMs: 1_800_000 },
    ],
    [
      "without silence_on_ack, no silence",
      incident(),
      { kind: "commented", at: iso(30), author: "alice", public: false, text: "on it" },
      policy(),
      [],
      undefined,
    ],
    [
      "a later response does not silence again",
      { ...incident({ state: acked }), silence: { reason: "ack", until: iso(1830) } },
      { kind: "commented", at: iso(60), author: "bob", public: false, text: "me too" },
      withSilences,
      [],
      { reason: "ack", until: iso(1830) },
    ],
    [
      "a won't-fix silences for silence_on_wont_fix",
      incident(),
      { kind: "status_changed", at: iso(60), status: "solved", resolution: "wont_fix" },
      withSilences,
      ["silence"],
      { reason: "wont_fix", until: iso(90 + 3600) },
    ],
    [
      "the solve of an acknowledged ticket expires its silence",
      { ...incident({ state: acked }), silence: { reason: "ack", until: iso(1830) } },
      { kind: "status_changed", at: iso(60), status: "solved", resolution: "fixed" },
      withSilences,
      ["unsilence"],
      undefined,
    ],
    [
      "the agent taking a won't-fix back expires its silence",
      { ...incident({ state: { ...solved, resolution: "wont_fix" } }), silence: { reason: "wont_fix", until: iso(3690) } },
      { kind: "status_changed", at: iso(60), status: "active" },
      withSilences,
      ["unsilence"],
      undefined,
    ],
  ])("%s", (_why, before, event, p, actions, silence) => {
    const step = applyHelpdeskEvent(before, event, p, at(90));
    expect(step.actions.map((a) => a.kind)).toEqual(actions);
    expect(step.incident.silence).toEqual(silence);
  });

  it("a failed verification's reopen expires the silence; the monitoring's own answer decides what still fires", () => {
    const silenced: Incident = { ...incident({ firing: 0, resolved: 1, state: solved, verifyAt: 390 }), silence: { reason: "wont_fix", until: iso(7200) } };
    // alertdesk saw the alert resolve, but the Alertmanager says it still fires (silenced).
    const fromMonitoring = [{ ...silenced.alerts[0], status: "firing" as const }] as AlertRecord[];
    const step = verifySolve(silenced, policy(), at(400), fromMonitoring);
    expect(step.reason).toBe("verification failed");
    expect(step.actions.map((a) => a.kind)).toEqual(["verification failed", "unsilence"]);
    expect(step.incident.silence).toBeUndefined();
    expect(verifySolve(silenced, policy(), at(400)).reason).toBe("verification passed");
  });
});
