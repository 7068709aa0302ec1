import type { BuiltinTicketBook } from "../../model/builtin-tickets.js";
import { DeliveryError } from "../../model/delivery-error.js";
import { toText } from "../../model/doc.js";
import type { HelpdeskEvent, ObservedEvent, TicketActivity } from "../../model/helpdesk-event.js";
import type { TicketRef } from "../../model/incident.js";
import type { HelpdeskDriver, HelpdeskSync } from "../types.js";

/** Agents' acts read back per page of the way back, and how many of the last page are read again. */
const PAGE = 500;
const OVERLAP = 100;

/**
 * The built-in helpdesk's way back: the agent API records every act in the store (builtin_activity),
 * and the sync reads them like any helpdesk's audit log. alertdesk's own writes are never recorded
 * there, so nothing echoes. The API wakes the sync at once; the interval is only the safety net.
 */
function builtinSync(book: BuiltinTicketBook): HelpdeskSync {
  const observed = (a: { id: number; event: HelpdeskEvent }): ObservedEvent => ({ id: `activity:${a.id}`, event: a.event });
  return {
    pollIntervalMs: 5_000,
    async poll(cursor) {
      const last = cursor === undefined ? 0 : Number(cursor);
      const after = Number.isSafeInteger(last) ? last : 0;
      // On PostgreSQL two acts can commit out of id order: each poll reads the last OVERLAP ids
      // again, so one that became visible late is still seen (repeats are stored once).
      const rows = await book.activitySince(Math.max(0, after - OVERLAP), PAGE + OVERLAP);
      const byTicket = new Map<number, { key: string; events: ObservedEvent[] }>();
      for (const a of rows) {
        const entry = byTicket.get(a.ticketId) ?? { key: a.ticketKey, events: [] };
        entry.events.push(observed(a));
        byTicket.set(a.ticketId, entry);
      }
      const activity: TicketActivity[] = [...byTicket].map(([id, t]) => ({ ticketId: String(id), ticketKey: t.key, events: t.events }));
      const next = Math.max(after, rows.at(-1)?.id ?? after);
      return { activity, cursor: String(next), more: rows.filter((r) => r.id > after).length >= PAGE };
    },
    async readTicket(r) {
      return (await book.ticketActivity(ticketId(r))).map(observed);
    },
  };
}

function ticketId(ref: TicketRef): number {
  const id = Number(ref.id);
  if (!Number.isSafeInteger(id)) throw new DeliveryError(`[builtin] bad ticket id ${JSON.stringify(ref.id)}`, { retryable: false, reason: "client" });
  return id;
}

function ref(id: number): TicketRef {
  return { id: String(id), url: `/tickets#ticket-${id}` };
}

/** The built-in helpdesk: tickets kept in alertdesk's own store, shown at /tickets and /api/tickets. */
export function createBuiltinDriver(options: { name?: string; book: BuiltinTicketBook; clock: () => Date }): HelpdeskDriver {
  const { book, clock } = options;
  const update = async (r: TicketRef, change: Parameters<BuiltinTicketBook["updateTicket"]>[1]) => {
    const found = await book.updateTicket(ticketId(r), change, clock());
    if (!found) throw new DeliveryError(`[builtin] ticket ${r.id} not found`, { retryable: false, reason: "noTicket" });
    return found;
  };
  return {
    name: options.name ?? "builtin",
    type: "builtin",
    async open(t) {
      const { id } = await book.createTicket(
        {
          key: t.ticketKey,
          subject: t.title,
          body: toText(t.body),
          priority: t.priority,
          category: t.category,
          dueAt: t.dueAt,
          labels: t.labels,
          tags: t.tags,
          fields: t.fields,
          ...(t.assigneeGroup ? { assigneeGroup: t.assigneeGroup } : {}),
        },
        clock(),
      );
      return ref(id);
    },
    async comment(r, u, ctx) {
      await update(r, { comment: toText(u.body), idempotencyKey: ctx.idempotencyKey, ...(u.priority ? { priority: u.priority } : {}) });
    },
    async resolve(r, u, ctx) {
      await update(r, { comment: toText(u.body), idempotencyKey: ctx.idempotencyKey, ...(u.solve ? { status: "solved" as const } : {}) });
    },
    async reopen(r, u, ctx) {
      const comment = toText(u.body);
      const done = await update(r, { comment, idempotencyKey: ctx.idempotencyKey, status: "open", priority: u.priority });
      if (done === true) return r;
      // A closed ticket is final: the re-fire goes on a follow-up that links it.
      const followUp = await book.createFollowUp(ticketId(r), { comment, idempotencyKey: `${ctx.idempotencyKey}/follow-up`, priority: u.priority }, clock());
      return ref(followUp.id);
    },
    async findByKey(key) {
      const found = await book.findTicketByKey(key);
      return found ? ref(found.id) : undefined;
    },
    sync: builtinSync(book),
  };
}
