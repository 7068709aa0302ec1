import { describe, expect, it } from "vitest";
import type { Incident } from "../model/incident.js";
import type { EscalationStep } from "../model/priority.js";
import { dueEscalations, nextEscalationAt, renewedSilence, responseDueAt, scheduled, silenceRenewalAt } from "./escalation.js";

const T0 = Date.parse("2026-12-01T10:00:00Z");
const iso = (min: number) => new Date(T0 + min * 60_000).toISOString();
const at = (min: number) => new Date(T0 + min * 60_000);

/** A P2 incident (target 30 min) whose ticket opened at minute 0. */
function incident(o: Partial<Incident> = {}): Incident {
  return {
    id: 1,
    dedupKey: "k",
    seq: 1,
    ticketKey: "ad-k-1",
    state: "firing",
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
    alerts: [],
    openedAt: iso(0),
    updatedAt: iso(0),
    dueAt: iso(30),
    responseTargetMs: 30 * 60_000,
    recurrences: 0,
    ...o,
  };
}

const PAGER: EscalationStep[] = [
  { after: { percentOfTarget: 100 }, raise: true, notify: "pager" },
  { after: { percentOfTarget: 200 }, raise: false, notify: "pager" },
];
const responded = (min: number) => ({ status: "active" as const, assignee: null, firstResponseAt: iso(min), resolution: null, syncedAt: iso(min) });

describe("dueEscalations", () => {
  // Each row: the rule of behaviour, the incident, the minute → the steps done, the priority after.
  it.each<[string, Incident, number, number[], string]>([
    ["before the target nothing is due", incident({ escalation: PAGER }), 29, [], "P2"],
    ["at 100 % of the target the first step, raising one priority", incident({ escalation: PAGER }), 30, [0], "P1"],
    [
      "each step once: the first done, the second not yet due",
      incident({ escalation: PAGER, escalations: [{ step: 0, at: iso(30) }], priority: "P1" }),
      45,
      [],
      "P1",
    ],
    ["at 200 % the second step", incident({ escalation: PAGER, escalations: [{ step: 0, at: iso(30) }], priority: "P1" }), 60, [1], "P1"],
    ["down through both due times: both at once, each once", incident({ escalation: PAGER }), 90, [0, 1], "P1"],
    ["without escalation: one step at 100 % that only comments", incident(), 31, [0], "P2"],
    ["escalation: [] turns it off", incident({ escalation: [] }), 500, [], "P2"],
    ["a fixed duration after the open", incident({ escalation: [{ after: { ms: 10 * 60_000 }, raise: false }] }), 10, [0], "P2"],
    ["a first response before the target stops the clock", incident({ escalation: PAGER, helpdeskState: responded(12) }), 90, [], "P2"],
    ["never over a priority an agent set", incident({ escalation: PAGER, agentPriority: "P2" }), 30, [0], "P2"],
    ["never above P1", incident({ escalation: PAGER, priority: "P1", responseTargetMs: 15 * 60_000 }), 15, [0], "P1"],
    ["a resolved incident escalates nothing", incident({ escalation: PAGER, state: "resolved" }), 90, [], "P2"],
    ["a deferred open (no ticket yet) has no clock", incident({ escalation: PAGER, deferredUntil: iso(120) }), 90, [], "P2"],
    [
      "once open_after passed, the clock runs from the deferred open",
      incident({ escalation: PAGER, deferredUntil: iso(5), clockStartedAt: iso(5) }),
      35,
      [0],
      "P1",
    ],
    [
      "a reopen starts a new clock: an old response does not stop it",
      incident({ escalation: PAGER, clockStartedAt: iso(100), helpdeskState: responded(12) }),
      130,
      [0],
      "P1",
    ],
  ])("%s", (_why, before, minute, steps, priority) => {
    const r = dueEscalations(before, at(minute));
    expect(r.escalations.map((e) => e.step)).toEqual(steps);
    expect(r.incident.priority).toBe(priority);
  });

  it("says which target was missed and by how much, and remembers what it did", () => {
    const r = dueEscalations(incident({ escalation: PAGER }), at(42));
    expect(r.escalations[0]).toEqual({ step: 0, targetMs: 30 * 60_000, lateMs: 12 * 60_000, raisedFrom: "P2", raisedTo: "P1", notify: "pager" });
    expect(r.incident.escalations).toEqual([{ step: 0, at: iso(42) }]);
    expect(dueEscalations(r.incident, at(43)).escalations).toEqual([]);
  });
});

describe("nextEscalationAt", () => {
  it.each<[string, Incident, number | undefined]>([
    ["the first step's due time", incident({ escalation: PAGER }), T0 + 30 * 60_000],
    ["the next step not done", incident({ escalation: PAGER, escalations: [{ step: 0, at: iso(30) }] }), T0 + 60 * 60_000],
    [
      "nothing once every step is done",
      incident({
        escalation: PAGER,
        escalations: [
          { step: 0, at: iso(30) },
          { step: 1, at: iso(60) },
        ],
      }),
      undefined,
    ],
    ["nothing after a response", incident({ escalation: PAGER, helpdeskState: responded(3) }), undefined],
  ])("%s", (_why, i, expected) => {
    expect(nextEscalationAt(i, at(1))).toBe(expected);
  });
});

describe("the escalation schedule", () => {
  const responded = { status: "active" as const, assignee: null, firstResponseAt: iso(5), resolution: null, syncedAt: iso(5) };
  it.each<[string, Partial<Incident>, number, string | undefined]>([
    ["no response yet: the first step, at the target", { escalation: PAGER }, 1, iso(30)],
    ["a step before the target comes first", { escalation: [{ after: { ms: 10 * 60_000 }, raise: false }] }, 1, iso(10)],
    ["no steps: the target still, to count the breach", { escalation: [] }, 1, iso(30)],
    ["no steps and the breach counted: nothing left", { escalation: [], breachedAt: iso(30) }, 31, undefined],
    ["step 0 done and breached: the next step", { escalation: PAGER, breachedAt: iso(30), escalations: [{ step: 0, at: iso(30) }] }, 31, iso(60)],
    ["a first response stops the clock", { escalation: PAGER, helpdeskState: responded }, 6, undefined],
    ["a resolved incident has no clock", { escalation: PAGER, state: "resolved" }, 1, undefined],
  ])("%s", (_why, o, minute, want) => {
    expect(scheduled(incident(o), at(minute)).escalateAt).toBe(want);
  });

  it("the breach is reported once per clock, with or without steps", () => {
    const first = dueEscalations(incident({ escalation: [] }), at(31));
    expect(first).toMatchObject({ reason: "breached", breached: true, escalations: [] });
    expect(first.incident.breachedAt).toBe(iso(31));
    expect(dueEscalations(first.incident, at(40))).toMatchObject({ reason: "nothing due", breached: false });
    expect(responseDueAt(incident())).toBe(at(30).getTime());
  });
});

describe("an acknowledgement's silence, extended while the ticket is worked on", () => {
  const active = { status: "active" as const, assignee: null, firstResponseAt: iso(5), resolution: null, syncedAt: iso(5) };
  const acked = (o: Partial<Incident> = {}) => incident({ helpdeskState: active, silence: { reason: "ack", until: iso(65), forMs: 3_600_000 }, ...o });
  it.each<[string, Incident, number | undefined]>([
    ["a quarter of its length before it ends", acked(), at(50).getTime()],
    ["not a won't-fix's", acked({ silence: { reason: "wont_fix", until: iso(65) } }), undefined],
    ["not once the ticket is solved", acked({ helpdeskState: { ...active, status: "solved" } }), undefined],
    ["not once the incident resolved", acked({ state: "resolved" }), undefined],
  ])("%s", (_why, i, want) => {
    expect(silenceRenewalAt(i)).toBe(want);
  });

  it("is extended by its length from now, and the schedule wakes for it", () => {
    expect(renewedSilence(acked(), at(49))).toBeUndefined();
    expect(renewedSilence(acked(), at(50))?.silence).toEqual({ reason: "ack", until: iso(110), forMs: 3_600_000 });
    expect(scheduled(acked({ helpdeskState: active, escalation: [], breachedAt: iso(30) }), at(31)).escalateAt).toBe(iso(50));
  });
});
