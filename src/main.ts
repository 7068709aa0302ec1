import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { RequestHandler } from "express";
import { createAlertmanagerClient } from "./alertmanagers/client.js";
import { createApiRouter } from "./api/router.js";
import { ConfigError, type ServiceConfig } from "./config/service.js";
import { createDriverRegistry } from "./drivers/registry.js";
import type { HelpdeskDriver } from "./drivers/types.js";
import { createHttpApp } from "./http/app.js";
import { adminAuth, isLoopback, type LocalCaller, readAuth } from "./http/auth.js";
import { createConsoleSessions } from "./http/session.js";
import { createHttpServer, type HttpServer } from "./http/tls.js";
import { type IngestThread, startIngestThread } from "./ingest-thread/client.js";
import { createHealthRouter } from "./intake/health.js";
import { createHelpdeskWebhookRouter } from "./intake/helpdesk-webhooks.js";
import { detectSource, parseNotification } from "./intake/payloads.js";
import { type BodyIngest, createWebhookRouter } from "./intake/webhooks.js";
import { createKnowledgeBase } from "./knowledge/registry.js";
import type { Notification } from "./model/alert.js";
import { formatPath } from "./model/field-path.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { createOutboxWorker, type OutboxWorker } from "./outbox/worker.js";
import { dryRun } from "./pipeline/dry-run.js";
import { createGroupCommitter } from "./pipeline/group-commit.js";
import { type IngestOutcome, type IngestResult, ingestNotification } from "./pipeline/ingest.js";
import type { ReloadStatus, RuleSet } from "./rules/load.js";
import { createRulesReloader, type RulesReloader } from "./rules/reloader.js";
import { openStore, sqlitePath } from "./store/open.js";
import { createWriteLock } from "./store/sqlite/write-lock.js";
import type { Store } from "./store/types.js";
import { createSyncer, type Syncer } from "./sync/syncer.js";
import type { PlaygroundAnswer } from "./ui/deps.js";
import { createConsoleRouter } from "./ui/router.js";

export interface ServiceOptions {
  config: ServiceConfig;
  clock?: () => Date;
  log?: Logger;
  /** Start the outbox worker (default true); tests of the intake alone may turn it off. */
  deliver?: boolean;
  /** Start the way back's loop (default true); tests that drive it with an injected clock call syncer.runOnce() instead. */
  sync?: boolean;
  /**
   * Which peer addresses count as this machine for the endpoints that answer on loopback only when
   * no credential is configured (default: loopback). Tests say "nobody" to see what the network sees,
   * without a server listening anywhere but 127.0.0.1.
   */
  isLocalCaller?: LocalCaller;
  /**
   * Something alertdesk cannot go on without stopped (the ingest thread): `alertdesk serve` exits so
   * that its supervisor restarts it. Without it the service stays up, not ready, answering webhooks 503.
   */
  onFatal?: (err: Error) => void;
  /** The ingest thread's entry (default ./ingest-thread/entry.js); tests start one that stops, to see what a stopped thread does. */
  ingestThreadEntry?: URL;
}

export interface RunningService {
  url: string;
  port: number;
  store: Store;
  metrics: Metrics;
  worker: OutboxWorker;
  /** The way back: polls, doorbells, verifications. */
  syncer: Syncer;
  drivers: ReadonlyMap<string, HelpdeskDriver>;
  ingest(notification: Notification, receivedAt: Date): Promise<IngestOutcome[]>;
  /** The rules in force. */
  rules(): RuleSet;
  /** Loads the rules again; they replace the running ones only if every file loads. */
  reload(reason: string): ReloadStatus;
  stop(): Promise<void>;
}

/** What the start log says the read endpoints need. */
function readsNeed(config: ServiceConfig): string {
  if (config.readsOpen) return "nothing (reads_open)";
  const given = [config.adminToken ? "admin token" : "", config.readToken ? "read token" : "", config.readUsers ? "read user" : ""].filter(Boolean);
  return given.length > 0 ? given.join(" or ") : "loopback";
}

/**
 * The composition root: opens the store, builds the drivers, loads the rules, and wires the
 * pipeline, the outbox worker and the HTTP server together. It decides nothing itself.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config } = options;
  const clock = options.clock ?? (() => new Date());
  const log = options.log ?? createLogger();
  // A SQLite file store ingests on a second thread (ingest-thread/client.ts); its connection and this
  // thread's take turns writing through the lock.
  const writeLock = config.ingestThread !== false && !config.databaseUrl ? createWriteLock() : undefined;
  // The serving process: stale leases of a dead predecessor are released.
  const store = await openStore(config, { owner: true, ...(writeLock ? { writeLock } : {}) });
  let drivers: Map<string, HelpdeskDriver>;
  let rules: RulesReloader;
  let metrics: Metrics;
  try {
    try {
      const budgets = store.requestBudget;
      // On PostgreSQL every replica takes a rate-limited helpdesk's request slots from the same row.
      const requestBudget = budgets
        ? (helpdesk: string) => ({
            reserve: (intervalMs: number) => budgets.reserveRequestSlot(helpdesk, intervalMs),
            pause: (ms: number) => budgets.pauseRequests(helpdesk, ms),
          })
        : undefined;
      drivers = createDriverRegistry({ builtinBook: store, clock, ...(requestBudget ? { requestBudget } : {}) }, config.helpdesks);
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
        syncedAt: async () => (await store.syncStatus()).map((s) => ({ helpdesk: s.helpdesk, syncedAt: s.syncedAt })),
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

  let ingestFailure: Error | undefined;
  let thread: IngestThread | undefined;
  if (writeLock) {
    try {
      thread = await startIngestThread({
        entry: options.ingestThreadEntry ?? new URL(import.meta.url.endsWith(".ts") ? "./ingest-thread/entry.ts" : "./ingest-thread/entry.js", import.meta.url),
        data: { dbPath: sqlitePath(config.dataDir), lock: writeLock.buffer, defaultHelpdesk: config.defaultHelpdesk },
        lock: writeLock,
        onBatch: (n) => metrics.commitBatchSize.observe(n),
        onFailure: (err) => {
          ingestFailure = err;
          log.fatal({ err: err.message }, "the ingest thread stopped; webhooks are refused (503) until alertdesk restarts");
          options.onFatal?.(err);
        },
      });
    } catch (err) {
      rules.close();
      await store.close();
      throw err;
    }
  }

  const committer = createGroupCommitter(store, { onBatch: (n) => metrics.commitBatchSize.observe(n) });
  const alertmanagers = (config.alertmanagers ?? []).map((am) => createAlertmanagerClient(am.name, am, { clock }));
  const knowledgeBase = config.knowledgeBase ? createKnowledgeBase(config.knowledgeBase, { clock }) : undefined;
  const worker = createOutboxWorker({
    store,
    drivers,
    alertmanagers,
    ...(knowledgeBase ? { knowledgeBase } : {}),
    metrics,
    log,
    clock,
    ...(config.delivery.pollIntervalMs ? { pollIntervalMs: config.delivery.pollIntervalMs } : {}),
    ...(config.delivery.leaseMs ? { leaseMs: config.delivery.leaseMs } : {}),
    ...(config.delivery.retentionMs ? { retentionMs: config.delivery.retentionMs } : {}),
    ...(config.delivery.order ? { order: config.delivery.order } : {}),
    retry: {
      ...(config.delivery.maxAttempts ? { maxAttempts: config.delivery.maxAttempts } : {}),
      ...(config.delivery.maxAgeMs ? { maxAgeMs: config.delivery.maxAgeMs } : {}),
      ...(config.delivery.baseMs ? { baseMs: config.delivery.baseMs } : {}),
      ...(config.delivery.maxMs ? { maxMs: config.delivery.maxMs } : {}),
    },
  });

  const syncer = createSyncer({
    store,
    drivers,
    metrics,
    log,
    clock,
    alertmanagers,
    externalKnowledgeBase: knowledgeBase !== undefined,
    kickOutbox: () => worker.kick(),
  });

  /** What the ingest step did, into the metrics; then the outbox is woken if there is something to deliver. */
  function counted(source: Notification["source"], test: boolean, result: IngestResult): IngestOutcome[] {
    const { outcomes, failures, ignoredBy, testsRecorded, ticketed } = result;
    for (const rule of ignoredBy) metrics.alertsIgnored.inc({ rule });
    if (test) {
      if (testsRecorded > 0) metrics.testNotifications.inc({ source, outcome: "recorded" });
      if (ticketed) metrics.testNotifications.inc({ source, outcome: "ticketed" });
    }
    for (const f of failures) {
      metrics.templateErrors.inc({ rule: f.rule, template: f.template });
      log.warn({ rule: f.rule, template: f.template, err: f.error }, "template failed; used the default text");
    }
    for (const o of outcomes) {
      metrics.lifecycleSteps.inc({ reason: o.reason });
      if (o.reason === "muted") metrics.mutedNotifications.inc();
      if (o.resolved) metrics.timeToResolve.observe({ priority: o.resolved.priority }, o.resolved.seconds);
    }
    if (outcomes.some((o) => o.actions.length > 0)) worker.kick();
    return outcomes;
  }

  async function ingest(notification: Notification, receivedAt: Date): Promise<IngestOutcome[]> {
    const current = rules.current(); // one rule set for the whole notification, even if a reload lands meanwhile
    const result = thread
      ? await thread.ingest(notification, receivedAt, current)
      : await ingestNotification(committer, notification, receivedAt, current, config.defaultHelpdesk);
    return counted(notification.source, notification.test === true, result);
  }

  /** With the ingest thread, webhook bodies are read there too: the main thread only moves the bytes. */
  const ingestThread = thread;
  const ingestBody = ingestThread
    ? async (source: Notification["source"], body: Uint8Array, receivedAt: Date, onRead?: () => void): Promise<BodyIngest> => {
        const read = await ingestThread.ingestBody(source, body, receivedAt, rules.current(), onRead);
        if (!read.ok) return read;
        const outcomes = counted(source, read.summary.test, read.result);
        return { ok: true, summary: read.summary, ...(read.truncated ? { truncated: read.truncated } : {}), outcomes };
      }
    : undefined;

  const admin = config.adminToken ? { adminToken: config.adminToken } : {};
  // One guard for the read path and /metrics, so they share the cache of checked passwords.
  const isLocal = options.isLocalCaller ?? isLoopback;
  const credentialReads = readAuth(
    {
      ...admin,
      ...(config.readToken ? { readToken: config.readToken } : {}),
      ...(config.readUsers ? { readUsers: config.readUsers } : {}),
      ...(config.readsOpen ? { open: true } : {}),
      // A console user reads too (by the console's session cookie, below): the read path then needs a credential.
      ...(config.consoleUsers && !config.readsOpen ? { readUsers: { ...config.consoleUsers, ...config.readUsers } } : {}),
    },
    { isLocal },
  );
  const sessions = createConsoleSessions(
    {
      ...admin,
      ...(config.consoleUsers ? { users: config.consoleUsers } : {}),
      ...(config.consoleSessionSecret ? { sessionSecret: config.consoleSessionSecret } : {}),
      readsLocked: !config.readsOpen && Boolean(config.readToken || config.readUsers),
    },
    { isLocal, secure: config.tls !== undefined },
  );
  // The console's session cookie reads the JSON APIs as well (its pages and scripts use them).
  const reads: RequestHandler = (req, res, next) => (sessions.sessionOf(req) ? next() : credentialReads(req, res, next));
  /** The playground: the same code as `alertdesk simulate`, on a fresh in-memory state, with the rules in force. */
  const simulate = async (payload: unknown): Promise<PlaygroundAnswer> => {
    const source = detectSource(payload);
    const parsed = parseNotification(source, payload);
    if (!parsed.ok) return { ok: false, problems: parsed.issues.map((i) => ({ field: formatPath(i.path), message: i.message })) };
    const times = parsed.notification.alerts.flatMap((a) => [a.startsAt, a.endsAt ?? a.startsAt]).map((t) => Date.parse(t));
    const receivedAt = times.length > 0 ? new Date(Math.max(...times) + 1000) : clock();
    const [planned] = await dryRun(rules.current(), [{ notification: parsed.notification, receivedAt }], { defaultHelpdesk: config.defaultHelpdesk });
    if (!planned) return { ok: false, problems: [{ field: "", message: "nothing to simulate" }] };
    return { ok: true, source, receivedAt: receivedAt.toISOString(), plan: planned };
  };
  let reloadCertificates = () => {};
  /** SIGHUP and POST /-/reload: the rules, and the TLS certificate files (renewed ones take effect for new connections). */
  const reload = (reason: string): ReloadStatus => {
    try {
      reloadCertificates();
    } catch (err) {
      log.error({ err: (err as Error).message, reason }, "TLS certificates not reloaded; the previous ones stay in use");
    }
    return rules.reload(reason);
  };
  const app = createHttpApp(
    [
      createWebhookRouter({
        ingest,
        ...(ingestBody ? { ingestBody } : {}),
        metrics,
        log,
        clock,
        bodyLimitBytes: config.bodyLimitBytes,
        ...(config.webhookToken ? { webhookToken: config.webhookToken } : {}),
        ...(config.webhookBasicAuth ? { webhookBasicAuth: config.webhookBasicAuth } : {}),
      }),
      createHelpdeskWebhookRouter({ receive: (name, request) => syncer.receiveDoorbell(name, request), log }),
      createHealthRouter({
        metrics,
        notReady: async () => {
          if (ingestFailure) return ingestFailure.message;
          await store.ping();
          return undefined; // rules are loaded before the server listens, and a failed reload keeps the old ones
        },
        metricsAuth: config.metricsAuth === "none" ? (_req, _res, next) => next() : reads,
      }),
      createConsoleRouter({
        store,
        sessions,
        clock,
        rules: () => ({ rules: rules.current(), lastReload: rules.lastReload() }),
        simulate,
        examplesDir: fileURLToPath(new URL("../examples/", import.meta.url)),
        kick: () => worker.kick(),
        onAgentAct: () => syncer.kick("builtin"),
      }),
      createApiRouter({
        store,
        clock,
        rules: () => ({ rules: rules.current(), lastReload: rules.lastReload() }),
        reload: () => reload("POST /-/reload"),
        kick: () => worker.kick(),
        onAgentAct: () => syncer.kick("builtin"),
        adminAuth: adminAuth(config.adminToken, isLocal),
        readAuth: reads,
      }),
    ],
    log,
  );

  const { server, scheme } = await new Promise<HttpServer>((resolve, reject) => {
    const http = createHttpServer(app, {
      requestTimeoutMs: config.requestTimeoutMs ?? 30_000,
      headersTimeoutMs: config.headersTimeoutMs ?? 10_000,
      ...(config.tls ? { tls: config.tls } : {}),
    });
    reloadCertificates = http.reloadCertificates;
    http.server.listen(config.port, config.host, () => resolve(http));
    http.server.once("error", reject);
  }).catch(async (err: unknown) => {
    rules.close();
    await thread?.close();
    await store.close();
    throw err;
  });
  if (options.deliver !== false) worker.start();
  if (options.sync !== false) syncer.start();
  const port = (server.address() as AddressInfo).port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  log.info(
    {
      port,
      host: config.host,
      dataDir: config.dataDir,
      rules: rules.current().files.length,
      ruleCount: rules.current().rules.length,
      store: store.kind,
      ingest: thread ? "own thread" : "main thread",
      tls: scheme === "https" ? (config.tls?.clientCaFile ? "client certificates required" : "on") : "off",
      reads: readsNeed(config),
    },
    "alertdesk started",
  );

  let stopping: Promise<void> | undefined;
  return {
    url: `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    store,
    metrics,
    worker,
    syncer,
    drivers,
    ingest,
    rules: () => rules.current(),
    reload,
    stop() {
      stopping ??= (async () => {
        rules.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), 5000);
        await closed;
        clearTimeout(force);
        await committer.drain();
        await thread?.close();
        await syncer.stop();
        await worker.stop();
        await store.close();
        log.info("alertdesk stopped");
      })();
      return stopping;
    },
  };
}
