import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Incident, ticketKeyFor } from "../../src/model/incident.js";
import type { OpenTicket } from "../../src/model/ticket-operation.js";
import { createPostgresStore } from "../../src/store/postgres/store.js";
import { createSqliteStore } from "../../src/store/sqlite/store.js";
import type { NewOutboxRow, Store } from "../../src/store/types.js";
import { createTestDatabase } from "../kit/postgres.js";

/** One contract for every store: incidents, the outbox (claim, complete, fail, dead letters), the built-in helpdesk. */

const T0 = Date.parse("2026-11-25T06:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000);
let keyCounter = 0;

function incident(key = `{alertname="K${++keyCounter}"}`, seq = 1): Incident {
  const iso = at(0).toISOString();
  return {
    dedupKey: key,
    seq,
    ticketKey: ticketKeyFor(key, seq),
    state: "firing",
    priority: "P2",
    category: "performance",
    rule: "cpu-high",
    helpdesk: "builtin",
    onResolved: "solve",
    reopenWithinMs: 86_400_000,
    source: "alertmanager",
    receiver: "r",
    groupLabels: { alertname: "K" },
    externalURL: "",
    truncatedAlerts: 0,
    alerts: [
      {
        fingerprint: "f",
        status: "firing",
        labels: { alertname: "K", instance: "a" },
        annotations: {},
        startsAt: iso,
        generatorURL: "",
        links: {},
        priority: "P2",
        rule: "cpu-high",
      },
    ],
    openedAt: iso,
    updatedAt: iso,
    dueAt: iso,
    recurrences: 0,
  };
}

function open(i: Incident): NewOutboxRow {
  const op: OpenTicket = {
    op: "open",
    ticketKey: i.ticketKey,
    dedupKey: i.dedupKey,
    title: "t",
    body: [],
    priority: "P2",
    category: "performance",
    dueAt: i.dueAt,
    labels: {},
    tags: [],
    fields: {},
  };
  return { helpdesk: "builtin", operation: op };
}
const comment = (text: string): NewOutboxRow => ({ helpdesk: "builtin", operation: { op: "comment", body: [{ kind: "paragraph", text }] } });
const resolve: NewOutboxRow = { helpdesk: "builtin", operation: { op: "resolve", body: [], solve: true } };

async function seed(store: Store, rows: NewOutboxRow[], i = incident()): Promise<number> {
  return store.transaction(async (tx) => {
    const id = await tx.insertIncident(i);
    await tx.enqueue(
      id,
      rows.map((r) => (r.operation.op === "open" ? open(i) : r)),
      at(0),
    );
    return id;
  });
}

function describeStore(name: string, make: () => Promise<{ store: Store; cleanup(): Promise<void> }>) {
  describe(`${name} store contract`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await make());
    });
    afterAll(async () => {
      await store.close();
      await cleanup();
    });
    const claimAll = () => store.claimDue(at(10), 100, 60_000);
    const ofIncident = async (id: number) => (await store.listDeliveries({ limit: 1000 })).filter((d) => d.incidentId === id);

    it("an ingest transaction commits the incident and its outbox rows together, or nothing", async () => {
      const i = incident();
      const id = await seed(store, [open(i)], i);
      const latest = await store.transaction((tx) => tx.latestIncidents([i.dedupKey, "missing"]));
      expect(latest.get(i.dedupKey)).toMatchObject({ id, dedupKey: i.dedupKey, state: "firing", seq: 1 });
      expect(latest.has("missing")).toBe(false);
      const j = incident();
      await expect(
        store.transaction(async (tx) => {
          const jid = await tx.insertIncident(j);
          await tx.enqueue(jid, [open(j)], at(0));
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(await store.listIncidents({ dedupKey: j.dedupKey, limit: 10 })).toEqual([]);
    });

    it("the latest incident of a key is the one with the highest seq; updates are stored", async () => {
      const key = `{alertname="Seq${++keyCounter}"}`;
      await seed(store, [], incident(key, 1));
      const second = incident(key, 2);
      const id2 = await seed(store, [], second);
      await store.transaction((tx) => tx.updateIncident({ ...second, id: id2, state: "resolved", resolvedAt: at(5).toISOString() }));
      const latest = await store.transaction((tx) => tx.latestIncidents([key]));
      expect(latest.get(key)).toMatchObject({ seq: 2, state: "resolved", resolvedAt: at(5).toISOString() });
    });

    it("an update may move an incident to a new dedup key (a 0.1 incident continued under its group's key)", async () => {
      const legacy = `{alertname="Legacy${++keyCounter}"}`;
      const current = `alertmanager receiver="r" {}/{}:${legacy}`;
      const old = incident(legacy, 1);
      const id = await seed(store, [], old);
      await store.transaction((tx) => tx.updateIncident({ ...old, id, dedupKey: current }));
      const latest = await store.transaction((tx) => tx.latestIncidents([legacy, current]));
      expect(latest.has(legacy)).toBe(false);
      expect(latest.get(current)).toMatchObject({ id, dedupKey: current, ticketKey: old.ticketKey, seq: 1 });
      expect((await store.listIncidents({ dedupKey: current, limit: 10 })).map((i) => i.id)).toEqual([id]);
    });

    it("claims only the oldest unfinished row of each incident, and a claimed row is leased", async () => {
      const id = await seed(store, [open(incident()), comment("a"), resolve]);
      const first = (await claimAll()).filter((r) => r.incidentId === id);
      expect(first.map((r) => r.operation.op)).toEqual(["open"]);
      expect(first[0]?.attempts).toBe(1);
      expect((await claimAll()).filter((r) => r.incidentId === id)).toEqual([]); // leased, and the head is unfinished
      await store.complete(first[0]?.id as number, { ticket: { id: "77", url: "/t/77" } }, at(11));
      const next = (await claimAll()).filter((r) => r.incidentId === id);
      expect(next.map((r) => r.operation.op)).toEqual(["comment"]);
      expect(next[0]?.ticket).toEqual({ id: "77", url: "/t/77" });
      expect((await store.listIncidents({ limit: 1000 })).find((x) => x.id === id)?.ticket).toEqual({ id: "77", url: "/t/77" });
    });

    it("a lease that expires (the worker crashed) makes the row claimable again, attempts counted", async () => {
      const id = await seed(store, [open(incident())]);
      const [row] = (await store.claimDue(at(10), 100, 5_000)).filter((r) => r.incidentId === id);
      expect(row).toBeDefined();
      expect((await store.claimDue(at(14), 100, 5_000)).filter((r) => r.incidentId === id)).toEqual([]);
      const again = (await store.claimDue(at(16), 100, 5_000)).filter((r) => r.incidentId === id);
      expect(again.map((r) => [r.id, r.attempts])).toEqual([[row?.id, 2]]);
    });

    it("consecutive queued comments are coalesced into the claimed one, up to the next other operation", async () => {
      const id = await seed(store, [open(incident()), comment("one"), comment("two"), comment("three"), resolve]);
      const [o] = (await claimAll()).filter((r) => r.incidentId === id);
      await store.complete(o?.id as number, { ticket: { id: "1" } }, at(11));
      const [c] = (await claimAll()).filter((r) => r.incidentId === id);
      expect(c?.operation.op).toBe("comment");
      expect(JSON.stringify(c?.operation)).toContain("one");
      expect(JSON.stringify(c?.operation)).toContain("three");
      expect((await ofIncident(id)).map((d) => d.state).reverse()).toEqual(["done", "pending", "coalesced", "coalesced", "pending"]);
    });

    it("reschedule, dead letter, requeue, and the next due time", async () => {
      const id = await seed(store, [open(incident())]);
      const [row] = (await claimAll()).filter((r) => r.incidentId === id);
      await store.reschedule(row?.id as number, "503", at(100));
      expect((await claimAll()).filter((r) => r.incidentId === id)).toEqual([]);
      expect(await store.nextDueAt()).toBeLessThanOrEqual(at(100).getTime());
      const [later] = (await store.claimDue(at(100), 100, 60_000)).filter((r) => r.incidentId === id);
      await store.deadLetter(later?.id as number, "422 RecordInvalid", at(101));
      const [dead] = await ofIncident(id);
      expect(dead).toMatchObject({ state: "dead", attempts: 2, lastError: "422 RecordInvalid", op: "open", helpdesk: "builtin", labels: { alertname: "K" } });
      expect(await store.countOutbox()).toMatchObject({ dead: expect.any(Number) });
      expect(await store.requeueDead([dead?.id as number], at(102))).toBe(1);
      expect((await store.claimDue(at(102), 100, 60_000)).filter((r) => r.incidentId === id).map((r) => r.attempts)).toEqual([1]);
    });

    it("prunes finished rows that finished before the cutoff, in batches; pending rows and dead letters stay", async () => {
      const id = await seed(store, [open(incident()), comment("a"), comment("b"), resolve]);
      const [o] = (await claimAll()).filter((r) => r.incidentId === id);
      await store.complete(o?.id as number, { ticket: { id: "5" } }, at(11));
      const [c] = (await store.claimDue(at(12), 100, 60_000)).filter((r) => r.incidentId === id); // "b" coalesced at 12
      await store.complete(c?.id as number, {}, at(13));
      const deadId = await seed(store, [open(incident())]);
      const [d] = (await claimAll()).filter((r) => r.incidentId === deadId);
      await store.deadLetter(d?.id as number, "422", at(11));
      const states = async () => [...(await ofIncident(id)), ...(await ofIncident(deadId))].map((r) => `${r.op}:${r.state}`).sort();

      await store.pruneFinished(at(11), 1000); // finished at 11 is not before 11: ours all stay
      expect(await states()).toEqual(["comment:coalesced", "comment:done", "open:dead", "open:done", "resolve:pending"]);
      expect(await store.pruneFinished(at(12.5), 1)).toBe(1); // one row per call at most
      expect(await store.pruneFinished(at(12.5), 1000)).toBeGreaterThanOrEqual(1);
      expect(await states()).toEqual(["comment:done", "open:dead", "resolve:pending"]);
      await store.pruneFinished(at(3600), 1000);
      expect(await states()).toEqual(["open:dead", "resolve:pending"]);
      // The incident keeps its ticket: the outbox history is what goes.
      expect((await store.listIncidents({ limit: 1000 })).find((x) => x.id === id)?.ticket).toEqual({ id: "5" });
    });

    it("cancelPending withdraws rows no attempt has touched", async () => {
      const id = await seed(store, [open(incident())]);
      expect(await store.transaction((tx) => tx.cancelPending(id))).toBe(1);
      expect((await ofIncident(id)).map((d) => d.state)).toEqual(["cancelled"]);
    });

    it("counts incidents by state", async () => {
      const counts = await store.countIncidents();
      expect(counts.firing).toBeGreaterThan(0);
    });

    it("built-in helpdesk: create is idempotent by key, each comment once per idempotency key, status and priority change with it", async () => {
      const t = {
        key: `ad-book-${++keyCounter}`,
        subject: "s",
        body: "b",
        priority: "P3" as const,
        category: "function" as const,
        dueAt: "d",
        labels: { a: "b" },
        tags: ["x"],
        fields: { f: 1 },
      };
      const a = await store.createTicket(t, at(0));
      const b = await store.createTicket(t, at(1));
      expect(b.id).toBe(a.id);
      expect(await store.findTicketByKey(t.key)).toEqual({ id: a.id });
      expect(await store.updateTicket(a.id, { comment: "c1", idempotencyKey: `${t.key}/1`, priority: "P1" }, at(2))).toBe(true);
      expect(await store.updateTicket(a.id, { comment: "c1", idempotencyKey: `${t.key}/1`, priority: "P1" }, at(3))).toBe(true);
      expect(await store.updateTicket(a.id, { comment: "solved", idempotencyKey: `${t.key}/2`, status: "solved" }, at(4))).toBe(true);
      expect(await store.updateTicket(999_999, { comment: "x", idempotencyKey: "nope" }, at(5))).toBe(false);
      const [ticket] = (await store.listTickets({ limit: 1000 })).filter((x) => x.key === t.key);
      expect(ticket).toMatchObject({
        priority: "P1",
        status: "solved",
        tags: ["x"],
        fields: { f: 1 },
        labels: { a: "b" },
        comments: [{ body: "c1" }, { body: "solved" }],
      });
      expect((await store.listTickets({ status: "open", limit: 1000 })).some((x) => x.key === t.key)).toBe(false);
    });

    it("answers ping while open", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

describeStore("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "alertdesk-store-"));
  return { store: createSqliteStore({ path: join(dir, "alertdesk.db") }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describeStore("postgres", async () => {
  const db = await createTestDatabase();
  return { store: await createPostgresStore({ url: db.url }), cleanup: () => db.drop() };
});

describe("postgres migrations", () => {
  it("run once when several replicas start together", async () => {
    const db = await createTestDatabase();
    try {
      const stores = await Promise.all(Array.from({ length: 4 }, () => createPostgresStore({ url: db.url })));
      for (const s of stores) await s.close();
      const again = await createPostgresStore({ url: db.url });
      expect(await again.countIncidents()).toEqual({});
      await again.close();
    } finally {
      await db.drop();
    }
  });
});
