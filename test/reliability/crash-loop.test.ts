import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { createTestDatabase } from "../kit/postgres.js";
import { type ServiceProcess, spawnService } from "../kit/process.js";

/**
 * Crash loop: while a generator sends a storm of notifications (firing, repeats, joins, partial
 * resolves, resolves, re-fires) over many groups, alertdesk is killed with SIGKILL at random moments
 * and restarted on the same data. Like Alertmanager, the generator re-sends every notification until
 * it is acknowledged, one group's notifications in order. At the end the tickets are compared with an
 * oracle computed from the timelines. ALERTDESK_CRASH_KILLS / ALERTDESK_CRASH_GROUPS make it longer.
 */

const KILLS = Number(process.env.ALERTDESK_CRASH_KILLS ?? 20);
const GROUPS = Number(process.env.ALERTDESK_CRASH_GROUPS ?? 12);
const TOKEN = "crash-loop-token";
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

type AlertState = Record<string, { status: "firing" | "resolved"; startsAt: string }>;

/** One group's timeline, as Alertmanager would send it. */
function timeline(g: number, run: string): string[] {
  const t0 = Date.now() - 3_600_000;
  const at = (m: number) => new Date(t0 + m * 60_000).toISOString();
  const a1 = { status: "firing" as const, startsAt: at(0) };
  const b1 = { status: "firing" as const, startsAt: at(2) };
  const steps: AlertState[] = [
    { a: a1 },
    { a: a1 }, // repeat
    { a: a1, b: b1 }, // join
    { a: { ...a1, status: "resolved" }, b: b1 }, // partial resolve
    { b: { ...b1, status: "resolved" } }, // all resolved
    { a: { status: "firing", startsAt: at(30) } }, // re-fire
    { a: { status: "firing", startsAt: at(30) } }, // repeat of the re-fire
  ];
  const name = `Crash${run}G${g}`;
  return steps.map((alerts) =>
    JSON.stringify({
      receiver: "alertdesk",
      status: Object.values(alerts).some((x) => x.status === "firing") ? "firing" : "resolved",
      alerts: Object.entries(alerts).map(([i, x]) => ({
        status: x.status,
        labels: { alertname: name, instance: i, severity: "critical" },
        annotations: { summary: `${name} on ${i}` },
        startsAt: x.startsAt,
        endsAt: x.status === "resolved" ? new Date(Date.parse(x.startsAt) + 60_000).toISOString() : "0001-01-01T00:00:00Z",
        fingerprint: `${name}-${i}`,
      })),
      groupLabels: { alertname: name },
      version: "4",
    }),
  );
}

interface Cluster {
  urls(): string[];
  /** Kills one process (SIGKILL) and starts it again on the same data. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

const stats = { sends: 0, unanswered: 0 };

/** One webhook to one process; resolves with the HTTP status. */
async function post(url: string, body: string, timeoutMs = 60_000): Promise<number> {
  const res = await fetch(`${url}/webhooks/alertmanager`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  return res.status;
}

async function sendUntilAcknowledged(cluster: Cluster, body: string, deadline: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    stats.sends++;
    const urls = cluster.urls();
    const url = urls[attempt % urls.length];
    // A killed process resets its connections at once; the limit is for one that is only slow.
    const ok = await post(url as string, body, 30_000)
      .then((status) => status === 200)
      .catch(() => false);
    if (ok) return;
    stats.unanswered++;
    if (Date.now() > deadline) throw new Error("a notification was never acknowledged");
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
  }
}

async function crashLoop(cluster: Cluster, run: string, options: { single: boolean }) {
  // Twenty restarts take a minute or so; on a slow, busy machine far longer.
  const deadline = Date.now() + 600_000;
  let done = false;
  let kills = 0;
  const storm = Promise.all(
    Array.from({ length: GROUPS }, async (_, g) => {
      // Paced by the kills, not by the clock, so the storm lasts as long as they do however long a
      // restart takes (about a second; far longer on a slow, busy machine): step i of a group's
      // seven goes out after about i/7 of the kills, at a random moment between two of them.
      for (const [i, body] of timeline(g, run).entries()) {
        const after = Math.floor(((i + Math.random()) * KILLS) / 7);
        while (kills < after) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, Math.random() * 500));
        await sendUntilAcknowledged(cluster, body, deadline);
      }
    }),
  ).finally(() => {
    done = true;
  });
  let killsDuringStorm = 0;
  stats.sends = 0;
  stats.unanswered = 0;
  while (kills < KILLS) {
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
    if (!done) killsDuringStorm++;
    await cluster.crash();
    kills++;
  }
  await storm;
  expect(done).toBe(true);
  // The kills did land in the middle of the storm: notifications went unanswered and were sent again.
  expect(killsDuringStorm).toBeGreaterThanOrEqual(KILLS / 2);
  // With one process, every kill leaves notifications unanswered until the restart; with two replicas
  // the generator turns to the live one, as a load balancer would.
  if (options.single) expect(stats.unanswered).toBeGreaterThan(0);
  process.stdout.write(
    `crash loop ${run}: ${kills} kills (${killsDuringStorm} during the storm), ${GROUPS * 7} notifications acknowledged after ${stats.sends} sends (${stats.unanswered} unanswered)\n`,
  );
  return kills;
}

async function settle(url: string, run: string): Promise<BuiltinTicket[]> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const pending = ((await (await fetch(`${url}/api/deliveries?state=pending`)).json()) as { deliveries: unknown[] }).deliveries;
    if (pending.length === 0) break;
    if (Date.now() > deadline) throw new Error("the outbox did not drain");
    await new Promise((r) => setTimeout(r, 200));
  }
  const tickets = ((await (await fetch(`${url}/api/tickets?limit=10000`)).json()) as { tickets: BuiltinTicket[] }).tickets;
  return tickets.filter((t) => t.subject.startsWith(`Crash${run}G`));
}

/** The oracle: every group's timeline ends re-fired within reopen_within, so one open ticket each, every comment once. */
function checkAgainstOracle(tickets: BuiltinTicket[], run: string) {
  const byGroup = new Map<number, BuiltinTicket[]>();
  for (const t of tickets) {
    const g = Number(new RegExp(`^Crash${run}G(\\d+)`).exec(t.subject)?.[1]);
    byGroup.set(g, [...(byGroup.get(g) ?? []), t]);
  }
  expect(byGroup.size, "groups with a ticket").toBe(GROUPS);
  for (const [g, list] of byGroup) {
    expect(list.length, `tickets of group ${g}`).toBe(1);
    const t = list[0] as BuiltinTicket;
    const bodies = t.comments.map((c) => c.body);
    expect(new Set(bodies).size, `no comment twice in group ${g}`).toBe(bodies.length);
    const text = bodies.join("\n");
    expect(text, `group ${g}`).toContain("1 alert joined the incident");
    expect(text, `group ${g}`).toContain("1 alert resolved");
    expect(
      bodies.filter((b) => b.startsWith("Resolved: all 2 alerts stopped firing")),
      `the resolve of group ${g}`,
    ).toHaveLength(1);
    expect(
      bodies.filter((b) => b.startsWith("Fired again")),
      `the re-fire of group ${g}`,
    ).toHaveLength(1);
    expect(t.status, `group ${g}`).toBe("open");
    expect(text.indexOf("1 alert joined")).toBeLessThan(text.indexOf("Resolved: all"));
    expect(text.indexOf("Resolved: all")).toBeLessThan(text.indexOf("Fired again"));
  }
}

function config(root: string): string {
  const file = join(root, "alertdesk.yml");
  // The lease: how long a killed process's claims wait to be taken over. Shorter, a delivery slowed
  // by a busy machine would be claimed again by the other replica while still in progress.
  writeFileSync(file, "delivery:\n  lease: 5s\n  poll_interval: 50ms\n  backoff_base: 100ms\n  backoff_max: 1s\n");
  return file;
}

describe("crash loop", () => {
  it(`SQLite: ${KILLS} kill -9 during a storm over ${GROUPS} groups lose nothing and double nothing`, async () => {
    const run = `S${Date.now().toString(36)}`;
    const root = mkdtempSync(join(tmpdir(), "alertdesk-crash-"));
    roots.push(root);
    const env = { ALERTDESK_DATA_DIR: join(root, "data"), ALERTDESK_WEBHOOK_TOKEN: TOKEN, ALERTDESK_CONFIG: config(root), PORT: "0" };
    let proc: ServiceProcess | undefined = await spawnService(env);
    const cluster: Cluster = {
      urls: () => (proc ? [proc.url] : []),
      async crash() {
        const p = proc;
        proc = undefined;
        await p?.kill("SIGKILL");
        proc = await spawnService(env);
      },
      async stop() {
        await proc?.kill("SIGKILL");
      },
    };
    try {
      const kills = await crashLoop(cluster, run, { single: true });
      expect(kills).toBe(KILLS);
      checkAgainstOracle(await settle((proc as ServiceProcess).url, run), run);
    } finally {
      await cluster.stop();
    }
  }, 900_000);

  it(`PostgreSQL with two replicas: ${KILLS} kill -9 of either replica during the storm lose nothing and double nothing`, async () => {
    const run = `P${Date.now().toString(36)}`;
    const root = mkdtempSync(join(tmpdir(), "alertdesk-crash-pg-"));
    roots.push(root);
    const db = await createTestDatabase();
    const env = (i: number) => ({
      ALERTDESK_DATA_DIR: join(root, `data${i}`),
      ALERTDESK_DATABASE_URL: db.url,
      ALERTDESK_WEBHOOK_TOKEN: TOKEN,
      ALERTDESK_CONFIG: config(root),
      PORT: "0",
    });
    const procs: (ServiceProcess | undefined)[] = [await spawnService(env(0)), await spawnService(env(1))];
    const cluster: Cluster = {
      urls: () => procs.filter((p): p is ServiceProcess => p !== undefined).map((p) => p.url),
      async crash() {
        const i = Math.random() < 0.5 ? 0 : 1;
        const p = procs[i];
        procs[i] = undefined;
        await p?.kill("SIGKILL");
        procs[i] = await spawnService(env(i));
      },
      async stop() {
        for (const p of procs) await p?.kill("SIGKILL");
      },
    };
    try {
      const kills = await crashLoop(cluster, run, { single: false });
      expect(kills).toBe(KILLS);
      checkAgainstOracle(await settle((procs[0] as ServiceProcess).url, run), run);
    } finally {
      await cluster.stop();
      await db.drop();
    }
  }, 900_000);
});

/** Runs pg_ctlcluster on the machine's PostgreSQL server (this file runs alone, in the sequential e2e group). */
async function pgCtl(action: "stop" | "start" | "restart"): Promise<void> {
  const version = readdirSync("/etc/postgresql").sort().at(-1) as string;
  await promisify(execFile)("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", action, ...(action === "start" ? [] : ["-m", "fast"])], {
    timeout: 120_000,
  });
}

describe("PostgreSQL restarted in the middle of a storm", () => {
  it("two replicas answer 503 while it is down, and afterwards every acknowledged notification has its ticket once", async () => {
    const run = `R${Date.now().toString(36)}`;
    const root = mkdtempSync(join(tmpdir(), "alertdesk-pg-restart-"));
    roots.push(root);
    const db = await createTestDatabase();
    const env = (i: number) => ({
      ALERTDESK_DATA_DIR: join(root, `data${i}`),
      ALERTDESK_DATABASE_URL: db.url,
      ALERTDESK_WEBHOOK_TOKEN: TOKEN,
      ALERTDESK_CONFIG: config(root),
      PORT: "0",
    });
    const procs = [await spawnService(env(0)), await spawnService(env(1))];
    const cluster: Cluster = { urls: () => procs.map((p) => p.url), crash: async () => {}, stop: async () => {} };
    try {
      const deadline = Date.now() + 600_000;
      stats.sends = 0;
      stats.unanswered = 0;
      const storm = Promise.all(
        Array.from({ length: GROUPS }, async (_, g) => {
          for (const body of timeline(g, run)) {
            await new Promise((r) => setTimeout(r, Math.random() * 1500));
            await sendUntilAcknowledged(cluster, body, deadline);
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 2000));
      // Down: each replica refuses a notification (503) and says it is not ready. The probe is a group
      // of its own, never sent again: afterwards nothing of it may exist (nothing half-written).
      const probe = timeline(0, `${run}probe`)[0] as string;
      let refused: number[] = [];
      let ready: number[] = [];
      try {
        await pgCtl("stop");
        refused = await Promise.all(procs.map((p) => post(p.url, probe)));
        ready = await Promise.all(procs.map(async (p) => (await fetch(`${p.url}/readyz`, { signal: AbortSignal.timeout(60_000) })).status));
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        await pgCtl("start");
      }
      expect(refused).toEqual([503, 503]);
      expect(ready).toEqual([503, 503]);
      // A fast restart: the pooled connections die under the replicas while the storm goes on.
      await pgCtl("restart");
      await storm;
      process.stdout.write(
        `postgres restart ${run}: stopped and restarted, ${GROUPS * 7} notifications acknowledged after ${stats.sends} sends (${stats.unanswered} refused)\n`,
      );
      const url = (procs[0] as ServiceProcess).url;
      const all = ((await (await fetch(`${url}/api/tickets?limit=10000`)).json()) as { tickets: BuiltinTicket[] }).tickets;
      expect(all.filter((t) => t.subject.startsWith(`Crash${run}probeG`))).toEqual([]);
      const incidents = await (await fetch(`${url}/api/incidents?limit=10000`)).text();
      expect(incidents).toContain(`Crash${run}G0`);
      expect(incidents).not.toContain(`Crash${run}probe`);
      checkAgainstOracle(await settle((procs[0] as ServiceProcess).url, run), run);
    } finally {
      for (const p of procs) await p.kill("SIGKILL");
      await db.drop();
    }
  }, 900_000);
});
