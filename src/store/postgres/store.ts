import { randomUUID } from "node:crypto";
import pg from "pg";
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
import { pgArchiveStore, pgArchiveTx } from "./archive.js";
import { PG_MIGRATIONS } from "./migrations.js";
import { pgSyncStore, pgSyncTx } from "./sync.js";

/**
 * The store for several replicas: PostgreSQL. No home-made coordination: an advisory transaction
 * lock per dedup key serializes the lifecycle step of one incident across replicas, `FOR UPDATE SKIP
 * LOCKED` plus a lease hands each outbox head to one worker, `ON CONFLICT` makes the built-in
 * helpdesk's writes idempotent, and an advisory lock makes concurrent migrations run once.
 */

export interface PostgresStoreOptions {
  url: string;
  /** Connections per replica (default 10). */
  poolMax?: number;
  /** Longest a statement may run (default 5 s). */
  statementTimeoutMs?: number;
}

/** BIGINT columns come back as numbers (ids and epoch milliseconds fit easily). */
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as "text");
  },
};

const MIGRATION_LOCK = 7_414_756_203; // any constant shared by every alertdesk replica
const RETRYABLE = new Set(["40P01", "40001"]); // deadlock detected, serialization failure

type Q = Pick<pg.PoolClient, "query">;

const ignore = () => {};

async function migrate(client: pg.PoolClient): Promise<void> {
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
  try {
    await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
    for (const [i, sql] of PG_MIGRATIONS.entries()) {
      const version = i + 1;
      const done = await client.query("SELECT 1 FROM schema_migrations WHERE version = $1", [version]);
      if (done.rowCount) continue;
      await client.query("BEGIN");
      try {
        await client.query(sql);
        await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [version, new Date().toISOString()]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw err;
      }
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
  }
}

function ingestTx(c: Q): IngestTx {
  const archive = pgArchiveTx(c);
  return {
    similarIncidents: archive.similarIncidents,
    cancelArchive: archive.cancelArchive,
    async latestIncidents(keys) {
      const unique = [...new Set(keys)].sort();
      // One incident's step at a time across replicas; sorted, so two transactions cannot deadlock on each other's keys.
      for (const key of unique) await c.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key]);
      const res = await c.query<IncidentRow & { dedup_key: string }>(
        "SELECT DISTINCT ON (dedup_key) id, dedup_key, ticket_id, ticket_url, data FROM incidents WHERE dedup_key = ANY($1) ORDER BY dedup_key, seq DESC",
        [unique],
      );
      return new Map(res.rows.map((r) => [r.dedup_key, toIncident(r)]));
    },
    async insertIncident(i: Incident) {
      const res = await c.query<{ id: number }>(
        `INSERT INTO incidents (dedup_key, seq, ticket_key, state, priority, helpdesk, opened_at, updated_at, data, verify_at, escalate_at, archive_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
        [
          i.dedupKey,
          i.seq,
          i.ticketKey,
          i.state,
          i.priority,
          i.helpdesk,
          i.openedAt,
          i.updatedAt,
          incidentData(i),
          timerColumns(i).verifyAt,
          timerColumns(i).escalateAt,
          timerColumns(i).archiveAt,
        ],
      );
      return Number(res.rows[0]?.id);
    },
    async updateIncident(i) {
      // dedup_key too: an incident continued from alertdesk 0.1's key takes the group's key (pipeline/ingest.ts).
      await c.query(
        "UPDATE incidents SET dedup_key = $6, state = $2, priority = $3, updated_at = $4, data = $5, verify_at = $7, escalate_at = $8, archive_at = $9 WHERE id = $1",
        [i.id, i.state, i.priority, i.updatedAt, incidentData(i), i.dedupKey, timerColumns(i).verifyAt, timerColumns(i).escalateAt, timerColumns(i).archiveAt],
      );
    },
    async enqueue(incidentId, rows, now) {
      const t = now.getTime();
      for (const r of rows) {
        await c.query("INSERT INTO outbox (incident_id, helpdesk, op, payload, next_attempt_at, created_at, rank) VALUES ($1, $2, $3, $4, $5, $6, $7)", [
          incidentId,
          r.helpdesk,
          r.operation.op,
          JSON.stringify(r.operation),
          r.notBefore?.getTime() ?? t,
          t,
          deliveryRank(r.operation),
        ]);
      }
    },
    async cancelPending(incidentId) {
      const res = await c.query(
        "UPDATE outbox SET state = 'cancelled', done_at = created_at WHERE incident_id = $1 AND state = 'pending' AND attempts = 0 AND lease_until IS NULL",
        [incidentId],
      );
      return res.rowCount ?? 0;
    },
  };
}

/** Opens the pool and runs the migrations (once, even when replicas start together). */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 5000,
    types,
  });
  // A connection that dies (database restart, network) must fail the work in progress, never crash
  // the process: idle clients report on the pool, checked-out ones on themselves.
  pool.on("error", () => {});
  const checkout = async () => {
    const c = await pool.connect();
    c.on("error", ignore);
    return c;
  };
  const release = (c: pg.PoolClient, broken: boolean) => {
    c.off("error", ignore);
    c.release(broken);
  };
  const client = await checkout();
  try {
    await migrate(client);
  } catch (err) {
    release(client, true);
    await pool.end();
    throw err;
  }
  release(client, false);

  /** BEGIN … COMMIT on one pooled connection; retried on deadlock or serialization failure. */
  async function inTransaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = await checkout();
      let broken = false;
      try {
        await c.query("BEGIN");
        const result = await fn(c);
        await c.query("COMMIT");
        return result;
      } catch (err) {
        await c.query("ROLLBACK").catch(() => {
          broken = true;
        });
        const code = (err as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < 4) continue;
        throw err;
      } finally {
        release(c, broken);
      }
    }
  }

  // The read API's lists, a page at a time: first the candidates' ids and stored sizes (octet_length
  // reads a TOASTed value's size without its text), then only the rows that fit the page.
  /** `WHERE` … `LIMIT` of a page's candidates: ids below the cursor, the filters, newest first. */
  const where = (id: string, conditions: [string, unknown][], query: PageQuery) => {
    const params: unknown[] = [beforeId(query)];
    const clauses = [`${id} < $1`, ...conditions.map(([column, value]) => `${column} = $${params.push(value)}`)];
    params.push(query.limit + LOOKAHEAD);
    return { sql: `WHERE ${clauses.join(" AND ")} ORDER BY ${id} DESC LIMIT $${params.length}`, params };
  };

  const pageIncidents = async (query: IncidentQuery): Promise<Page<Incident>> => {
    const w = where(
      "id",
      [...(query.state ? [["state", query.state] as [string, unknown]] : []), ...(query.dedupKey ? [["dedup_key", query.dedupKey] as [string, unknown]] : [])],
      query,
    );
    const sizes = await pool.query<SizedRow>(`SELECT id, octet_length(data) AS bytes FROM incidents ${w.sql}`, w.params);
    const page = choosePage(sizes.rows, query);
    if (page.items.length === 0) return { items: [], next: null };
    const rows = await pool.query<IncidentRow>("SELECT id, ticket_id, ticket_url, data FROM incidents WHERE id = ANY($1) ORDER BY id DESC", [page.items]);
    return { items: rows.rows.map(toIncident), next: page.next };
  };

  const pageDeliveries = async (query: DeliveryQuery): Promise<Page<DeliveryView>> => {
    const w = where("o.id", query.state ? [["o.state", query.state]] : [], query);
    const all = await pool.query<DeliveryRow>(
      `SELECT o.id, o.incident_id, o.helpdesk, o.op, o.state, o.attempts, o.last_error, o.created_at, o.next_attempt_at, i.dedup_key, octet_length(i.data) AS bytes
       FROM outbox o JOIN incidents i ON i.id = o.incident_id ${w.sql}`,
      w.params,
    );
    const { rows, next } = chooseDeliveryPage(all.rows, query);
    if (rows.length === 0) return { items: [], next: null };
    // The database parses the incidents' data; only the labels come out.
    const labels = await pool.query<IncidentLabelsRow & { id: number }>(
      `SELECT id, ((data::json)->'alerts'->0->'labels')::text AS labels, ((data::json)->'groupLabels')::text AS group_labels
       FROM incidents WHERE id = ANY($1)`,
      [[...new Set(rows.map((r) => r.incident_id))]],
    );
    const byIncident = new Map(labels.rows.map((l) => [Number(l.id), l]));
    return { items: rows.map((r) => toDeliveryView(r, byIncident.get(Number(r.incident_id)))), next };
  };

  const pageTickets = async (query: TicketQuery): Promise<Page<BuiltinTicket>> => {
    const comments = query.comments ?? Number.MAX_SAFE_INTEGER;
    const w = where("t.id", query.status ? [["t.status", query.status]] : [], query);
    const sizes = await pool.query<SizedRow>(
      // A ticket's size: its text and its latest comments (those a page shows at most).
      `SELECT t.id, octet_length(t.body) + octet_length(t.labels) + octet_length(t.fields)
              + (SELECT COALESCE(sum(b), 0) FROM (SELECT octet_length(c.body) AS b FROM builtin_comments c WHERE c.ticket_id = t.id ORDER BY c.id DESC LIMIT $${w.params.length + 1}) x) AS bytes
       FROM builtin_tickets t ${w.sql}`,
      [...w.params, comments],
    );
    const page = choosePage(sizes.rows, query);
    if (page.items.length === 0) return { items: [], next: null };
    const rows = (await pool.query<TicketRow>(`SELECT ${TICKET_COLUMNS} FROM builtin_tickets WHERE id = ANY($1) ORDER BY id DESC`, [page.items])).rows;
    const latest = (
      await pool.query<CommentRow>(
        `SELECT c.ticket_id, c.body, c.author, c.public, c.created_at FROM unnest($1::bigint[]) AS t(id)
         CROSS JOIN LATERAL (SELECT ticket_id, body, author, public, created_at, id FROM builtin_comments WHERE ticket_id = t.id ORDER BY id DESC LIMIT $2) c
         ORDER BY c.id`,
        [page.items, comments],
      )
    ).rows;
    const shown = new Map<number, number>();
    for (const c of latest) shown.set(Number(c.ticket_id), (shown.get(Number(c.ticket_id)) ?? 0) + 1);
    const full = [...shown].filter(([, n]) => n === comments).map(([id]) => id);
    const omitted = new Map<number, number>();
    if (full.length > 0) {
      const counts = await pool.query<{ ticket_id: number; n: number }>(
        "SELECT ticket_id, count(*)::int AS n FROM builtin_comments WHERE ticket_id = ANY($1) GROUP BY ticket_id",
        [full],
      );
      for (const c of counts.rows) omitted.set(Number(c.ticket_id), c.n - comments);
    }
    return { items: toBuiltinTickets(rows, latest, omitted), next: page.next };
  };

  return {
    kind: "postgres",
    ordersWrites: false,
    transaction: (fn) => inTransaction((c) => fn(ingestTx(c))),
    syncTransaction: (fn) =>
      inTransaction((c) => {
        const ingest = ingestTx(c);
        return fn({ ...pgSyncTx(c), ...pgArchiveTx(c), updateIncident: ingest.updateIncident, enqueue: ingest.enqueue });
      }),
    ...pgSyncStore(pool, inTransaction),
    ...pgArchiveStore(pool),

    claimDue: (now, limit, leaseMs, options = {}) =>
      inTransaction(async (c) => {
        const t = now.getTime();
        // Only the oldest unfinished row of each incident (per-incident order); rows another replica
        // is claiming right now are skipped, and its lease keeps them once it committed.
        // By rank, aged one step per DELIVERY_AGING_MS (30000) waited (model/ticket-operation.ts), then oldest first.
        const due = await c.query<DueRow>(
          `SELECT o.id, o.incident_id, o.helpdesk, o.payload, o.attempts, o.created_at, i.ticket_key, i.dedup_key, i.ticket_id, i.ticket_url
           FROM outbox o JOIN incidents i ON i.id = o.incident_id
           WHERE o.state = 'pending' AND o.next_attempt_at <= $1 AND (o.lease_until IS NULL OR o.lease_until <= $1)
             AND NOT (o.helpdesk = ANY($3::text[]))
             AND ($4::text IS NULL OR o.helpdesk = $4) AND NOT (o.incident_id = ANY($5::bigint[]))
             AND o.id = (SELECT min(p.id) FROM outbox p WHERE p.incident_id = o.incident_id AND p.state = 'pending')
           ORDER BY ${options.order === "oldest" ? "o.next_attempt_at" : "o.rank - ($1 - o.created_at) / 30000"}, o.id LIMIT $2
           FOR UPDATE OF o SKIP LOCKED`,
          [t, limit, [...(options.skipHelpdesks ?? [])], options.onlyHelpdesk ?? null, [...(options.skipIncidents ?? [])]],
        );
        const claimed: OutboxRow[] = [];
        for (const r of due.rows) {
          await c.query("UPDATE outbox SET lease_until = $1, attempts = attempts + 1 WHERE id = $2", [t + leaseMs, r.id]);
          const following = await c.query<{ id: number; op: string; payload: string }>(
            "SELECT id, op, payload FROM outbox WHERE incident_id = $1 AND state = 'pending' AND id > $2 ORDER BY id LIMIT 100 FOR UPDATE",
            [r.incident_id, r.id],
          );
          const { operation, absorbed } = coalesce(r.payload, following.rows);
          if (absorbed.length > 0) {
            await c.query("UPDATE outbox SET state = 'coalesced', done_at = $1, last_error = $2 WHERE id = ANY($3)", [t, `coalesced into ${r.id}`, absorbed]);
            await c.query("UPDATE outbox SET payload = $1 WHERE id = $2", [JSON.stringify(operation), r.id]);
          }
          claimed.push(toOutboxRow(r, operation));
        }
        return claimed;
      }),
    complete: (id, result, now) =>
      inTransaction(async (c) => {
        await c.query("UPDATE outbox SET state = 'done', done_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2", [now.getTime(), id]);
        if (result.ticket) {
          await c.query("UPDATE incidents SET ticket_id = $1, ticket_url = $2 WHERE id = (SELECT incident_id FROM outbox WHERE id = $3)", [
            result.ticket.id,
            result.ticket.url ?? null,
            id,
          ]);
        }
        if (result.archived) await c.query("UPDATE kb_entries SET external_url = $1 WHERE id = $2", [result.archived.url, result.archived.entryId]);
        for (const s of result.silences ?? []) {
          if (s.silenceId === null) {
            await c.query("DELETE FROM alertmanager_silences WHERE incident_id = (SELECT incident_id FROM outbox WHERE id = $1) AND alertmanager = $2", [
              id,
              s.alertmanager,
            ]);
          } else {
            await c.query(
              `INSERT INTO alertmanager_silences (incident_id, alertmanager, silence_id, updated_at) VALUES ((SELECT incident_id FROM outbox WHERE id = $1), $2, $3, $4)
               ON CONFLICT (incident_id, alertmanager) DO UPDATE SET silence_id = excluded.silence_id, updated_at = excluded.updated_at`,
              [id, s.alertmanager, s.silenceId, now.toISOString()],
            );
          }
        }
      }),
    async silenceIds(incidentId) {
      const res = await pool.query<{ alertmanager: string; silence_id: string }>(
        "SELECT alertmanager, silence_id FROM alertmanager_silences WHERE incident_id = $1",
        [incidentId],
      );
      return Object.fromEntries(res.rows.map((r) => [r.alertmanager, r.silence_id]));
    },
    async reschedule(id, error, nextAttemptAt) {
      await pool.query("UPDATE outbox SET next_attempt_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3", [nextAttemptAt.getTime(), error, id]);
    },
    async extendLeases(ids, until) {
      // Only rows still held: one rescheduled or deferred meanwhile (lease cleared) keeps its time.
      await pool.query("UPDATE outbox SET lease_until = $1 WHERE id = ANY($2::bigint[]) AND state = 'pending' AND lease_until IS NOT NULL", [
        until.getTime(),
        [...ids],
      ]);
    },
    async defer(id, why, until) {
      await pool.query("UPDATE outbox SET next_attempt_at = $1, lease_until = NULL, attempts = GREATEST(attempts - 1, 0), last_error = $2 WHERE id = $3", [
        until.getTime(),
        why,
        id,
      ]);
    },
    async ticketUpdatesSince(incidentId, helpdesk, since) {
      const res = await pool.query<{ n: string; earliest: string | null }>(
        `SELECT count(*) AS n, min(done_at) AS earliest FROM outbox
         WHERE incident_id = $1 AND state = 'done' AND helpdesk = $2 AND op IN ('comment', 'resolve', 'reopen') AND done_at >= $3`,
        [incidentId, helpdesk, since.getTime()],
      );
      const r = res.rows[0];
      return { count: Number(r?.n ?? 0), earliestAt: r?.earliest == null ? undefined : Number(r.earliest) };
    },
    requestBudget: {
      async reserveRequestSlot(helpdesk, intervalMs) {
        // The database's clock, so replicas on hosts whose clocks differ still space their requests.
        const res = await pool.query<{ wait: number }>(
          `WITH clock AS (SELECT extract(epoch FROM clock_timestamp()) * 1000 AS t)
           INSERT INTO request_budgets AS b (helpdesk, last_slot_at, paused_until) SELECT $1, t, 0 FROM clock
           ON CONFLICT (helpdesk) DO UPDATE SET last_slot_at = GREATEST(b.last_slot_at + $2, (SELECT t FROM clock), b.paused_until)
           RETURNING b.last_slot_at - (SELECT t FROM clock) AS wait`,
          [helpdesk, intervalMs],
        );
        return Math.max(0, Number(res.rows[0]?.wait ?? 0));
      },
      async pauseRequests(helpdesk, ms) {
        await pool.query(
          `WITH clock AS (SELECT extract(epoch FROM clock_timestamp()) * 1000 AS t)
           INSERT INTO request_budgets AS b (helpdesk, last_slot_at, paused_until) SELECT $1, 0, t + $2 FROM clock
           ON CONFLICT (helpdesk) DO UPDATE SET paused_until = GREATEST(b.paused_until, (SELECT t FROM clock) + $2)`,
          [helpdesk, ms],
        );
      },
    },
    async deadLetter(id, error, now) {
      await pool.query("UPDATE outbox SET state = 'dead', done_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3", [now.getTime(), error, id]);
    },
    async requeueDead(ids, now) {
      const res =
        ids === "all"
          ? await pool.query("UPDATE outbox SET state = 'pending', next_attempt_at = $1, attempts = 0, done_at = NULL WHERE state = 'dead'", [now.getTime()])
          : await pool.query("UPDATE outbox SET state = 'pending', next_attempt_at = $1, attempts = 0, done_at = NULL WHERE state = 'dead' AND id = ANY($2)", [
              now.getTime(),
              [...ids],
            ]);
      return res.rowCount ?? 0;
    },
    async pruneFinished(before, limit) {
      const res = await pool.query(
        `DELETE FROM outbox WHERE id IN (
           SELECT id FROM outbox WHERE state IN ('done', 'coalesced', 'cancelled') AND next_attempt_at < $1 AND done_at < $1 LIMIT $2)`,
        [before.getTime(), limit],
      );
      return res.rowCount ?? 0;
    },
    async nextDueAt() {
      const res = await pool.query<{ t: number | null }>(
        `SELECT min(greatest(o.next_attempt_at, coalesce(o.lease_until, 0))) AS t FROM outbox o
         WHERE o.state = 'pending' AND o.id = (SELECT min(p.id) FROM outbox p WHERE p.incident_id = o.incident_id AND p.state = 'pending')`,
      );
      const t = res.rows[0]?.t;
      return t === null || t === undefined ? undefined : Number(t);
    },
    pageDeliveries,
    pageIncidents,
    async getIncident(id) {
      const row = (await pool.query<IncidentRow>("SELECT id, ticket_id, ticket_url, data FROM incidents WHERE id = $1", [id])).rows[0];
      return row ? toIncident(row) : undefined;
    },
    listDeliveries: async (query) => (await pageDeliveries(query)).items,
    listIncidents: async (query) => (await pageIncidents(query)).items,
    async countIncidents() {
      const res = await pool.query<{ state: string; n: number }>("SELECT state, count(*)::int AS n FROM incidents GROUP BY state");
      return Object.fromEntries(res.rows.map((r) => [r.state, r.n]));
    },
    async countOutbox() {
      const res = await pool.query<{ state: string; n: number }>(
        "SELECT state, count(*)::int AS n FROM outbox WHERE state IN ('pending', 'dead') GROUP BY state",
      );
      return Object.fromEntries(res.rows.map((r) => [r.state, r.n]));
    },
    async ping() {
      await pool.query("SELECT 1");
    },
    async close() {
      await pool.end();
    },

    createTicket: (t: NewBuiltinTicket, now) =>
      inTransaction(async (c) => {
        const iso = now.toISOString();
        await c.query(
          `INSERT INTO builtin_tickets (key, subject, body, priority, status, category, due_at, labels, tags, assignee_group, fields, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT (key) DO NOTHING`,
          [
            t.key,
            t.subject,
            t.body,
            t.priority,
            t.category,
            t.dueAt,
            JSON.stringify(t.labels),
            JSON.stringify(t.tags),
            t.assigneeGroup ?? null,
            JSON.stringify(t.fields),
            iso,
          ],
        );
        const res = await c.query<{ id: number }>("SELECT id FROM builtin_tickets WHERE key = $1", [t.key]);
        return { id: Number(res.rows[0]?.id) };
      }),
    updateTicket: (id, update, now) =>
      inTransaction(async (c) => {
        const exists = await c.query<{ status: string }>("SELECT status FROM builtin_tickets WHERE id = $1 FOR UPDATE", [id]);
        const current = exists.rows[0];
        if (!current) return false;
        const closed = current.status === "closed";
        const iso = now.toISOString();
        const added = await c.query(
          "INSERT INTO builtin_comments (ticket_id, body, idempotency_key, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING",
          [id, update.comment, update.idempotencyKey, iso],
        );
        // A closed ticket is final: the comment lands, the status stays.
        if (added.rowCount) {
          await c.query("UPDATE builtin_tickets SET status = COALESCE($1, status), priority = COALESCE($2, priority), updated_at = $3 WHERE id = $4", [
            closed ? null : (update.status ?? null),
            closed ? null : (update.priority ?? null),
            iso,
            id,
          ]);
        }
        return closed && update.status === "open" ? { reopened: false as const } : true;
      }),
    createFollowUp: (closedId, update, now) =>
      inTransaction(async (c) => {
        await c.query("SELECT id FROM builtin_tickets WHERE id = $1 FOR UPDATE", [closedId]);
        const iso = now.toISOString();
        const existing = await c.query<{ id: number }>("SELECT id FROM builtin_tickets WHERE follow_up_of = $1 ORDER BY id DESC LIMIT 1", [closedId]);
        let id = existing.rows[0]?.id;
        if (id === undefined) {
          const created = await c.query<{ id: number }>(
            `INSERT INTO builtin_tickets (key, subject, body, priority, status, category, due_at, labels, tags, assignee_group, fields, follow_up_of, created_at, updated_at)
             SELECT key || '~' || id, subject, body, $2, 'open', category, due_at, labels, tags, assignee_group, fields, id, $3, $3 FROM builtin_tickets WHERE id = $1
             RETURNING id`,
            [closedId, update.priority, iso],
          );
          id = created.rows[0]?.id as number;
        }
        await c.query(
          "INSERT INTO builtin_comments (ticket_id, body, idempotency_key, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING",
          [id, update.comment, update.idempotencyKey, iso],
        );
        return { id: Number(id) };
      }),
    getTicket: async (id) => {
      const t = await pool.query<TicketRow>(`SELECT ${TICKET_COLUMNS} FROM builtin_tickets WHERE id = $1`, [id]);
      if (!t.rows[0]) return undefined;
      const comments = await pool.query<CommentRow>(
        "SELECT ticket_id, body, author, public, created_at FROM builtin_comments WHERE ticket_id = $1 ORDER BY id",
        [id],
      );
      return toBuiltinTickets(t.rows, comments.rows)[0];
    },
    agentAct: (id, act, now) =>
      inTransaction(async (c) => {
        const t = (await c.query<TicketRow>(`SELECT ${TICKET_COLUMNS} FROM builtin_tickets WHERE id = $1 FOR UPDATE`, [id])).rows[0];
        if (!t) return undefined;
        const change = agentChange(
          { status: t.status, assignee: t.assignee, priority: t.priority, resolution: t.resolution, firstResponseAt: t.first_response_at },
          act,
          now,
        );
        if ("refused" in change) return change;
        const iso = now.toISOString();
        if (act.comment) {
          await c.query("INSERT INTO builtin_comments (ticket_id, body, idempotency_key, created_at, author, public) VALUES ($1, $2, $3, $4, $5, $6)", [
            id,
            act.comment.body,
            `agent/${randomUUID()}`,
            iso,
            act.author,
            act.comment.public,
          ]);
        }
        const { set } = change;
        await c.query(
          "UPDATE builtin_tickets SET status = $2, assignee = $3, priority = $4, resolution = $5, first_response_at = $6, updated_at = $7 WHERE id = $1",
          [id, set.status, set.assignee, set.priority, set.resolution, set.firstResponseAt, iso],
        );
        for (const e of change.events)
          await c.query("INSERT INTO builtin_activity (ticket_id, data, created_at) VALUES ($1, $2, $3)", [id, JSON.stringify(e), iso]);
        const row = (await c.query<TicketRow>(`SELECT ${TICKET_COLUMNS} FROM builtin_tickets WHERE id = $1`, [id])).rows;
        const comments = (
          await c.query<CommentRow>("SELECT ticket_id, body, author, public, created_at FROM builtin_comments WHERE ticket_id = $1 ORDER BY id", [id])
        ).rows;
        return { ticket: toBuiltinTickets(row, comments)[0] as BuiltinTicket };
      }),
    async activitySince(afterId, limit) {
      const res = await pool.query<{ id: number; ticket_id: number; key: string; data: string }>(
        "SELECT a.id, a.ticket_id, t.key, a.data FROM builtin_activity a JOIN builtin_tickets t ON t.id = a.ticket_id WHERE a.id > $1 ORDER BY a.id LIMIT $2",
        [afterId, limit],
      );
      return res.rows.map((a) => ({ id: Number(a.id), ticketId: Number(a.ticket_id), ticketKey: a.key, event: JSON.parse(a.data) as HelpdeskEvent }));
    },
    async ticketActivity(ticketId) {
      const res = await pool.query<{ id: number; data: string }>("SELECT id, data FROM builtin_activity WHERE ticket_id = $1 ORDER BY id", [ticketId]);
      return res.rows.map((a) => ({ id: Number(a.id), event: JSON.parse(a.data) as HelpdeskEvent }));
    },
    async findTicketByKey(key) {
      const res = await pool.query<{ id: number }>("SELECT id FROM builtin_tickets WHERE key = $1", [key]);
      return res.rows[0] ? { id: Number(res.rows[0].id) } : undefined;
    },
    pageTickets,
    listTickets: async (query) => (await pageTickets(query)).items,
  };
}
