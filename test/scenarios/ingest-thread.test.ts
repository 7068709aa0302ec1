import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ServiceConfig } from "../../src/config/service.js";
import { type RunningService, startService } from "../../src/main.js";
import { createLogger } from "../../src/observability/logger.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * Ingest on its own thread (pipeline/thread.ts), the default on a SQLite store: the same tickets as
 * on the main thread, the rules the main thread has in force, the counters back on the main thread,
 * and a clear refusal when the thread is gone. Every other in-process scenario runs with it too.
 */

let services: TestService[] = [];
afterEach(async () => {
  for (const s of services) await s.cleanup();
  services = [];
});

/** A test service with the ingest thread (the kit's default is the main thread, for speed). */
async function start(options: Parameters<typeof startTestService>[0] = {}): Promise<TestService> {
  const s = await startTestService({ ...options, config: { ingestThread: true, ...options.config } });
  services.push(s);
  return s;
}

function alert(name: string, labels: Record<string, string> = {}, status = "firing") {
  return JSON.stringify({
    version: "4",
    status,
    receiver: "alertdesk",
    groupKey: `{}:{alertname="${name}"}`,
    groupLabels: { alertname: name },
    commonLabels: { alertname: name, ...labels },
    commonAnnotations: { summary: `${name} summary` },
    externalURL: "http://am:9093",
    alerts: [
      {
        status,
        labels: { alertname: name, instance: "db-1:9100", ...labels },
        annotations: { summary: `${name} summary` },
        startsAt: "2026-11-25T05:40:00Z",
        endsAt: status === "firing" ? "0001-01-01T00:00:00Z" : "2026-11-25T05:44:00Z",
        fingerprint: `fp-${name}`,
      },
    ],
  });
}

const TIMELINES = [
  ["01-first-firing-single", "04-group-gains-alert", "05-partial-resolve", "06-all-resolved", "07-refire-after-resolve", "08-resolved-alert-redelivered"],
  ["09-cpu-firing", "10-cpu-repeat-stale-value", "11-cpu-resolved"],
  ["14-ha-am1-firing", "15-ha-am1-all-resolved", "16-ha-am2-stale-firing-after-resolve", "17-ha-am2-duplicate-resolved"],
  ["grafana/01-firing-cpu", "grafana/03-grafana11-several-values"],
];

describe("ingest thread", () => {
  it.each(TIMELINES.map((t) => [t.join(" → "), t]))("gives the same tickets as the main thread: %s", async (_name, timeline) => {
    const outcome = async (ingestThread: boolean) => {
      const s = await start({ config: { ingestThread } });
      expect(s.logs.join("")).toContain(ingestThread ? '"ingest":"own thread"' : '"ingest":"main thread"');
      for (const name of timeline) expect((await s.replay(name)).status).toBe(200);
      return (await s.tickets()).map((t) => ({
        subject: t.subject,
        body: t.body,
        priority: t.priority,
        status: t.status,
        comments: t.comments.map((c) => c.body),
      }));
    };
    const here = await outcome(false);
    expect(here.length).toBeGreaterThan(0);
    expect(await outcome(true)).toEqual(here);
  });

  it("uses the rules in force when each notification arrived, reloads included", async () => {
    const rules = (priority: string) => `rules:\n  - name: db\n    matchers: ['alertname=~"Db.*"']\n    priority: ${priority}\n`;
    const s = await start({ rules: rules("P3"), config: { watchRules: false } });
    expect((await s.post("/webhooks/alertmanager", alert("DbSlow"))).status).toBe(200);
    writeFileSync(join(s.dataDir, "rules.yaml"), rules("P1"));
    expect(s.reload("test").success).toBe(true);
    expect((await s.post("/webhooks/alertmanager", alert("DbDown"))).status).toBe(200);
    await s.deliverAll();
    const bySubject = Object.fromEntries((await s.tickets()).map((t) => [t.subject.split(" ")[0], t.priority]));
    expect(bySubject).toEqual({ DbSlow: "P3", DbDown: "P1" });
  });

  it("reports what the thread did in the main thread's metrics", async () => {
    const s = await start();
    // The default rules drop severity=info alerts; the lifecycle opens the other one.
    expect((await s.post("/webhooks/alertmanager", alert("Chatty", { severity: "info" }))).status).toBe(200);
    expect((await s.post("/webhooks/alertmanager", alert("DiskFull", { severity: "critical" }))).status).toBe(200);
    const metrics = await (await s.get("/metrics")).text();
    expect(metrics).toMatch(/alertdesk_alerts_ignored_total\{rule="[^"]+"\} 1/);
    expect(metrics).toMatch(/alertdesk_lifecycle_steps_total\{reason="first notification"\} 1/);
    expect(metrics).toMatch(/alertdesk_commit_batch_size_count [1-9]/); // the thread's group commits, counted here
  });

  it("reads large bodies there too, each taking its turn at the large-body gate", async () => {
    const s = await start();
    // Over 1 MiB each: the gate lets two be read at once and the thread tells when each is read.
    const big = (name: string) => alert(name, { note: "x".repeat(1_200_000) });
    const answers = await Promise.all(["Big1", "Big2", "Big3", "Big4"].map((n) => s.post("/webhooks/alertmanager", big(n))));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as { truncated?: { count: number } }[];
    expect(bodies.every((b) => (b.truncated?.count ?? 0) > 0)).toBe(true);
    expect((await s.store.listIncidents({ limit: 10 })).length).toBe(4);
  });

  it("commits what the thread acknowledged: read back on the main thread's connection at once", async () => {
    const s = await start();
    const names = Array.from({ length: 40 }, (_, i) => `Burst${i}`);
    const answers = await Promise.all(names.map((n) => s.post("/webhooks/alertmanager", alert(n))));
    expect(answers.map((a) => a.status)).toEqual(names.map(() => 200));
    const incidents = await s.store.listIncidents({ limit: 100 });
    expect(incidents.map((i) => i.groupLabels.alertname).sort()).toEqual([...names].sort());
    // Deliveries (main thread writes) and more webhooks (the thread's) at once: each commits once.
    const more = Promise.all(names.map((n) => s.post("/webhooks/alertmanager", alert(n, { severity: "critical" }))));
    await s.deliverAll();
    expect((await more).every((a) => a.status === 200)).toBe(true);
    await s.deliverAll();
    const tickets = await s.tickets();
    expect(tickets.map((t) => t.subject.split(" ")[0]).sort()).toEqual([...names].sort());
  });
});

describe("a stopped ingest thread", () => {
  let service: RunningService | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** A service whose ingest thread is `entry` (test/fixtures/threads/), with what it told its supervisor. */
  async function withThread(entry: string): Promise<{ service: RunningService; fatal: Error[] }> {
    dataDir = mkdtempSync(join(tmpdir(), "alertdesk-thread-"));
    const config: ServiceConfig = {
      host: "127.0.0.1",
      port: 0,
      dataDir,
      rulesPath: join(process.cwd(), "rules"),
      bodyLimitBytes: 1024 * 1024,
      defaultHelpdesk: "builtin",
      helpdesks: {},
      delivery: {},
    };
    const fatal: Error[] = [];
    const started = await startService({
      config,
      log: createLogger({ level: "silent" }),
      deliver: false,
      sync: false,
      onFatal: (err) => fatal.push(err),
      ingestThreadEntry: new URL(`../fixtures/threads/${entry}`, import.meta.url),
    });
    return { service: started, fatal };
  }

  it("refuses webhooks with 503, is not ready, and tells the supervisor", async () => {
    const { service: started, fatal } = await withThread("stops-at-first-notification.mjs");
    service = started;
    const url = service.url;
    const first = await fetch(`${url}/webhooks/alertmanager`, { method: "POST", headers: { "content-type": "application/json" }, body: alert("Lost") });
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toBe("5");
    expect(fatal.map((e) => e.message)).toEqual(["the ingest thread stopped (exit code 3)"]);
    const next = await fetch(`${url}/webhooks/alertmanager`, { method: "POST", headers: { "content-type": "application/json" }, body: alert("Later") });
    expect(next.status).toBe(503);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "not ready", reason: "the ingest thread stopped (exit code 3)" });
    // Nothing was stored: the sender keeps both and sends them again.
    expect(await service.store.listIncidents({ limit: 10 })).toEqual([]);
  });

  it("that held the write lock when it died leaves the main thread's writes working", async () => {
    const { service: started, fatal } = await withThread("dies-holding-the-lock.ts");
    service = started;
    const answer = await fetch(`${service.url}/webhooks/alertmanager`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: alert("Lost"),
    });
    expect(answer.status).toBe(503);
    expect(fatal).toHaveLength(1);
    // A write of the main thread's own (the outbox's pruning) goes through: the dead side's hold was let go.
    await expect(service.store.pruneFinished(new Date(), 10)).resolves.toBe(0);
    // And the service stops (afterEach), instead of waiting for ever on the lock.
  });
});
