import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApiRouter } from "./api/router.js";
import { ConfigError, type ServiceConfig } from "./config/service.js";
import { createDriverRegistry } from "./drivers/registry.js";
import type { HelpdeskDriver } from "./drivers/types.js";
import { createHttpApp } from "./http/app.js";
import { createHealthRouter } from "./intake/health.js";
import { createWebhookRouter } from "./intake/webhooks.js";
import type { Notification } from "./model/alert.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { createOutboxWorker, type OutboxWorker } from "./outbox/worker.js";
import { createGroupCommitter } from "./pipeline/group-commit.js";
import { apply, type IngestOutcome, plan, type TemplateFailure } from "./pipeline/ingest.js";
import type { ReloadStatus, RuleSet } from "./rules/load.js";
import { createRulesReloader, type RulesReloader } from "./rules/reloader.js";
import { openStore } from "./store/open.js";
import type { Store } from "./store/types.js";

export interface ServiceOptions {
  config: ServiceConfig;
  clock?: () => Date;
  log?: Logger;
  /** Start the outbox worker (default true); tests of the intake alone may turn it off. */
  deliver?: boolean;
}

export interface RunningService {
  url: string;
  port: number;
  store: Store;
  metrics: Metrics;
  worker: OutboxWorker;
  drivers: ReadonlyMap<string, HelpdeskDriver>;
  ingest(notification: Notification, receivedAt: Date): Promise<IngestOutcome[]>;
  /** The rules in force. */
  rules(): RuleSet;
  /** Loads the rules again; they replace the running ones only if every file loads. */
  reload(reason: string): ReloadStatus;
  stop(): Promise<void>;
}

/**
 * The composition root: opens the store, builds the drivers, loads the rules, and wires the
 * pipeline, the outbox worker and the HTTP server together. It decides nothing itself.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config } = options;
  const clock = options.clock ?? (() => new Date());
  const log = options.log ?? createLogger();
  const store = await openStore(config);
  let drivers: Map<string, HelpdeskDriver>;
  let rules: RulesReloader;
  let metrics: Metrics;
  try {
    try {
      drivers = createDriverRegistry({ builtinBook: store, clock }, config.helpdesks);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    metrics = createMetrics(
      {
        countIncidents: () => store.countIncidents(),
        countOutbox: () => store.countOutbox(),
        dueIncidents: async () =>
          (await store.listIncidents({ state: "firing", limit: 1000 })).map((i) => ({
            priority: i.priority,
            ticketKey: i.ticketKey,
            rule: i.rule,
            dueAt: i.dueAt,
          })),
        clock,
      },
      [...drivers.keys()],
    );
    rules = createRulesReloader({
      path: config.rulesPath,
      defaultHelpdesk: config.defaultHelpdesk,
      helpdesks: new Set(drivers.keys()),
      watch: config.watchRules !== false,
      clock,
      log,
      metrics,
    });
  } catch (err) {
    await store.close();
    throw err;
  }

  const committer = createGroupCommitter(store, { onBatch: (n) => metrics.commitBatchSize.observe(n) });
  const worker = createOutboxWorker({
    store,
    drivers,
    metrics,
    log,
    clock,
    ...(config.delivery.pollIntervalMs ? { pollIntervalMs: config.delivery.pollIntervalMs } : {}),
    ...(config.delivery.leaseMs ? { leaseMs: config.delivery.leaseMs } : {}),
    ...(config.delivery.retentionMs ? { retentionMs: config.delivery.retentionMs } : {}),
    retry: {
      ...(config.delivery.maxAttempts ? { maxAttempts: config.delivery.maxAttempts } : {}),
      ...(config.delivery.maxAgeMs ? { maxAgeMs: config.delivery.maxAgeMs } : {}),
      ...(config.delivery.baseMs ? { baseMs: config.delivery.baseMs } : {}),
      ...(config.delivery.maxMs ? { maxMs: config.delivery.maxMs } : {}),
    },
  });

  async function ingest(notification: Notification, receivedAt: Date): Promise<IngestOutcome[]> {
    const current = rules.current(); // one rule set for the whole notification, even if a reload lands meanwhile
    const planned = plan(notification, current, config.defaultHelpdesk);
    for (const rule of planned.ignoredBy) metrics.alertsIgnored.inc({ rule });
    if (notification.test) {
      if (planned.testsRecorded > 0) metrics.testNotifications.inc({ source: notification.source, outcome: "recorded" });
      if (planned.groups.size > 0) metrics.testNotifications.inc({ source: notification.source, outcome: "ticketed" });
    }
    const failures: TemplateFailure[] = [];
    const outcomes = await committer.submit((tx) => apply(tx, notification, planned, current, receivedAt, failures));
    for (const f of failures) {
      metrics.templateErrors.inc({ rule: f.rule, template: f.template });
      log.warn({ rule: f.rule, template: f.template, err: f.error }, "template failed; used the default text");
    }
    for (const o of outcomes) metrics.lifecycleSteps.inc({ reason: o.reason });
    if (outcomes.some((o) => o.actions.length > 0)) worker.kick();
    return outcomes;
  }

  const admin = config.adminToken ? { adminToken: config.adminToken } : {};
  const app = createHttpApp(
    [
      createWebhookRouter({
        ingest,
        metrics,
        log,
        clock,
        bodyLimitBytes: config.bodyLimitBytes,
        ...(config.webhookToken ? { webhookToken: config.webhookToken } : {}),
        ...(config.webhookBasicAuth ? { webhookBasicAuth: config.webhookBasicAuth } : {}),
      }),
      createHealthRouter({
        metrics,
        notReady: async () => {
          await store.ping();
          return undefined; // rules are loaded before the server listens, and a failed reload keeps the old ones
        },
      }),
      createApiRouter({
        store,
        clock,
        rules: () => ({ rules: rules.current(), lastReload: rules.lastReload() }),
        reload: () => rules.reload("POST /-/reload"),
        kick: () => worker.kick(),
        ...admin,
      }),
    ],
    log,
  );

  const server = await new Promise<Server>((resolve, reject) => {
    // Timeouts are checked every second, so a slow client (slow-loris headers or body) is cut off
    // soon after its timeout instead of holding a socket for the default 30 s check interval.
    const requestTimeout = config.requestTimeoutMs ?? 30_000;
    const s = createServer(
      { requestTimeout, headersTimeout: Math.min(config.headersTimeoutMs ?? 10_000, requestTimeout), connectionsCheckingInterval: 1000 },
      app,
    );
    s.listen(config.port, config.host, () => resolve(s));
    s.once("error", reject);
  }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  if (options.deliver !== false) worker.start();
  const port = (server.address() as AddressInfo).port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  log.info(
    { port, host: config.host, dataDir: config.dataDir, rules: rules.current().files.length, ruleCount: rules.current().rules.length, store: store.kind },
    "alertdesk started",
  );

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    store,
    metrics,
    worker,
    drivers,
    ingest,
    rules: () => rules.current(),
    reload: (reason) => rules.reload(reason),
    stop() {
      stopping ??= (async () => {
        rules.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), 5000);
        await closed;
        clearTimeout(force);
        await committer.drain();
        await worker.stop();
        await store.close();
        log.info("alertdesk stopped");
      })();
      return stopping;
    },
  };
}
