import type pg from "pg";
import { rankSimilar } from "../../model/archive.js";
import { KNOWLEDGE_BASE_TARGET } from "../../model/ticket-operation.js";
import {
  CANDIDATE_COLUMNS,
  CANDIDATES_PER_ALERTNAME,
  CANDIDATES_PER_LABEL,
  type CandidateRow,
  columnText,
  DETAIL_COLUMNS,
  type DetailRow,
  ENTRY_SELECT,
  type EntryRow,
  entryColumns,
  type IncidentDeliveryRow,
  indexedLabels,
  lookedUpLabels,
  toArchiveEntry,
  toCandidate,
  toDetails,
  toIncidentDelivery,
  tsQuery,
} from "../archive-rows.js";
import type { ArchiveTx, IncidentDelivery, KnowledgeStore, SyncTx } from "../types.js";

type Q = Pick<pg.PoolClient, "query">;

/** The weighted document PostgreSQL searches: title over keywords over the agents' notes over the rest. */
const SEARCH_VECTOR = `setweight(to_tsvector('english', $1), 'A') || setweight(to_tsvector('english', $2), 'B')
  || setweight(to_tsvector('english', $3), 'C') || setweight(to_tsvector('english', $4), 'D')`;

/** The newest entries of the alertname, and of each label pair, by their indexes: one round trip. */
const SIMILAR_SQL = `SELECT ${CANDIDATE_COLUMNS}, ${DETAIL_COLUMNS.replace("id, ", "")} FROM kb_entries WHERE id IN (
  (SELECT id FROM kb_entries WHERE $1::text IS NOT NULL AND alertname = $1 ORDER BY id DESC LIMIT ${CANDIDATES_PER_ALERTNAME})
  UNION
  (SELECT l.entry_id FROM unnest($2::text[], $3::text[]) AS q(name, value)
     CROSS JOIN LATERAL (SELECT entry_id FROM kb_labels WHERE name = q.name AND value = q.value ORDER BY entry_id DESC LIMIT ${CANDIDATES_PER_LABEL}) l))`;

/** The archive methods of one PostgreSQL transaction. */
export function pgArchiveTx(c: Q): ArchiveTx & Pick<SyncTx, "incidentDeliveries" | "saveArchiveEntry"> {
  return {
    async similarIncidents(query) {
      const labels = lookedUpLabels(query);
      // The few detail columns come along: one round trip matters more here than their bytes.
      // A named statement: planned once per connection, not on every new incident.
      const res = await c.query<CandidateRow & DetailRow>({
        name: "alertdesk-similar-incidents",
        text: SIMILAR_SQL,
        values: [query.alertname === null ? null : columnText(query.alertname), labels.map(([n]) => n), labels.map(([, v]) => v)],
      });
      return rankSimilar(
        query,
        res.rows.map((r) => ({ ...toCandidate(r), ...toDetails(r) })),
      );
    },
    async cancelArchive(incidentId, now) {
      const res = await c.query(
        `UPDATE outbox SET state = 'cancelled', done_at = $3, last_error = 'withdrawn: the incident is no longer over'
         WHERE incident_id = $1 AND helpdesk = $2 AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $3)`,
        [incidentId, KNOWLEDGE_BASE_TARGET, now.getTime()],
      );
      return res.rowCount ?? 0;
    },
    async incidentDeliveries(incidentId) {
      const res = await c.query<IncidentDeliveryRow>(
        "SELECT helpdesk, state, payload, created_at, done_at FROM outbox WHERE incident_id = $1 AND state IN ('done', 'dead', 'pending') ORDER BY id LIMIT 1000",
        [incidentId],
      );
      return res.rows.flatMap((row): IncidentDelivery[] => {
        const d = toIncidentDelivery(row);
        return d ? [d] : [];
      });
    },
    async saveArchiveEntry(entry, now) {
      const e = entryColumns(entry);
      const res = await c.query<{ id: number }>(
        `INSERT INTO kb_entries (incident_id, alertname, labels, title, ticket_key, ticket_id, ticket_url, started_at, duration_ms, has_resolution, resolution_line, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         ON CONFLICT (incident_id) DO UPDATE SET alertname = excluded.alertname, labels = excluded.labels, title = excluded.title,
           ticket_key = excluded.ticket_key, ticket_id = excluded.ticket_id, ticket_url = excluded.ticket_url, started_at = excluded.started_at,
           duration_ms = excluded.duration_ms, has_resolution = excluded.has_resolution, resolution_line = excluded.resolution_line,
           updated_at = excluded.updated_at
         RETURNING id`,
        [
          e.incidentId,
          e.alertname,
          e.labels,
          e.title,
          e.ticketKey,
          e.ticketId,
          e.ticketUrl,
          e.startedAt,
          e.durationMs,
          e.hasResolution === 1,
          e.resolutionLine,
          now.toISOString(),
        ],
      );
      const id = Number(res.rows[0]?.id);
      await c.query(
        `INSERT INTO kb_documents (entry_id, data, search) VALUES ($5, $6, ${SEARCH_VECTOR})
         ON CONFLICT (entry_id) DO UPDATE SET data = excluded.data, search = excluded.search`,
        [e.title, e.keywords, e.resolution, e.body, id, e.data],
      );
      await c.query("DELETE FROM kb_labels WHERE entry_id = $1", [id]);
      const labels = indexedLabels(entry.labels);
      if (labels.length > 0) {
        await c.query(
          "INSERT INTO kb_labels (name, value, entry_id) SELECT name, value, $3 FROM unnest($1::text[], $2::text[]) AS l(name, value) ON CONFLICT DO NOTHING",
          [labels.map(([n]) => n), labels.map(([, v]) => v), id],
        );
      }
      return id;
    },
  };
}

/** The archive's read slice on PostgreSQL, and the due archives for the sync loop. */
export function pgArchiveStore(
  pool: pg.Pool,
): KnowledgeStore & { dueArchives(now: Date, limit: number): Promise<number[]>; deliveriesOf(incidentId: number): Promise<IncidentDelivery[]> } {
  const search = async (query: string, limit: number) =>
    (
      await pool.query<EntryRow>(`${ENTRY_SELECT}, to_tsquery('english', $1) AS q WHERE d.search @@ q ORDER BY ts_rank(d.search, q) DESC, e.id DESC LIMIT $2`, [
        query,
        limit,
      ])
    ).rows;
  return {
    deliveriesOf: (incidentId) => pgArchiveTx(pool).incidentDeliveries(incidentId),
    async dueArchives(now, limit) {
      const res = await pool.query<{ id: number }>("SELECT id FROM incidents WHERE archive_at IS NOT NULL AND archive_at <= $1 ORDER BY archive_at LIMIT $2", [
        now.getTime(),
        limit,
      ]);
      return res.rows.map((r) => Number(r.id));
    },
    async searchArchive({ q: text, limit }) {
      const all = text === undefined ? undefined : tsQuery(text, "all");
      if (all === undefined) return (await pool.query<EntryRow>(`${ENTRY_SELECT} ORDER BY e.id DESC LIMIT $1`, [limit])).rows.map(toArchiveEntry);
      const found = await search(all, limit);
      const rows = found.length > 0 ? found : await search(tsQuery(text as string, "any") as string, limit);
      return rows.map(toArchiveEntry);
    },
    async archiveEntry(id) {
      const row = (await pool.query<EntryRow>(`${ENTRY_SELECT} WHERE e.id = $1`, [id])).rows[0];
      return row ? toArchiveEntry(row) : undefined;
    },
    async countArchive() {
      return Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM kb_entries")).rows[0]?.n ?? 0);
    },
  };
}
