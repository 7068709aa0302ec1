import type Database from "better-sqlite3";
import { KNOWLEDGE_BASE_TARGET } from "../../model/ticket-operation.js";
import {
  CANDIDATE_COLUMNS,
  CANDIDATES_PER_ALERTNAME,
  CANDIDATES_PER_LABEL,
  type CandidateRow,
  ENTRY_COLUMNS,
  type EntryRow,
  entryColumns,
  ftsMatch,
  type IncidentDeliveryRow,
  indexedLabels,
  lookedUpLabels,
  toArchiveEntry,
  toCandidate,
  toIncidentDelivery,
} from "../archive-rows.js";
import type { ArchiveTx, IncidentDelivery, KnowledgeStore, SyncTx } from "../types.js";

/**
 * The archive on SQLite: entries with an FTS5 index (Porter stemming) kept in the same transaction
 * as the entry, and a (name, value, entry) index of labels for the similar-incidents lookup. The tx
 * methods run inside the single writer's transaction; the read slice uses the reader connection.
 */
export function createSqliteArchive(
  db: Database.Database,
  reader: Database.Database,
): {
  tx: ArchiveTx & Pick<SyncTx, "incidentDeliveries" | "saveArchiveEntry">;
  store: KnowledgeStore & { dueArchives(now: Date, limit: number): Promise<number[]>; setExternalUrl(entryId: number, url: string | null): void };
} {
  const q = {
    byAlertname: db.prepare<[string, number], { id: number }>("SELECT id FROM kb_entries WHERE alertname = ? ORDER BY id DESC LIMIT ?"),
    byLabel: db.prepare<[string, string, number], { entry_id: number }>(
      "SELECT entry_id FROM kb_labels WHERE name = ? AND value = ? ORDER BY entry_id DESC LIMIT ?",
    ),
    candidate: db.prepare<[number], CandidateRow>(`SELECT ${CANDIDATE_COLUMNS} FROM kb_entries WHERE id = ?`),
    cancelArchive: db.prepare(
      `UPDATE outbox SET state = 'cancelled', done_at = @now, last_error = 'withdrawn: the incident is no longer over'
       WHERE incident_id = @incident AND helpdesk = @target AND state = 'pending' AND (lease_until IS NULL OR lease_until <= @now)`,
    ),
    deliveries: db.prepare<[number], IncidentDeliveryRow>(
      "SELECT helpdesk, state, payload, created_at, done_at FROM outbox WHERE incident_id = ? AND state IN ('done', 'dead', 'pending') ORDER BY id LIMIT 1000",
    ),
    upsert: db.prepare<Record<string, unknown>, { id: number }>(
      `INSERT INTO kb_entries (incident_id, alertname, labels, title, ticket_key, ticket_id, ticket_url, started_at, duration_ms, resolution, resolution_line, data, created_at, updated_at)
       VALUES (@incidentId, @alertname, @labels, @title, @ticketKey, @ticketId, @ticketUrl, @startedAt, @durationMs, @resolution, @resolutionLine, @data, @now, @now)
       ON CONFLICT (incident_id) DO UPDATE SET alertname = excluded.alertname, labels = excluded.labels, title = excluded.title,
         ticket_key = excluded.ticket_key, ticket_id = excluded.ticket_id, ticket_url = excluded.ticket_url, started_at = excluded.started_at,
         duration_ms = excluded.duration_ms, resolution = excluded.resolution, resolution_line = excluded.resolution_line, data = excluded.data,
         updated_at = excluded.updated_at
       RETURNING id`,
    ),
    dropLabels: db.prepare("DELETE FROM kb_labels WHERE entry_id = ?"),
    addLabel: db.prepare("INSERT OR IGNORE INTO kb_labels (name, value, entry_id) VALUES (?, ?, ?)"),
    dropText: db.prepare("DELETE FROM kb_fts WHERE rowid = ?"),
    addText: db.prepare("INSERT INTO kb_fts (rowid, title, keywords, resolution, body) VALUES (?, ?, ?, ?, ?)"),
    setExternalUrl: db.prepare("UPDATE kb_entries SET external_url = ? WHERE id = ?"),
  };
  const r = {
    due: reader.prepare<[number, number], { id: number }>(
      "SELECT id FROM incidents WHERE archive_at IS NOT NULL AND archive_at <= ? ORDER BY archive_at LIMIT ?",
    ),
    search: reader.prepare<[string, number], EntryRow>(
      `SELECT ${ENTRY_COLUMNS.replace(/(^|, )/g, "$1e.")} FROM kb_fts f JOIN kb_entries e ON e.id = f.rowid
       WHERE kb_fts MATCH ? ORDER BY bm25(kb_fts, 10.0, 5.0, 3.0, 1.0), e.id DESC LIMIT ?`,
    ),
    newest: reader.prepare<[number], EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM kb_entries ORDER BY id DESC LIMIT ?`),
    entry: reader.prepare<[number], EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM kb_entries WHERE id = ?`),
    count: reader.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM kb_entries"),
  };

  const tx = {
    async similarCandidates(query) {
      const ids = new Set<number>();
      if (query.alertname !== null) for (const row of q.byAlertname.all(query.alertname, CANDIDATES_PER_ALERTNAME)) ids.add(Number(row.id));
      for (const [name, value] of lookedUpLabels(query)) for (const row of q.byLabel.all(name, value, CANDIDATES_PER_LABEL)) ids.add(Number(row.entry_id));
      return [...ids].flatMap((id) => {
        const row = q.candidate.get(id);
        return row ? [toCandidate(row)] : [];
      });
    },
    async cancelArchive(incidentId, now) {
      return q.cancelArchive.run({ incident: incidentId, target: KNOWLEDGE_BASE_TARGET, now: now.getTime() }).changes;
    },
    async incidentDeliveries(incidentId) {
      return q.deliveries.all(incidentId).flatMap((row): IncidentDelivery[] => {
        const d = toIncidentDelivery(row);
        return d ? [d] : [];
      });
    },
    async saveArchiveEntry(entry, now) {
      const columns = entryColumns(entry);
      const { keywords, body, ...stored } = columns;
      const row = q.upsert.get({ ...stored, now: now.toISOString() });
      const id = Number(row?.id);
      q.dropLabels.run(id);
      for (const [name, value] of indexedLabels(entry.labels)) q.addLabel.run(name, value, id);
      q.dropText.run(id);
      q.addText.run(id, entry.title, keywords, entry.resolution, body);
      return id;
    },
  } satisfies ArchiveTx & Pick<SyncTx, "incidentDeliveries" | "saveArchiveEntry">;

  const store = {
    async dueArchives(now: Date, limit: number) {
      return r.due.all(now.getTime(), limit).map((row) => Number(row.id));
    },
    setExternalUrl(entryId: number, url: string | null) {
      q.setExternalUrl.run(url, entryId);
    },
    async searchArchive({ q: text, limit }) {
      const all = text === undefined ? undefined : ftsMatch(text, "all");
      if (all === undefined) return r.newest.all(limit).map(toArchiveEntry);
      // Every word first; when no entry has them all, the entries with any of them, best first.
      const found = r.search.all(all, limit);
      const rows = found.length > 0 ? found : r.search.all(ftsMatch(text as string, "any") as string, limit);
      return rows.map(toArchiveEntry);
    },
    async archiveEntry(id) {
      const row = r.entry.get(id);
      return row ? toArchiveEntry(row) : undefined;
    },
    async countArchive() {
      return Number(r.count.get()?.n ?? 0);
    },
  } satisfies KnowledgeStore & { dueArchives(now: Date, limit: number): Promise<number[]>; setExternalUrl(entryId: number, url: string | null): void };
  return { tx, store };
}
