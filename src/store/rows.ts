import type { BuiltinStatus, BuiltinTicket } from "../model/builtin-tickets.js";
import type { Incident, TicketRef } from "../model/incident.js";
import type { Category, Priority } from "../model/priority.js";
import { type CommentUpdate, mergeComments, type TicketOperation, ticketOperationSchema } from "../model/ticket-operation.js";
import type { DeliveryView, OutboxRow, OutboxState } from "./types.js";

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

export function toIncident(row: IncidentRow): Incident {
  const incident = JSON.parse(row.data) as Incident;
  incident.id = Number(row.id);
  const ticket = ticketRef(row.ticket_id, row.ticket_url);
  if (ticket) incident.ticket = ticket;
  return incident;
}

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
  data: string;
}

export function toDeliveryView(r: DeliveryRow): DeliveryView {
  const incident = JSON.parse(r.data) as Incident;
  return {
    id: Number(r.id),
    incidentId: Number(r.incident_id),
    dedupKey: r.dedup_key,
    labels: incident.alerts[0]?.labels ?? incident.groupLabels,
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
  fields: string;
  created_at: string;
  updated_at: string;
}

export const TICKET_COLUMNS = "id, key, subject, body, priority, status, category, due_at, labels, tags, assignee_group, fields, created_at, updated_at";

export function toBuiltinTickets(rows: TicketRow[], comments: { ticket_id: number; body: string; created_at: string }[]): BuiltinTicket[] {
  const byTicket = new Map<number, { body: string; createdAt: string }[]>();
  for (const c of comments) {
    const list = byTicket.get(Number(c.ticket_id)) ?? [];
    list.push({ body: c.body, createdAt: c.created_at });
    byTicket.set(Number(c.ticket_id), list);
  }
  return rows.map((r) => ({
    id: Number(r.id),
    key: r.key,
    subject: r.subject,
    body: r.body,
    priority: r.priority,
    status: r.status,
    category: r.category,
    dueAt: r.due_at,
    labels: JSON.parse(r.labels) as Record<string, string>,
    tags: JSON.parse(r.tags) as string[],
    assigneeGroup: r.assignee_group,
    fields: JSON.parse(r.fields) as Record<string, string | number | boolean>,
    comments: byTicket.get(Number(r.id)) ?? [],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));
}
