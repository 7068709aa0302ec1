import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { ServiceConfig } from "../../src/config/service.js";
import { type RunningService, startService } from "../../src/main.js";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { createLogger } from "../../src/observability/logger.js";

/** The captured webhook payloads in test/fixtures/ (alertmanager/, grafana/). */
export const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

/** A fixture's body and the time Alertmanager sent it. */
export function fixture(name: string): { body: string; receivedAt: Date } {
  const dir = name.startsWith("grafana/") ? "" : "alertmanager/";
  const body = readFileSync(join(FIXTURES, `${dir}${name}.json`), "utf8");
  let receivedAt = new Date("2026-11-25T05:47:50Z");
  try {
    const headers = JSON.parse(readFileSync(join(FIXTURES, `${dir}${name}.headers.json`), "utf8")) as { receivedAt: string };
    receivedAt = new Date(headers.receivedAt);
  } catch {
    // Grafana's fixture has no captured headers.
  }
  return { body, receivedAt };
}

export interface TestService extends RunningService {
  dataDir: string;
  logs: string[];
  /** The clock the service reads; tests move it. */
  now: Date;
  post(path: string, body: string, headers?: Record<string, string>): Promise<Response>;
  get(path: string): Promise<Response>;
  /** Posts a fixture at its captured time, then delivers everything due. */
  replay(name: string, path?: string): Promise<Response>;
  /** Runs the outbox until nothing is due. */
  deliverAll(): Promise<void>;
  /** One round of the way back (polls, doorbells, due verifications), then the outbox until nothing is due. */
  sync(): Promise<void>;
  /** A request with a JSON body and any method (the agent API's PATCH). */
  send(method: string, path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  tickets(): Promise<BuiltinTicket[]>;
  cleanup(): Promise<void>;
}

export interface TestServiceOptions {
  rules?: string;
  config?: Partial<ServiceConfig>;
  dataDir?: string;
  /** Run the outbox worker in the background instead of by hand. */
  background?: boolean;
  /** Use the real clock (retries and backoff need time to pass); `now` is then read-only in effect. */
  realClock?: boolean;
  /** Treat every caller as coming from the network, not from this machine (the service still listens on 127.0.0.1). */
  remoteCallers?: boolean;
}

/** Starts alertdesk in-process on 127.0.0.1 with its own data directory and a clock the test controls. */
export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "alertdesk-test-"));
  let rulesPath = join(process.cwd(), "rules");
  if (options.rules !== undefined) {
    rulesPath = join(dataDir, "rules.yaml");
    writeFileSync(rulesPath, options.rules);
  }
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const holder = { now: new Date("2026-11-25T05:45:00Z") };
  const config: ServiceConfig = {
    host: "127.0.0.1",
    port: 0,
    dataDir,
    rulesPath,
    bodyLimitBytes: 10 * 1024 * 1024,
    defaultHelpdesk: "builtin",
    helpdesks: {},
    delivery: { pollIntervalMs: 50 },
    // Ingest on the main thread here: the suite starts hundreds of in-process services, and a worker
    // thread loading the sources through tsx costs each about 0.75 s (20 min for the suite instead
    // of 13). The default (the thread) runs in every spawned `alertdesk serve` (test/kit/process.ts:
    // the e2e tests, the kill -9 storms) and in test/scenarios/ingest-thread.test.ts.
    ingestThread: false,
    ...options.config,
  };
  const service = await startService({
    config,
    clock: options.realClock ? () => new Date() : () => holder.now,
    log: createLogger({ level: "debug", destination }),
    deliver: options.background === true,
    sync: options.background === true,
    ...(options.remoteCallers ? { isLocalCaller: () => false } : {}),
  });
  const t: TestService = Object.assign(Object.create(null) as object, service, {
    dataDir,
    logs,
    post(path: string, body: string, headers: Record<string, string> = {}) {
      return fetch(`${service.url}${path}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
    },
    get(path: string) {
      return fetch(`${service.url}${path}`);
    },
    async replay(name: string, path = name.startsWith("grafana/") ? "/webhooks/grafana" : "/webhooks/alertmanager") {
      const f = fixture(name);
      holder.now = f.receivedAt;
      if (options.realClock) {
        // Real clock: just post; the background worker delivers.
        return t.post(path, f.body, config.webhookToken ? { authorization: `Bearer ${config.webhookToken}` } : {});
      }
      const res = await t.post(path, f.body, config.webhookToken ? { authorization: `Bearer ${config.webhookToken}` } : {});
      await t.deliverAll();
      return res;
    },
    async deliverAll() {
      for (let i = 0; i < 1000 && (await service.worker.runOnce()) > 0; i++);
    },
    async sync() {
      await service.syncer.runOnce();
      await t.deliverAll();
    },
    send(method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
      return fetch(`${service.url}${path}`, { method, body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
    },
    async tickets() {
      return (await service.store.listTickets({ limit: 10_000 })).sort((a, b) => a.id - b.id);
    },
    async cleanup() {
      await service.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  }) as TestService;
  // An accessor, so tests move the service's clock (Object.assign would copy a value).
  Object.defineProperty(t, "now", {
    get: () => holder.now,
    set: (d: Date) => {
      holder.now = d;
    },
  });
  return t;
}
