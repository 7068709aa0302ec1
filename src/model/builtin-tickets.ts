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
  comments: BuiltinComment[];
  createdAt: string;
  updatedAt: string;
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
  listTickets(query: { status?: BuiltinStatus; limit: number }): Promise<BuiltinTicket[]>;
}
