import type { TicketRef } from "../model/incident.js";
import type { CommentUpdate, OpenTicket, ReopenUpdate, ResolveUpdate } from "../model/ticket-operation.js";

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
