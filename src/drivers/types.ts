import type { Doorbell, DoorbellRequest, ObservedEvent, TicketActivity } from "../model/helpdesk-event.js";
import type { TicketRef } from "../model/incident.js";
import type { CommentUpdate, NotifyOperation, OpenTicket, ReopenUpdate, ResolveUpdate } from "../model/ticket-operation.js";

/** Per-attempt facts a driver may use: a stable key per operation, so a retry can be recognised. */
export interface DeliveryContext {
  idempotencyKey: string;
  attempt: number;
  /** The incident's correlation key, stamped on its ticket. */
  ticketKey: string;
}

/** A helpdesk's limit on updates of one ticket: `updates` per `windowMs`. */
export interface TicketUpdateBudget {
  updates: number;
  windowMs: number;
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
  /** Tells the helpdesk about an incident that is not its ticket (an escalation's `notify:`); only the webhook has it. */
  notify?(operation: NotifyOperation, ctx: DeliveryContext): Promise<void>;
  /** The way back: what agents do on its tickets. Absent for a helpdesk that cannot tell. */
  readonly sync?: HelpdeskSync;
  /** Its `rate_limit` in requests per second (absent: unlimited): the outbox claims no further ahead than it can send. */
  readonly requestsPerSecond?: number;
  /** Updates one ticket may take per window (Zendesk: 30 per 10 minutes); absent: no such limit. */
  readonly ticketUpdateBudget?: TicketUpdateBudget;
  close?(): Promise<void>;
}

/**
 * How a helpdesk tells alertdesk what its agents did (docs/helpdesks/*.md). A helpdesk with no API
 * to read (the generic webhook) polls nothing and reads nothing: its callbacks carry the events. Every method reads; none
 * writes to the helpdesk. Events come in the vocabulary of model/helpdesk-event.ts, the helpdesk's own
 * statuses and resolutions mapped by the driver (its `resolutions:` config), oldest first, and never
 * include alertdesk's own writes (the driver knows the user it writes as).
 */
export interface HelpdeskSync {
  /**
   * Activity on the helpdesk's tickets since `cursor` (its own format, opaque to alertdesk), or since
   * `since` when there is no cursor yet. One page: `more` says another page is ready at once. Tickets
   * alertdesk did not open may be in it; the sync ignores them. The returned cursor may overlap the
   * last page (repeated events are stored once).
   */
  poll(cursor: string | undefined, since: Date): Promise<{ activity: TicketActivity[]; cursor: string; more?: boolean }>;
  /** Every agent action on one ticket, oldest first (after a doorbell rang for it). */
  readTicket(ref: TicketRef): Promise<ObservedEvent[]>;
  /** Verifies an inbound webhook (signature, replay window); throws DoorbellRejected. Absent: the helpdesk has no webhooks. */
  doorbell?(request: DoorbellRequest, now: Date): Doorbell;
  /** How often to poll (ms); the helpdesk's `poll_interval`. */
  readonly pollIntervalMs: number;
}
