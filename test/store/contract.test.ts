import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NewArchiveEntry } from "../../src/model/archive.js";
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

function archiveEntry(incidentId: number, overrides: Partial<NewArchiveEntry> = {}): NewArchiveEntry {
  return {
    incidentId,
    ticketKey: `ad-${incidentId}`,
    title: `HostDiskFull on db-${incidentId} — 2026-11-25 (ad-${incidentId})`,
    labels: { alertname: "HostDiskFull", instance: `db-${incidentId}`, job: "node" },
    keywords: ["HostDiskFull", "node", "performance", "P2", "fixed"],
    resolution: "",
    resolutionLine: "Resolved by itself: every alert stopped firing and alertdesk solved the ticket.",
    outcome: "resolved by itself",
    body: "## Summary\n\nThe disk filled up.",
    doc: [{ kind: "paragraph", text: "The disk filled up." }],
    alertname: "HostDiskFull",
    priority: "P2",
    category: "performance",
    helpdesk: "builtin",
    ticketId: String(incidentId),
    ticketUrl: null,
    startedAt: at(0).toISOString(),
    endedAt: at(600).toISOString(),
    durationMs: 600_000,
    ...overrides,
  };
}

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

    /** An incident whose ticket the helpdesk confirmed (as the outbox records it). */
    async function ticketed(ticketId: string, helpdesk = "builtin"): Promise<number> {
      const i = { ...incident(), helpdesk };
      const id = await seed(store, [open(i)], i);
      const [row] = (await store.claimDue(at(10), 100, 60_000)).filter((r) => r.incidentId === id);
      if (!row) throw new Error("not claimed");
      await store.complete(row.id, { ticket: { id: ticketId, url: `http://hd/${ticketId}` } }, at(11));
      return id;
    }
    const commented = (id: string, text: string) => ({
      id,
      event: { kind: "commented" as const, at: at(20).toISOString(), author: "alice", public: true, text },
    });

    it("way back: the incident of a ticket, each event once per helpdesk and id, stored per ticket", async () => {
      const ticket = `T${++keyCounter}`;
      const id = await ticketed(ticket, "support");
      const found = await store.syncTransaction((tx) => tx.incidentByTicket("support", ticket));
      expect(found).toMatchObject({ id, ticket: { id: ticket } });
      expect(await store.syncTransaction((tx) => tx.incidentByTicket("other", ticket))).toBeUndefined();
      const first = await store.syncTransaction((tx) => tx.recordEvent(id, "support", ticket, commented(`e${ticket}`, "one"), at(21)));
      const again = await store.syncTransaction((tx) => tx.recordEvent(id, "support", ticket, commented(`e${ticket}`, "one again"), at(22)));
      // Another helpdesk may use the same event id for its own ticket.
      const otherHelpdesk = await store.syncTransaction((tx) => tx.recordEvent(id, "jira", ticket, commented(`e${ticket}`, "two"), at(23)));
      expect([first, again, otherHelpdesk]).toEqual([true, false, true]);
      const events = await store.helpdeskEvents(id);
      expect(events.map((e) => [e.eventId, e.ticketId, e.event.kind, e.event.kind === "commented" ? e.event.text : ""])).toEqual([
        [`e${ticket}`, ticket, "commented", "one"],
        [`e${ticket}`, ticket, "commented", "two"],
      ]);
      // A transaction that fails stores none of its events.
      await expect(
        store.syncTransaction(async (tx) => {
          await tx.recordEvent(id, "support", ticket, commented(`lost${ticket}`, "x"), at(24));
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect((await store.helpdeskEvents(id)).map((e) => e.eventId)).not.toContain(`lost${ticket}`);
    });

    it("way back: one poller per helpdesk holds the lease; the cursor is saved only by the holder", async () => {
      const helpdesk = `hd${++keyCounter}`;
      expect(await store.takePollLease(helpdesk, "a", at(0), 60_000)).toEqual({ cursor: null });
      expect(await store.takePollLease(helpdesk, "b", at(1), 60_000)).toBeUndefined();
      expect(await store.syncTransaction((tx) => tx.saveCursor(helpdesk, "a", "c1", at(2)))).toBe(true);
      expect(await store.syncTransaction((tx) => tx.saveCursor(helpdesk, "b", "cX", at(2)))).toBe(false);
      expect(await store.takePollLease(helpdesk, "a", at(3), 60_000)).toEqual({ cursor: "c1" });
      // The holder died: its lease runs out, and the next replica continues from its cursor.
      expect(await store.takePollLease(helpdesk, "b", at(64), 60_000)).toEqual({ cursor: "c1" });
      expect(await store.syncTransaction((tx) => tx.saveCursor(helpdesk, "a", "stale", at(65)))).toBe(false);
      await store.notePoll(helpdesk, "HTTP 503", at(66));
      const status = (await store.syncStatus()).find((x) => x.helpdesk === helpdesk);
      expect(status).toEqual({ helpdesk, cursor: "c1", syncedAt: at(2).toISOString(), lastError: "HTTP 503" });
    });

    it("way back: doorbells are stored once per delivery and ticket, claimed by one, retried, finished", async () => {
      const helpdesk = `bell${++keyCounter}`;
      expect(await store.recordDoorbell(helpdesk, "d1", ["7", "8", "7"], at(0))).toBe(true);
      expect(await store.recordDoorbell(helpdesk, "d1", ["7", "8"], at(1))).toBe(false);
      const claimed = (await store.claimDoorbells(at(2), 100, 60_000)).filter((d) => d.helpdesk === helpdesk);
      expect(claimed.map((d) => [d.ticketId, d.attempts])).toEqual([
        ["7", 1],
        ["8", 1],
      ]);
      expect((await store.claimDoorbells(at(3), 100, 60_000)).filter((d) => d.helpdesk === helpdesk)).toEqual([]);
      const [seven, eight] = claimed as [(typeof claimed)[0], (typeof claimed)[0]];
      await store.finishDoorbell(seven.id, at(4));
      await store.retryDoorbell(eight.id, at(30));
      expect((await store.claimDoorbells(at(29), 100, 60_000)).filter((d) => d.helpdesk === helpdesk)).toEqual([]);
      expect((await store.claimDoorbells(at(30), 100, 60_000)).filter((d) => d.helpdesk === helpdesk).map((d) => [d.ticketId, d.attempts])).toEqual([["8", 2]]);
    });

    it("way back: due verifications by time, and the incident they belong to, updated with the outbox rows", async () => {
      const ticket = `V${++keyCounter}`;
      const id = await ticketed(ticket);
      const due = at(600).toISOString();
      await store.syncTransaction(async (tx) => {
        const i = await tx.incidentById(id);
        if (!i) throw new Error("missing");
        await tx.updateIncident({ ...i, verifyAt: due });
      });
      expect(await store.dueVerifications(at(599), 100)).not.toContain(id);
      expect(await store.dueVerifications(at(600), 100)).toContain(id);
      expect(await store.nextVerificationAt()).toBeLessThanOrEqual(at(600).getTime());
      await store.syncTransaction(async (tx) => {
        const i = await tx.incidentById(id);
        if (!i) throw new Error("missing");
        const { verifyAt: _done, ...rest } = i;
        await tx.updateIncident({ ...rest, id });
        await tx.enqueue(id, [{ helpdesk: "builtin", operation: { op: "reopen", body: [], priority: "P2" } }], at(600));
      });
      expect(await store.dueVerifications(at(10_000), 1000)).not.toContain(id);
      expect((await ofIncident(id)).map((d) => d.op)).toEqual(["reopen", "open"]);
    });

    it("built-in helpdesk: an agent's acts change the ticket and are recorded as activity; closed is final; a follow-up links it", async () => {
      const t = {
        key: `ad-agent-${++keyCounter}`,
        subject: "s",
        body: "b",
        priority: "P3" as const,
        category: "function" as const,
        dueAt: "d",
        labels: {},
        tags: [],
        fields: {},
      };
      const { id } = await store.createTicket(t, at(0));
      const before = (await store.activitySince(0, 100_000)).at(-1)?.id ?? 0;
      const commentedBy = await store.agentAct(id, { author: "alice", comment: { body: "on it", public: false } }, at(1));
      expect(commentedBy).toMatchObject({ ticket: { firstResponseAt: at(1).toISOString(), comments: [{ body: "on it", author: "alice", public: false }] } });
      await store.agentAct(id, { author: "alice", assignee: "bob", priority: "P2" }, at(2));
      const solved = await store.agentAct(id, { author: "bob", status: "solved", resolution: "wont_fix" }, at(3));
      expect(solved).toMatchObject({
        ticket: { status: "solved", resolution: "wont_fix", assignee: "bob", priority: "P2", firstResponseAt: at(1).toISOString() },
      });
      const activity = (await store.activitySince(before, 100)).filter((a) => a.ticketId === id);
      expect(activity.map((a) => a.event.kind)).toEqual(["commented", "assigned", "priority_changed", "status_changed"]);
      expect((await store.ticketActivity(id)).map((a) => a.id)).toEqual(activity.map((a) => a.id));
      expect(await store.agentAct(999_999, { author: "a", status: "open" }, at(4))).toBeUndefined();
      await store.agentAct(id, { author: "bob", status: "closed" }, at(5));
      expect(await store.agentAct(id, { author: "bob", status: "open" }, at(6))).toEqual({ refused: expect.stringContaining("closed") });
      // alertdesk's reopen of a closed ticket: the comment lands, the status stays, and it says so.
      expect(await store.updateTicket(id, { comment: "fired again", idempotencyKey: `${t.key}/r`, status: "open", priority: "P1" }, at(7))).toEqual({
        reopened: false,
      });
      const followUp = await store.createFollowUp(id, { comment: "fired again", idempotencyKey: `${t.key}/f`, priority: "P1" }, at(8));
      expect(await store.createFollowUp(id, { comment: "fired again", idempotencyKey: `${t.key}/f`, priority: "P1" }, at(9))).toEqual(followUp);
      const [closed, next] = [await store.getTicket(id), await store.getTicket(followUp.id)];
      expect(closed?.status).toBe("closed");
      expect(next).toMatchObject({ status: "open", priority: "P1", followUpOf: id, subject: "s", comments: [{ body: "fired again", author: "alertdesk" }] });
    });

    it("keeps the silence id each Alertmanager answered for an incident, per Alertmanager, until it is expired", async () => {
      const i = incident();
      const id = await seed(store, [comment("a"), comment("b")], i);
      // Coalescing would fold the two comments into one row: claim, complete, claim the next.
      const rows = (await store.claimDue(at(10), 100, 60_000)).filter((r) => r.incidentId === id);
      const [first] = rows;
      if (!first) throw new Error("not claimed");
      await store.complete(
        first.id,
        {
          silences: [
            { alertmanager: "prod", silenceId: "s-1" },
            { alertmanager: "edge", silenceId: "e-1" },
          ],
        },
        at(11),
      );
      expect(await store.silenceIds(id)).toEqual({ prod: "s-1", edge: "e-1" });
      await store.complete(
        first.id,
        {
          silences: [
            { alertmanager: "prod", silenceId: "s-2" },
            { alertmanager: "edge", silenceId: null },
          ],
        },
        at(12),
      );
      expect(await store.silenceIds(id)).toEqual({ prod: "s-2" });
      expect(await store.silenceIds(999_999)).toEqual({});
    });

    it("keeps one archive entry per incident, replaced by a second write, and finds it by full text (every word first, else any)", async () => {
      const id = await seed(store, []);
      const other = await seed(store, []);
      const entryId = await store.syncTransaction((tx) =>
        tx.saveArchiveEntry(archiveEntry(id, { body: "The volume was nearly full of logs.", resolution: "Rotated the logs and grew the volume." }), at(1)),
      );
      const again = await store.syncTransaction((tx) =>
        tx.saveArchiveEntry(
          archiveEntry(id, { body: "The /var volume was full of rotated logs.", resolution: "Rotated the logs and grew the volume to 200G." }),
          at(2),
        ),
      );
      expect(again).toBe(entryId);
      await store.syncTransaction((tx) =>
        tx.saveArchiveEntry(archiveEntry(other, { alertname: "HostHighCpu", title: "HostHighCpu on web", body: "CPU saturated." }), at(3)),
      );
      const entry = await store.archiveEntry(entryId);
      expect(entry).toMatchObject({ id: entryId, incidentId: id, resolution: "Rotated the logs and grew the volume to 200G.", createdAt: at(1).toISOString() });
      expect(entry?.updatedAt).toBe(at(2).toISOString());
      expect(entry?.doc).toEqual([{ kind: "paragraph", text: "The disk filled up." }]);
      // Stemmed, every word: "rotating" finds "rotated", "volumes" finds "volume".
      const both = await store.searchArchive({ q: "rotating volumes", limit: 10 });
      expect(both.map((e) => e.id)).toEqual([entryId]);
      // No entry has every word: the ones with any of them.
      const any = await store.searchArchive({ q: "saturated nonexistentword", limit: 10 });
      expect(any.map((e) => e.incidentId)).toContain(other);
      expect(any.map((e) => e.incidentId)).not.toContain(id);
      // Search syntax in the text is only words: no error, no match of everything.
      await expect(store.searchArchive({ q: '" OR * NEAR( -- ) \\ :', limit: 10 })).resolves.toBeDefined();
      expect((await store.searchArchive({ limit: 2 })).map((e) => e.incidentId)).toEqual([other, id]);
      expect(await store.countArchive()).toBeGreaterThanOrEqual(2);
      expect(await store.archiveEntry(987_654)).toBeUndefined();
    });

    it("finds similar archived incidents by alertname and by label pairs, through bounded index reads", async () => {
      const ids: number[] = [];
      for (let n = 0; n < 3; n++) ids.push(await seed(store, []));
      const [sameName, sameInstance, unrelated] = ids as [number, number, number];
      await store.syncTransaction(async (tx) => {
        await tx.saveArchiveEntry(archiveEntry(sameName, { alertname: "SimilarA", labels: { alertname: "SimilarA", instance: "x-1" } }), at(1));
        await tx.saveArchiveEntry(archiveEntry(sameInstance, { alertname: "SimilarB", labels: { alertname: "SimilarB", instance: "sim-host" } }), at(2));
        await tx.saveArchiveEntry(archiveEntry(unrelated, { alertname: "SimilarC", labels: { alertname: "SimilarC", instance: "elsewhere" } }), at(3));
      });
      const found = await store.transaction((tx) =>
        tx.similarIncidents({ alertname: "SimilarA", labels: { alertname: "SimilarA", instance: "sim-host" }, limit: 3 }),
      );
      // The same alertname first, then the shared instance; the unrelated one not at all.
      expect(found.map((c) => c.incidentId)).toEqual([sameName, sameInstance]);
      expect(found[1]).toMatchObject({
        alertname: "SimilarB",
        labels: { alertname: "SimilarB", instance: "sim-host" },
        durationMs: 600_000,
        ticketKey: `ad-${sameInstance}`,
        ticketId: String(sameInstance),
        resolutionLine: "Resolved by itself: every alert stopped firing and alertdesk solved the ticket.",
        sameAlertname: false,
      });
      expect(found[0]?.sameAlertname).toBe(true);
      const none = await store.transaction((tx) => tx.similarIncidents({ alertname: "SimilarA", labels: {}, excludeIncidentId: sameName, limit: 3 }));
      expect(none.map((c) => c.incidentId)).not.toContain(sameName);
    });

    it("a NUL character in a label or the text is stored and searched, never refused (PostgreSQL takes no U+0000 in text)", async () => {
      const id = await seed(store, []);
      const entryId = await store.syncTransaction((tx) =>
        tx.saveArchiveEntry(
          archiveEntry(id, {
            title: "NulTest on db\u00001",
            labels: { alertname: "NulTest", instance: "db\u00001" },
            alertname: "Nul\u0000Test",
            body: "full\u0000 disk",
          }),
          at(1),
        ),
      );
      expect((await store.archiveEntry(entryId))?.labels.instance).toBe("db\u00001");
      const found = await store.transaction((tx) => tx.similarIncidents({ alertname: "Nul\u0000Test", labels: { instance: "db\u00001" }, limit: 3 }));
      expect(found.map((f) => f.incidentId)).toContain(id);
    });

    it("archive timers: due archives by time; withdrawn archive rows; the incident's deliveries for the timeline", async () => {
      const i = { ...incident(), archiveAt: at(100).toISOString() };
      const id = await seed(store, [open(i), comment("first")], i);
      expect(await store.dueArchives(at(99), 10)).not.toContain(id);
      expect(await store.dueArchives(at(100), 10)).toContain(id);
      const deliveries = await store.syncTransaction((tx) => tx.incidentDeliveries(id));
      expect(deliveries.map((d) => d.operation.op)).toEqual(["open", "comment"]);
      expect(deliveries[1]).toMatchObject({ helpdesk: "builtin", state: "pending", createdAt: at(0).toISOString(), doneAt: null });
      const entryId = await store.syncTransaction(async (tx) => {
        const eid = await tx.saveArchiveEntry(archiveEntry(id), at(101));
        const { archiveAt: _due, ...archived } = i;
        await tx.updateIncident({ ...archived, id, archivedAt: at(101).toISOString() });
        await tx.enqueue(
          id,
          [{ helpdesk: "knowledge_base", operation: { op: "archive", entryId: eid, title: "t", body: [], labels: ["alertdesk"] } }],
          at(101),
        );
        return eid;
      });
      expect(await store.dueArchives(at(200), 10)).not.toContain(id);
      expect(await store.transaction((tx) => tx.cancelArchive(id, at(102)))).toBe(1);
      // Newest first, as the deliveries list shows them.
      expect((await ofIncident(id)).map((d) => [d.op, d.state])).toEqual([
        ["archive", "cancelled"],
        ["comment", "pending"],
        ["open", "pending"],
      ]);
      // Where the external knowledge base keeps the entry, recorded by the delivery.
      await store.syncTransaction((tx) =>
        tx.enqueue(id, [{ helpdesk: "knowledge_base", operation: { op: "archive", entryId, title: "t", body: [], labels: [] } }], at(103)),
      );
      const rows = await store.listDeliveries({ limit: 1000 });
      const row = rows.find((d) => d.incidentId === id && d.op === "archive" && d.state === "pending");
      await store.complete(row?.id as number, { archived: { entryId, url: "https://wiki.example/pages/1" } }, at(104));
      expect((await store.archiveEntry(entryId))?.externalUrl).toBe("https://wiki.example/pages/1");
    });

    it("claims due rows by rank under a backlog: P1 opens first, then resolves, raises, comments; a long wait moves a row up", async () => {
      const seedAt = async (rows: NewOutboxRow[], priority: "P1" | "P3", seconds: number) =>
        store.transaction(async (tx) => {
          const i = { ...incident(), priority };
          const id = await tx.insertIncident(i);
          await tx.enqueue(
            id,
            rows.map((r) => (r.operation.op === "open" ? { ...open(i), operation: { ...(open(i).operation as OpenTicket), priority } } : r)),
            at(seconds),
          );
          return id;
        });
      // Claim everything due before, so only these compete.
      await store.claimDue(at(1000), 1000, 1);
      const oldComment = await seedAt([comment("waited long")], "P3", 1000);
      const comments = [await seedAt([comment("c1")], "P3", 1290), await seedAt([comment("c2")], "P3", 1290)];
      const raise = await seedAt(
        [{ helpdesk: "builtin", operation: { op: "comment", body: [{ kind: "paragraph", text: "raised" }], priority: "P2" } }],
        "P3",
        1290,
      );
      const resolveOnly = await seedAt([resolve], "P3", 1290);
      const p3open = await seedAt([open(incident())], "P3", 1290);
      const p1open = await seedAt([open(incident())], "P1", 1295);
      const claimed = (await store.claimDue(at(1300), 100, 60_000)).map((r) => r.incidentId);
      const mine = claimed.filter((id) => [oldComment, ...comments, raise, resolveOnly, p3open, p1open].includes(id));
      // The comment that waited 300 s moved ten steps up (every 30 s one): it goes before everything.
      expect(mine).toEqual([oldComment, p1open, p3open, resolveOnly, raise, ...comments]);
    });

    it("claims in the oldest-first order when asked, and not for helpdesks told to skip", async () => {
      const seedOne = async (helpdesk: string, priority: "P1" | "P3", seconds: number) =>
        store.transaction(async (tx) => {
          const i = { ...incident(), priority, helpdesk };
          const id = await tx.insertIncident(i);
          const row = open(i);
          await tx.enqueue(id, [{ helpdesk, operation: { ...(row.operation as OpenTicket), priority } }], at(seconds));
          return id;
        });
      await store.claimDue(at(2000), 1000, 1); // everything due before is out of the way
      const p3 = await seedOne("zendesk", "P3", 2000);
      const p1 = await seedOne("zendesk", "P1", 2001);
      const other = await seedOne("builtin", "P3", 2002);
      const mine = (rows: { incidentId: number }[]) => rows.map((r) => r.incidentId).filter((id) => [p3, p1, other].includes(id));
      expect(mine(await store.claimDue(at(2010), 100, 1, { skipHelpdesks: ["zendesk", "jira"] }))).toEqual([other]);
      expect(mine(await store.claimDue(at(2020), 100, 1, { order: "oldest" }))).toEqual([p3, p1, other]);
      expect(mine(await store.claimDue(at(2030), 100, 1))).toEqual([p1, p3, other]);
      expect(mine(await store.claimDue(at(2040), 100, 1, { onlyHelpdesk: "zendesk" }))).toEqual([p1, p3]);
      expect(mine(await store.claimDue(at(2050), 100, 1, { skipIncidents: [p1, other] }))).toEqual([p3]);
    });

    it("a renewed lease keeps a claimed row from being claimed again; a rescheduled one is not renewed", async () => {
      const id = await seed(store, [open(incident())]);
      const claim = async (s: number) => (await store.claimDue(at(s), 100, 5_000)).filter((r) => r.incidentId === id);
      const [row] = await claim(10);
      await store.extendLeases([row?.id as number], at(30));
      expect(await claim(20)).toEqual([]); // its first lease ended at 15
      expect((await claim(31)).map((r) => r.id)).toEqual([row?.id]);
      await store.reschedule(row?.id as number, "503", at(40));
      await store.extendLeases([row?.id as number], at(100));
      expect((await claim(41)).map((r) => r.id)).toEqual([row?.id]);
    });

    it("defer puts a claimed row back without counting the attempt; updates delivered to a ticket are counted in a window", async () => {
      const id = await seed(store, [open(incident()), comment("a"), comment("b"), resolve]);
      const claim = async (s: number) => (await store.claimDue(at(s), 100, 60_000)).filter((r) => r.incidentId === id);
      const [o] = await claim(10);
      await store.complete(o?.id as number, { ticket: { id: "9" } }, at(11));
      const [c] = await claim(12); // "a" with "b" coalesced
      await store.complete(c?.id as number, {}, at(13));
      expect(await store.ticketUpdatesSince(id, "builtin", at(0))).toEqual({ count: 1, earliestAt: at(13).getTime() }); // the open is no update
      expect(await store.ticketUpdatesSince(id, "builtin", at(14))).toEqual({ count: 0, earliestAt: undefined });
      expect(await store.ticketUpdatesSince(id, "zendesk", at(0))).toEqual({ count: 0, earliestAt: undefined });
      const [r] = await claim(20);
      expect(r).toMatchObject({ attempts: 1, operation: { op: "resolve" } });
      await store.defer(r?.id as number, "over its budget", at(600));
      expect(await claim(599)).toEqual([]);
      const [again] = await claim(600);
      expect(again).toMatchObject({ id: r?.id, attempts: 1 });
      expect((await ofIncident(id)).find((d) => d.id === r?.id)?.lastError).toBe("over its budget");
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

describe("postgres request budget", () => {
  it("spaces the slots of every replica of a helpdesk, and a pause holds them all back", async () => {
    const db = await createTestDatabase();
    const replicas = await Promise.all([createPostgresStore({ url: db.url }), createPostgresStore({ url: db.url })]);
    try {
      const budgets = replicas.map((r) => r.requestBudget);
      expect(budgets.every((b) => b !== undefined)).toBe(true);
      // A minute apart, so the milliseconds the calls take do not matter.
      const waits = await Promise.all(Array.from({ length: 6 }, (_, i) => budgets[i % 2]?.reserveRequestSlot("zendesk", 60_000) as Promise<number>));
      const sorted = [...waits].sort((a, b) => a - b);
      expect(sorted[0]).toBeLessThan(5_000);
      for (let i = 1; i < sorted.length; i++) expect((sorted[i] as number) - (sorted[i - 1] as number)).toBeGreaterThan(55_000);
      // Another helpdesk has slots of its own; a pause is the later of the last slot and the pause's end.
      expect(await budgets[0]?.reserveRequestSlot("jira", 60_000)).toBeLessThan(5_000);
      await budgets[1]?.pauseRequests("jira", 3_600_000);
      expect(await budgets[0]?.reserveRequestSlot("jira", 1)).toBeGreaterThan(3_500_000);
    } finally {
      for (const r of replicas) await r.close();
      await db.drop();
    }
  });
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
