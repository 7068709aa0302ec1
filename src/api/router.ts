import { Router } from "express";
import type { BuiltinTicketBook } from "../model/builtin-tickets.js";
import type { QueryStore, ReplayStore } from "../store/types.js";
import { addDeliveryRoutes } from "./deliveries.js";
import { addIncidentRoutes } from "./incidents.js";
import { addRuleRoutes, type RuleRoutesDeps } from "./rules.js";
import { addTicketRoutes } from "./tickets.js";

export interface ApiDeps extends RuleRoutesDeps {
  store: QueryStore & ReplayStore & Pick<BuiltinTicketBook, "listTickets">;
  clock: () => Date;
  /** Wakes the outbox worker (after a replay). */
  kick: () => void;
  adminToken?: string;
}

/**
 * The read path: incidents, deliveries, rules and the built-in helpdesk's tickets, plus the two
 * operator actions (replay dead letters, reload rules). Apart from the write path: it reads the
 * store through its query slice and never runs the pipeline.
 */
export function createApiRouter(deps: ApiDeps): Router {
  const router = Router();
  const admin = deps.adminToken ? { adminToken: deps.adminToken } : {};
  addIncidentRoutes(router, deps.store);
  addDeliveryRoutes(router, { store: deps.store, clock: deps.clock, kick: deps.kick, ...admin });
  addRuleRoutes(router, { rules: deps.rules, reload: deps.reload, ...admin });
  addTicketRoutes(router, { tickets: deps.store, clock: deps.clock });
  return router;
}
