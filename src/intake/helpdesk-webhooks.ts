import express, { type ErrorRequestHandler, Router } from "express";
import type { DoorbellAnswer, DoorbellRequest } from "../model/helpdesk-event.js";
import type { Logger } from "../observability/logger.js";

export interface HelpdeskWebhookDeps {
  receive: (helpdesk: string, request: DoorbellRequest) => Promise<DoorbellAnswer>;
  log: Logger;
  /** Helpdesk webhooks are small (a ticket id and a few fields): a much lower limit than alerts'. */
  bodyLimitBytes?: number;
}

/**
 * `POST /webhooks/helpdesk/{name}`: doorbells from the helpdesk named `{name}` in the config. The
 * helpdesk's driver verifies the signature on the raw bytes (so the body is never parsed first);
 * a verified doorbell is stored before the 202, and the ticket is re-read through the API later.
 * No bearer token: helpdesks sign their webhooks instead, and a bad signature is 401 with nothing
 * stored; a signed body alertdesk cannot use is 400, and events for a ticket no incident has (yet) 409.
 */
export function createHelpdeskWebhookRouter(deps: HelpdeskWebhookDeps): Router {
  const router = Router();
  const raw = express.raw({ limit: deps.bodyLimitBytes ?? 256 * 1024, type: () => true });
  router.post("/webhooks/helpdesk/:name", raw, async (req, res, next) => {
    try {
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const answer = await deps.receive(String(req.params.name), { headers, rawBody });
      if (answer.status === 202) {
        res.status(202).json({ status: answer.outcome, tickets: answer.tickets });
        return;
      }
      deps.log.warn({ helpdesk: req.params.name, status: answer.status, reason: answer.error }, "helpdesk webhook refused");
      res.status(answer.status).json({ error: answer.error });
    } catch (err) {
      next(err);
    }
  });
  const onBodyError: ErrorRequestHandler = (err: { type?: string; status?: number }, _req, res, next) => {
    if (err.type === "entity.too.large") {
      res.status(413).json({ error: "helpdesk webhook body too large" });
      return;
    }
    next(err);
  };
  router.use("/webhooks/helpdesk", onBodyError);
  return router;
}
