import express, { type ErrorRequestHandler, type Request, type Response, Router } from "express";
import { webhookAuth } from "../http/auth.js";
import { badRequest } from "../http/respond.js";
import type { Notification } from "../model/alert.js";
import { formatPath } from "../model/field-path.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { IngestOutcome } from "../pipeline/ingest.js";
import { parseNotification } from "./payloads.js";

export interface WebhookDeps {
  /** Commits the notification (rules → lifecycle → store/outbox) and resolves once it is durable. */
  ingest: (notification: Notification, receivedAt: Date) => Promise<IngestOutcome[]>;
  metrics: Metrics;
  log: Logger;
  clock: () => Date;
  webhookToken?: string;
  webhookBasicAuth?: { username: string; password: string };
  bodyLimitBytes: number;
}

/**
 * The write path's HTTP side: `POST /webhooks/{alertmanager,grafana}`. Authenticates, parses and
 * validates the body, hands the notification to `ingest`, and answers 200 only once it is committed
 * (503 when it could not be stored, so the sender retries).
 */
export function createWebhookRouter(deps: WebhookDeps): Router {
  const { metrics, log } = deps;
  const router = Router();
  const json = express.json({ limit: deps.bodyLimitBytes, type: () => true, strict: true });
  const auth = { ...(deps.webhookToken ? { token: deps.webhookToken } : {}), ...(deps.webhookBasicAuth ? { basic: deps.webhookBasicAuth } : {}) };

  for (const source of ["alertmanager", "grafana"] as const) {
    const path = `/webhooks/${source}`;
    // Grafana's webhook contact point offers POST and PUT; both mean the same.
    const methods = source === "grafana" ? (["post", "put"] as const) : (["post"] as const);
    const rejectUnauthorized = (req: Request) => {
      metrics.notificationsReceived.inc({ source, outcome: "unauthorized" });
      log.info({ source, requestId: req.alertdeskRequestId, remote: req.socket.remoteAddress }, "webhook rejected: unauthorized");
    };
    const receive = async (req: Request, res: Response) => {
      const started = process.hrtime.bigint();
      const parsed = parseNotification(source, req.body);
      if (!parsed.ok) {
        metrics.notificationsReceived.inc({ source, outcome: "invalid" });
        log.info(
          { source, requestId: req.alertdeskRequestId, issues: parsed.issues.length, field: formatPath(parsed.issues[0]?.path ?? []) },
          "webhook rejected: invalid payload",
        );
        badRequest(res, "invalid payload", parsed.issues);
        return;
      }
      const { notification } = parsed;
      let outcomes: IngestOutcome[];
      try {
        outcomes = await deps.ingest(notification, deps.clock());
      } catch (err) {
        metrics.notificationsReceived.inc({ source, outcome: "unavailable" });
        log.error({ source, requestId: req.alertdeskRequestId, err: (err as Error).message }, "webhook not stored");
        res.status(503).set("Retry-After", "5").json({ error: "could not store the notification; retry" });
        return;
      }
      metrics.notificationsReceived.inc({ source, outcome: "accepted" });
      const firing = notification.alerts.filter((a) => a.status === "firing").length;
      if (firing > 0) metrics.alertsReceived.inc({ source, status: "firing" }, firing);
      if (firing < notification.alerts.length) metrics.alertsReceived.inc({ source, status: "resolved" }, notification.alerts.length - firing);
      const acted = outcomes.some((o) => o.actions.length > 0);
      log[acted ? "info" : "debug"](
        {
          source,
          requestId: req.alertdeskRequestId,
          groupKey: notification.groupKey,
          alerts: notification.alerts.length,
          outcomes: outcomes.map((o) => ({ dedupKey: o.dedupKey, reason: o.reason, actions: o.actions })),
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        "webhook stored",
      );
      if (notification.test && outcomes.length === 0) {
        log.info(
          { source, requestId: req.alertdeskRequestId, receiver: notification.receiver, groupKey: notification.groupKey },
          "test notification recorded; no ticket",
        );
        res.status(200).json({
          status: "test",
          incidents: [],
          detail: "a sender's test notification: recorded, no ticket (a rule with test_notifications: ticket opens one)",
        });
        return;
      }
      res.status(200).json({ status: "stored", incidents: outcomes });
    };
    for (const method of methods) router[method](path, webhookAuth(auth, rejectUnauthorized), json, receive);
    // Body errors of this route (too large, not JSON) are answered here, so they count as rejected notifications.
    const onBodyError: ErrorRequestHandler = (err: { type?: string; status?: number; message?: string }, _req, res, next) => {
      if (err.type === "entity.too.large") {
        metrics.notificationsReceived.inc({ source, outcome: "too_large" });
        res.status(413).json({ error: `body larger than the limit of ${deps.bodyLimitBytes} bytes` });
        return;
      }
      if (err.type === "entity.parse.failed") {
        metrics.notificationsReceived.inc({ source, outcome: "invalid" });
        res.status(400).json({ error: "body is not valid JSON", detail: err.message });
        return;
      }
      if (err.status && err.status >= 400 && err.status < 500) {
        metrics.notificationsReceived.inc({ source, outcome: "invalid" });
        res.status(err.status).json({ error: err.message ?? "bad request" });
        return;
      }
      next(err);
    };
    router.use(path, onBodyError);
  }
  return router;
}
