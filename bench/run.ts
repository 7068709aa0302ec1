/**
 * `npm run bench`: alertdesk measured against its physical limit on this machine, in one run.
 * Prints a table and writes bench/results/latest.json. A benchmark, not a test: nothing here asserts.
 * BENCH_SECONDS (default 10) sets each ingest load's duration; BENCH_ONLY (e.g. "ingest,scale") runs
 * only the named sections, for working on one of them (the results file is then not written).
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import autocannon from "autocannon";
import { ticketKeyFor } from "../src/model/incident.js";
import { groupDedupKey } from "../src/rules/evaluate.js";
import { type ServiceProcess, spawnService } from "../test/kit/process.js";
import { startTestService, type TestService } from "../test/kit/service.js";
import { ingestBodies, payload } from "./payloads.js";
import { priorityStorm } from "./priority-storm.js";
import { similarLookup } from "./similar.js";
import { peakInWindow, withZendesk } from "./zendesk.js";

const execFileAsync = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROOT = new URL("../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "alertdesk-bench-"));
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, seconds: SECONDS };
const log = (s: string) => process.stdout.write(`${s}\n`);

/**
 * The evenly spaced load (bench/paced.ts) in a process of its own (bench/paced-process.ts), so this
 * process's garbage collection cannot delay its sends and count as the service's latency.
 */
async function evenlySpaced(url: string, prefix: string, rate: number) {
  const { stdout } = await execFileAsync(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench/paced-process.ts"), url, prefix, String(rate), String(SECONDS)],
    { cwd: ROOT },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
    requestsPerSecond: number;
    p50ms: number;
    p99ms: number;
    maxms: number;
    non2xx: number;
    errors: number;
  };
}

async function load(url: string, bodies: string[], overallRate?: number) {
  let next = 0;
  const result = await autocannon({
    url,
    connections: 20,
    duration: SECONDS,
    ...(overallRate ? { overallRate } : {}),
    requests: [
      {
        method: "POST",
        path: "/webhooks/alertmanager",
        headers: { "content-type": "application/json" },
        setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] as string }),
      },
    ],
  });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** A server in a process of its own that prints its port; `program` is ESM run from the project root. */
async function reference(program: string): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", program], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve) => child.stdout?.on("data", (c: Buffer) => resolve(Number(/PORT (\d+)/.exec(c.toString())?.[1]))));
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

/** The physical limit: express parses the JSON and answers 200. */
const bareExpress = () =>
  reference(`import express from "express"; const app = express();
app.post("/webhooks/alertmanager", express.json({ limit: "10mb" }), (req, res) => res.json({ status: "ok" }));
const s = app.listen(0, "127.0.0.1", () => console.log("PORT " + s.address().port));`);

/**
 * The durable floor: the same, but each body is stored (one INSERT) through alertdesk's own SQLite
 * writer (group commit, fdatasync) before the 200. No rules, incidents or outbox: what durability
 * alone costs on this disk.
 */
const durableFloor = (dir: string) =>
  reference(`import express from "express"; import Database from "better-sqlite3";
import { createSqliteWriter } from "./dist/store/sqlite/writer.js";
const db = new Database(${JSON.stringify(join(dir, "floor.db"))}); db.pragma("journal_mode = WAL"); db.pragma("synchronous = NORMAL");
db.exec("CREATE TABLE IF NOT EXISTS notifications (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
const insert = db.prepare("INSERT INTO notifications (body) VALUES (?)");
const writer = createSqliteWriter(db, ${JSON.stringify(join(dir, "floor.db-wal"))});
const app = express();
app.post("/webhooks/alertmanager", express.json({ limit: "10mb" }), async (req, res) => {
  await writer.write(() => insert.run(JSON.stringify(req.body)));
  res.json({ status: "ok" });
});
const s = app.listen(0, "127.0.0.1", () => console.log("PORT " + s.address().port));`);

/** Waits until a running alertdesk has no pending deliveries. */
async function outboxDrained(url: string, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { deliveries } = (await (await fetch(`${url}/api/deliveries?state=pending&limit=1`)).json()) as { deliveries: unknown[] };
    if (deliveries.length === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function ingest() {
  log("1. ingest: realistic notifications (5 alerts; new / repeat / change), durable commit, against bare express");
  const bodies = ingestBodies(20_000);
  const bare = await bareExpress();
  const baseline = await load(bare.url, bodies);
  const bareAtRate = await evenlySpaced(bare.url, "Bench", 1000);
  const bareBursts = await load(bare.url, bodies, 1000);
  bare.stop();
  mkdirSync(join(tmp, "floor"));
  const floor = await durableFloor(join(tmp, "floor"));
  const floorLoad = await load(floor.url, bodies);
  const floorAtRate = await evenlySpaced(floor.url, "Bench", 1000);
  floor.stop();
  // Before and after, in this run: the same compiled service with ingest on the main thread, then on its own.
  const oneThread = await measureAlertdesk("one-thread", false);
  const threaded = await measureAlertdesk("thread", true);
  const ratioOf = (r: { requestsPerSecond: number }) => +(r.requestsPerSecond / baseline.requestsPerSecond).toFixed(3);
  const { durable, backlogDrainedMs, atRate, bursts, repeatsOnly, newOnly } = threaded;
  const ratio = ratioOf(durable);
  results.ingest = {
    baseline,
    alertdesk: durable,
    // Built-in tickets still to deliver when the saturating load stopped: how far delivery lagged.
    backlogDrainedMs,
    ratio,
    durableFloor: { ...floorLoad, ratio: ratioOf(floorLoad) },
    // Evenly spaced, open loop, latency from when each request was due (bench/paced.ts).
    at1000rps: { alertdesk: atRate, bareExpress: bareAtRate, durableFloor: floorAtRate },
    // autocannon's own rate limit: each connection sends its quota for the second back to back, then waits.
    autocannonAt1000rps: { alertdesk: bursts, bareExpress: bareBursts },
    byKind: { unchangedRepeats: repeatsOnly, newGroups: newOnly },
    process: { cpuCores: threaded.cpuCores, rssMB: threaded.rssMB, peakRssMB: threaded.peakRssMB },
    // The same loads with ALERTDESK_INGEST_THREAD=false: ingest on the main thread, as before.
    oneThread: { ...oneThread, ratio: ratioOf(oneThread.durable) },
  };
  log(`   bare express   ${baseline.requestsPerSecond} req/s  p50 ${baseline.p50ms} ms  p99 ${baseline.p99ms} ms`);
  log(
    `   durable floor  ${floorLoad.requestsPerSecond} req/s  p50 ${floorLoad.p50ms} ms  p99 ${floorLoad.p99ms} ms  (express + one INSERT per body through the same writer; ratio ${ratioOf(floorLoad).toFixed(2)})`,
  );
  for (const [name, m] of [
    ["one thread (ALERTDESK_INGEST_THREAD=false)", oneThread],
    ["ingest thread (default)", threaded],
  ] as const) {
    log(`   alertdesk, ${name}:`);
    log(
      `     ${m.durable.requestsPerSecond} req/s  p50 ${m.durable.p50ms} ms  p99 ${m.durable.p99ms} ms  (${m.durable.non2xx} non-2xx); ratio ${ratioOf(m.durable).toFixed(2)}; ${m.cpuCores} cores busy; built-in tickets caught up ${(m.backlogDrainedMs / 1000).toFixed(1)} s after the load stopped`,
    );
    log(
      `     at 1,000 req/s, evenly spaced: p50 ${m.atRate.p50ms} ms  p99 ${m.atRate.p99ms} ms  max ${m.atRate.maxms} ms; autocannon's bursts p99 ${m.bursts.p99ms} ms`,
    );
    log(
      `     by kind: unchanged repeats ${m.repeatsOnly.requestsPerSecond} req/s (ratio ${ratioOf(m.repeatsOnly).toFixed(2)}), new groups ${m.newOnly.requestsPerSecond} req/s (ratio ${ratioOf(m.newOnly).toFixed(2)}); RSS ${m.rssMB} MB (peak ${m.peakRssMB} MB)`,
    );
  }
  log(
    `   at 1,000 req/s: bare express p99 ${bareAtRate.p99ms} ms (autocannon's bursts ${bareBursts.p99ms} ms), durable floor p99 ${floorAtRate.p99ms} ms max ${floorAtRate.maxms} ms`,
  );
}

/** A process's CPU time (user + system) so far, in seconds, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Resident and peak resident memory of a process, in MB, from /proc. */
function memoryMB(pid: number): { rssMB: number; peakRssMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rssMB: Math.round(kb("VmRSS") / 1024), peakRssMB: Math.round(kb("VmHWM") / 1024) };
}

/** The ingest loads against the compiled service (what `npm start` runs), with ingest on its own thread or not. */
async function measureAlertdesk(dir: string, thread: boolean) {
  const bodies = ingestBodies(20_000);
  const alertdesk: ServiceProcess = await spawnService({ ALERTDESK_DATA_DIR: join(tmp, `ingest-${dir}`), ALERTDESK_INGEST_THREAD: String(thread) }, 20_000, {
    compiled: true,
    outputLimit: 100,
  });
  const cpuBefore = cpuSeconds(alertdesk.pid);
  const loadStarted = Date.now();
  const durable = await load(alertdesk.url, bodies);
  const cpuCores = +((cpuSeconds(alertdesk.pid) - cpuBefore) / ((Date.now() - loadStarted) / 1000)).toFixed(2);
  // The fixed-rate loads measure the steady state: not while deliveries queued by the saturating load drain.
  const drainStarted = Date.now();
  await outboxDrained(alertdesk.url);
  const backlogDrainedMs = Date.now() - drainStarted;
  const atRate = await evenlySpaced(alertdesk.url, "Rate", 1000);
  await outboxDrained(alertdesk.url);
  const bursts = await load(alertdesk.url, ingestBodies(20_000, "Burst"), 1000);
  // Each kind alone, to see where the mix's cost comes from.
  await outboxDrained(alertdesk.url);
  const repeatsOnly = await load(
    alertdesk.url,
    Array.from({ length: 1000 }, (_, k) => payload(`Repeat${k % 50}`, [1, 2, 3, 4, 5])),
  );
  await outboxDrained(alertdesk.url);
  const newOnly = await load(
    alertdesk.url,
    Array.from({ length: 40_000 }, (_, k) => payload(`New${k}`, [1, 2, 3, 4, 5])),
  );
  const memory = memoryMB(alertdesk.pid);
  await alertdesk.kill("SIGTERM");
  return { durable, backlogDrainedMs, atRate, bursts, repeatsOnly, newOnly, cpuCores, ...memory };
}

async function drained(svc: TestService, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await svc.store.listDeliveries({ state: "pending", limit: 1 })).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

async function callsPerNotification() {
  log("2. helpdesk calls per notification, counted at a fake Zendesk");
  const steps: [string, string][] = [
    ["new", payload("Calls", [1])],
    ["unchanged repeat", payload("Calls", [1])],
    ["alert joins", payload("Calls", [1, 2])],
    ["partial resolve", payload("Calls", [1, 2], [1])],
    ["resolve", payload("Calls", [2], [2])],
    ["re-fire", payload("Calls", [1], [], "2026-11-25T07:00:00.000Z")],
  ];
  const calls: Record<string, number> = {};
  await withZendesk(undefined, undefined, async (svc, fake) => {
    for (const [kind, body] of steps) {
      const before = fake.requestTimes.length;
      await svc.post("/webhooks/alertmanager", body);
      await drained(svc);
      calls[kind] = fake.requestTimes.length - before;
      log(`   ${kind.padEnd(17)} ${calls[kind]}`);
    }
  });
  results.callsPerNotification = calls;
}

async function storm() {
  log("3. storm: 10,000 alerts in 2,000 webhooks over 50 groups within a minute; helpdesk limited to 200 requests/min");
  await withZendesk("200/min", 200, async (svc, fake) => {
    const started = Date.now();
    let accepted = 0;
    const posts: Promise<void>[] = [];
    for (let k = 0; k < 2000; k++) {
      const g = k % 50;
      const step = Math.floor(k / 50); // 40 notifications per group; alerts come and go every 8th
      const first = 1 + Math.floor(step / 8);
      const body = payload(`Storm${g}`, [first, first + 1, first + 2, first + 3, first + 4]);
      posts.push(svc.post("/webhooks/alertmanager", body).then((r) => void (r.status === 200 && accepted++)));
      await new Promise((r) => setTimeout(r, Math.max(0, started + (k * 58_000) / 2000 - Date.now())));
    }
    await Promise.all(posts);
    const sentIn = Date.now() - started;
    await drained(svc, 600_000);
    const complete = Date.now() - started;
    const keys = fake.tickets.map((t) => t.external_id);
    const times = fake.requestTimes.filter((t) => t >= started).sort((a, b) => a - b);
    const peak = peakInWindow(times, 60_000);
    const deliveries = await svc.store.listDeliveries({ limit: 100_000 });
    const comments = fake.tickets.reduce((n, t) => n + t.comments.length - 1, 0);
    const storm = {
      webhooksAccepted: accepted,
      sentInMs: sentIn,
      ticketsOpened: fake.tickets.length,
      duplicates: keys.length - new Set(keys).size,
      peakRequestsPerMinute: peak,
      requestsAtHelpdesk: times.length,
      commentsDelivered: comments,
      commentsCoalesced: deliveries.filter((d) => d.state === "coalesced").length,
      lastTicketCompleteMs: complete,
    };
    results.storm = storm;
    for (const [k, v] of Object.entries(storm)) log(`   ${k.padEnd(22)} ${v}`);
  });
}

async function scale() {
  log("4. scale of state: cost per notification and RSS with 1,000 / 10,000 / 100,000 active alerts (each in a process of its own)");
  type Row = { activeAlerts: number; msPerNotification: number; rssMB: number; retainedHeapMB: number };
  const rows: Row[] = [];
  for (const active of [1_000, 10_000, 100_000]) {
    const out = execFileSync(process.execPath, ["--expose-gc", join(ROOT, "bench/scale.mjs"), String(active), join(tmp, `scale-${active}`)], {
      cwd: ROOT,
      encoding: "utf8",
    });
    const row = JSON.parse(out.trim().split("\n").at(-1) as string) as Row;
    rows.push(row);
    log(
      `   ${String(active).padStart(7)} active alerts: ${row.msPerNotification} ms per notification, RSS ${row.rssMB} MB (heap after a full GC: ${row.retainedHeapMB} MB)`,
    );
  }
  // The memory the ingest thread costs: the largest row again with everything on the main thread.
  const out = execFileSync(process.execPath, ["--expose-gc", join(ROOT, "bench/scale.mjs"), "100000", join(tmp, "scale-one-thread")], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ALERTDESK_INGEST_THREAD: "false" },
  });
  const oneThread = JSON.parse(out.trim().split("\n").at(-1) as string) as Row;
  log(
    `    100000 active alerts, one thread (ALERTDESK_INGEST_THREAD=false): ${oneThread.msPerNotification} ms per notification, RSS ${oneThread.rssMB} MB (heap after a full GC: ${oneThread.retainedHeapMB} MB)`,
  );
  results.scale = { rows, growth: +((rows[2]?.msPerNotification ?? 0) / (rows[0]?.msPerNotification ?? 1)).toFixed(2), oneThreadAt100k: oneThread };
  log(`   growth 100k / 1k: ${(results.scale as { growth: number }).growth}`);
}

/** One group of `n` alerts, then half of them resolved: the time of the resolve and how long /healthz waited meanwhile. */
async function resolveHalf(n: number): Promise<{ ms: number; healthzMaxMs: number }> {
  const svc = await startTestService({ realClock: true, config: { bodyLimitBytes: 256 * 1024 * 1024 } });
  try {
    const instances = Array.from({ length: n }, (_, i) => i);
    await svc.post("/webhooks/alertmanager", payload(`Half${n}`, instances));
    let polling = true;
    let healthzMaxMs = 0;
    const poll = (async () => {
      while (polling) {
        const t = performance.now();
        await svc.get("/healthz");
        healthzMaxMs = Math.max(healthzMaxMs, performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const body = payload(`Half${n}`, instances, instances.slice(0, n / 2));
    const t = performance.now();
    const res = await svc.post("/webhooks/alertmanager", body);
    const ms = performance.now() - t;
    polling = false;
    await poll;
    if (res.status !== 200) throw new Error(`resolve of half of ${n} alerts: ${res.status}`);
    return { ms: Math.round(ms), healthzMaxMs: Math.round(healthzMaxMs) };
  } finally {
    await svc.cleanup();
  }
}

async function partialResolve() {
  log("6. half of a large group resolves: 10,000 and 80,000 alerts in one group (linear: 8× the time for 8× the alerts)");
  const small = await resolveHalf(10_000);
  const large = await resolveHalf(80_000);
  const growth = Math.round((large.ms / Math.max(1, small.ms)) * 10) / 10;
  results.partialResolve = { alerts10k: small, alerts80k: large, growth };
  log(
    `   10,000: ${small.ms} ms (healthz waited up to ${small.healthzMaxMs} ms); 80,000: ${large.ms} ms (healthz up to ${large.healthzMaxMs} ms); growth ${growth}× for 8× the alerts`,
  );
}

async function endToEnd() {
  log("5. end to end: webhook accepted → ticket created at a fake Zendesk, 20 new groups per second");
  await withZendesk(undefined, undefined, async (svc, fake) => {
    const accepted = new Map<string, number>();
    for (let k = 0; k < 20 * SECONDS; k++) {
      const group = `E2e${k}`;
      const t = Date.now();
      const res = await svc.post("/webhooks/alertmanager", payload(group, [1, 2, 3, 4, 5]));
      const key = groupDedupKey({ source: "alertmanager", receiver: "alertdesk", groupKey: `{}:{alertname="${group}"}`, groupLabels: { alertname: group } });
      if (res.status === 200) accepted.set(ticketKeyFor(key, 1), Date.now());
      await new Promise((r) => setTimeout(r, Math.max(0, t + 50 - Date.now())));
    }
    await drained(svc);
    const latencies = fake.tickets.map((t) => t.createdAtMs - (accepted.get(t.external_id ?? "") ?? t.createdAtMs)).sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
    results.endToEnd = { tickets: latencies.length, p50ms: q(0.5), p99ms: q(0.99) };
    log(`   ${latencies.length} tickets: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`);
  });
}

try {
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.build.json")]); // dist/ up to date
  execFileSync(process.execPath, [join(ROOT, "scripts/copy-ui-assets.mjs")]);
  const similar = async () => {
    results.similar = await similarLookup(log);
  };
  const storms = async () => {
    results.priorityStorm = await priorityStorm(log);
  };
  const sections = { ingest, calls: callsPerNotification, storm, scale, endToEnd, partialResolve, similar, priorityStorm: storms };
  const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
  for (const [name, run] of Object.entries(sections)) if (!only || only.includes(name)) await run();
  if (only) log(`\nonly ${only.join(", ")}: ${JSON.stringify(results)}`);
  else {
    mkdirSync(join(ROOT, "bench/results"), { recursive: true });
    writeFileSync(join(ROOT, "bench/results/latest.json"), `${JSON.stringify(results, null, 2)}\n`);
    log("\nwritten: bench/results/latest.json");
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
  // Sockets of the fakes may linger for a moment; the benchmark is done.
  setTimeout(() => process.exit(0), 200).unref();
}
