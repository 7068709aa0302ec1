import { describe, expect, it } from "vitest";
import type { Alert } from "../intake/notification.js";
import type { AlertDecision } from "../rules/evaluate.js";
import type { Priority } from "../rules/priority.js";
import type { OnResolved } from "../rules/schema.js";
import { type Observation, type Reason, type StepInput, type TicketAction, decide } from "./decide.js";
import type { Incident } from "./incident.js";

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
const firingAB: [number, Obs[]] = [10, [{ fp: "a", start: -5 }, { fp: "b", start: 8 }]];
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

const rows: Row[] = [
  { why: "a first firing alert opens an incident", before: [], now: 0, observations: [{ fp: "a", start: -5 }], reason: "first notification", actions: ["open"], state: "firing", created: true },
  { why: "a first notification that is already resolved opens nothing", before: [], now: 0, observations: [{ fp: "a", status: "resolved", start: -5, end: -1 }], reason: "resolved before seen", actions: [], stored: false },
  { why: "an unchanged repeat stores nothing and calls nobody", before: [firingA], now: 20, observations: [{ fp: "a", start: -5 }], reason: "unchanged", actions: [], stored: false },
  { why: "a new alert joining adds one comment", before: [firingA], now: 10, observations: [{ fp: "a", start: -5 }, { fp: "b", start: 8 }], reason: "alerts joined", actions: ["comment"], state: "firing" },
  { why: "one alert resolving while another fires adds one comment", before: [firingA, firingAB], now: 20, observations: [{ fp: "a", status: "resolved", start: -5, end: 18 }, { fp: "b", start: 8 }], reason: "alerts resolved, others firing", actions: ["comment"], state: "firing" },
  { why: "the last alert resolving resolves the incident", before: [firingA], now: 30, observations: [{ fp: "a", status: "resolved", start: -5, end: 28 }], reason: "all resolved", actions: ["resolve"], state: "resolved" },
  { why: "on_resolved: none resolves the incident without a helpdesk call", before: [firingA], now: 30, observations: [{ fp: "a", status: "resolved", start: -5, end: 28, onResolved: "none" }], reason: "all resolved", actions: [], state: "resolved", stored: true },
  { why: "a duplicate resolve (HA pair) does nothing", before: [firingA, resolvedA], now: 45, observations: [{ fp: "a", status: "resolved", start: -5, end: 28 }], reason: "duplicate", actions: [], stored: false },
  { why: "a stale firing copy of a resolved episode does not reopen", before: [firingA, resolvedA], now: 35, observations: [{ fp: "a", start: -5 }], reason: "stale", actions: [], stored: false },
  { why: "a re-fire (newer startsAt) within the window reopens the same ticket", before: [firingA, resolvedA], now: 60, observations: [{ fp: "a", start: 58 }], reason: "refired within window", actions: ["reopen"], state: "firing", created: false },
  { why: "a re-fire after the window opens a new incident", before: [firingA, resolvedA], now: 30 + 7200, observations: [{ fp: "a", start: 7220 }], reason: "refired after window", actions: ["open"], state: "firing", created: true },
  { why: "an older episode than the known one is stale", before: [[0, [{ fp: "a", start: 100 }]]], now: 10, observations: [{ fp: "a", start: 50 }], reason: "stale", actions: [], stored: false },
  { why: "a hotter alert joining raises the priority in the same comment", before: [firingA], now: 10, observations: [{ fp: "a", start: -5 }, { fp: "b", start: 8, priority: "P1" }], reason: "alerts joined", actions: ["comment"], priority: "P1" },
  { why: "an alert whose value now matches a hotter rule raises the priority", before: [firingA], now: 10, observations: [{ fp: "a", start: -5, priority: "P2", value: 97 }], reason: "priority raised", actions: ["comment"], priority: "P2" },
  { why: "priority is never lowered automatically", before: [[0, [{ fp: "a", start: -5, priority: "P1" }]]], now: 10, observations: [{ fp: "a", start: -5, priority: "P1" }, { fp: "b", start: 8, priority: "P4" }], reason: "alerts joined", actions: ["comment"], priority: "P1" },
  { why: "a changed value with no other change is recorded silently", before: [[0, [{ fp: "a", start: -5, value: 81 }]]], now: 20, observations: [{ fp: "a", start: -5, value: 85 }], reason: "recorded", actions: [], stored: true },
  { why: "a resolved alert re-delivered beside a firing one changes nothing", before: [firingA, firingAB, [20, [{ fp: "b", status: "resolved", start: 8, end: 18 }, { fp: "a", start: -5 }]]], now: 80, observations: [{ fp: "a", start: -5 }, { fp: "b", status: "resolved", start: 8, end: 18 }], reason: "duplicate", actions: [], stored: false },
  { why: "an alert that missed its resolve and fires with a newer startsAt stays firing silently", before: [firingA], now: 100, observations: [{ fp: "a", start: 90 }], reason: "recorded", actions: [], stored: true },
  { why: "the incident's priority is the highest of its firing alerts at open", before: [], now: 0, observations: [{ fp: "a", start: -5, priority: "P3" }, { fp: "b", start: -5, priority: "P2" }], reason: "first notification", actions: ["open"], priority: "P2" },
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
