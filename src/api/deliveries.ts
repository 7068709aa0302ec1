import express, { type Router } from "express";
import { z } from "zod";
import { adminAuth } from "../http/auth.js";
import { badRequest, limitParam } from "../http/respond.js";
import type { QueryStore, ReplayStore } from "../store/types.js";

const deliveriesQuery = z.object({ state: z.enum(["pending", "done", "dead", "cancelled", "coalesced"]).optional(), limit: limitParam }).strict();
const replayBody = z.union([z.object({ all: z.literal(true) }).strict(), z.object({ ids: z.array(z.number().int().positive()).min(1) }).strict()]);

export interface DeliveryRoutesDeps {
  store: Pick<QueryStore, "listDeliveries"> & ReplayStore;
  clock: () => Date;
  /** Wakes the outbox worker after a replay. */
  kick: () => void;
  adminToken?: string;
}

/** `GET /api/deliveries` (the outbox) and `POST /api/deliveries/replay` (dead letters back into the queue; admin). */
export function addDeliveryRoutes(router: Router, deps: DeliveryRoutesDeps): void {
  const { store } = deps;
  router.get("/api/deliveries", async (req, res) => {
    const q = deliveriesQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    res.json({ deliveries: await store.listDeliveries(q.data.state ? { state: q.data.state, limit: q.data.limit } : { limit: q.data.limit }) });
  });
  router.post("/api/deliveries/replay", adminAuth(deps.adminToken), express.json({ limit: "1mb" }), async (req, res) => {
    const body = replayBody.safeParse(req.body ?? {});
    if (!body.success) return badRequest(res, 'want {"ids": [1, 2]} or {"all": true}', body.error.issues);
    const n = await store.requeueDead("all" in body.data ? "all" : body.data.ids, deps.clock());
    deps.kick();
    res.json({ requeued: n });
  });
}
