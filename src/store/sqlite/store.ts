import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { BuiltinTicket, NewBuiltinTicket } from "../../model/builtin-tickets.js";
import type { Incident } from "../../model/incident.js";
import {
  coalesce,
  type DeliveryRow,
  type DueRow,
  type IncidentRow,
  incidentData,
  TICKET_COLUMNS,
  type TicketRow,
  toBuiltinTickets,
  toDeliveryView,
  toIncident,
  toOutboxRow,
} from "../rows.js";
import type { IncidentQuery, IngestTx, OutboxRow, Store } from "../types.js";
import { MIGRATIONS } from "./migrations.js";
import { createSqliteWriter } from "./writer.js";

export interface SqliteStoreOptions {
  /** A file path, or ":memory:" for a throwaway store (simulate, tests). */
  path: string;
  /**
   * The serving process (not the CLI's replay): it refuses a data directory another live alertdesk
   * serves, records its pid beside the database, and releases the leases a dead predecessor held.
   */
  owner?: boolean;
}

/** Whether `pid` is a running alertdesk (a reused pid of another program does not count). */
function aliveAlertdesk(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("alertdesk");
  } catch {
    return true; // no /proc: alive is all we know
  }
}

/**
 * Takes the data directory for this process. A single process owns an SQLite store, so the leases
 * in it after a kill -9 are the dead process's own: released at once, instead of waiting out the
 * whole lease (60 s) before the restarted process may deliver them. (PostgreSQL replicas keep theirs:
 * another replica may be delivering.)
 */
function takeOwnership(db: Database.Database, path: string): string {
  const pidFile = `${path}.pid`;
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && aliveAlertdesk(pid)) {
      throw new Error(`another alertdesk (pid ${pid}) serves ${path}; stop it first (or remove ${pidFile} if it is stale)`);
    }
  }
  writeFileSync(pidFile, `${process.pid}\n`);
  db.prepare("UPDATE outbox SET lease_until = NULL WHERE state = 'pending' AND lease_until IS NOT NULL").run();
  return pidFile;
}

/**
 * Creates the data directory one level at a time. Node's recursive mkdir never returns on some
 * kernel filesystems (ALERTDESK_DATA_DIR=/proc/x hung the start for ever); one level at a time, it
 * fails at once with the reason.
 */
function makeDirectory(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new Error(`data directory ${dir} is not a directory`);
    return;
  }
  const parent = dirname(dir);
  if (parent !== dir) makeDirectory(parent);
  try {
    mkdirSync(dir);
  } catch (err) {
    throw new Error(`cannot create the data directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/**
 * The embedded store: one SQLite file in WAL mode. Every write goes through one writer that groups
 * concurrent writes into one transaction and resolves them once an fsync has put it on disk.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const memory = options.path === ":memory:";
  if (!memory) makeDirectory(dirname(options.path));
  const db = new Database(options.path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL"); // migrations commit directly, not through the writer
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  migrate(db);
  let pidFile: string | undefined;
  try {
    if (options.owner && !memory) pidFile = takeOwnership(db, options.path);
  } catch (err) {
    db.close();
    throw err;
  }
  // From here the writer fsyncs the WAL itself before a write resolves, off the event loop (see
  // writer.ts): as durable as FULL for everything acknowledged.
  db.pragma(memory ? "synchronous = OFF" : "synchronous = NORMAL");
  // Reads for the API go through their own connection: they see committed data only, never a
  // transaction in progress on the writer.
  const reader = memory ? db : new Database(options.path, { readonly: true });
  if (!memory) reader.pragma("busy_timeout = 5000");
  const writer = createSqliteWriter(db, memory ? undefined : `${options.path}-wal`);
  const write = writer.write;

  const q = {
    latest: db.prepare<[string], IncidentRow>("SELECT id, ticket_id, ticket_url, data FROM incidents WHERE dedup_key = ? ORDER BY seq DESC LIMIT 1"),
    insertIncident: db.prepare(
      `INSERT INTO incidents (dedup_key, seq, ticket_key, state, priority, helpdesk, opened_at, updated_at, data)
       VALUES (@dedupKey, @seq, @ticketKey, @state, @priority, @helpdesk, @openedAt, @updatedAt, @data)`,
    ),
    // dedup_key too: an incident continued from alertdesk 0.1's key takes the group's key (pipeline/ingest.ts).
    updateIncident: db.prepare(
      "UPDATE incidents SET dedup_key = @dedupKey, state = @state, priority = @priority, updated_at = @updatedAt, data = @data WHERE id = @id",
    ),
    enqueue: db.prepare(
      `INSERT INTO outbox (incident_id, helpdesk, op, payload, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    due: db.prepare<[{ now: number; limit: number }], DueRow>(
      `SELECT o.id, o.incident_id, o.helpdesk, o.payload, o.attempts, o.created_at,
              i.ticket_key, i.dedup_key, i.ticket_id, i.ticket_url
       FROM outbox o JOIN incidents i ON i.id = o.incident_id
       WHERE o.state = 'pending' AND o.next_attempt_at <= @now
         AND (o.lease_until IS NULL OR o.lease_until <= @now)
         AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.incident_id = o.incident_id AND p.state = 'pending')
       ORDER BY o.next_attempt_at, o.id LIMIT @limit`,
    ),
    cancelPending: db.prepare(
      "UPDATE outbox SET state = 'cancelled', done_at = created_at WHERE incident_id = ? AND state = 'pending' AND attempts = 0 AND lease_until IS NULL",
    ),
    following: db.prepare<[number, number], { id: number; op: string; payload: string }>(
      "SELECT id, op, payload FROM outbox WHERE incident_id = ? AND state = 'pending' AND id > ? ORDER BY id LIMIT 100",
    ),
    coalesced: db.prepare("UPDATE outbox SET state = 'coalesced', done_at = ?, last_error = ? WHERE id = ?"),
    setPayload: db.prepare("UPDATE outbox SET payload = ? WHERE id = ?"),
    lease: db.prepare("UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ?"),
    complete: db.prepare("UPDATE outbox SET state = 'done', done_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?"),
    setTicket: db.prepare("UPDATE incidents SET ticket_id = ?, ticket_url = ? WHERE id = (SELECT incident_id FROM outbox WHERE id = ?)"),
    reschedule: db.prepare("UPDATE outbox SET next_attempt_at = ?, lease_until = NULL, last_error = ? WHERE id = ?"),
    dead: db.prepare("UPDATE outbox SET state = 'dead', done_at = ?, lease_until = NULL, last_error = ? WHERE id = ?"),
    requeueAll: db.prepare("UPDATE outbox SET state = 'pending', next_attempt_at = ?, attempts = 0, done_at = NULL WHERE state = 'dead'"),
    requeueOne: db.prepare("UPDATE outbox SET state = 'pending', next_attempt_at = ?, attempts = 0, done_at = NULL WHERE state = 'dead' AND id = ?"),
    pruneFinished: db.prepare(
      // next_attempt_at <= done_at for finished rows: the extra bound lets outbox_due find them without a scan.
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox WHERE state IN ('done', 'coalesced', 'cancelled') AND next_attempt_at < @before AND done_at < @before LIMIT @limit)`,
    ),
    // Only rows that could be claimed: the head of their incident's queue, lease expired.
    nextDue: db.prepare<[], { t: number | null }>(
      `SELECT MIN(MAX(o.next_attempt_at, COALESCE(o.lease_until, 0))) AS t FROM outbox o
       WHERE o.state = 'pending'
         AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.incident_id = o.incident_id AND p.state = 'pending')`,
    ),
    createTicket: db.prepare(
      `INSERT INTO builtin_tickets (key, subject, body, priority, status, category, due_at, labels, tags, assignee_group, fields, created_at, updated_at)
       VALUES (@key, @subject, @body, @priority, 'open', @category, @dueAt, @labels, @tags, @assigneeGroup, @fields, @now, @now)
       ON CONFLICT (key) DO NOTHING`,
    ),
    ticketByKey: db.prepare<[string], { id: number }>("SELECT id FROM builtin_tickets WHERE key = ?"),
    ticketExists: db.prepare<[number], { id: number }>("SELECT id FROM builtin_tickets WHERE id = ?"),
    addComment: db.prepare(
      "INSERT INTO builtin_comments (ticket_id, body, idempotency_key, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
    ),
    touchTicket: db.prepare("UPDATE builtin_tickets SET status = COALESCE(?, status), priority = COALESCE(?, priority), updated_at = ? WHERE id = ?"),
  };

  const tx: IngestTx = {
    async latestIncidents(keys) {
      const out = new Map<string, Incident>();
      for (const key of new Set(keys)) {
        const row = q.latest.get(key);
        if (row) out.set(key, toIncident(row));
      }
      return out;
    },
    async insertIncident(incident) {
      const info = q.insertIncident.run({
        dedupKey: incident.dedupKey,
        seq: incident.seq,
        ticketKey: incident.ticketKey,
        state: incident.state,
        priority: incident.priority,
        helpdesk: incident.helpdesk,
        openedAt: incident.openedAt,
        updatedAt: incident.updatedAt,
        data: incidentData(incident),
      });
      return Number(info.lastInsertRowid);
    },
    async updateIncident(incident) {
      q.updateIncident.run({
        id: incident.id,
        dedupKey: incident.dedupKey,
        state: incident.state,
        priority: incident.priority,
        updatedAt: incident.updatedAt,
        data: incidentData(incident),
      });
    },
    async enqueue(incidentId, rows, now) {
      const t = now.getTime();
      for (const r of rows) q.enqueue.run(incidentId, r.helpdesk, r.operation.op, JSON.stringify(r.operation), r.notBefore?.getTime() ?? t, t);
    },
    async cancelPending(incidentId) {
      return q.cancelPending.run(incidentId).changes;
    },
  };

  const readTickets = (where: string, params: unknown[], limit: number): BuiltinTicket[] => {
    const rows = reader.prepare(`SELECT ${TICKET_COLUMNS} FROM builtin_tickets ${where} ORDER BY id DESC LIMIT ?`).all(...params, limit) as TicketRow[];
    const ids = rows.map((r) => r.id);
    const comments =
      ids.length === 0
        ? []
        : (reader
            .prepare(`SELECT ticket_id, body, created_at FROM builtin_comments WHERE ticket_id IN (${ids.map(() => "?").join(",")}) ORDER BY id`)
            .all(...ids) as { ticket_id: number; body: string; created_at: string }[]);
    return toBuiltinTickets(rows, comments);
  };

  return {
    kind: "sqlite",
    ordersWrites: true,
    transaction: (fn) => write(() => fn(tx)),

    claimDue: (now, limit, leaseMs) =>
      write(() => {
        const t = now.getTime();
        const rows = q.due.all({ now: t, limit });
        return rows.map((r): OutboxRow => {
          q.lease.run(t + leaseMs, r.id);
          // Comments queued right behind this one go out with it, in the same transaction as the claim.
          const { operation, absorbed } = coalesce(r.payload, q.following.all(r.incident_id, r.id));
          for (const id of absorbed) q.coalesced.run(t, `coalesced into ${r.id}`, id);
          if (absorbed.length > 0) q.setPayload.run(JSON.stringify(operation), r.id);
          return toOutboxRow(r, operation);
        });
      }),
    complete: (id, result, now) =>
      write(() => {
        q.complete.run(now.getTime(), id);
        if (result.ticket) q.setTicket.run(result.ticket.id, result.ticket.url ?? null, id);
      }),
    reschedule: (id, error, nextAttemptAt) => write(() => void q.reschedule.run(nextAttemptAt.getTime(), error, id)),
    deadLetter: (id, error, now) => write(() => void q.dead.run(now.getTime(), error, id)),
    requeueDead: (ids, now) =>
      write(() => {
        if (ids === "all") return q.requeueAll.run(now.getTime()).changes;
        let n = 0;
        for (const id of ids) n += q.requeueOne.run(now.getTime(), id).changes;
        return n;
      }),
    pruneFinished: (before, limit) => write(() => q.pruneFinished.run({ before: before.getTime(), limit }).changes),
    async nextDueAt() {
      return q.nextDue.get()?.t ?? undefined;
    },
    async listDeliveries(query) {
      const rows = reader
        .prepare(
          `SELECT o.id, o.incident_id, o.helpdesk, o.op, o.state, o.attempts, o.last_error, o.created_at, o.next_attempt_at,
                  i.dedup_key, i.data
           FROM outbox o JOIN incidents i ON i.id = o.incident_id
           ${query.state ? "WHERE o.state = ?" : ""} ORDER BY o.id DESC LIMIT ?`,
        )
        .all(...(query.state ? [query.state] : []), query.limit) as DeliveryRow[];
      return rows.map(toDeliveryView);
    },
    async listIncidents(query: IncidentQuery) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (query.state) {
        where.push("state = ?");
        params.push(query.state);
      }
      if (query.dedupKey) {
        where.push("dedup_key = ?");
        params.push(query.dedupKey);
      }
      const rows = reader
        .prepare(`SELECT id, ticket_id, ticket_url, data FROM incidents ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`)
        .all(...params, query.limit) as IncidentRow[];
      return rows.map(toIncident);
    },
    async countIncidents() {
      const rows = reader.prepare("SELECT state, COUNT(*) AS n FROM incidents GROUP BY state").all() as { state: string; n: number }[];
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    },
    async countOutbox() {
      const rows = reader.prepare("SELECT state, COUNT(*) AS n FROM outbox WHERE state IN ('pending', 'dead') GROUP BY state").all() as {
        state: string;
        n: number;
      }[];
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    },
    async ping() {
      writer.check();
      reader.prepare("SELECT 1").get();
    },
    async close() {
      await writer.close();
      if (reader !== db) reader.close();
      db.close();
      if (pidFile && existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() === String(process.pid)) rmSync(pidFile);
    },

    createTicket: (t: NewBuiltinTicket, now) =>
      write(() => {
        q.createTicket.run({
          key: t.key,
          subject: t.subject,
          body: t.body,
          priority: t.priority,
          category: t.category,
          dueAt: t.dueAt,
          labels: JSON.stringify(t.labels),
          tags: JSON.stringify(t.tags),
          assigneeGroup: t.assigneeGroup ?? null,
          fields: JSON.stringify(t.fields),
          now: now.toISOString(),
        });
        return { id: (q.ticketByKey.get(t.key) as { id: number }).id };
      }),
    updateTicket: (id, update, now) =>
      write(() => {
        if (!q.ticketExists.get(id)) return false;
        const iso = now.toISOString();
        const added = q.addComment.run(id, update.comment, update.idempotencyKey, iso).changes > 0;
        if (added) q.touchTicket.run(update.status ?? null, update.priority ?? null, iso, id);
        return true;
      }),
    async findTicketByKey(key) {
      return q.ticketByKey.get(key);
    },
    async listTickets(query) {
      return query.status ? readTickets("WHERE status = ?", [query.status], query.limit) : readTickets("", [], query.limit);
    },
  };
}

function migrate(db: Database.Database): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    db.exec("BEGIN IMMEDIATE");
    try {
      const done = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(version);
      if (!done) {
        db.exec(sql);
        db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(version, new Date().toISOString());
      }
      db.exec("COMMIT");
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw err;
    }
  });
}
