import { z } from "zod";
import { docSchema } from "./doc.js";
import { CATEGORIES, higherPriority, LEVELS, PRIORITIES } from "./priority.js";

/**
 * One helpdesk operation as it sits in the outbox: rendered content, ready to deliver.
 * Validated again when read back from the store (the store is a boundary too).
 */
export const ticketOperationSchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("open"),
    ticketKey: z.string(),
    dedupKey: z.string(),
    title: z.string(),
    body: docSchema,
    priority: z.enum(PRIORITIES),
    category: z.enum(CATEGORIES),
    dueAt: z.string(),
    labels: z.record(z.string(), z.string()),
    /** Routing from the rules, for the driver to map onto its helpdesk. */
    tags: z.array(z.string()).default([]),
    assigneeGroup: z.string().optional(),
    fields: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    impact: z.enum(LEVELS).optional(),
    urgency: z.enum(LEVELS).optional(),
  }),
  z.object({ op: z.literal("comment"), body: docSchema, priority: z.enum(PRIORITIES).optional() }),
  z.object({
    op: z.literal("resolve"),
    body: docSchema,
    solve: z.boolean(),
    /** An agent holds the ticket: a driver that assigns on solve (Zendesk's assignee_id) must leave it. */
    assigned: z.boolean().optional(),
  }),
  z.object({ op: z.literal("reopen"), body: docSchema, priority: z.enum(PRIORITIES) }),
  /**
   * Not a ticket write: a silence of the incident's alerts in every configured Alertmanager, created
   * (or found again by its marker, the ticket key in its comment) or expired.
   */
  z.object({
    op: z.literal("silence"),
    action: z.enum(["create", "expire"]),
    /** What the silence is for, as the deliveries list shows it. */
    body: docSchema,
    marker: z.string().min(1),
    matchers: z.array(z.object({ name: z.string().min(1), value: z.string() })),
    endsAt: z.string().optional(),
    comment: z.string(),
  }),
  /** Not a ticket write: an archive entry written to the external knowledge base (`knowledge_base:`), looked up by its title first. */
  z.object({
    op: z.literal("archive"),
    /** The built-in archive's entry, whose external url the delivery records. */
    entryId: z.number().int().positive(),
    title: z.string().min(1),
    body: docSchema,
    labels: z.array(z.string()),
  }),
  /** Not a ticket write: a webhook helpdesk told that an incident escalated (`notify:` of an escalation step). */
  z.object({
    op: z.literal("notify"),
    event: z.literal("escalation"),
    body: docSchema,
    ticketKey: z.string(),
    ticket: z.object({ id: z.string(), url: z.string().optional() }).nullable(),
    helpdesk: z.string(),
    priority: z.enum(PRIORITIES),
    raisedFrom: z.enum(PRIORITIES).optional(),
    step: z.number().int().min(0),
    targetMs: z.number(),
    lateMs: z.number(),
    labels: z.record(z.string(), z.string()),
  }),
]);
export type TicketOperation = z.infer<typeof ticketOperationSchema>;
export type OpenTicket = Extract<TicketOperation, { op: "open" }>;
export type CommentUpdate = Extract<TicketOperation, { op: "comment" }>;
export type ResolveUpdate = Extract<TicketOperation, { op: "resolve" }>;
export type ReopenUpdate = Extract<TicketOperation, { op: "reopen" }>;
export type NotifyOperation = Extract<TicketOperation, { op: "notify" }>;
export type SilenceOperation = Extract<TicketOperation, { op: "silence" }>;
export type ArchiveOperation = Extract<TicketOperation, { op: "archive" }>;

/** The outbox rows of silences name this instead of a helpdesk: they go to every configured Alertmanager. */
export const SILENCES_TARGET = "alertmanagers";
/** The outbox rows of archive entries name this: they go to the configured external knowledge base. */
export const KNOWLEDGE_BASE_TARGET = "knowledge_base";

/**
 * Folds consecutive comments queued for one ticket into one (oldest first), so a burst of changes
 * (a storm, or updates that waited behind a create or an outage) costs one helpdesk call, not one
 * per notification: Zendesk allows 30 updates per ticket per 10 minutes. The highest priority wins.
 */
export function mergeComments(comments: readonly CommentUpdate[]): CommentUpdate {
  const [first, ...rest] = comments;
  if (!first) throw new Error("mergeComments: nothing to merge");
  if (rest.length === 0) return first;
  const body = comments.flatMap((c, i) => (i === 0 ? c.body : [{ kind: "paragraph" as const, text: "———" }, ...c.body]));
  const priorities = comments.map((c) => c.priority).filter((p) => p !== undefined);
  const merged: CommentUpdate = { op: "comment", body };
  if (priorities.length > 0) merged.priority = priorities.reduce((a, b) => higherPriority(a, b));
  return merged;
}

/**
 * Which deliveries go first when the helpdesk's rate limit is the constraint (docs/reliability.md,
 * "Delivery order"): opens and reopens by priority (P1 0 … P4 3), then resolves (4), then priority
 * raises and escalations (5), then comments and the rest (6). The outbox claims due rows by this
 * rank, aged: every DELIVERY_AGING_MS a row waits moves it one step up, so nothing starves. Only
 * the head of each incident's queue is ever claimed, so per-incident order is untouched.
 */
export function deliveryRank(op: TicketOperation): number {
  switch (op.op) {
    case "open":
    case "reopen":
      return PRIORITIES.indexOf(op.priority);
    case "resolve":
      return 4;
    case "notify":
      return 5;
    case "comment": {
      const first = op.body.find((b) => b.kind === "paragraph");
      const escalation = first?.kind === "paragraph" && first.text.startsWith("Escalation:");
      return op.priority !== undefined || escalation ? 5 : 6;
    }
    default:
      return 6;
  }
}

/** How long a delivery waits for each step it moves up in the claim order (the stores' claim statements write it as 30000). */
export const DELIVERY_AGING_MS = 30_000;
