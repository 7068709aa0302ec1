import type { Router } from "express";
import { z } from "zod";
import { badRequest, limitParam } from "../http/respond.js";
import type { BuiltinTicketBook } from "../model/builtin-tickets.js";
import { renderTicketsPage } from "./tickets-page.js";

const ticketsQuery = z.object({ status: z.enum(["open", "solved"]).optional(), limit: limitParam }).strict();

/** The built-in helpdesk's tickets: `GET /api/tickets` (JSON) and `GET /tickets` (a plain HTML page). */
export function addTicketRoutes(router: Router, deps: { tickets: Pick<BuiltinTicketBook, "listTickets">; clock: () => Date }): void {
  const { tickets } = deps;
  router.get("/api/tickets", async (req, res) => {
    const q = ticketsQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const query = q.data.status ? { status: q.data.status, limit: q.data.limit } : { limit: q.data.limit };
    res.json({ tickets: await tickets.listTickets(query) });
  });
  router.get("/tickets", async (_req, res) => {
    const list = await tickets.listTickets({ limit: 500 });
    res
      .set({
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
      })
      .type("html")
      .send(renderTicketsPage(list, deps.clock()));
  });
}
