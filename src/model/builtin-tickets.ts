import type { Category, Priority } from "./priority.js";

export type BuiltinStatus = "open" | "solved";

export interface BuiltinComment {
  body: string;
  createdAt: string;
}

/** A ticket of the built-in helpdesk, as `GET /api/tickets` shows it. */
export interface BuiltinTicket {
  id: number;
  key: string;
  subject: string;
  body: string;
  priority: Priority;
  status: BuiltinStatus;
  category: Category;
  dueAt: string;
  labels: Record<string, string>;
  tags: string[];
  assigneeGroup: string | null;
  fields: Record<string, string | number | boolean>;
  /** Oldest first; in a page of tickets only the latest ones (see TicketQuery.comments). */
  comments: BuiltinComment[];
  /** How many older comments `comments` leaves out (absent when it has them all). */
  commentsOmitted?: number;
  createdAt: string;
  updatedAt: string;
}

/** A page of tickets, newest first (the stores' PageQuery, with the ticket's status). */
export interface TicketQuery {
  status?: BuiltinStatus;
  limit: number;
  /** Only tickets with a smaller id (the previous page's `next`). */
  before?: number;
  /** Fewer tickets once their stored size passes this (never none). */
  maxBytes?: number;
  /** Only each ticket's latest comments, this many (default: all). */
  comments?: number;
}

export interface NewBuiltinTicket {
  key: string;
  subject: string;
  body: string;
  priority: Priority;
  category: Category;
  dueAt: string;
  labels: Record<string, string>;
  tags: string[];
  assigneeGroup?: string;
  fields: Record<string, string | number | boolean>;
}

/**
 * Where the built-in helpdesk keeps its tickets (the service's own store implements it).
 * Every write is idempotent, so a delivery retried after a crash changes nothing twice.
 */
export interface BuiltinTicketBook {
  /** Creates the ticket, or returns the existing one with the same key. */
  createTicket(ticket: NewBuiltinTicket, now: Date): Promise<{ id: number }>;
  /** Adds a comment (once per idempotency key) and applies the status or priority change; false if no such ticket. */
  updateTicket(id: number, update: { comment: string; idempotencyKey: string; status?: BuiltinStatus; priority?: Priority }, now: Date): Promise<boolean>;
  findTicketByKey(key: string): Promise<{ id: number } | undefined>;
  /** A page of tickets, newest first; `next` is the `before` of the following page, null on the last. */
  pageTickets(query: TicketQuery): Promise<{ items: BuiltinTicket[]; next: number | null }>;
  /** The items of pageTickets. */
  listTickets(query: TicketQuery): Promise<BuiltinTicket[]>;
}
