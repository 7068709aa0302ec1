import { randomUUID } from "node:crypto";
import express, { type ErrorRequestHandler, type Request, type Response } from "express";
import { z } from "zod";
import type { Incident } from "../lifecycle/incident.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { IngestOutcome } from "../pipeline/ingest.js";
import type { ReloadStatus, RuleSet } from "../rules/load.js";
import type { Store } from "../store/types.js";
import { adminAuth, webhookAuth } from "./auth.js";
import { formatPath, type Notification, parseNotification, type Source } from "./notification.js";
import { renderTicketsPage } from "./tickets-page.js";

export interface AppDeps {
  /** Commits the notification (rules → lifecycle → store/outbox) and resolves once it is durable. */
  ingest: (notification: Notification, receivedAt: Date) => Promise<IngestOutcome[]>;
  store: Store;
  metrics: Metrics;
  log: Logger;
  clock: () => Date;
  webhookToken?: string;
  webhookBasicAuth?: { username: string; password: string };
  bodyLimitBytes: number;
  /** Undefined when ready, else why not. */
  notReady: () => Promise<string | undefined>;
  /** The rules in force and how the last reload went. */
  rules: () => { rules: RuleSet; lastReload: ReloadStatus };
  reload: () => ReloadStatus;
  /** Wakes the outbox worker. */
  kick: () => void;
  adminToken?: string;
}

/** What GET /api/rules shows of the rules in force. */
function rulesView(rules: RuleSet) {
  return {
    files: rules.files,
    defaults: rules.defaults,
    responseTargetsSeconds: Object.fromEntries(Object.entries(rules.responseTargets).map(([p, ms]) => [p, ms / 1000])),
    rules: rules.rules.map((r) => ({
      name: r.name,
      origin: r.origin,
      matchers: r.matchers.map((m) => m.text),
      annotations: r.annotationMatchers.map((m) => m.text),
      when: r.whenText ?? null,
      valueFrom: r.valueFrom ?? null,
      continue: r.continue,
      ignore: r.ignore,
      priority: r.priority ?? null,
      category: r.category ?? null,
      helpdesk: r.helpdesk ?? null,
      assigneeGroup: r.assigneeGroup ?? null,
      tags: r.tags ?? [],
      title: r.title?.source ?? null,
      description: r.description?.source ?? null,
    })),
  };
}

const limitParam = z.coerce.number().int().min(1).max(10_000).default(500);
const ticketsQuery = z.object({ status: z.enum(["open", "solved"]).optional(), limit: limitParam }).strict();
const incidentsQuery = z.object({ state: z.enum(["firing", "resolved"]).optional(), key: z.string().optional(), limit: limitParam }).strict();
const deliveriesQuery = z.object({ state: z.enum(["pending", "done", "dead", "cancelled", "coalesced"]).optional(), limit: limitParam }).strict();

function badRequest(res: Response, error: string, issues: z.core.$ZodIssue[]) {
  res.status(400).json({ error, issues: issues.map((i) => ({ field: formatPath(i.path), message: i.message })) });
}

/** The view of an incident that /api/incidents shows. */
function incidentView(i: Incident) {
  return {
    id: i.id,
    dedupKey: i.dedupKey,
    seq: i.seq,
    state: i.state,
    priority: i.priority,
    category: i.category,
    rule: i.rule,
    helpdesk: i.helpdesk,
    ticketKey: i.ticketKey,
    ticket: i.ticket ?? null,
    previousTicketKey: i.previousTicketKey ?? null,
    firingAlerts: i.alerts.filter((a) => a.status === "firing"),
    resolvedAlerts: i.alerts.filter((a) => a.status === "resolved").length,
    recurrences: i.recurrences,
    openedAt: i.openedAt,
    updatedAt: i.updatedAt,
    resolvedAt: i.resolvedAt ?? null,
    dueAt: i.dueAt,
    deferredUntil: i.deferredUntil ?? null,
    cancelled: i.cancelled ?? false,
    keptOpenFlapping: i.keptOpen ?? false,
  };
}

/** The HTTP intake: webhook receivers, health, metrics, and the read APIs. */
export function createApp(deps: AppDeps): express.Express {
  const { metrics, log, store } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // Answers to webhooks and API reads are not cached: no hash of every response body.
  app.set("etag", false);
  // Every request has an id (the caller's X-Request-Id when it is sane), echoed and logged.
  app.use((req, res, next) => {
    const given = req.header("x-request-id");
    req.alertdeskRequestId = given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    res.set("X-Request-Id", req.alertdeskRequestId);
    next();
  });

  const json = express.json({ limit: deps.bodyLimitBytes, type: () => true, strict: true });

  for (const source of ["alertmanager", "grafana"] as const) {
    app.post(
      `/webhooks/${source}`,
      (req, _res, next) => {
        req.alertdeskSource = source;
        next();
      },
      webhookAuth({ ...(deps.webhookToken ? { token: deps.webhookToken } : {}), ...(deps.webhookBasicAuth ? { basic: deps.webhookBasicAuth } : {}) }, (req) => {
        metrics.notificationsReceived.inc({ source, outcome: "unauthorized" });
        log.info({ source, requestId: req.alertdeskRequestId, remote: req.socket.remoteAddress }, "webhook rejected: unauthorized");
      }),
      json,
      async (req: Request, res: Response) => {
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
        res.status(200).json({ status: "stored", incidents: outcomes });
      },
    );
  }

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const why = await deps.notReady().catch((err: Error) => err.message);
    if (why) res.status(503).json({ status: "not ready", reason: why });
    else res.json({ status: "ready" });
  });
  app.get("/metrics", async (_req, res) => {
    res.set("Content-Type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get("/api/tickets", async (req, res) => {
    const q = ticketsQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const query = q.data.status ? { status: q.data.status, limit: q.data.limit } : { limit: q.data.limit };
    res.json({ tickets: await store.listTickets(query) });
  });
  app.get("/api/incidents", async (req, res) => {
    const q = incidentsQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const incidents = await store.listIncidents({
      limit: q.data.limit,
      ...(q.data.state ? { state: q.data.state } : {}),
      ...(q.data.key ? { dedupKey: q.data.key } : {}),
    });
    res.json({ incidents: incidents.map(incidentView) });
  });
  app.get("/api/deliveries", async (req, res) => {
    const q = deliveriesQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    res.json({ deliveries: await store.listDeliveries(q.data.state ? { state: q.data.state, limit: q.data.limit } : { limit: q.data.limit }) });
  });
  const replayBody = z.union([z.object({ all: z.literal(true) }).strict(), z.object({ ids: z.array(z.number().int().positive()).min(1) }).strict()]);
  app.post("/api/deliveries/replay", adminAuth(deps.adminToken), express.json({ limit: "1mb" }), async (req, res) => {
    const body = replayBody.safeParse(req.body ?? {});
    if (!body.success) return badRequest(res, 'want {"ids": [1, 2]} or {"all": true}', body.error.issues);
    const n = await store.requeueDead("all" in body.data ? "all" : body.data.ids, deps.clock());
    deps.kick();
    res.json({ requeued: n });
  });
  app.get("/api/rules", (_req, res) => {
    const { rules, lastReload } = deps.rules();
    res.json({ lastReload, ...rulesView(rules) });
  });
  app.post("/-/reload", adminAuth(deps.adminToken), (_req, res) => {
    const result = deps.reload();
    if (result.success) res.json({ status: "reloaded", rules: deps.rules().rules.rules.length });
    else
      res.status(400).json({ status: "failed", error: "the rules did not load; the previous rules keep running", problems: result.error?.split("\n") ?? [] });
  });
  app.get("/tickets", async (_req, res) => {
    const tickets = await store.listTickets({ limit: 500 });
    res
      .set({
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
      })
      .type("html")
      .send(renderTicketsPage(tickets, deps.clock()));
  });

  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });

  const onError: ErrorRequestHandler = (err: { type?: string; status?: number; message?: string }, req, res, _next) => {
    const source = req.alertdeskSource;
    if (err.type === "entity.too.large") {
      if (source) metrics.notificationsReceived.inc({ source, outcome: "too_large" });
      res.status(413).json({ error: `body larger than the limit of ${deps.bodyLimitBytes} bytes` });
      return;
    }
    if (err.type === "entity.parse.failed") {
      if (source) metrics.notificationsReceived.inc({ source, outcome: "invalid" });
      res.status(400).json({ error: "body is not valid JSON", detail: err.message });
      return;
    }
    if (err.status && err.status >= 400 && err.status < 500) {
      if (source) metrics.notificationsReceived.inc({ source, outcome: "invalid" });
      res.status(err.status).json({ error: err.message ?? "bad request" });
      return;
    }
    log.error({ err: err.message, path: req.path }, "request failed");
    res.status(500).json({ error: "internal error" });
  };
  app.use(onError);
  return app;
}

declare global {
  namespace Express {
    interface Request {
      alertdeskSource?: Source;
      alertdeskRequestId?: string;
    }
  }
}
