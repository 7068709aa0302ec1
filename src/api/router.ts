import { type RequestHandler, Router } from "express";
import type { BuiltinTicketBook } from "../model/builtin-tickets.js";
import type { KnowledgeStore, QueryStore, ReplayStore, SyncStore } from "../store/types.js";
import { addDeliveryRoutes } from "./deliveries.js";
import { addIncidentRoutes } from "./incidents.js";
import { addKnowledgeRoutes } from "./kb.js";
import { addRuleRoutes, type RuleRoutesDeps } from "./rules.js";
import { addAgentRoutes, addTicketRoutes } from "./tickets.js";

export interface ApiDeps extends RuleRoutesDeps {
  store: QueryStore & ReplayStore & KnowledgeStore & Pick<SyncStore, "helpdeskEvents"> & Pick<BuiltinTicketBook, "pageTickets" | "agentAct">;
  clock: () => Date;
  /** Wakes the outbox worker (after a replay). */
  kick: () => void;
  /** Wakes the way back (after an agent acted through the built-in helpdesk's API). */
  onAgentAct: () => void;

  /** Guards every read (GET and HEAD) of this router: `readAuth` of http/auth.ts. */
  readAuth: RequestHandler;
}

/**
 * The read path: incidents, deliveries, rules, the knowledge base and the built-in helpdesk's tickets, plus the
 * operator actions (replay dead letters, reload rules) and the built-in helpdesk's agent API. Apart from the write path: it reads the
 * store through its query slice and never runs the pipeline. Reads need what `readAuth` asks for;
 * the two actions need the admin token (or loopback, without one).
 */
export function createApiRouter(deps: ApiDeps): Router {
  const router = Router();
  // Every read, before any route: also the ones added later, and unknown paths answer 401/403 rather
  // than telling which exist. Writes (replay, reload) keep their own admin guard: a read credential
  // never grants them.
  router.use((req, res, next) => (req.method === "GET" || req.method === "HEAD" ? deps.readAuth(req, res, next) : next()));
  addIncidentRoutes(router, deps.store, deps.clock, () => deps.rules().rules);
  addDeliveryRoutes(router, { store: deps.store, clock: deps.clock, kick: deps.kick, adminAuth: deps.adminAuth });
  addRuleRoutes(router, { rules: deps.rules, reload: deps.reload, adminAuth: deps.adminAuth });
  addTicketRoutes(router, { tickets: deps.store, clock: deps.clock });
  addKnowledgeRoutes(router, { archive: deps.store });
  addAgentRoutes(router, { tickets: deps.store, clock: deps.clock, adminAuth: deps.adminAuth, onAgentAct: deps.onAgentAct });
  return router;
}
