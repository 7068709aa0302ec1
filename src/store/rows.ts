import type { LabelSet } from "../model/alert.js";
import type { BuiltinComment, BuiltinStatus, BuiltinTicket } from "../model/builtin-tickets.js";
import type { Resolution } from "../model/helpdesk-event.js";
import type { Incident, TicketRef } from "../model/incident.js";
import { labelSet } from "../model/labels.js";
import type { Category, Priority } from "../model/priority.js";
import { type CommentUpdate, mergeComments, type TicketOperation, ticketOperationSchema } from "../model/ticket-operation.js";
import type { DeliveryView, OutboxRow, OutboxState, Page, PageQuery } from "./types.js";

/** Rows as both stores (SQLite, PostgreSQL) read them, and their mapping to the domain types. */

export interface IncidentRow {
  id: number;
  ticket_id: string | null;
  ticket_url: string | null;
  data: string;
}

function ticketRef(id: string | null, url: string | null): TicketRef | undefined {
  if (id === null) return undefined;
  return url === null ? { id } : { id, url };
}

/** A label set read back from JSON, rebuilt without a prototype (model/labels.ts says why). */
function labelsOf(parsed: unknown): LabelSet {
  return labelSet(parsed !== null && typeof parsed === "object" ? (parsed as Record<string, string>) : {});
}

export function toIncident(row: IncidentRow): Incident {
  const incident = JSON.parse(row.data) as Incident;
  incident.id = Number(row.id);
  incident.groupLabels = labelsOf(incident.groupLabels);
  for (const a of incident.alerts) {
    a.labels = labelsOf(a.labels);
    a.annotations = labelsOf(a.annotations);
    if (a.values) a.values = Object.assign(Object.create(null) as Record<string, number>, a.values);
  }
  const ticket = ticketRef(row.ticket_id, row.ticket_url);
  if (ticket) incident.ticket = ticket;
  return incident;
}

/** How big the stored row is, in bytes of text: what a page's `maxBytes` counts. */
export interface SizedRow {
  id: number;
  bytes: number | null;
}

/** How many more rows than the page holds a store asks for: one, to know whether there is a next page. */
export const LOOKAHEAD = 1;

/**
 * Picks a page out of the candidates (at most limit + LOOKAHEAD of them, newest first, with their
 * sizes): up to `limit` rows, stopping before the row that would take the total past `maxBytes`
 * (the first row always goes in, and so does a row that costs nothing more, like a delivery of an
 * incident already counted). `next` is set when a row was left over.
 */
export function choosePage<R extends SizedRow>(candidates: readonly R[], query: PageQuery, cost: (r: R) => number = (r) => Number(r.bytes ?? 0)): Page<number> {
  const items: number[] = [];
  let bytes = 0;
  for (const r of candidates) {
    if (items.length >= query.limit) break;
    const size = cost(r);
    if (items.length > 0 && size > 0 && query.maxBytes !== undefined && bytes + size > query.maxBytes) break;
    bytes += size;
    items.push(Number(r.id));
  }
  const next = items.length < candidates.length ? (items.at(-1) ?? null) : null;
  return { items, next };
}

/** `before` as the stores compare it: no cursor means from the newest row. */
export function beforeId(query: PageQuery): number {
  return query.before ?? Number.MAX_SAFE_INTEGER;
}

/**
 * The incident's timers as both stores index them (epoch ms, null when unset): a due verification
 * of an agent's solve, when the escalation scheduler must look at it next, and when its archive
 * entry is due.
 */
export function timerColumns(incident: Incident): { verifyAt: number | null; escalateAt: number | null; archiveAt: number | null } {
  const epoch = (iso: string | undefined) => (iso === undefined ? null : Date.parse(iso));
  return { verifyAt: epoch(incident.verifyAt), escalateAt: epoch(incident.escalateAt), archiveAt: epoch(incident.archiveAt) };
}

/** How long a finished doorbell is kept to recognise a repeated delivery: a day (helpdesks retry for hours at most). */
export const DOORBELL_MEMORY_MS = 24 * 3_600_000;

/** What is stored in `data`: the incident without the columns kept separately. */
export function incidentData(incident: Incident): string {
  const { id: _id, ticket: _ticket, ...rest } = incident;
  return JSON.stringify(rest);
}

export interface DueRow {
  id: number;
  incident_id: number;
  helpdesk: string;
  payload: string;
  attempts: number;
  created_at: number;
  ticket_key: string;
  dedup_key: string;
  ticket_id: string | null;
  ticket_url: string | null;
}

/** A claimed outbox row as the worker gets it. The store has validated and (maybe) coalesced `operation`. */
export function toOutboxRow(r: DueRow, operation: TicketOperation): OutboxRow {
  const row: OutboxRow = {
    id: Number(r.id),
    incidentId: Number(r.incident_id),
    dedupKey: r.dedup_key,
    ticketKey: r.ticket_key,
    helpdesk: r.helpdesk,
    operation,
    attempts: r.attempts + 1,
    createdAt: new Date(Number(r.created_at)),
  };
  const ticket = ticketRef(r.ticket_id, r.ticket_url);
  if (ticket) row.ticket = ticket;
  return row;
}

/**
 * Coalescing at claim time: a claimed comment absorbs the comments queued right behind it for the
 * same incident (until the first other operation). Returns the operation to deliver and the ids absorbed.
 */
export function coalesce(head: string, following: readonly { id: number; op: string; payload: string }[]): { operation: TicketOperation; absorbed: number[] } {
  const operation = ticketOperationSchema.parse(JSON.parse(head));
  if (operation.op !== "comment") return { operation, absorbed: [] };
  const comments: CommentUpdate[] = [operation];
  const absorbed: number[] = [];
  for (const f of following) {
    if (f.op !== "comment") break;
    const next = ticketOperationSchema.parse(JSON.parse(f.payload));
    if (next.op !== "comment") break;
    comments.push(next);
    absorbed.push(Number(f.id));
  }
  return { operation: absorbed.length > 0 ? mergeComments(comments) : operation, absorbed };
}

/** An outbox row as the deliveries list reads it, with its incident's key and size (the incident's labels come apart). */
export interface DeliveryRow {
  id: number;
  incident_id: number;
  helpdesk: string;
  op: DeliveryView["op"];
  state: OutboxState;
  attempts: number;
  last_error: string | null;
  created_at: number;
  next_attempt_at: number;
  dedup_key: string;
  /** Bytes of the incident's stored data: the upper bound of what reading its labels costs. */
  bytes: number | null;
}

/** The labels a delivery shows, read from its incident's data by the database: its first alert's, else its group's. */
export interface IncidentLabelsRow {
  labels: string | null;
  group_labels: string | null;
}

/**
 * A page of deliveries out of its candidates: an incident's size counts once, however many of its
 * rows the page holds (the database reads each incident's labels once).
 */
export function chooseDeliveryPage(candidates: readonly DeliveryRow[], query: PageQuery): { rows: DeliveryRow[]; next: number | null } {
  const counted = new Set<number>();
  const page = choosePage(candidates, query, (r) => {
    const incident = Number(r.incident_id);
    if (counted.has(incident)) return 0;
    counted.add(incident);
    return Number(r.bytes ?? 0);
  });
  return { rows: candidates.slice(0, page.items.length), next: page.next };
}

export function toDeliveryView(r: DeliveryRow, labels: IncidentLabelsRow | undefined): DeliveryView {
  return {
    id: Number(r.id),
    incidentId: Number(r.incident_id),
    dedupKey: r.dedup_key,
    labels: labelsOf(JSON.parse(labels?.labels ?? labels?.group_labels ?? "{}")),
    helpdesk: r.helpdesk,
    op: r.op,
    state: r.state,
    attempts: r.attempts,
    lastError: r.last_error,
    createdAt: new Date(Number(r.created_at)).toISOString(),
    nextAttemptAt: new Date(Number(r.next_attempt_at)).toISOString(),
  };
}

export interface TicketRow {
  id: number;
  key: string;
  subject: string;
  body: string;
  priority: Priority;
  status: BuiltinStatus;
  category: Category;
  due_at: string;
  labels: string;
  tags: string;
  assignee_group: string | null;
  assignee: string | null;
  resolution: Resolution | null;
  first_response_at: string | null;
  follow_up_of: number | null;
  fields: string;
  created_at: string;
  updated_at: string;
}

export const TICKET_COLUMNS =
  "id, key, subject, body, priority, status, category, due_at, labels, tags, assignee_group, assignee, resolution, first_response_at, follow_up_of, fields, created_at, updated_at";

export interface CommentRow {
  ticket_id: number;
  body: string;
  author: string;
  /** SQLite keeps 0/1, PostgreSQL a boolean. */
  public: number | boolean;
  created_at: string;
}

/**
 * Tickets with their comments (oldest first). `omitted` says, per ticket, how many older comments
 * were left out of a page that shows only the latest ones.
 */
export function toBuiltinTickets(rows: TicketRow[], comments: CommentRow[], omitted: ReadonlyMap<number, number> = new Map()): BuiltinTicket[] {
  const byTicket = new Map<number, BuiltinComment[]>();
  for (const c of comments) {
    const list = byTicket.get(Number(c.ticket_id)) ?? [];
    list.push({ body: c.body, author: c.author, public: Boolean(c.public), createdAt: c.created_at });
    byTicket.set(Number(c.ticket_id), list);
  }
  return rows.map((r) => {
    const ticket: BuiltinTicket = {
      id: Number(r.id),
      key: r.key,
      subject: r.subject,
      body: r.body,
      priority: r.priority,
      status: r.status,
      category: r.category,
      dueAt: r.due_at,
      labels: labelsOf(JSON.parse(r.labels)),
      tags: JSON.parse(r.tags) as string[],
      assigneeGroup: r.assignee_group,
      assignee: r.assignee,
      resolution: r.resolution,
      firstResponseAt: r.first_response_at,
      fields: JSON.parse(r.fields) as Record<string, string | number | boolean>,
      comments: byTicket.get(Number(r.id)) ?? [],
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
    if (r.follow_up_of !== null) ticket.followUpOf = Number(r.follow_up_of);
    const left = omitted.get(Number(r.id));
    if (left) ticket.commentsOmitted = left;
    return ticket;
  });
}
