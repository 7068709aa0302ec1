import type { BuiltinTicketBook } from "../../model/builtin-tickets.js";
import { DeliveryError } from "../../model/delivery-error.js";
import { toText } from "../../model/doc.js";
import type { TicketRef } from "../../model/incident.js";
import type { HelpdeskDriver } from "../types.js";

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
      await update(r, { comment: toText(u.body), idempotencyKey: ctx.idempotencyKey, status: "open", priority: u.priority });
      return r;
    },
    async findByKey(key) {
      const found = await book.findTicketByKey(key);
      return found ? ref(found.id) : undefined;
    },
  };
}
