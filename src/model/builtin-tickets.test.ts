import { describe, expect, it } from "vitest";
import { type AgentAct, agentChange, type BuiltinTicket } from "./builtin-tickets.js";

type Columns = Pick<BuiltinTicket, "status" | "assignee" | "priority" | "resolution" | "firstResponseAt">;
const fresh: Columns = { status: "open", assignee: null, priority: "P3", resolution: null, firstResponseAt: null };
const now = new Date("2026-11-25T06:10:00Z");
const at = now.toISOString();

describe("an agent's act on a built-in ticket", () => {
  const table: [string, Columns, AgentAct, Partial<Columns>, string[]][] = [
    ["a comment is the first response", fresh, { author: "alice", comment: { body: "on it", public: true } }, { firstResponseAt: at }, ["commented"]],
    ["an assignment is the first response", fresh, { author: "alice", assignee: "bob" }, { assignee: "bob", firstResponseAt: at }, ["assigned"]],
    ["an unassignment is no response", fresh, { author: "alice", assignee: null }, { firstResponseAt: null }, []],
    ["a move to open is the first response", fresh, { author: "alice", status: "open" }, { status: "open", firstResponseAt: at }, ["status_changed"]],
    [
      "a solve without a resolution is a fix",
      fresh,
      { author: "alice", status: "solved" },
      { status: "solved", resolution: "fixed", firstResponseAt: null },
      ["status_changed"],
    ],
    ["a resolution alone solves", fresh, { author: "alice", resolution: "wont_fix" }, { status: "solved", resolution: "wont_fix" }, ["status_changed"]],
    [
      "a reopen clears the resolution",
      { ...fresh, status: "solved", resolution: "fixed" },
      { author: "alice", status: "open" },
      { status: "open", resolution: null },
      ["status_changed"],
    ],
    ["a priority change", fresh, { author: "alice", priority: "P1" }, { priority: "P1" }, ["priority_changed"]],
    ["the same priority changes nothing", fresh, { author: "alice", priority: "P3" }, {}, []],
    [
      "a later response keeps the first one",
      { ...fresh, firstResponseAt: "2026-11-25T06:00:00.000Z" },
      { author: "bob", comment: { body: "me too", public: false } },
      { firstResponseAt: "2026-11-25T06:00:00.000Z" },
      ["commented"],
    ],
    [
      "a comment on a closed ticket is kept",
      { ...fresh, status: "closed", resolution: "fixed" },
      { author: "alice", comment: { body: "for the record", public: false } },
      { status: "closed" },
      ["commented"],
    ],
  ];
  it.each(table)("%s", (_why, ticket, act, want, events) => {
    const change = agentChange(ticket, act, now);
    if ("refused" in change) throw new Error(change.refused);
    expect(change.set).toMatchObject(want);
    expect(change.events.map((e) => e.kind)).toEqual(events);
    for (const e of change.events) expect(e).toMatchObject({ at, author: act.author });
  });

  it.each<[string, AgentAct]>([
    ["a reopen", { author: "a", status: "open" }],
    ["an assignment", { author: "a", assignee: "b" }],
    ["a priority", { author: "a", priority: "P1" }],
  ])("a closed ticket is final: %s is refused", (_why, act) => {
    expect(agentChange({ ...fresh, status: "closed", resolution: "fixed" }, act, now)).toEqual({ refused: expect.stringContaining("closed") });
  });

  it("a solve reports the vocabulary's status and resolution", () => {
    const change = agentChange(fresh, { author: "alice", status: "closed", resolution: "duplicate" }, now);
    expect(change).toMatchObject({ events: [{ kind: "status_changed", status: "closed", resolution: "duplicate" }] });
  });
});
