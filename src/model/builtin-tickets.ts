import type { HelpdeskEvent, Resolution, TicketStatus } from "./helpdesk-event.js";
import type { Category, Priority } from "./priority.js";

/** A built-in ticket's status. `closed` is final: a later re-fire opens a follow-up ticket that links it. */
export const BUILTIN_STATUSES = ["open", "pending", "solved", "closed"] as const;
export type BuiltinStatus = (typeof BUILTIN_STATUSES)[number];

/** Who writes alertdesk's own comments on the built-in helpdesk (its agents are everyone else). */
export const ALERTDESK_AUTHOR = "alertdesk";

export interface BuiltinComment {
  body: string;
  /** `alertdesk` for alertdesk's own comments, else the agent's name. */
  author: string;
  /** Visible to the requester (alertdesk's own comments are internal notes). */
  public: boolean;
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
  /** The agent the ticket is assigned to; alertdesk never sets it. */
  assignee: string | null;
  resolution: Resolution | null;
  /** The first human response (an agent's comment, assignment or move to open). */
  firstResponseAt: string | null;
  fields: Record<string, string | number | boolean>;
  /** Oldest first; in a page of tickets only the latest ones (see TicketQuery.comments). */
  comments: BuiltinComment[];
  /** How many older comments `comments` leaves out (absent when it has them all). */
  commentsOmitted?: number;
  /** The ticket this one follows up (a re-fire after its predecessor was closed). */
  followUpOf?: number;
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

/** What an agent does to a built-in ticket (the agent API: POST …/comments, PATCH …). */
export interface AgentAct {
  author: string;
  comment?: { body: string; public: boolean };
  status?: BuiltinStatus;
  assignee?: string | null;
  priority?: Priority;
  resolution?: Resolution;
}

/** The ticket's columns an agent's act changes, and the events it records for the way back. */
export interface AgentChange {
  set: { status: BuiltinStatus; assignee: string | null; priority: Priority; resolution: Resolution | null; firstResponseAt: string | null };
  events: HelpdeskEvent[];
}

/** The vocabulary's status for a built-in one: `open` is active once somebody responded. */
export function builtinToTicketStatus(status: BuiltinStatus): TicketStatus {
  return status === "open" ? "active" : status;
}

/**
 * An agent's act on a ticket: the ticket's next columns and the events the way back reads (pure).
 * A closed ticket is final: nothing but a comment changes it. A solve without a resolution is a fix;
 * a move back to open or pending clears the resolution.
 */
export function agentChange(
  ticket: Pick<BuiltinTicket, "status" | "assignee" | "priority" | "resolution" | "firstResponseAt">,
  act: AgentAct,
  now: Date,
): AgentChange | { refused: string } {
  const at = now.toISOString();
  const changesStatus = act.status !== undefined || act.resolution !== undefined || act.priority !== undefined || act.assignee !== undefined;
  if (ticket.status === "closed" && changesStatus) return { refused: "the ticket is closed: a closed ticket is final" };
  const set: AgentChange["set"] = { ...ticket };
  const events: HelpdeskEvent[] = [];
  if (act.comment) events.push({ kind: "commented", at, author: act.author, public: act.comment.public, text: act.comment.body });
  if (act.assignee !== undefined && act.assignee !== ticket.assignee) {
    set.assignee = act.assignee;
    events.push({ kind: "assigned", at, author: act.author, assignee: act.assignee });
  }
  if (act.priority !== undefined && act.priority !== ticket.priority) {
    set.priority = act.priority;
    events.push({ kind: "priority_changed", at, author: act.author, priority: act.priority });
  }
  const status = act.status ?? (act.resolution !== undefined ? "solved" : ticket.status);
  const solving = status === "solved" || status === "closed";
  const resolution = solving ? (act.resolution ?? (status === ticket.status ? ticket.resolution : null) ?? "fixed") : null;
  if (status !== ticket.status || resolution !== ticket.resolution || (act.status === "open" && ticket.firstResponseAt === null)) {
    set.status = status;
    set.resolution = resolution;
    const event: HelpdeskEvent = { kind: "status_changed", at, author: act.author, status: builtinToTicketStatus(status) };
    if (resolution !== null) event.resolution = resolution;
    events.push(event);
  }
  const responds = events.some(
    (e) => e.kind === "commented" || (e.kind === "assigned" && e.assignee !== null) || (e.kind === "status_changed" && e.status === "active"),
  );
  if (responds && set.firstResponseAt === null) set.firstResponseAt = at;
  return { set, events };
}

/**
 * Where the built-in helpdesk keeps its tickets (the service's own store implements it).
 * Every write alertdesk makes is idempotent, so a delivery retried after a crash changes nothing twice.
 */
export interface BuiltinTicketBook {
  /** Creates the ticket, or returns the existing one with the same key. */
  createTicket(ticket: NewBuiltinTicket, now: Date): Promise<{ id: number }>;
  /**
   * alertdesk's own comment (once per idempotency key) with the status or priority change; false if
   * no such ticket. A closed ticket keeps its status: `reopened: false` says the reopen did not happen.
   */
  updateTicket(
    id: number,
    update: { comment: string; idempotencyKey: string; status?: "open" | "solved"; priority?: Priority },
    now: Date,
  ): Promise<boolean | { reopened: false }>;
  /** A follow-up of a closed ticket: the same content under a new id, linking it, with the comment (once per idempotency key). */
  createFollowUp(closedId: number, update: { comment: string; idempotencyKey: string; priority: Priority }, now: Date): Promise<{ id: number }>;
  findTicketByKey(key: string): Promise<{ id: number } | undefined>;
  /** One ticket with all its comments. */
  getTicket(id: number): Promise<BuiltinTicket | undefined>;
  /** An agent's act (agentChange), applied and recorded for the way back in one transaction. */
  agentAct(id: number, act: AgentAct, now: Date): Promise<{ ticket: BuiltinTicket } | { refused: string } | undefined>;
  /** Agents' acts recorded after `afterId` (the way back's cursor), oldest first. */
  activitySince(afterId: number, limit: number): Promise<{ id: number; ticketId: number; ticketKey: string; event: HelpdeskEvent }[]>;
  /** Agents' acts on one ticket, oldest first. */
  ticketActivity(ticketId: number): Promise<{ id: number; event: HelpdeskEvent }[]>;
  /** A page of tickets, newest first; `next` is the `before` of the following page, null on the last. */
  pageTickets(query: TicketQuery): Promise<{ items: BuiltinTicket[]; next: number | null }>;
  /** The items of pageTickets. */
  listTickets(query: TicketQuery): Promise<BuiltinTicket[]>;
}
