import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { agentChange, type BuiltinTicket, type NewBuiltinTicket, type TicketQuery } from "../../model/builtin-tickets.js";
import type { HelpdeskEvent } from "../../model/helpdesk-event.js";
import type { Incident } from "../../model/incident.js";
import { deliveryRank } from "../../model/ticket-operation.js";
import {
  beforeId,
  type CommentRow,
  chooseDeliveryPage,
  choosePage,
  coalesce,
  type DeliveryRow,
  type DueRow,
  type IncidentLabelsRow,
  type IncidentRow,
  incidentData,
  LOOKAHEAD,
  type SizedRow,
  TICKET_COLUMNS,
  type TicketRow,
  timerColumns,
  toBuiltinTickets,
  toDeliveryView,
  toIncident,
  toOutboxRow,
} from "../rows.js";
import type { DeliveryQuery, DeliveryView, IncidentQuery, IngestTx, OutboxRow, Page, PageQuery, Store } from "../types.js";
import { createSqliteArchive } from "./archive.js";
import { MIGRATIONS } from "./migrations.js";
import { createSqliteSync } from "./sync.js";
import type { WriteLock } from "./write-lock.js";
import { createSqliteWriter } from "./writer.js";

export interface SqliteStoreOptions {
  /** A file path, or ":memory:" for a throwaway store (simulate, tests). */
  path: string;
  /**
   * The serving process (not the CLI's replay): it refuses a data directory another live alertdesk
   * serves, records its pid beside the database, and releases the leases a dead predecessor held.
   */
  owner?: boolean;
  /**
   * Shared with another connection of this process that writes the same database (the ingest
   * thread's): the two writers take turns through it instead of waiting inside SQLite.
   */
  writeLock?: WriteLock;
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
  // The way back's poll leases and doorbell claims of the dead predecessor, likewise.
  db.prepare("UPDATE helpdesk_sync SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL").run();
  db.prepare("UPDATE helpdesk_doorbells SET lease_until = NULL WHERE state = 'pending' AND lease_until IS NOT NULL").run();
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
  // A burst of large writes grows the WAL; after the checkpoint it is cut back to 4 MiB (SQLite's
  // automatic checkpoint size) instead of keeping the burst's size on disk for good.
  db.pragma(`journal_size_limit = ${4 * 1024 * 1024}`);
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
  const writer = createSqliteWriter(db, memory ? undefined : `${options.path}-wal`, options.writeLock ? { lock: options.writeLock } : {});
  const write = writer.write;

  const q = {
    latest: db.prepare<[string], IncidentRow>("SELECT id, ticket_id, ticket_url, data FROM incidents WHERE dedup_key = ? ORDER BY seq DESC LIMIT 1"),
    insertIncident: db.prepare(
      `INSERT INTO incidents (dedup_key, seq, ticket_key, state, priority, helpdesk, opened_at, updated_at, verify_at, escalate_at, archive_at, data)
       VALUES (@dedupKey, @seq, @ticketKey, @state, @priority, @helpdesk, @openedAt, @updatedAt, @verifyAt, @escalateAt, @archiveAt, @data)`,
    ),
    // dedup_key too: an incident continued from alertdesk 0.1's key takes the group's key (pipeline/ingest.ts).
    updateIncident: db.prepare(
      "UPDATE incidents SET dedup_key = @dedupKey, state = @state, priority = @priority, updated_at = @updatedAt, verify_at = @verifyAt, escalate_at = @escalateAt, archive_at = @archiveAt, data = @data WHERE id = @id",
    ),
    enqueue: db.prepare(
      `INSERT INTO outbox (incident_id, helpdesk, op, payload, next_attempt_at, created_at, rank)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    // By rank, aged one step per DELIVERY_AGING_MS (30000) waited (model/ticket-operation.ts), then oldest first.
    // @skip: a JSON array of helpdesks not to claim for now (their limiter has enough in hand); a
    // name is in it when its JSON string is (no table scan, unlike json_each). @only: one helpdesk's
    // rows ('' for all). @busy: ",3,17," — incidents with a delivery in progress in this process.
    due: db.prepare<[{ now: number; limit: number; skip: string; only: string; busy: string }], DueRow>(
      `SELECT o.id, o.incident_id, o.helpdesk, o.payload, o.attempts, o.created_at,
              i.ticket_key, i.dedup_key, i.ticket_id, i.ticket_url
       FROM outbox o JOIN incidents i ON i.id = o.incident_id
       WHERE o.state = 'pending' AND o.next_attempt_at <= @now
         AND (o.lease_until IS NULL OR o.lease_until <= @now)
         AND instr(@skip, json_quote(o.helpdesk)) = 0
         AND (@only = '' OR o.helpdesk = @only)
         AND instr(@busy, ',' || o.incident_id || ',') = 0
         AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.incident_id = o.incident_id AND p.state = 'pending')
       ORDER BY o.rank - (@now - o.created_at) / 30000, o.id LIMIT @limit`,
    ),
    dueOldest: db.prepare<[{ now: number; limit: number; skip: string; only: string; busy: string }], DueRow>(
      `SELECT o.id, o.incident_id, o.helpdesk, o.payload, o.attempts, o.created_at,
              i.ticket_key, i.dedup_key, i.ticket_id, i.ticket_url
       FROM outbox o JOIN incidents i ON i.id = o.incident_id
       WHERE o.state = 'pending' AND o.next_attempt_at <= @now
         AND (o.lease_until IS NULL OR o.lease_until <= @now)
         AND instr(@skip, json_quote(o.helpdesk)) = 0
         AND (@only = '' OR o.helpdesk = @only)
         AND instr(@busy, ',' || o.incident_id || ',') = 0
         AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.incident_id = o.incident_id AND p.state = 'pending')
       ORDER BY o.next_attempt_at, o.id LIMIT @limit`,
    ),
    defer: db.prepare("UPDATE outbox SET next_attempt_at = ?, lease_until = NULL, attempts = MAX(attempts - 1, 0), last_error = ? WHERE id = ?"),
    ticketUpdates: db.prepare<[number, string, number], { n: number; earliest: number | null }>(
      `SELECT COUNT(*) AS n, MIN(done_at) AS earliest FROM outbox
       WHERE incident_id = ? AND state = 'done' AND helpdesk = ? AND op IN ('comment', 'resolve', 'reopen') AND done_at >= ?`,
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
    // Only a row still held: one rescheduled or deferred meanwhile (lease cleared) keeps its time.
    renewLease: db.prepare("UPDATE outbox SET lease_until = ? WHERE id = ? AND state = 'pending' AND lease_until IS NOT NULL"),
    complete: db.prepare("UPDATE outbox SET state = 'done', done_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?"),
    setTicket: db.prepare("UPDATE incidents SET ticket_id = ?, ticket_url = ? WHERE id = (SELECT incident_id FROM outbox WHERE id = ?)"),
    keepSilence: db.prepare(
      `INSERT INTO alertmanager_silences (incident_id, alertmanager, silence_id, updated_at) VALUES ((SELECT incident_id FROM outbox WHERE id = ?), ?, ?, ?)
       ON CONFLICT (incident_id, alertmanager) DO UPDATE SET silence_id = excluded.silence_id, updated_at = excluded.updated_at`,
    ),
    forgetSilence: db.prepare("DELETE FROM alertmanager_silences WHERE incident_id = (SELECT incident_id FROM outbox WHERE id = ?) AND alertmanager = ?"),
    silenceIds: db.prepare<[number], { alertmanager: string; silence_id: string }>(
      "SELECT alertmanager, silence_id FROM alertmanager_silences WHERE incident_id = ?",
    ),
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
    ticketForUpdate: db.prepare<[number], TicketRow>(`SELECT ${TICKET_COLUMNS} FROM builtin_tickets WHERE id = ?`),
    allComments: db.prepare<[number], CommentRow>("SELECT ticket_id, body, author, public, created_at FROM builtin_comments WHERE ticket_id = ? ORDER BY id"),
    agentComment: db.prepare("INSERT INTO builtin_comments (ticket_id, body, idempotency_key, created_at, author, public) VALUES (?, ?, ?, ?, ?, ?)"),
    agentSet: db.prepare(
      "UPDATE builtin_tickets SET status = @status, assignee = @assignee, priority = @priority, resolution = @resolution, first_response_at = @firstResponseAt, updated_at = @now WHERE id = @id",
    ),
    activity: db.prepare("INSERT INTO builtin_activity (ticket_id, data, created_at) VALUES (?, ?, ?)"),
    activitySince: db.prepare<[number, number], { id: number; ticket_id: number; key: string; data: string }>(
      "SELECT a.id, a.ticket_id, t.key, a.data FROM builtin_activity a JOIN builtin_tickets t ON t.id = a.ticket_id WHERE a.id > ? ORDER BY a.id LIMIT ?",
    ),
    ticketActivity: db.prepare<[number], { id: number; data: string }>("SELECT id, data FROM builtin_activity WHERE ticket_id = ? ORDER BY id"),
    followUpOf: db.prepare<[number], { id: number }>("SELECT id FROM builtin_tickets WHERE follow_up_of = ? ORDER BY id DESC LIMIT 1"),
    createFollowUp: db.prepare(
      `INSERT INTO builtin_tickets (key, subject, body, priority, status, category, due_at, labels, tags, assignee_group, fields, follow_up_of, created_at, updated_at)
       SELECT key || '~' || id, subject, body, @priority, 'open', category, due_at, labels, tags, assignee_group, fields, id, @now, @now FROM builtin_tickets WHERE id = @id`,
    ),
  };

  const updateIncident = (incident: Incident & { id: number }) => {
    q.updateIncident.run({
      id: incident.id,
      dedupKey: incident.dedupKey,
      state: incident.state,
      priority: incident.priority,
      updatedAt: incident.updatedAt,
      ...timerColumns(incident),
      data: incidentData(incident),
    });
  };
  const archive = createSqliteArchive(db, reader);
  const tx: IngestTx = {
    similarIncidents: archive.tx.similarIncidents,
    cancelArchive: archive.tx.cancelArchive,
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
        ...timerColumns(incident),
        data: incidentData(incident),
      });
      return Number(info.lastInsertRowid);
    },
    async updateIncident(incident) {
      updateIncident(incident);
    },
    async enqueue(incidentId, rows, now) {
      const t = now.getTime();
      for (const r of rows)
        q.enqueue.run(incidentId, r.helpdesk, r.operation.op, JSON.stringify(r.operation), r.notBefore?.getTime() ?? t, t, deliveryRank(r.operation));
    },
    async cancelPending(incidentId) {
      return q.cancelPending.run(incidentId).changes;
    },
  };

  const sync = createSqliteSync(db, reader, write, updateIncident, tx.enqueue);
  const syncTx = { ...tx, ...sync.tx, incidentDeliveries: archive.tx.incidentDeliveries, saveArchiveEntry: archive.tx.saveArchiveEntry };

  // The read API's lists, a page at a time: first the candidates' ids and stored sizes (octet_length
  // reads a row's size without its text), then only the rows that fit the page, one by id.
  type Sizes = { before: number; limit: number };
  const r = {
    incidentSizes: reader.prepare<[Sizes], SizedRow>("SELECT id, octet_length(data) AS bytes FROM incidents WHERE id < @before ORDER BY id DESC LIMIT @limit"),
    incidentSizesByState: reader.prepare<[Sizes & { state: string }], SizedRow>(
      "SELECT id, octet_length(data) AS bytes FROM incidents WHERE state = @state AND id < @before ORDER BY id DESC LIMIT @limit",
    ),
    incidentSizesByKey: reader.prepare<[Sizes & { key: string; state: string | null }], SizedRow>(
      "SELECT id, octet_length(data) AS bytes FROM incidents WHERE dedup_key = @key AND (@state IS NULL OR state = @state) AND id < @before ORDER BY id DESC LIMIT @limit",
    ),
    incident: reader.prepare<[number], IncidentRow>("SELECT id, ticket_id, ticket_url, data FROM incidents WHERE id = ?"),
    deliveries: reader.prepare<[Sizes], DeliveryRow>(
      `SELECT o.id, o.incident_id, o.helpdesk, o.op, o.state, o.attempts, o.last_error, o.created_at, o.next_attempt_at, i.dedup_key, octet_length(i.data) AS bytes
       FROM outbox o JOIN incidents i ON i.id = o.incident_id WHERE o.id < @before ORDER BY o.id DESC LIMIT @limit`,
    ),
    deliveriesByState: reader.prepare<[Sizes & { state: string }], DeliveryRow>(
      `SELECT o.id, o.incident_id, o.helpdesk, o.op, o.state, o.attempts, o.last_error, o.created_at, o.next_attempt_at, i.dedup_key, octet_length(i.data) AS bytes
       FROM outbox o JOIN incidents i ON i.id = o.incident_id WHERE o.state = @state AND o.id < @before ORDER BY o.id DESC LIMIT @limit`,
    ),
    // The database parses the incident's data; only the labels come out.
    incidentLabels: reader.prepare<[number], IncidentLabelsRow>(
      "SELECT json_extract(data, '$.alerts[0].labels') AS labels, json_extract(data, '$.groupLabels') AS group_labels FROM incidents WHERE id = ?",
    ),
    // A ticket's size: its text and its latest comments (those a page shows at most).
    ticketSizes: reader.prepare<[Sizes & { comments: number }], SizedRow>(
      `SELECT t.id, octet_length(t.body) + octet_length(t.labels) + octet_length(t.fields)
              + (SELECT COALESCE(SUM(b), 0) FROM (SELECT octet_length(c.body) AS b FROM builtin_comments c WHERE c.ticket_id = t.id ORDER BY c.id DESC LIMIT @comments)) AS bytes
       FROM builtin_tickets t WHERE t.id < @before ORDER BY t.id DESC LIMIT @limit`,
    ),
    ticketSizesByStatus: reader.prepare<[Sizes & { comments: number; status: string }], SizedRow>(
      `SELECT t.id, octet_length(t.body) + octet_length(t.labels) + octet_length(t.fields)
              + (SELECT COALESCE(SUM(b), 0) FROM (SELECT octet_length(c.body) AS b FROM builtin_comments c WHERE c.ticket_id = t.id ORDER BY c.id DESC LIMIT @comments)) AS bytes
       FROM builtin_tickets t WHERE t.status = @status AND t.id < @before ORDER BY t.id DESC LIMIT @limit`,
    ),
    ticket: reader.prepare<[number], TicketRow>(`SELECT ${TICKET_COLUMNS} FROM builtin_tickets WHERE id = ?`),
    latestComments: reader.prepare<[{ ticket: number; comments: number }], CommentRow>(
      "SELECT ticket_id, body, author, public, created_at FROM builtin_comments WHERE ticket_id = @ticket ORDER BY id DESC LIMIT @comments",
    ),
    commentCount: reader.prepare<[number], { n: number }>("SELECT COUNT(*) AS n FROM builtin_comments WHERE ticket_id = ?"),
  };
  const candidates = (query: PageQuery): Sizes => ({ before: beforeId(query), limit: query.limit + LOOKAHEAD });
  /**
   * Reads the chosen rows one by one, letting the event loop run after every 256 KiB: reads are
   * synchronous here, and a webhook arriving meanwhile should wait for one slice, not for the page.
   */
  const readChosen = async <R extends SizedRow, T>(chosen: readonly R[], read: (row: R) => T[]): Promise<T[]> => {
    const out: T[] = [];
    let since = 0;
    for (const c of chosen) {
      out.push(...read(c));
      since += Number(c.bytes ?? 0);
      if (since > 256 * 1024) {
        since = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    return out;
  };

  const pageIncidents = async (query: IncidentQuery): Promise<Page<Incident>> => {
    const sizes = query.dedupKey
      ? r.incidentSizesByKey.all({ ...candidates(query), key: query.dedupKey, state: query.state ?? null })
      : query.state
        ? r.incidentSizesByState.all({ ...candidates(query), state: query.state })
        : r.incidentSizes.all(candidates(query));
    const page = choosePage(sizes, query);
    const items = await readChosen(sizes.slice(0, page.items.length), ({ id }) => {
      const row = r.incident.get(id);
      return row ? [toIncident(row)] : [];
    });
    return { items, next: page.next };
  };
  const pageDeliveries = async (query: DeliveryQuery): Promise<Page<DeliveryView>> => {
    const all = query.state ? r.deliveriesByState.all({ ...candidates(query), state: query.state }) : r.deliveries.all(candidates(query));
    const { rows, next } = chooseDeliveryPage(all, query);
    const labels = new Map<number, IncidentLabelsRow | undefined>();
    const items = await readChosen(rows, (row) => {
      if (!labels.has(row.incident_id)) labels.set(row.incident_id, r.incidentLabels.get(row.incident_id));
      return [toDeliveryView(row, labels.get(row.incident_id))];
    });
    return { items, next };
  };
  const pageTickets = async (query: TicketQuery): Promise<Page<BuiltinTicket>> => {
    const comments = query.comments ?? Number.MAX_SAFE_INTEGER;
    const sizes = query.status
      ? r.ticketSizesByStatus.all({ ...candidates(query), comments, status: query.status })
      : r.ticketSizes.all({ ...candidates(query), comments });
    const page = choosePage(sizes, query);
    const omitted = new Map<number, number>();
    const tickets = await readChosen(sizes.slice(0, page.items.length), ({ id }) => {
      const t = r.ticket.get(id);
      if (!t) return [];
      const list = r.latestComments.all({ ticket: t.id, comments }).reverse();
      if (list.length === comments) omitted.set(t.id, (r.commentCount.get(t.id)?.n ?? 0) - comments);
      return toBuiltinTickets([t], list, omitted);
    });
    return { items: tickets, next: page.next };
  };

  return {
    kind: "sqlite",
    ordersWrites: true,
    transaction: (fn) => write(() => fn(tx)),
    syncTransaction: (fn) => write(() => fn(syncTx)),
    dueArchives: archive.store.dueArchives,
    searchArchive: archive.store.searchArchive,
    archiveEntry: archive.store.archiveEntry,
    countArchive: archive.store.countArchive,
    ...sync.store,

    claimDue: (now, limit, leaseMs, options = {}) =>
      write(() => {
        const t = now.getTime();
        const params = {
          now: t,
          limit,
          skip: JSON.stringify(options.skipHelpdesks ?? []),
          only: options.onlyHelpdesk ?? "",
          busy: `,${(options.skipIncidents ?? []).join(",")},`,
        };
        const rows = options.order === "oldest" ? q.dueOldest.all(params) : q.due.all(params);
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
        for (const s of result.silences ?? []) {
          if (s.silenceId === null) q.forgetSilence.run(id, s.alertmanager);
          else q.keepSilence.run(id, s.alertmanager, s.silenceId, now.toISOString());
        }
        if (result.archived) archive.store.setExternalUrl(result.archived.entryId, result.archived.url);
      }),
    async silenceIds(incidentId) {
      return Object.fromEntries(q.silenceIds.all(incidentId).map((r) => [r.alertmanager, r.silence_id]));
    },
    reschedule: (id, error, nextAttemptAt) => write(() => void q.reschedule.run(nextAttemptAt.getTime(), error, id)),
    defer: (id, why, until) => write(() => void q.defer.run(until.getTime(), why, id)),
    extendLeases: (ids, until) =>
      write(() => {
        for (const id of ids) q.renewLease.run(until.getTime(), id);
      }),
    async ticketUpdatesSince(incidentId, helpdesk, since) {
      const r = q.ticketUpdates.get(incidentId, helpdesk, since.getTime());
      return { count: r?.n ?? 0, earliestAt: r?.earliest ?? undefined };
    },
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
    pageDeliveries,
    pageIncidents,
    async getIncident(id) {
      const row = r.incident.get(id);
      return row ? toIncident(row) : undefined;
    },
    deliveriesOf: archive.store.deliveriesOf,
    listDeliveries: async (query) => (await pageDeliveries(query)).items,
    listIncidents: async (query) => (await pageIncidents(query)).items,
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
        const ticket = q.ticketForUpdate.get(id);
        if (!ticket) return false;
        const iso = now.toISOString();
        const closed = ticket.status === "closed";
        const added = q.addComment.run(id, update.comment, update.idempotencyKey, iso).changes > 0;
        // A closed ticket is final: the comment lands, the status stays.
        if (added) q.touchTicket.run(closed ? null : (update.status ?? null), closed ? null : (update.priority ?? null), iso, id);
        return closed && update.status === "open" ? { reopened: false as const } : true;
      }),
    createFollowUp: (closedId, update, now) =>
      write(() => {
        const existing = q.followUpOf.get(closedId);
        const iso = now.toISOString();
        const id = existing ? existing.id : Number(q.createFollowUp.run({ id: closedId, priority: update.priority, now: iso }).lastInsertRowid);
        q.addComment.run(id, update.comment, update.idempotencyKey, iso);
        return { id: Number(id) };
      }),
    async getTicket(id) {
      const t = q.ticketForUpdate.get(id);
      return t ? toBuiltinTickets([t], q.allComments.all(id))[0] : undefined;
    },
    agentAct: (id, act, now) =>
      write(() => {
        const t = q.ticketForUpdate.get(id);
        if (!t) return undefined;
        const change = agentChange(
          { status: t.status, assignee: t.assignee, priority: t.priority, resolution: t.resolution, firstResponseAt: t.first_response_at },
          act,
          now,
        );
        if ("refused" in change) return change;
        const iso = now.toISOString();
        if (act.comment) q.agentComment.run(id, act.comment.body, `agent/${randomUUID()}`, iso, act.author, act.comment.public ? 1 : 0);
        q.agentSet.run({ id, now: iso, ...change.set });
        for (const e of change.events) q.activity.run(id, JSON.stringify(e), iso);
        const ticket = toBuiltinTickets([q.ticketForUpdate.get(id) as TicketRow], q.allComments.all(id))[0] as BuiltinTicket;
        return { ticket };
      }),
    async activitySince(afterId, limit) {
      return q.activitySince
        .all(afterId, limit)
        .map((a) => ({ id: Number(a.id), ticketId: Number(a.ticket_id), ticketKey: a.key, event: JSON.parse(a.data) as HelpdeskEvent }));
    },
    async ticketActivity(ticketId) {
      return q.ticketActivity.all(ticketId).map((a) => ({ id: Number(a.id), event: JSON.parse(a.data) as HelpdeskEvent }));
    },
    async findTicketByKey(key) {
      return q.ticketByKey.get(key);
    },
    pageTickets,
    listTickets: async (query) => (await pageTickets(query)).items,
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
