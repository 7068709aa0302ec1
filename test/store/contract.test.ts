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

    /** Every item of a list, page by page, and the sizes of the pages. */
    async function walk<T extends { id?: number }>(page: (before: number | undefined) => Promise<{ items: T[]; next: number | null }>) {
      const ids: number[] = [];
      const sizes: number[] = [];
      let before: number | undefined;
      for (let n = 0; n < 1000; n++) {
        const p = await page(before);
        ids.push(...p.items.map((i) => Number(i.id)));
        sizes.push(p.items.length);
        if (p.next === null) return { ids, sizes };
        expect(p.next).toBe(p.items.at(-1)?.id);
        before = p.next;
      }
      throw new Error("no last page");
    }

    it("pages incidents newest first: limit, before and next walk every one once, with and without filters", async () => {
      const key = `{alertname="Paged${++keyCounter}"}`;
      const ids: number[] = [];
      for (let seq = 1; seq <= 5; seq++) ids.push(await seed(store, [], { ...incident(key, seq), state: seq % 2 === 0 ? "resolved" : "firing" }));
      const newestFirst = [...ids].reverse();
      const byKey = await walk((before) => store.pageIncidents({ dedupKey: key, limit: 2, ...(before ? { before } : {}) }));
      expect(byKey).toEqual({ ids: newestFirst, sizes: [2, 2, 1] });
      const firing = await walk((before) => store.pageIncidents({ dedupKey: key, state: "firing", limit: 1, ...(before ? { before } : {}) }));
      expect(firing.ids).toEqual([ids[4], ids[2], ids[0]]);
      const resolved = await walk((before) => store.pageIncidents({ state: "resolved", limit: 3, ...(before ? { before } : {}) }));
      expect(resolved.ids).toEqual((await store.listIncidents({ state: "resolved", limit: 10_000 })).map((i) => i.id));
      expect(resolved.ids).toEqual(expect.arrayContaining([ids[1], ids[3]]));
      const all = await walk((before) => store.pageIncidents({ limit: 4, ...(before ? { before } : {}) }));
      expect(all.ids).toEqual((await store.listIncidents({ limit: 10_000 })).map((i) => i.id));
      expect(new Set(all.ids).size).toBe(all.ids.length);
      expect(all.ids).toEqual([...all.ids].sort((a, b) => b - a));
      // A page that ends exactly at the last row has no next.
      expect((await store.pageIncidents({ dedupKey: key, limit: 5 })).next).toBeNull();
      expect((await store.pageIncidents({ dedupKey: key, limit: 5, before: ids[0] as number })).items).toEqual([]);
    });

    it("a page ends early once its rows' stored size passes maxBytes, but never holds none", async () => {
      const key = `{alertname="Heavy${++keyCounter}"}`;
      for (let seq = 1; seq <= 4; seq++) {
        const i = incident(key, seq);
        (i.alerts[0] as { annotations: Record<string, string> }).annotations = { description: "d".repeat(100_000) };
        await seed(store, [], i);
      }
      const small = await walk((before) => store.pageIncidents({ dedupKey: key, limit: 10, maxBytes: 250_000, ...(before ? { before } : {}) }));
      expect(small.sizes).toEqual([2, 2]);
      const tiny = await walk((before) => store.pageIncidents({ dedupKey: key, limit: 10, maxBytes: 1, ...(before ? { before } : {}) }));
      expect(tiny.sizes).toEqual([1, 1, 1, 1]);
      expect((await store.pageIncidents({ dedupKey: key, limit: 10, maxBytes: 10_000_000 })).items).toHaveLength(4);
    });

    it("pages deliveries newest first, with and without a state, each with its incident's labels", async () => {
      const i = incident();
      const id = await seed(store, [open(i), comment("one"), comment("two")], i);
      const pending = await walk((before) => store.pageDeliveries({ state: "pending", limit: 2, ...(before ? { before } : {}) }));
      expect(pending.ids).toEqual((await store.listDeliveries({ state: "pending", limit: 10_000 })).map((d) => d.id));
      const all = await walk((before) => store.pageDeliveries({ limit: 3, ...(before ? { before } : {}) }));
      expect(all.ids).toEqual((await store.listDeliveries({ limit: 10_000 })).map((d) => d.id));
      const mine = (await store.pageDeliveries({ limit: 3 })).items;
      expect(mine.map((d) => [d.incidentId, d.op])).toEqual([
        [id, "comment"],
        [id, "comment"],
        [id, "open"],
      ]);
      expect(mine[0]?.labels).toEqual({ alertname: "K", instance: "a" });
      expect(Object.getPrototypeOf(mine[0]?.labels)).toBeNull();
      // An incident without alerts shows its group labels; a page of one incident's rows counts its size once.
      const bare = { ...incident(), alerts: [], groupLabels: { alertname: "Bare" } };
      await seed(store, [comment("x"), comment("y")], bare);
      const page = await store.pageDeliveries({ limit: 2, maxBytes: 1 });
      expect(page.items.map((d) => d.labels)).toEqual([{ alertname: "Bare" }, { alertname: "Bare" }]);
    });

    it("pages tickets newest first with only their latest comments, saying how many it left out", async () => {
      const keys = [1, 2, 3].map(() => `ad-paged-${++keyCounter}`);
      const ids: number[] = [];
      for (const key of keys) {
        const t = {
          key,
          subject: "s",
          body: "b",
          priority: "P3" as const,
          category: "function" as const,
          dueAt: "d",
          labels: { constructor: "c" },
          tags: [],
          fields: {},
        };
        ids.push((await store.createTicket(t, at(0))).id);
      }
      for (let n = 1; n <= 5; n++) await store.updateTicket(ids[0] as number, { comment: `c${n}`, idempotencyKey: `${keys[0]}/${n}` }, at(n));
      await store.updateTicket(ids[2] as number, { comment: "done", idempotencyKey: `${keys[2]}/s`, status: "solved" }, at(9));
      const all = await walk((before) => store.pageTickets({ limit: 2, ...(before ? { before } : {}) }));
      expect(all.ids).toEqual((await store.listTickets({ limit: 10_000 })).map((t) => t.id));
      const open = await walk((before) => store.pageTickets({ status: "open", limit: 1, ...(before ? { before } : {}) }));
      expect(open.ids).toEqual(expect.arrayContaining([ids[0], ids[1]]));
      expect(open.ids).not.toContain(ids[2]);
      const [first] = (await store.pageTickets({ limit: 1, before: (ids[0] as number) + 1, comments: 2 })).items;
      expect(first?.comments.map((c) => c.body)).toEqual(["c4", "c5"]);
      expect(first?.commentsOmitted).toBe(3);
      expect(Object.getPrototypeOf(first?.labels)).toBeNull();
      expect(first?.labels.constructor).toBe("c");
      const [whole] = (await store.pageTickets({ limit: 1, before: (ids[0] as number) + 1, comments: 5 })).items;
      expect(whole?.comments).toHaveLength(5);
      expect(whole?.commentsOmitted).toBeUndefined();
    });

    it("gives incidents back with label sets without a prototype", async () => {
      const i = incident();
      (i.alerts[0] as { labels: Record<string, string> }).labels = { alertname: "K", toString: "t" };
      const id = await seed(store, [], i);
      const [back] = await store.listIncidents({ dedupKey: i.dedupKey, limit: 1 });
      expect(back?.id).toBe(id);
      for (const set of [back?.groupLabels, back?.alerts[0]?.labels, back?.alerts[0]?.annotations]) expect(Object.getPrototypeOf(set)).toBeNull();
      expect(back?.alerts[0]?.labels.toString).toBe("t");
      expect(back?.alerts[0]?.labels.constructor).toBeUndefined();
      const latest = (await store.transaction((tx) => tx.latestIncidents([i.dedupKey]))).get(i.dedupKey);
      expect(Object.getPrototypeOf(latest?.alerts[0]?.labels)).toBeNull();
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
