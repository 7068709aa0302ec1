import { describe, expect, it } from "vitest";
import type { Alert } from "../model/alert.js";
import { DEFAULT_AGENT_POLICY, UNKNOWN_HELPDESK_STATE } from "../model/helpdesk-event.js";
import type { Incident, OnResolved } from "../model/incident.js";
import type { Priority } from "../model/priority.js";
import type { AlertDecision } from "../rules/evaluate.js";
import { decide, type Observation, type Reason, type Step, type StepInput, type TicketAction } from "./decide.js";

const T0 = Date.parse("2026-11-25T05:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();

interface Obs {
  fp: string;
  status?: "firing" | "resolved";
  start: number;
  end?: number;
  priority?: Priority;
  value?: number;
  reopenWithin?: number;
  onResolved?: OnResolved;
  openAfter?: number;
  flapThreshold?: number;
}

function obs(o: Obs): Observation {
  const alert: Alert = {
    fingerprint: o.fp,
    status: o.status ?? "firing",
    labels: { alertname: "X", instance: o.fp },
    annotations: {},
    startsAt: iso(o.start),
    generatorURL: "",
    links: {},
  };
  if (o.end !== undefined) alert.endsAt = iso(o.end);
  if (o.value !== undefined) alert.value = o.value;
  const decision: AlertDecision & { helpdesk: string } = {
    rule: null,
    ignore: false,
    priority: o.priority ?? "P3",
    category: "function",
    reopenWithinMs: (o.reopenWithin ?? 3600) * 1000,
    onResolved: o.onResolved ?? "solve",
    helpdesk: "builtin",
    openAfterMs: (o.openAfter ?? 0) * 1000,
    flapThreshold: o.flapThreshold ?? 3,
    flapWindowMs: 3_600_000,
    testNotifications: "record",
    escalation: [],
    similarIncidents: 3,
    archiveAfterMs: 120_000,
    agentPolicy: DEFAULT_AGENT_POLICY,
    matched: [],
    tags: [],
    fields: {},
  };
  return { alert, decision };
}

function input(...observations: Obs[]): StepInput {
  return {
    dedupKey: '{alertname="X"}',
    source: "alertmanager",
    receiver: "r",
    groupLabels: { alertname: "X" },
    externalURL: "",
    truncatedAlerts: 0,
    observations: observations.map(obs),
  };
}

/** Applies notifications in order (each at its own time) and returns the latest incident. */
function history(steps: [number, Obs[]][]): Incident | undefined {
  let incident: Incident | undefined;
  let id = 0;
  for (const [t, observations] of steps) {
    const step = decide(incident, input(...observations), at(t));
    if (step.incident) incident = { ...step.incident, id: step.created ? ++id : (incident?.id as number) };
  }
  return incident;
}

const firingA: [number, Obs[]] = [0, [{ fp: "a", start: -5 }]];
const firingAB: [number, Obs[]] = [
  10,
  [
    { fp: "a", start: -5 },
    { fp: "b", start: 8 },
  ],
];
const resolvedA: [number, Obs[]] = [30, [{ fp: "a", status: "resolved", start: -5, end: 28 }]];

interface Row {
  why: string;
  before: [number, Obs[]][];
  now: number;
  observations: Obs[];
  reason: Reason;
  actions: TicketAction["kind"][];
  state?: Incident["state"];
  priority?: Priority;
  created?: boolean;
  stored?: boolean;
}

/** An alert that fired and resolved `n` times after its first firing (each cycle 100 s apart). */
function flapCycles(n: number, flapThreshold = 3): [number, Obs[]][] {
  const steps: [number, Obs[]][] = [
    [0, [{ fp: "a", start: -5, flapThreshold }]],
    [20, [{ fp: "a", status: "resolved", start: -5, end: 18, flapThreshold }]],
  ];
  for (let i = 1; i <= n; i++) {
    steps.push([i * 100, [{ fp: "a", start: i * 100 - 5, flapThreshold }]]);
    steps.push([i * 100 + 20, [{ fp: "a", status: "resolved", start: i * 100 - 5, end: i * 100 + 18, flapThreshold }]]);
  }
  return steps;
}

const rows: Row[] = [
  {
    why: "a first firing alert opens an incident",
    before: [],
    now: 0,
    observations: [{ fp: "a", start: -5 }],
    reason: "first notification",
    actions: ["open"],
    state: "firing",
    created: true,
  },
  {
    why: "a first notification that is already resolved opens nothing",
    before: [],
    now: 0,
    observations: [{ fp: "a", status: "resolved", start: -5, end: -1 }],
    reason: "resolved before seen",
    actions: [],
    stored: false,
  },
  {
    why: "an unchanged repeat stores nothing and calls nobody",
    before: [firingA],
    now: 20,
    observations: [{ fp: "a", start: -5 }],
    reason: "unchanged",
    actions: [],
    stored: false,
  },
  {
    why: "a new alert joining adds one comment",
    before: [firingA],
    now: 10,
    observations: [
      { fp: "a", start: -5 },
      { fp: "b", start: 8 },
    ],
    reason: "alerts joined",
    actions: ["comment"],
    state: "firing",
  },
  {
    why: "one alert resolving while another fires adds one comment",
    before: [firingA, firingAB],
    now: 20,
    observations: [
      { fp: "a", status: "resolved", start: -5, end: 18 },
      { fp: "b", start: 8 },
    ],
    reason: "alerts resolved, others firing",
    actions: ["comment"],
    state: "firing",
  },
  {
    why: "the last alert resolving resolves the incident",
    before: [firingA],
    now: 30,
    observations: [{ fp: "a", status: "resolved", start: -5, end: 28 }],
    reason: "all resolved",
    actions: ["resolve"],
    state: "resolved",
  },
  {
    why: "on_resolved: none resolves the incident without a helpdesk call",
    before: [firingA],
    now: 30,
    observations: [{ fp: "a", status: "resolved", start: -5, end: 28, onResolved: "none" }],
    reason: "all resolved",
    actions: [],
    state: "resolved",
    stored: true,
  },
  {
    why: "a duplicate resolve (HA pair) does nothing",
    before: [firingA, resolvedA],
    now: 45,
    observations: [{ fp: "a", status: "resolved", start: -5, end: 28 }],
    reason: "duplicate",
    actions: [],
    stored: false,
  },
  {
    why: "a stale firing copy of a resolved episode does not reopen",
    before: [firingA, resolvedA],
    now: 35,
    observations: [{ fp: "a", start: -5 }],
    reason: "stale",
    actions: [],
    stored: false,
  },
  {
    why: "a re-fire (newer startsAt) within the window reopens the same ticket",
    before: [firingA, resolvedA],
    now: 60,
    observations: [{ fp: "a", start: 58 }],
    reason: "refired within window",
    actions: ["reopen"],
    state: "firing",
    created: false,
  },
  {
    why: "a re-fire after the window opens a new incident",
    before: [firingA, resolvedA],
    now: 30 + 7200,
    observations: [{ fp: "a", start: 7220 }],
    reason: "refired after window",
    actions: ["open"],
    state: "firing",
    created: true,
  },
  {
    why: "an older episode than the known one is stale",
    before: [[0, [{ fp: "a", start: 100 }]]],
    now: 10,
    observations: [{ fp: "a", start: 50 }],
    reason: "stale",
    actions: [],
    stored: false,
  },
  {
    why: "a hotter alert joining raises the priority in the same comment",
    before: [firingA],
    now: 10,
    observations: [
      { fp: "a", start: -5 },
      { fp: "b", start: 8, priority: "P1" },
    ],
    reason: "alerts joined",
    actions: ["comment"],
    priority: "P1",
  },
  {
    why: "an alert whose value now matches a hotter rule raises the priority",
    before: [firingA],
    now: 10,
    observations: [{ fp: "a", start: -5, priority: "P2", value: 97 }],
    reason: "priority raised",
    actions: ["comment"],
    priority: "P2",
  },
  {
    why: "priority is never lowered automatically",
    before: [[0, [{ fp: "a", start: -5, priority: "P1" }]]],
    now: 10,
    observations: [
      { fp: "a", start: -5, priority: "P1" },
      { fp: "b", start: 8, priority: "P4" },
    ],
    reason: "alerts joined",
    actions: ["comment"],
    priority: "P1",
  },
  {
    why: "a changed value with no other change is recorded silently",
    before: [[0, [{ fp: "a", start: -5, value: 81 }]]],
    now: 20,
    observations: [{ fp: "a", start: -5, value: 85 }],
    reason: "recorded",
    actions: [],
    stored: true,
  },
  {
    why: "a resolved alert re-delivered beside a firing one changes nothing",
    before: [
      firingA,
      firingAB,
      [
        20,
        [
          { fp: "b", status: "resolved", start: 8, end: 18 },
          { fp: "a", start: -5 },
        ],
      ],
    ],
    now: 80,
    observations: [
      { fp: "a", start: -5 },
      { fp: "b", status: "resolved", start: 8, end: 18 },
    ],
    reason: "duplicate",
    actions: [],
    stored: false,
  },
  {
    why: "an alert that missed its resolve and fires with a newer startsAt stays firing silently",
    before: [firingA],
    now: 100,
    observations: [{ fp: "a", start: 90 }],
    reason: "recorded",
    actions: [],
    stored: true,
  },
  {
    why: "open_after: a new alert younger than open_after defers the open",
    before: [],
    now: 0,
    observations: [{ fp: "a", start: -5, openAfter: 60 }],
    reason: "open deferred",
    actions: ["open"],
    state: "firing",
    created: true,
  },
  {
    why: "open_after: an alert already older than open_after opens at once",
    before: [],
    now: 0,
    observations: [{ fp: "a", start: -120, openAfter: 60 }],
    reason: "first notification",
    actions: ["open"],
    created: true,
  },
  {
    why: "open_after: resolved before it passed, the open is withdrawn and no ticket exists",
    before: [[0, [{ fp: "a", start: -5, openAfter: 60 }]]],
    now: 20,
    observations: [{ fp: "a", status: "resolved", start: -5, end: 18, openAfter: 60 }],
    reason: "resolved before open_after",
    actions: ["cancel"],
    state: "resolved",
  },
  {
    why: "open_after: an alert joining while the open waits renders the open again",
    before: [[0, [{ fp: "a", start: -5, openAfter: 60 }]]],
    now: 20,
    observations: [
      { fp: "a", start: -5, openAfter: 60 },
      { fp: "b", start: 15, openAfter: 60 },
    ],
    reason: "deferred open updated",
    actions: ["open"],
    state: "firing",
  },
  {
    why: "open_after: once it passed, changes are comments as usual",
    before: [[0, [{ fp: "a", start: -5, openAfter: 60 }]]],
    now: 90,
    observations: [
      { fp: "a", start: -5, openAfter: 60 },
      { fp: "b", start: 85, openAfter: 60 },
    ],
    reason: "alerts joined",
    actions: ["comment"],
  },
  {
    why: "open_after: a re-fire of an incident that never had a ticket defers a new open",
    before: [
      [0, [{ fp: "a", start: -5, openAfter: 60 }]],
      [20, [{ fp: "a", status: "resolved", start: -5, end: 18, openAfter: 60 }]],
    ],
    now: 40,
    observations: [{ fp: "a", start: 38, openAfter: 60 }],
    reason: "open deferred",
    actions: ["open"],
    created: false,
  },
  {
    why: "flapping: the third re-fire within the flap window reopens once, with a note",
    before: flapCycles(2),
    now: 1000,
    observations: [{ fp: "a", start: 990 }],
    reason: "flapping",
    actions: ["reopen"],
    state: "firing",
  },
  {
    why: "flapping: a resolve while flapping is a comment; the ticket stays open",
    before: [...flapCycles(2), [1000, [{ fp: "a", start: 990 }]]],
    now: 1010,
    observations: [{ fp: "a", status: "resolved", start: 990, end: 1005 }],
    reason: "flapping",
    actions: ["resolve"],
    state: "resolved",
  },
  {
    why: "flapping: a re-fire after a kept-open resolve is a comment, not a reopen",
    before: [...flapCycles(2), [1000, [{ fp: "a", start: 990 }]], [1010, [{ fp: "a", status: "resolved", start: 990, end: 1005 }]]],
    now: 1020,
    observations: [{ fp: "a", start: 1015 }],
    reason: "flapping",
    actions: ["comment"],
    state: "firing",
  },
  {
    why: "flap_threshold: 0 never flaps",
    before: flapCycles(5, 0),
    now: 2000,
    observations: [{ fp: "a", start: 1990, flapThreshold: 0 }],
    reason: "refired within window",
    actions: ["reopen"],
  },
  {
    why: "the incident's priority is the highest of its firing alerts at open",
    before: [],
    now: 0,
    observations: [
      { fp: "a", start: -5, priority: "P3" },
      { fp: "b", start: -5, priority: "P2" },
    ],
    reason: "first notification",
    actions: ["open"],
    priority: "P2",
  },
];

describe("decide", () => {
  it.each(rows.map((r) => [r.why, r] as const))("%s", (_why, row) => {
    const prev = history(row.before);
    const step = decide(prev, input(...row.observations), at(row.now));
    expect(step.reason).toBe(row.reason);
    expect(step.actions.map((a) => a.kind)).toEqual(row.actions);
    if (row.stored !== undefined) expect(step.incident !== undefined).toBe(row.stored);
    if (row.state) expect(step.incident?.state).toBe(row.state);
    if (row.priority) expect(step.incident?.priority).toBe(row.priority);
    if (row.created !== undefined) expect(step.created).toBe(row.created);
  });

  it("a reopen counts recurrences and keeps the ticket key", () => {
    const prev = history([firingA, resolvedA]) as Incident;
    const step = decide(prev, input({ fp: "a", start: 58 }), at(60));
    expect(step.incident).toMatchObject({ recurrences: 1, ticketKey: prev.ticketKey, seq: 1 });
    expect(step.incident?.resolvedAt).toBeUndefined();
  });

  it("a new incident after the window links the previous ticket", () => {
    const prev = { ...(history([firingA, resolvedA]) as Incident), ticket: { id: "42" } };
    const step = decide(prev, input({ fp: "a", start: 7220 }), at(7230));
    expect(step.incident).toMatchObject({ seq: 2, previousTicketKey: prev.ticketKey });
    expect(step.incident?.ticketKey).not.toBe(prev.ticketKey);
    expect(step.actions[0]).toEqual({ kind: "open", previous: { ticketKey: prev.ticketKey, ticket: { id: "42" } } });
  });

  it("the reopen window is measured from alertdesk's resolve time, with the current rule's window", () => {
    const prev = history([firingA, resolvedA]) as Incident;
    expect(decide(prev, input({ fp: "a", start: 80, reopenWithin: 60 }), at(90)).reason).toBe("refired within window");
    expect(decide(prev, input({ fp: "a", start: 80, reopenWithin: 60 }), at(91)).reason).toBe("refired after window");
  });

  it("the response due time follows the priority's target", () => {
    const step = decide(undefined, input({ fp: "a", start: -5, priority: "P1" }), at(0));
    expect(step.incident?.dueAt).toBe(iso(15 * 60));
  });

  it("is pure: the same input gives the same output and the previous incident is not mutated", () => {
    const prev = history([firingA]) as Incident;
    const frozen = JSON.stringify(prev);
    const a = decide(prev, input({ fp: "a", start: -5 }, { fp: "b", start: 8 }), at(10));
    const b = decide(prev, input({ fp: "a", start: -5 }, { fp: "b", start: 8 }), at(10));
    expect(a).toEqual(b);
    expect(JSON.stringify(prev)).toBe(frozen);
  });
});

describe("flap damping details", () => {
  it("a resolve while flapping does not solve the ticket, and says why", () => {
    const prev = history([...flapCycles(2), [1000, [{ fp: "a", start: 990 }]]]);
    const step = decide(prev, input({ fp: "a", status: "resolved", start: 990, end: 1005 }), at(1010));
    expect(step.actions).toMatchObject([{ kind: "resolve", solve: false, flap: { refires: 3, windowMs: 3_600_000 } }]);
    expect(step.incident?.keptOpen).toBe(true);
  });

  it("once the flap window has passed, a resolve solves again", () => {
    const prev = history([...flapCycles(2), [1000, [{ fp: "a", start: 990 }]]]);
    const step = decide(prev, input({ fp: "a", status: "resolved", start: 990, end: 5000 }), at(5010));
    expect(step.actions).toMatchObject([{ kind: "resolve", solve: true }]);
    expect(step.incident?.keptOpen).toBeUndefined();
  });

  it("a deferred open is due open_after after the earliest firing alert started", () => {
    const step = decide(undefined, input({ fp: "a", start: -5, openAfter: 60 }), at(0));
    expect(step.actions).toEqual([{ kind: "open", notBefore: iso(55) }]);
  });
});

describe("agents' decisions in the lifecycle", () => {
  const firing = () => history([firingA]) as Incident;
  const resolved = () => history([firingA, resolvedA]) as Incident;
  const muted = (i: Incident, until: number) => ({
    ...i,
    mutedUntil: iso(until),
    helpdeskState: { ...UNKNOWN_HELPDESK_STATE, status: "solved" as const, resolution: "wont_fix" as const },
  });
  const table: {
    why: string;
    prev: () => Incident;
    now: number;
    observations: Obs[];
    reason: Reason;
    actions: TicketAction["kind"][];
    check?: (step: Step) => void;
  }[] = [
    {
      why: "won't fix, muted: an alert joining comments nothing",
      prev: () => muted(firing(), 10_000),
      now: 10,
      observations: [
        { fp: "a", start: -5 },
        { fp: "b", start: 8 },
      ],
      reason: "muted",
      actions: [],
      check: (s) => expect(s.incident?.alerts.map((a) => a.fingerprint)).toEqual(["a", "b"]),
    },
    {
      why: "won't fix, muted: a re-fire within the window reopens nothing",
      prev: () => muted(resolved(), 10_000),
      now: 60,
      observations: [{ fp: "a", start: 58 }],
      reason: "muted",
      actions: [],
      check: (s) => expect(s.incident?.state).toBe("firing"),
    },
    {
      why: "won't fix, muted: a re-fire after the reopen window opens no new ticket either",
      prev: () => muted(resolved(), 100_000),
      now: 9000,
      observations: [{ fp: "a", start: 8990 }],
      reason: "muted",
      actions: [],
      check: (s) => expect(s.created).toBe(false),
    },
    {
      why: "won't fix, muted: the resolve solves nothing",
      prev: () => muted(firing(), 10_000),
      now: 30,
      observations: [{ fp: "a", status: "resolved", start: -5, end: 28 }],
      reason: "muted",
      actions: [],
      check: (s) => expect(s.incident?.state).toBe("resolved"),
    },
    {
      why: "the mute ran out: a re-fire reopens as before, and the won't-fix no longer stands",
      prev: () => muted(resolved(), 50),
      now: 60,
      observations: [{ fp: "a", start: 58 }],
      reason: "refired within window",
      actions: ["reopen"],
      check: (s) => {
        expect(s.incident?.mutedUntil).toBeUndefined();
        expect(s.incident?.helpdeskState).toMatchObject({ status: "active", resolution: null });
      },
    },
    {
      why: "an agent's priority is never raised: a P1 alert joining comments without a raise",
      prev: () => ({ ...firing(), priority: "P4" as const, agentPriority: "P4" as const }),
      now: 10,
      observations: [
        { fp: "a", start: -5 },
        { fp: "b", start: 8, priority: "P1" },
      ],
      reason: "alerts joined",
      actions: ["comment"],
      check: (s) => {
        expect(s.incident?.priority).toBe("P4");
        expect(s.actions[0]).not.toHaveProperty("raisedFrom");
      },
    },
    {
      why: "an agent's priority is kept by a reopen too",
      prev: () => ({ ...resolved(), priority: "P4" as const, agentPriority: "P4" as const }),
      now: 60,
      observations: [{ fp: "a", start: 58, priority: "P1" }],
      reason: "refired within window",
      actions: ["reopen"],
      check: (s) => expect(s.incident?.priority).toBe("P4"),
    },
    {
      why: "a closed ticket is final: a re-fire within the window opens a follow-up that links it",
      prev: () => ({ ...resolved(), ticket: { id: "7" }, helpdeskState: { ...UNKNOWN_HELPDESK_STATE, status: "closed" as const } }),
      now: 60,
      observations: [{ fp: "a", start: 58 }],
      reason: "ticket closed",
      actions: ["open"],
      check: (s) => {
        expect(s.created).toBe(true);
        expect(s.actions[0]).toMatchObject({ kind: "open", previous: { ticket: { id: "7" } } });
      },
    },
    {
      why: "alertdesk's reopen expires the silence an agent's decision started",
      prev: () => ({ ...resolved(), silence: { reason: "wont_fix" as const, until: iso(90_000) } }),
      now: 60,
      observations: [{ fp: "a", start: 58 }],
      reason: "refired within window",
      actions: ["reopen", "unsilence"],
      check: (s) => expect(s.incident?.silence).toBeUndefined(),
    },
    {
      why: "the resolve of an acknowledged incident expires its silence; a won't-fix's stays",
      prev: () => ({ ...firing(), silence: { reason: "ack" as const, until: iso(9000) } }),
      now: 30,
      observations: [{ fp: "a", status: "resolved", start: -5, end: 28 }],
      reason: "all resolved",
      actions: ["resolve", "unsilence"],
      check: (s) => expect(s.incident?.silence).toBeUndefined(),
    },
    {
      why: "a ticket an agent closed while alerts fire gets nothing more: a join records only",
      prev: () => ({ ...firing(), ticket: { id: "7" }, helpdeskState: { ...UNKNOWN_HELPDESK_STATE, status: "closed" as const } }),
      now: 10,
      observations: [
        { fp: "a", start: -5 },
        { fp: "b", start: 8 },
      ],
      reason: "ticket closed",
      actions: [],
      check: (s) => expect(s.incident?.alerts).toHaveLength(2),
    },
    {
      why: "a ticket an agent closed while alerts fire: the resolve records only",
      prev: () => ({ ...firing(), ticket: { id: "7" }, helpdeskState: { ...UNKNOWN_HELPDESK_STATE, status: "closed" as const } }),
      now: 30,
      observations: [{ fp: "a", status: "resolved", start: -5, end: 28 }],
      reason: "ticket closed",
      actions: [],
      check: (s) => expect(s.incident?.state).toBe("resolved"),
    },
    {
      why: "the alerts resolve after an agent's solve: the monitoring confirms it, no second solve",
      prev: () => ({ ...firing(), agentSolvedAt: iso(20), verifyAt: iso(320), helpdeskState: { ...UNKNOWN_HELPDESK_STATE, status: "solved" as const } }),
      now: 30,
      observations: [{ fp: "a", status: "resolved", start: -5, end: 28 }],
      reason: "all resolved",
      actions: ["resolve"],
      check: (s) => {
        expect(s.actions[0]).toMatchObject({ kind: "resolve", solve: false, confirms: { solvedAt: iso(20) } });
        expect(s.incident?.verifyAt).toBeUndefined();
      },
    },
    {
      why: "a re-fire after an agent's solve reopens, and the solve no longer stands",
      prev: () => ({ ...resolved(), agentSolvedAt: iso(20), helpdeskState: { ...UNKNOWN_HELPDESK_STATE, status: "solved" as const } }),
      now: 60,
      observations: [{ fp: "a", start: 58 }],
      reason: "refired within window",
      actions: ["reopen"],
      check: (s) => {
        expect(s.incident?.agentSolvedAt).toBeUndefined();
        expect(s.incident?.helpdeskState?.status).toBe("active");
      },
    },
  ];
  it.each(table.map((r) => [r.why, r] as const))("%s", (_why, row) => {
    const step = decide(row.prev(), input(...row.observations), at(row.now));
    expect(step.reason).toBe(row.reason);
    expect(step.actions.map((a) => a.kind)).toEqual(row.actions);
    row.check?.(step);
  });
});

describe("value history of an alert episode", () => {
  it("keeps the first and the peak value, and on small incidents each value seen with when", () => {
    const incident = history([
      [0, [{ fp: "a", start: -5, value: 85 }]],
      [60, [{ fp: "a", start: -5, value: 97 }]],
      [120, [{ fp: "a", start: -5, value: 90 }]],
      [180, [{ fp: "a", start: -5, value: 90 }]],
    ]);
    const a = incident?.alerts[0];
    expect(a).toMatchObject({ value: 90, firstValue: 85, peakValue: 97 });
    expect(a?.samples).toEqual([
      [iso(-5), 85],
      [iso(60), 97],
      [iso(120), 90],
    ]);
  });

  it("a new episode (a later startsAt) starts its history again", () => {
    const incident = history([
      [0, [{ fp: "a", start: -5, value: 85 }]],
      [60, [{ fp: "a", start: -5, value: 97 }]],
      [120, [{ fp: "a", status: "resolved", start: -5, end: 110, value: 40 }]],
      [200, [{ fp: "a", start: 190, value: 82 }]],
    ]);
    const a = incident?.alerts[0];
    expect(a?.value).toBe(82);
    expect(a?.firstValue).toBeUndefined();
    expect(a?.peakValue).toBeUndefined();
    expect(a?.samples).toBeUndefined();
  });
});
