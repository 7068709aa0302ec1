import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { ServiceConfig } from "./config/service.js";
import { createDriverRegistry } from "./drivers/registry.js";
import type { HelpdeskDriver } from "./drivers/types.js";
import { createApp } from "./intake/app.js";
import type { Notification } from "./intake/notification.js";
import { type Logger, createLogger } from "./observability/logger.js";
import { type Metrics, createMetrics } from "./observability/metrics.js";
import { type OutboxWorker, createOutboxWorker } from "./outbox/worker.js";
import { createGroupCommitter } from "./pipeline/group-commit.js";
import { type IngestOutcome, apply, plan } from "./pipeline/ingest.js";
import { RulesError, type RuleSet, loadRules } from "./rules/load.js";
import { createSqliteStore } from "./store/sqlite/store.js";
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
  stop(): Promise<void>;
}

/** Names every helpdesk a rule uses that is not configured. */
export function checkHelpdesks(rules: RuleSet, defaultHelpdesk: string, known: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (!known.has(defaultHelpdesk)) problems.push(`undefined helpdesk "${defaultHelpdesk}" used as default_helpdesk`);
  if (rules.defaults.helpdesk && !known.has(rules.defaults.helpdesk)) problems.push(`undefined helpdesk "${rules.defaults.helpdesk}" used in defaults`);
  for (const r of rules.rules) if (r.helpdesk && !known.has(r.helpdesk)) problems.push(`undefined helpdesk "${r.helpdesk}" used in rule "${r.name}"`);
  return problems;
}

/** The composition root: loads rules, opens the store, builds drivers, starts the worker and the HTTP server. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config } = options;
  const clock = options.clock ?? (() => new Date());
  const log = options.log ?? createLogger();
  const rules = loadRules(config.rulesPath);
  const store = createSqliteStore({ path: join(config.dataDir, "alertdesk.db") });
  const drivers = createDriverRegistry({ builtinBook: store, clock });
  const problems = checkHelpdesks(rules, config.defaultHelpdesk, new Set(drivers.keys()));
  if (problems.length > 0) {
    await store.close();
    throw new RulesError(problems);
  }
  const metrics = createMetrics({ countIncidents: () => store.countIncidents(), countOutbox: () => store.countOutbox() }, [...drivers.keys()]);
  metrics.rulesLoaded.set(rules.rules.length);
  const committer = createGroupCommitter(store, { onBatch: (n) => metrics.commitBatchSize.observe(n) });
  const worker = createOutboxWorker({
    store,
    drivers,
    metrics,
    log,
    clock,
    ...(config.delivery.pollIntervalMs ? { pollIntervalMs: config.delivery.pollIntervalMs } : {}),
    ...(config.delivery.leaseMs ? { leaseMs: config.delivery.leaseMs } : {}),
    retry: {
      ...(config.delivery.maxAttempts ? { maxAttempts: config.delivery.maxAttempts } : {}),
      ...(config.delivery.maxAgeMs ? { maxAgeMs: config.delivery.maxAgeMs } : {}),
      ...(config.delivery.baseMs ? { baseMs: config.delivery.baseMs } : {}),
      ...(config.delivery.maxMs ? { maxMs: config.delivery.maxMs } : {}),
    },
  });

  async function ingest(notification: Notification, receivedAt: Date): Promise<IngestOutcome[]> {
    const planned = plan(notification, rules, config.defaultHelpdesk);
    for (const rule of planned.ignoredBy) metrics.alertsIgnored.inc({ rule });
    const outcomes = await committer.submit((tx) => apply(tx, notification, planned, receivedAt));
    for (const o of outcomes) metrics.lifecycleSteps.inc({ reason: o.reason });
    if (outcomes.some((o) => o.actions.length > 0)) worker.kick();
    return outcomes;
  }

  const app = createApp({
    ingest,
    store,
    metrics,
    log,
    clock,
    bodyLimitBytes: config.bodyLimitBytes,
    ...(config.webhookToken ? { webhookToken: config.webhookToken } : {}),
    notReady: async () => {
      await store.ping();
      return rules.rules.length >= 0 ? undefined : "rules not loaded";
    },
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once("error", reject);
  }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  // Alertmanager's own webhook timeout is 10 s by default; don't let a slow client hold a socket forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  if (options.deliver !== false) worker.start();
  const port = (server.address() as AddressInfo).port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  log.info({ port, host: config.host, dataDir: config.dataDir, rules: rules.files.length, ruleCount: rules.rules.length, store: store.kind }, "alertdesk started");

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    store,
    metrics,
    worker,
    drivers,
    ingest,
    stop() {
      stopping ??= (async () => {
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
