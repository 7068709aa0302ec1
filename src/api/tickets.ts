import type { Router } from "express";
import { z } from "zod";
import { badRequest } from "../http/respond.js";
import type { BuiltinTicketBook } from "../model/builtin-tickets.js";
import { PAGE, pageAnswer, pageParams, pageQuery } from "./paging.js";
import { renderTicketsPage } from "./tickets-page.js";

const ticketsQuery = z.object({ status: z.enum(["open", "solved"]).optional(), ...pageParams }).strict();
const pageOfTickets = z.object({ before: pageParams.before });

/** Comments a listed ticket shows, the latest ones: `commentsOmitted` says how many older ones it leaves out. */
export const LISTED_COMMENTS = 100;

/** The built-in helpdesk's tickets: `GET /api/tickets` (JSON) and `GET /tickets` (a plain HTML page), a page at a time (paging.ts). */
export function addTicketRoutes(router: Router, deps: { tickets: Pick<BuiltinTicketBook, "pageTickets">; clock: () => Date }): void {
  const { tickets } = deps;
  router.get("/api/tickets", async (req, res) => {
    const q = ticketsQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const page = await tickets.pageTickets({ ...pageQuery(q.data), comments: LISTED_COMMENTS, ...(q.data.status ? { status: q.data.status } : {}) });
    res.json(pageAnswer("tickets", page.items, page.next));
  });
  router.get("/tickets", async (req, res) => {
    const q = pageOfTickets.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const page = await tickets.pageTickets({ ...pageQuery({ limit: PAGE.defaultLimit, ...q.data }), comments: LISTED_COMMENTS });
    res
      .set({
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
      })
      .type("html")
      .send(renderTicketsPage(page.items, deps.clock(), page.next));
  });
}
