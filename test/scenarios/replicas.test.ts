import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createBuiltinDriver } from "../../src/drivers/builtin/driver.js";
import { createPostgresStore } from "../../src/store/postgres/store.js";
import { startTcpProxy, type TcpProxy } from "../fakes/tcp-proxy.js";
import { startFakeZendesk } from "../fakes/zendesk.js";
import { createTestDatabase } from "../kit/postgres.js";
import { startTestService, type TestService } from "../kit/service.js";

/** Several alertdesk replicas on one PostgreSQL keep the guarantees of one process on SQLite. */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let replicas: TestService[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  for (const r of replicas) await r.cleanup();
  replicas = [];
});
afterAll(async () => {
  await db?.drop();
});

async function startReplicas(n: number, options: { background?: boolean; url?: string; leaseMs?: number } = {}) {
  const started: TestService[] = [];
  for (let i = 0; i < n; i++) {
    started.push(
      await startTestService({
        background: options.background ?? true,
        realClock: true,
        // The lease only matters when a replica dies holding a claim; shorter, a delivery slowed by a
        // busy machine would be claimed again by another replica while still in progress.
        config: { databaseUrl: options.url ?? db.url, delivery: { pollIntervalMs: 20, baseMs: 50, maxMs: 300, leaseMs: options.leaseMs ?? 10_000 } },
      }),
    );
  }
  replicas.push(...started);
  return started;
}

let run = 0;
/** A notification for group `g` of this run with the given alerts (instance → status). */
function body(g: number, alerts: Record<string, "firing" | "resolved">, startsAt: string): string {
  const name = `Replica${run}G${g}`;
  const list = Object.entries(alerts).map(([instance, status]) => ({
    status,
    labels: { alertname: name, instance, severity: "critical" },
    annotations: { summary: `${name} ${instance}` },
    startsAt,
    endsAt: status === "resolved" ? new Date().toISOString() : "0001-01-01T00:00:00Z",
    fingerprint: `${name}-${instance}`,
  }));
  return JSON.stringify({ status: list.some((a) => a.status === "firing") ? "firing" : "resolved", alerts: list, groupLabels: { alertname: name } });
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const drained = (s: TestService) => async () => (await s.store.listDeliveries({ state: "pending", limit: 1 })).length === 0;

// Each test waits up to 2 min (until) for a real PostgreSQL on a possibly slow, busy machine.
describe("several replicas, one PostgreSQL", { timeout: 180_000 }, () => {
  it("the same webhooks sent to every replica at once, many times, for many new groups: one incident and one ticket per group, each delivered once", async () => {
    run++;
    const reps = await startReplicas(3);
    const groups = 25;
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const sends = [];
    for (let g = 0; g < groups; g++)
      for (const r of reps) for (let k = 0; k < 3; k++) sends.push(r.post("/webhooks/alertmanager", body(g, { a: "firing" }, startsAt)).then((x) => x.status));
    const statuses = await Promise.all(sends);
    expect(new Set(statuses)).toEqual(new Set([200]));
    const [first] = reps as [TestService];
    await until("delivery", drained(first));
    const incidents = (await first.store.listIncidents({ limit: 10_000 })).filter((i) => i.dedupKey.includes(`Replica${run}G`));
    expect(incidents).toHaveLength(groups);
    expect(new Set(incidents.map((i) => i.dedupKey)).size).toBe(groups);
    const tickets = (await first.tickets()).filter((t) => t.subject.includes(`Replica${run}G`));
    expect(tickets).toHaveLength(groups);
    const deliveries = (await first.store.listDeliveries({ limit: 10_000 })).filter((d) => incidents.some((i) => i.id === d.incidentId));
    expect(deliveries.map((d) => `${d.op}:${d.state}`).sort()).toEqual(Array(groups).fill("open:done"));
    // Every replica answers from the same state.
    for (const r of reps) expect((await r.tickets()).filter((t) => t.subject.includes(`Replica${run}G`))).toHaveLength(groups);
  });

  it("a helpdesk's rate limit holds for the replicas together: each request's slot is reserved in the database", async () => {
    run++;
    const zendesk = await startFakeZendesk();
    try {
      const support = {
        type: "zendesk" as const,
        url: zendesk.url,
        email: zendesk.email,
        token: zendesk.token,
        ticket_type: "incident" as const,
        public_comments: false,
        priority_map: {},
        rate_limit: "2/s",
      };
      const reps: TestService[] = [];
      for (let i = 0; i < 2; i++)
        reps.push(
          await startTestService({
            background: true,
            realClock: true,
            config: {
              databaseUrl: db.url,
              helpdesks: { support },
              defaultHelpdesk: "support",
              delivery: { pollIntervalMs: 20, baseMs: 50, maxMs: 300, leaseMs: 30_000 },
            },
          }),
        );
      replicas.push(...reps);
      const groups = 24;
      const startsAt = new Date(Date.now() - 60_000).toISOString();
      const statuses = await Promise.all(
        Array.from({ length: groups }, (_, g) =>
          (reps[g % 2] as TestService).post("/webhooks/alertmanager", body(g, { a: "firing" }, startsAt)).then((r) => r.status),
        ),
      );
      expect(new Set(statuses)).toEqual(new Set([200]));
      await until("every ticket", async () => zendesk.tickets.filter((t) => t.subject.includes(`Replica${run}G`)).length === groups);
      // Each replica alone would send 2 requests/s, both together 4/s: in any 5 s the helpdesk sees at
      // most the rate's 10 (and one at the window's edge, for the network's jitter).
      const times = [...zendesk.requestTimes].sort((a, b) => a - b);
      let peak = 0;
      for (let i = 0, j = 0; i < times.length; i++) {
        while ((times[i] as number) - (times[j] as number) >= 5_000) j++;
        peak = Math.max(peak, i - j + 1);
      }
      expect(times.length).toBeGreaterThanOrEqual(groups);
      expect(peak).toBeLessThanOrEqual(11);
      expect(zendesk.rateLimited).toBe(0);
    } finally {
      await zendesk.stop();
    }
  });

  it("per-incident order holds across replicas: no comment before its create, no resolve before its comment", async () => {
    run++;
    const reps = await startReplicas(3);
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const steps: Record<string, "firing" | "resolved">[] = [{ a: "firing" }, { a: "firing", b: "firing" }, { a: "resolved", b: "firing" }, { b: "resolved" }];
    await Promise.all(
      Array.from({ length: 10 }, async (_, g) => {
        for (const [i, alerts] of steps.entries()) {
          const res = await (reps[(g + i) % reps.length] as TestService).post("/webhooks/alertmanager", body(g, alerts, startsAt));
          expect(res.status).toBe(200);
        }
      }),
    );
    await until("delivery", drained(reps[0] as TestService));
    const tickets = (await (reps[0] as TestService).tickets()).filter((t) => t.subject.includes(`Replica${run}G`));
    expect(tickets).toHaveLength(10);
    for (const t of tickets) {
      expect(t.status).toBe("solved");
      const firstLines = t.comments.map((c) => c.body.split("\n")[0]);
      // The join and the partial resolve may be coalesced into one comment; the order never changes.
      expect(firstLines.at(-1)).toMatch(/^Resolved: all 2 alerts stopped firing/);
      const text = t.comments.map((c) => c.body).join("\n");
      expect(text.indexOf("1 alert joined")).toBeGreaterThanOrEqual(0);
      expect(text.indexOf("1 alert joined")).toBeLessThan(text.indexOf("1 alert resolved"));
      expect(text.indexOf("1 alert resolved")).toBeLessThan(text.indexOf("Resolved: all"));
    }
  });

  it("a replica that crashes holding a claim (after creating the ticket) is taken over after the lease, without a second ticket", async () => {
    run++;
    const [quiet, worker] = (await startReplicas(1, { background: false })).concat(await startReplicas(1, { background: false })) as [TestService, TestService];
    expect((await quiet.post("/webhooks/alertmanager", body(0, { a: "firing" }, new Date().toISOString()))).status).toBe(200);
    // The crashing replica: claims with a short lease, creates the ticket, and dies before recording it.
    const crashing = await createPostgresStore({ url: db.url });
    const [row] = await crashing.claimDue(new Date(), 10, 1500);
    expect(row?.operation.op).toBe("open");
    const op = row?.operation;
    if (op?.op === "open")
      await createBuiltinDriver({ book: crashing, clock: () => new Date() }).open(op, {
        idempotencyKey: `${row?.ticketKey}/${row?.id}`,
        attempt: 1,
        ticketKey: row?.ticketKey as string,
      });
    await crashing.close();
    expect(await worker.worker.runOnce()).toBe(0); // still leased
    await new Promise((r) => setTimeout(r, 1600));
    expect(await worker.worker.runOnce()).toBe(1);
    const tickets = (await worker.tickets()).filter((t) => t.subject.includes(`Replica${run}G`));
    expect(tickets).toHaveLength(1);
    const [delivery] = (await worker.store.listDeliveries({ limit: 1000 })).filter((d) => d.dedupKey.includes(`Replica${run}G`));
    expect(delivery).toMatchObject({ state: "done", attempts: 2 });
  });
});

describe("the database goes away", { timeout: 180_000 }, () => {
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it("webhooks answer 503 and /readyz 503 while it is down; when it is back everything resumes, nothing lost", async () => {
    run++;
    const url = new URL(db.url);
    proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
    url.port = String(proxy.port);
    const [svc] = (await startReplicas(1, { url: url.toString() })) as [TestService];
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    expect((await svc.post("/webhooks/alertmanager", body(0, { a: "firing" }, startsAt))).status).toBe(200);
    await until("the first ticket", async () => (await svc.tickets()).some((t) => t.subject.includes(`Replica${run}G0`)));

    proxy.down();
    const refused = await svc.post("/webhooks/alertmanager", body(1, { a: "firing" }, startsAt));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBeTruthy();
    expect((await svc.get("/readyz")).status).toBe(503);
    expect((await svc.get("/healthz")).status).toBe(200);

    proxy.up();
    await until("readiness", async () => (await svc.get("/readyz")).status === 200);
    // Alertmanager retries the refused notification; it is stored now, and delivered.
    expect((await svc.post("/webhooks/alertmanager", body(1, { a: "firing" }, startsAt))).status).toBe(200);
    await until("the second ticket", async () => (await svc.tickets()).some((t) => t.subject.includes(`Replica${run}G1`)));
    expect((await svc.tickets()).filter((t) => t.subject.includes(`Replica${run}G`))).toHaveLength(2);
  });
});
