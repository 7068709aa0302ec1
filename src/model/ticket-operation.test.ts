import { describe, expect, it } from "vitest";
import { deliveryRank, type TicketOperation } from "./ticket-operation.js";

const body = (text: string) => [{ kind: "paragraph" as const, text }];
const open = (priority: "P1" | "P2" | "P3" | "P4"): TicketOperation => ({
  op: "open",
  ticketKey: "k",
  dedupKey: "d",
  title: "t",
  body: [],
  priority,
  category: "function",
  dueAt: "2026-12-01T00:00:00Z",
  labels: {},
  tags: [],
  fields: {},
});

describe("deliveryRank", () => {
  it.each([
    ["a P1 open", open("P1"), 0],
    ["a P4 open", open("P4"), 3],
    ["a P2 reopen", { op: "reopen", body: body("Fired again"), priority: "P2" } as TicketOperation, 1],
    ["a resolve", { op: "resolve", body: body("Resolved"), solve: true } as TicketOperation, 4],
    ["a priority raise", { op: "comment", body: body("joined"), priority: "P1" } as TicketOperation, 5],
    ["an escalation", { op: "comment", body: body("Escalation: no first response within 30m") } as TicketOperation, 5],
    ["a comment", { op: "comment", body: body("1 alert joined the incident:") } as TicketOperation, 6],
    ["a silence", { op: "silence", action: "create", body: [], marker: "k", matchers: [], comment: "c" } as TicketOperation, 6],
  ])("%s → %i", (_name, op, rank) => {
    expect(deliveryRank(op)).toBe(rank);
  });
});
