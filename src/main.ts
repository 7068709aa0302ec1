import { type FSWatcher, watch } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, type ServiceConfig } from "./config/service.js";
import { createDriverRegistry } from "./drivers/registry.js";
import type { HelpdeskDriver } from "./drivers/types.js";
import { createApp } from "./intake/app.js";
import type { Notification } from "./intake/notification.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { createOutboxWorker, type OutboxWorker } from "./outbox/worker.js";
import { createGroupCommitter } from "./pipeline/group-commit.js";
import { apply, type IngestOutcome, plan, type TemplateFailure } from "./pipeline/ingest.js";
import { checkHelpdesks, loadRules, type ReloadStatus, type RuleSet, RulesError } from "./rules/load.js";
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

/** The composition root: loads rules, opens the store, builds drivers, starts the worker and the HTTP server. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config } = options;
  const clock = options.clock ?? (() => new Date());
  const log = options.log ?? createLogger();
  let rules = loadRules(config.rulesPath);
  const store = await openStore(config);
  let drivers: Map<string, HelpdeskDriver>;
  try {
    drivers = createDriverRegistry({ builtinBook: store, clock }, config.helpdesks);
  } catch (err) {
    await store.close();
    throw new ConfigError((err as Error).message);
  }
  const helpdeskNames = new Set(drivers.keys());
  const problems = checkHelpdesks(rules, config.defaultHelpdesk, helpdeskNames);
  if (problems.length > 0) {
    await store.close();
    throw new RulesError(problems);
  }
  const metrics = createMetrics(
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
  let lastReload: ReloadStatus = { success: true, at: clock().toISOString() };
  metrics.rulesLoaded.set(rules.rules.length);
  metrics.rulesLastReloadSuccess.set(1);
  metrics.rulesLastReloadTimestamp.set(clock().getTime() / 1000);

  function reload(reason: string): ReloadStatus {
    const at = clock().toISOString();
    try {
      const next = loadRules(config.rulesPath);
      const unknown = checkHelpdesks(next, config.defaultHelpdesk, helpdeskNames);
      if (unknown.length > 0) throw new RulesError(unknown);
      rules = next;
      lastReload = { success: true, at };
      metrics.rulesLoaded.set(rules.rules.length);
      metrics.rulesLastReloadSuccess.set(1);
      metrics.rulesLastReloadTimestamp.set(clock().getTime() / 1000);
      log.info({ reason, rules: rules.rules.length, files: rules.files.length }, "rules reloaded");
    } catch (err) {
      lastReload = { success: false, at, error: (err as Error).message };
      metrics.rulesLastReloadSuccess.set(0);
      log.error({ reason, err: (err as Error).message }, "rules reload failed; the previous rules keep running");
    }
    return lastReload;
  }

  // Editors save by rename or several writes: wait for the burst to settle before reloading.
  let watcher: FSWatcher | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;
  if (config.watchRules !== false) {
    try {
      watcher = watch(config.rulesPath, () => {
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(() => reload("file change"), 300);
      });
      watcher.on("error", (err) => log.warn({ err: err.message }, "rules watch failed; reload with SIGHUP or POST /-/reload"));
    } catch (err) {
      log.warn({ err: (err as Error).message }, "cannot watch the rules; reload with SIGHUP or POST /-/reload");
    }
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
    const current = rules; // one rule set for the whole notification, even if a reload lands meanwhile
    const planned = plan(notification, current, config.defaultHelpdesk);
    for (const rule of planned.ignoredBy) metrics.alertsIgnored.inc({ rule });
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

  const app = createApp({
    ingest,
    store,
    metrics,
    log,
    clock,
    bodyLimitBytes: config.bodyLimitBytes,
    ...(config.webhookToken ? { webhookToken: config.webhookToken } : {}),
    ...(config.webhookBasicAuth ? { webhookBasicAuth: config.webhookBasicAuth } : {}),
    notReady: async () => {
      await store.ping();
      return undefined; // rules are loaded before the server listens, and a failed reload keeps the old ones
    },
    rules: () => ({ rules, lastReload }),
    reload: () => reload("POST /-/reload"),
    kick: () => worker.kick(),
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
  });

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
    { port, host: config.host, dataDir: config.dataDir, rules: rules.files.length, ruleCount: rules.rules.length, store: store.kind },
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
    rules: () => rules,
    reload,
    stop() {
      stopping ??= (async () => {
        watcher?.close();
        clearTimeout(reloadTimer);
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
