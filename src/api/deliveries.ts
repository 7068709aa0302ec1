import express, { type RequestHandler, type Router } from "express";
import { z } from "zod";
import { badRequest } from "../http/respond.js";
import type { QueryStore, ReplayStore } from "../store/types.js";
import { pageAnswer, pageParams, pageQuery } from "./paging.js";

const deliveriesQuery = z.object({ state: z.enum(["pending", "done", "dead", "cancelled", "coalesced"]).optional(), ...pageParams }).strict();
const replayBody = z.union([z.object({ all: z.literal(true) }).strict(), z.object({ ids: z.array(z.number().int().positive()).min(1) }).strict()]);

export interface DeliveryRoutesDeps {
  store: Pick<QueryStore, "pageDeliveries"> & ReplayStore;
  clock: () => Date;
  /** Wakes the outbox worker after a replay. */
  kick: () => void;
  /** Guards the replay (admin): http/auth.ts `adminAuth`. */
  adminAuth: RequestHandler;
}

/** `GET /api/deliveries` (the outbox, a page at a time: paging.ts) and `POST /api/deliveries/replay` (dead letters back into the queue; admin). */
export function addDeliveryRoutes(router: Router, deps: DeliveryRoutesDeps): void {
  const { store } = deps;
  router.get("/api/deliveries", async (req, res) => {
    const q = deliveriesQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const page = await store.pageDeliveries({ ...pageQuery(q.data), ...(q.data.state ? { state: q.data.state } : {}) });
    res.json(pageAnswer("deliveries", page.items, page.next));
  });
  router.post("/api/deliveries/replay", deps.adminAuth, express.json({ limit: "1mb" }), async (req, res) => {
    const body = replayBody.safeParse(req.body ?? {});
    if (!body.success) return badRequest(res, 'want {"ids": [1, 2]} or {"all": true}', body.error.issues);
    const n = await store.requeueDead("all" in body.data ? "all" : body.data.ids, deps.clock());
    deps.kick();
    res.json({ requeued: n });
  });
}
