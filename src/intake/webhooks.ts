import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from "express";
import { webhookAuth } from "../http/auth.js";
import type { Notification } from "../model/alert.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { IngestOutcome } from "../pipeline/ingest.js";
import { createLogLimiter } from "./log-limit.js";
import type { Truncation } from "./payloads.js";
import { BODY_LIMITS, type BodyRejection, type NotificationSummary, readBody, summarize } from "./read-body.js";

export interface WebhookDeps {
  /** Commits the notification (rules → lifecycle → store/outbox) and resolves once it is durable. */
  ingest: (notification: Notification, receivedAt: Date) => Promise<IngestOutcome[]>;
  /**
   * Reads and commits a body elsewhere (the ingest thread, ingest-thread/client.ts), with the same
   * readBody; when given, bodies go there as bytes instead of being parsed here.
   */
  ingestBody?: (source: Notification["source"], body: Uint8Array, receivedAt: Date, onRead?: () => void) => Promise<BodyIngest>;
  metrics: Metrics;
  log: Logger;
  clock: () => Date;
  webhookToken?: string;
  webhookBasicAuth?: { username: string; password: string };
  bodyLimitBytes: number;
}

/** At most `slots` holders at once and `waiting` more in line, in order; beyond that, refused. */
export function createGate(slots: number, waiting: number) {
  let held = 0;
  const line: (() => void)[] = [];
  const pass = () => {
    const next = line.shift();
    if (next) next();
    else held--;
  };
  const once = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      pass();
    };
  };
  return {
    /**
     * Calls `enter` with a `leave` (call it once done; more calls do nothing) as soon as a slot is
     * free. Returns how to give up the place in line, or false when the line is full.
     */
    enter(enter: (leave: () => void) => void): false | (() => void) {
      if (held < slots) {
        held++;
        enter(once());
        return () => {};
      }
      if (line.length >= waiting) return false;
      const turn = () => enter(once());
      line.push(turn);
      return () => {
        const i = line.indexOf(turn);
        if (i >= 0) line.splice(i, 1);
      };
    },
    get held() {
      return held;
    },
    get waiting() {
      return line.length;
    },
  };
}

/** `application/json` or `application/<something>+json`, with no charset or UTF-8. */
function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(";").map((p) => p.trim().toLowerCase());
  if (type !== "application/json" && !/^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type ?? "")) return false;
  const charset = params
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replace(/"/g, "");
  return charset === undefined || charset === "utf-8" || charset === "utf8";
}

/** What ingestBody did: refused the body as readBody would have, or stored it. */
export type BodyIngest =
  | { ok: false; rejection: BodyRejection }
  | { ok: true; summary: NotificationSummary; truncated?: Truncation; outcomes: IngestOutcome[] };

type Rejection = { status: number; outcome: "invalid" | "unauthorized" | "too_large" | "unavailable"; why: string; body: Record<string, unknown> };

/**
 * The write path's HTTP side: `POST /webhooks/{alertmanager,grafana,zabbix}`. Authenticates, refuses
 * browsers and anything but JSON, bounds what parsing a body may cost, validates it, hands the
 * notification to `ingest`, and answers 200 only once it is committed (503 when it could not be
 * stored, so the sender retries).
 */
export function createWebhookRouter(deps: WebhookDeps): Router {
  const { metrics, log } = deps;
  const router = Router();
  const raw = express.raw({ limit: deps.bodyLimitBytes, type: () => true });
  const auth = { ...(deps.webhookToken ? { token: deps.webhookToken } : {}), ...(deps.webhookBasicAuth ? { basic: deps.webhookBasicAuth } : {}) };
  const largeBodies = createGate(BODY_LIMITS.largeConcurrent, BODY_LIMITS.largeWaiting);
  // One budget for every route: a flood of rejected webhooks writes a few lines a second, not one per request.
  const rejectionLog = createLogLimiter({
    perWindow: BODY_LIMITS.rejectionsLoggedPerSecond,
    windowMs: 1000,
    onSuppressed: (count, windowMs) =>
      log.warn({ suppressed: count, windowMs }, "webhook rejections not logged (too many); alertdesk_notifications_received_total counts them all"),
  });

  for (const source of ["alertmanager", "grafana", "zabbix"] as const) {
    const path = `/webhooks/${source}`;
    // Grafana's webhook contact point offers POST and PUT; both mean the same.
    const methods = source === "grafana" ? (["post", "put"] as const) : (["post"] as const);

    /** Counts a rejection and logs it (within the budget). */
    const rejected = (req: Request, outcome: Rejection["outcome"], why: string, fields: Record<string, unknown> = {}) => {
      metrics.notificationsReceived.inc({ source, outcome });
      if (rejectionLog.allow())
        log.info({ source, requestId: req.alertdeskRequestId, remote: req.socket.remoteAddress, ...fields }, `webhook rejected: ${why}`);
    };
    /** Counts, logs and answers a rejection. */
    const reject = (req: Request, res: Response, r: Rejection, fields: Record<string, unknown> = {}) => {
      rejected(req, r.outcome, r.why, { status: r.status, ...fields });
      if (!res.headersSent) res.status(r.status).json(r.body);
    };
    const rejectUnauthorized = (req: Request) => rejected(req, "unauthorized", "unauthorized");

    /**
     * Alertmanager, Grafana and Zabbix are servers: they send no Origin and no Sec-Fetch-Site. A browser
     * always does on a cross-site POST, and a web page could otherwise open tickets through a
     * visitor's browser when no token is set (a text/plain form post needs no CORS preflight).
     */
    const refuseBrowsers: RequestHandler = (req, res, next) => {
      const site = req.headers["sec-fetch-site"];
      if (req.headers.origin === undefined && site !== "cross-site" && site !== "same-site") return next();
      reject(
        req,
        res,
        {
          status: 403,
          outcome: "unauthorized",
          why: "sent by a browser",
          body: {
            error:
              "webhooks are taken from alert senders (Alertmanager, Grafana, Zabbix), not from web browsers: a request with Origin or a cross-site Sec-Fetch-Site is refused",
          },
        },
        { origin: req.headers.origin, secFetchSite: site },
      );
    };
    const requireJson: RequestHandler = (req, res, next) => {
      if (isJsonContentType(req.headers["content-type"])) return next();
      reject(
        req,
        res,
        {
          status: 415,
          outcome: "invalid",
          why: "not JSON",
          body: {
            error: "Content-Type must be application/json (UTF-8), as Alertmanager, Grafana and alertdesk's Zabbix media type send it",
            contentType: req.headers["content-type"] ?? null,
          },
        },
        { contentType: req.headers["content-type"] },
      );
    };
    /** Bodies over 1 MiB (or of unknown length) are read and parsed at most two at a time. */
    const admitLargeBody: RequestHandler = (req, res, next) => {
      const length = Number(req.headers["content-length"]);
      if (req.headers["content-length"] !== undefined && Number.isFinite(length) && length <= BODY_LIMITS.largeBytes) return next();
      const giveUp = largeBodies.enter((leave) => {
        res.locals.leaveLargeBodyGate = leave;
        res.once("close", leave);
        next();
      });
      if (giveUp === false) {
        res.set("Retry-After", "5");
        reject(req, res, {
          status: 503,
          outcome: "unavailable",
          why: "too many large bodies at once",
          body: { error: `too many large webhook bodies at once (over ${BODY_LIMITS.largeBytes} bytes); retry` },
        });
        return;
      }
      res.once("close", giveUp);
      if (largeBodies.held >= BODY_LIMITS.largeConcurrent && !res.locals.leaveLargeBodyGate) {
        log.debug({ source, requestId: req.alertdeskRequestId, waiting: largeBodies.waiting }, "webhook waits for its turn to parse a large body");
      }
    };
    const refuseBody = (req: Request, res: Response, r: BodyRejection) => {
      rejected(req, "invalid", r.why, { status: 400, ...r.fields });
      res.status(400).json(r.answer);
    };
    /** Reads the body here, then hands the notification to ingest. */
    const readAndIngest = async (req: Request, res: Response): Promise<BodyIngest | undefined> => {
      const read = readBody(source, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      req.body = undefined;
      // Parsed and cut to size: the next large body may go ahead while this one is stored.
      (res.locals.leaveLargeBodyGate as (() => void) | undefined)?.();
      if (!read.ok) return read;
      const outcomes = await deps.ingest(read.notification, deps.clock());
      return { ok: true, summary: summarize(read.notification), ...(read.truncated ? { truncated: read.truncated } : {}), outcomes };
    };
    /** Hands the bytes to ingestBody, which reads them on the ingest thread (and may move their memory there). */
    const ingestElsewhere = async (req: Request, res: Response): Promise<BodyIngest | undefined> => {
      const body: Uint8Array = Buffer.isBuffer(req.body) ? req.body : new Uint8Array(0);
      req.body = undefined;
      const leave = res.locals.leaveLargeBodyGate as (() => void) | undefined;
      try {
        // A large body's turn at the gate ends once the thread has read it, as it would here.
        return await (deps.ingestBody as NonNullable<WebhookDeps["ingestBody"]>)(source, body, deps.clock(), leave);
      } finally {
        leave?.();
      }
    };
    const receive = async (req: Request, res: Response) => {
      const started = process.hrtime.bigint();
      let stored: BodyIngest | undefined;
      try {
        stored = deps.ingestBody ? await ingestElsewhere(req, res) : await readAndIngest(req, res);
      } catch (err) {
        metrics.notificationsReceived.inc({ source, outcome: "unavailable" });
        log.error({ source, requestId: req.alertdeskRequestId, err: (err as Error).message }, "webhook not stored");
        res.status(503).set("Retry-After", "5").json({ error: "could not store the notification; retry" });
        return;
      }
      if (!stored) return;
      if (!stored.ok) {
        refuseBody(req, res, stored.rejection);
        return;
      }
      const { summary, truncated, outcomes } = stored;
      metrics.notificationsReceived.inc({ source, outcome: "accepted" });
      if (summary.firing > 0) metrics.alertsReceived.inc({ source, status: "firing" }, summary.firing);
      if (summary.firing < summary.alerts) metrics.alertsReceived.inc({ source, status: "resolved" }, summary.alerts - summary.firing);
      const acted = outcomes.some((o) => o.actions.length > 0);
      log[acted || truncated ? "info" : "debug"](
        {
          source,
          requestId: req.alertdeskRequestId,
          groupKey: summary.groupKey,
          alerts: summary.alerts,
          outcomes: outcomes.map((o) => ({ dedupKey: o.dedupKey, reason: o.reason, actions: o.actions })),
          ...(truncated ? { truncated: truncated.count, truncatedFields: truncated.fields } : {}),
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        "webhook stored",
      );
      // Values cut at intake are said in the answer, so whoever looks at the sender's side sees it too.
      const cut = truncated ? { truncated: { count: truncated.count, fields: truncated.fields } } : {};
      if (summary.test && outcomes.length === 0) {
        log.info(
          { source, requestId: req.alertdeskRequestId, receiver: summary.receiver, groupKey: summary.groupKey },
          "test notification recorded; no ticket",
        );
        res.status(200).json({
          status: "test",
          incidents: [],
          detail: "a sender's test notification: recorded, no ticket (a rule with test_notifications: ticket opens one)",
          ...cut,
        });
        return;
      }
      res.status(200).json({ status: "stored", incidents: outcomes, ...cut });
    };
    for (const method of methods) router[method](path, webhookAuth(auth, rejectUnauthorized), refuseBrowsers, requireJson, admitLargeBody, raw, receive);
    // Body errors of this route (too large, aborted, an encoding it cannot inflate) are answered here, so they count as rejected notifications.
    const onBodyError: ErrorRequestHandler = (err: { type?: string; status?: number; message?: string }, req, res, next) => {
      if (err.type === "entity.too.large") {
        reject(req, res, {
          status: 413,
          outcome: "too_large",
          why: "too large",
          body: { error: `body larger than the limit of ${deps.bodyLimitBytes} bytes` },
        });
        return;
      }
      if (err.status && err.status >= 400 && err.status < 500) {
        reject(req, res, { status: err.status, outcome: "invalid", why: err.type ?? "bad request", body: { error: err.message ?? "bad request" } });
        return;
      }
      next(err);
    };
    router.use(path, onBodyError);
  }
  return router;
}
