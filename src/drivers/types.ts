import { z } from "zod";
import type { TicketRef } from "../lifecycle/incident.js";
import type { FailureReason } from "../observability/metrics.js";
import { CATEGORIES, LEVELS, PRIORITIES } from "../rules/priority.js";
import { docSchema } from "../templates/doc.js";

export type { TicketRef };

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
  z.object({ op: z.literal("resolve"), body: docSchema, solve: z.boolean() }),
  z.object({ op: z.literal("reopen"), body: docSchema, priority: z.enum(PRIORITIES) }),
]);
export type TicketOperation = z.infer<typeof ticketOperationSchema>;
export type OpenTicket = Extract<TicketOperation, { op: "open" }>;
export type CommentUpdate = Extract<TicketOperation, { op: "comment" }>;
export type ResolveUpdate = Extract<TicketOperation, { op: "resolve" }>;
export type ReopenUpdate = Extract<TicketOperation, { op: "reopen" }>;

/** Per-attempt facts a driver may use: a stable key per operation, so a retry can be recognised. */
export interface DeliveryContext {
  idempotencyKey: string;
  attempt: number;
  /** The incident's correlation key, stamped on its ticket. */
  ticketKey: string;
}

/**
 * A helpdesk driver only delivers. Dedup, retry, rate limiting and ordering live in the outbox.
 * Every method either succeeds or throws a DeliveryError saying whether a retry can help.
 */
export interface HelpdeskDriver {
  readonly name: string;
  readonly type: string;
  open(ticket: OpenTicket, ctx: DeliveryContext): Promise<TicketRef>;
  comment(ref: TicketRef, update: CommentUpdate, ctx: DeliveryContext): Promise<void>;
  resolve(ref: TicketRef, update: ResolveUpdate, ctx: DeliveryContext): Promise<void>;
  /** May return a different ticket (a follow-up when the old one can no longer be reopened). */
  reopen(ref: TicketRef, update: ReopenUpdate, ctx: DeliveryContext): Promise<TicketRef>;
  /** Finds the ticket stamped with this correlation key, for recovery after an unknown outcome. */
  findByKey(ticketKey: string): Promise<TicketRef | undefined>;
  close?(): Promise<void>;
}

/** The one failure type of every driver: why it failed and whether retrying can help. */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  readonly reason: FailureReason;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryable: boolean; reason: FailureReason; retryAfterMs?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DeliveryError";
    this.retryable = options.retryable;
    this.reason = options.reason;
    this.retryAfterMs = options.retryAfterMs;
  }
}
