import express, { type RequestHandler, type Response, type Router } from "express";
import { z } from "zod";
import { badRequest } from "../http/respond.js";
import { type AgentAct, ALERTDESK_AUTHOR, BUILTIN_STATUSES, type BuiltinTicketBook } from "../model/builtin-tickets.js";
import { RESOLUTIONS } from "../model/helpdesk-event.js";
import { PRIORITIES } from "../model/priority.js";
import { PAGE, pageAnswer, pageParams, pageQuery } from "./paging.js";
import { renderTicketsPage } from "./tickets-page.js";

const ticketsQuery = z.object({ status: z.enum(BUILTIN_STATUSES).optional(), ...pageParams }).strict();

/** An agent's name: anyone but alertdesk itself, whose own comments must never read as an agent's (the console's forms check it too). */
export const agentName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(200)
  .refine((a) => a !== ALERTDESK_AUTHOR, `"${ALERTDESK_AUTHOR}" is alertdesk's own name; agents act under theirs`);

/** `POST /api/tickets/{id}/comments`. */
const commentBody = z
  .object({
    body: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(64 * 1024),
    author: agentName,
    public: z.boolean().default(true),
  })
  .strict();

/** `PATCH /api/tickets/{id}`: any of these; `author` says who. */
const patchBody = z
  .object({
    status: z.enum(BUILTIN_STATUSES).optional(),
    assignee: z.string().trim().min(1, "must not be empty (null unassigns)").max(200).nullable().optional(),
    priority: z.enum(PRIORITIES).optional(),
    resolution: z.enum(RESOLUTIONS).optional(),
    author: agentName.optional(),
  })
  .strict()
  .refine((b) => b.status !== undefined || b.assignee !== undefined || b.priority !== undefined || b.resolution !== undefined, {
    message: "nothing to change: give status, assignee, priority or resolution",
  })
  .refine((b) => b.resolution === undefined || b.status === undefined || b.status === "solved" || b.status === "closed", {
    message: "a resolution goes with status solved or closed",
    path: ["resolution"],
  });

const ticketId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** The author of a PATCH that names none. */
const UNNAMED_AGENT = "agent";
const pageOfTickets = z.object({ before: pageParams.before });

/** Comments a listed ticket shows, the latest ones: `commentsOmitted` says how many older ones it leaves out. */
export const LISTED_COMMENTS = 100;

export interface AgentRoutesDeps {
  tickets: Pick<BuiltinTicketBook, "agentAct">;
  clock: () => Date;
  /** Guards the agent API (admin token, or loopback without one): http/auth.ts `adminAuth`. */
  adminAuth: RequestHandler;
  /** Wakes the way back: the act reaches the incident at once, not at the next poll. */
  onAgentAct: () => void;
}

/**
 * The built-in helpdesk's agent API: `POST /api/tickets/{id}/comments` (201) and `PATCH
 * /api/tickets/{id}` (200), both answering with the ticket. Bad input is 400 naming the field, an
 * unknown ticket 404, a change to a closed ticket 409; none of them changes anything.
 */
export function addAgentRoutes(router: Router, deps: AgentRoutesDeps): void {
  const json = express.json({ limit: "128kb" });
  const act = async (res: Response, rawId: unknown, agentAct: AgentAct, status: 200 | 201) => {
    const id = ticketId.safeParse(rawId);
    if (!id.success)
      return badRequest(
        res,
        "invalid ticket id",
        id.error.issues.map((i) => ({ ...i, path: ["id"] })),
      );
    const done = await deps.tickets.agentAct(id.data, agentAct, deps.clock());
    if (done === undefined) return void res.status(404).json({ error: `no ticket ${id.data}` });
    if ("refused" in done) return void res.status(409).json({ error: done.refused });
    deps.onAgentAct();
    res.status(status).json(done.ticket);
  };
  router.post("/api/tickets/:id/comments", deps.adminAuth, json, async (req, res) => {
    const body = commentBody.safeParse(req.body ?? {});
    if (!body.success) return badRequest(res, 'want {"body": "…", "author": "alice", "public": true}', body.error.issues);
    await act(res, req.params.id, { author: body.data.author, comment: { body: body.data.body, public: body.data.public } }, 201);
  });
  router.patch("/api/tickets/:id", deps.adminAuth, json, async (req, res) => {
    const body = patchBody.safeParse(req.body ?? {});
    if (!body.success) return badRequest(res, "invalid ticket change", body.error.issues);
    const { author: who, ...change } = body.data;
    const agentAct: AgentAct = { author: who ?? UNNAMED_AGENT };
    if (change.status !== undefined) agentAct.status = change.status;
    if (change.assignee !== undefined) agentAct.assignee = change.assignee;
    if (change.priority !== undefined) agentAct.priority = change.priority;
    if (change.resolution !== undefined) agentAct.resolution = change.resolution;
    await act(res, req.params.id, agentAct, 200);
  });
}

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
