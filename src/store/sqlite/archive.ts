import type Database from "better-sqlite3";
import { rankSimilar, type SimilarIncident } from "../../model/archive.js";
import { KNOWLEDGE_BASE_TARGET } from "../../model/ticket-operation.js";
import {
  CANDIDATE_COLUMNS,
  CANDIDATES_PER_ALERTNAME,
  CANDIDATES_PER_LABEL,
  type CandidateRow,
  DETAIL_COLUMNS,
  type DetailRow,
  ENTRY_SELECT,
  type EntryRow,
  entryColumns,
  ftsMatch,
  type IncidentDeliveryRow,
  indexedLabels,
  lookedUpLabels,
  toArchiveEntry,
  toCandidate,
  toDetails,
  toIncidentDelivery,
} from "../archive-rows.js";
import type { ArchiveTx, IncidentDelivery, KnowledgeStore, SyncTx } from "../types.js";

type ArchiveReads = KnowledgeStore & {
  dueArchives(now: Date, limit: number): Promise<number[]>;
  setExternalUrl(entryId: number, url: string | null): void;
  deliveriesOf(incidentId: number): Promise<IncidentDelivery[]>;
};

/**
 * The archive on SQLite: narrow entry rows (what the similar-incidents look-up reads) apart from
 * their documents, an FTS5 index (Porter stemming) kept in the same transaction as the entry, and a
 * (name, value, entry) index of labels. The tx methods run inside the single writer's transaction;
 * the read slice uses the reader connection.
 */
export function createSqliteArchive(
  db: Database.Database,
  reader: Database.Database,
): { tx: ArchiveTx & Pick<SyncTx, "incidentDeliveries" | "saveArchiveEntry">; store: ArchiveReads } {
  const q = {
    cancelArchive: db.prepare(
      `UPDATE outbox SET state = 'cancelled', done_at = @now, last_error = 'withdrawn: the incident is no longer over'
       WHERE incident_id = @incident AND helpdesk = @target AND state = 'pending' AND (lease_until IS NULL OR lease_until <= @now)`,
    ),
    deliveries: db.prepare<[number], IncidentDeliveryRow>(
      "SELECT helpdesk, state, payload, created_at, done_at FROM outbox WHERE incident_id = ? AND state IN ('done', 'dead', 'pending') ORDER BY id LIMIT 1000",
    ),
    upsert: db.prepare<Record<string, unknown>, { id: number }>(
      `INSERT INTO kb_entries (incident_id, alertname, labels, title, ticket_key, ticket_id, ticket_url, started_at, duration_ms, has_resolution, resolution_line, created_at, updated_at)
       VALUES (@incidentId, @alertname, @labels, @title, @ticketKey, @ticketId, @ticketUrl, @startedAt, @durationMs, @hasResolution, @resolutionLine, @now, @now)
       ON CONFLICT (incident_id) DO UPDATE SET alertname = excluded.alertname, labels = excluded.labels, title = excluded.title,
         ticket_key = excluded.ticket_key, ticket_id = excluded.ticket_id, ticket_url = excluded.ticket_url, started_at = excluded.started_at,
         duration_ms = excluded.duration_ms, has_resolution = excluded.has_resolution, resolution_line = excluded.resolution_line,
         updated_at = excluded.updated_at
       RETURNING id`,
    ),
    document: db.prepare("INSERT INTO kb_documents (entry_id, data) VALUES (?, ?) ON CONFLICT (entry_id) DO UPDATE SET data = excluded.data"),
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
      `${ENTRY_SELECT} JOIN kb_fts f ON f.rowid = e.id WHERE kb_fts MATCH ? ORDER BY bm25(kb_fts, 10.0, 5.0, 3.0, 1.0), e.id DESC LIMIT ?`,
    ),
    newest: reader.prepare<[number], EntryRow>(`${ENTRY_SELECT} ORDER BY e.id DESC LIMIT ?`),
    entry: reader.prepare<[number], EntryRow>(`${ENTRY_SELECT} WHERE e.id = ?`),
    count: reader.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM kb_entries"),
    deliveries: reader.prepare<[number], IncidentDeliveryRow>(
      "SELECT helpdesk, state, payload, created_at, done_at FROM outbox WHERE incident_id = ? AND state IN ('done', 'dead', 'pending') ORDER BY id LIMIT 1000",
    ),
  };

  /**
   * One statement per number of label pairs (prepared once): the newest entries of the alertname and
   * of each pair, by their indexes, in one call into SQLite rather than one per row.
   */
  const candidates = new Map<number, Database.Statement<unknown[], CandidateRow>>();
  const candidatesFor = (pairs: number) => {
    let statement = candidates.get(pairs);
    if (!statement) {
      const parts = [`SELECT id FROM (SELECT id FROM kb_entries WHERE alertname = ? ORDER BY id DESC LIMIT ${CANDIDATES_PER_ALERTNAME})`];
      for (let i = 0; i < pairs; i++) {
        parts.push(`SELECT entry_id FROM (SELECT entry_id FROM kb_labels WHERE name = ? AND value = ? ORDER BY entry_id DESC LIMIT ${CANDIDATES_PER_LABEL})`);
      }
      statement = db.prepare<unknown[], CandidateRow>(`SELECT ${CANDIDATE_COLUMNS} FROM kb_entries WHERE id IN (${parts.join(" UNION ")})`);
      candidates.set(pairs, statement);
    }
    return statement;
  };

  const deliveriesIn = (rows: IncidentDeliveryRow[]) =>
    rows.flatMap((row): IncidentDelivery[] => {
      const d = toIncidentDelivery(row);
      return d ? [d] : [];
    });
  const details = db.prepare<[number], DetailRow>(`SELECT ${DETAIL_COLUMNS} FROM kb_entries WHERE id = ?`);

  const tx = {
    async similarIncidents(query) {
      const pairs = lookedUpLabels(query);
      const ranked = rankSimilar(
        query,
        candidatesFor(pairs.length)
          .all(query.alertname, ...pairs.flat())
          .map(toCandidate),
      );
      // What a ticket's line shows, for the few that made the cut only.
      return ranked.flatMap((r): SimilarIncident[] => {
        const row = details.get(r.entryId);
        return row ? [{ ...r, ...toDetails(row) }] : [];
      });
    },
    async cancelArchive(incidentId, now) {
      return q.cancelArchive.run({ incident: incidentId, target: KNOWLEDGE_BASE_TARGET, now: now.getTime() }).changes;
    },
    async incidentDeliveries(incidentId) {
      return deliveriesIn(q.deliveries.all(incidentId));
    },
    async saveArchiveEntry(entry, now) {
      const { keywords, body, data, resolution, ...row } = entryColumns(entry);
      const id = Number(q.upsert.get({ ...row, now: now.toISOString() })?.id);
      q.document.run(id, data);
      q.dropLabels.run(id);
      for (const [name, value] of indexedLabels(entry.labels)) q.addLabel.run(name, value, id);
      q.dropText.run(id);
      q.addText.run(id, row.title, keywords, resolution, body);
      return id;
    },
  } satisfies ArchiveTx & Pick<SyncTx, "incidentDeliveries" | "saveArchiveEntry">;

  const store = {
    async deliveriesOf(incidentId: number) {
      return deliveriesIn(r.deliveries.all(incidentId));
    },
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
  } satisfies ArchiveReads;
  return { tx, store };
}
