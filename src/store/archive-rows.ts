import type { ArchiveEntry, NewArchiveEntry, SimilarCandidate, SimilarQuery } from "../model/archive.js";
import { SIMILAR_LABEL_VALUE_CHARS, searchTerms } from "../model/archive.js";
import { labelSet } from "../model/labels.js";
import { ticketOperationSchema } from "../model/ticket-operation.js";
import type { IncidentDelivery, OutboxState } from "./types.js";

/** The archive's rows as both stores (SQLite, PostgreSQL) read them, and their mapping to the domain types. */

/** The columns a similar-incidents candidate needs: never the entry's text (`data`), which is large. */
export const CANDIDATE_COLUMNS =
  "id, incident_id, alertname, labels, title, ticket_key, ticket_id, ticket_url, started_at, duration_ms, resolution, resolution_line, created_at";

export interface CandidateRow {
  id: number;
  incident_id: number;
  alertname: string | null;
  labels: string;
  title: string;
  ticket_key: string;
  ticket_id: string | null;
  ticket_url: string | null;
  started_at: string;
  duration_ms: number;
  resolution: string;
  resolution_line: string;
  created_at: string;
}

export interface EntryRow extends CandidateRow {
  external_url: string | null;
  data: string;
  updated_at: string;
}

export const ENTRY_COLUMNS = `${CANDIDATE_COLUMNS}, external_url, data, updated_at`;

/**
 * How many of the newest entries each indexed label pair (and the alertname) contributes as
 * candidates: bounded work per new incident, whatever the archive's size (a label like
 * `severity=warning` is on most entries).
 */
export const CANDIDATES_PER_ALERTNAME = 50;
export const CANDIDATES_PER_LABEL = 20;
/** At most this many of a new incident's labels are looked up. */
export const LOOKED_UP_LABELS = 16;

export function toCandidate(r: CandidateRow): SimilarCandidate {
  return {
    entryId: Number(r.id),
    incidentId: Number(r.incident_id),
    alertname: r.alertname,
    labels: labelSet(JSON.parse(r.labels) as Record<string, string>),
    title: r.title,
    ticketKey: r.ticket_key,
    ticketId: r.ticket_id,
    ticketUrl: r.ticket_url,
    startedAt: r.started_at,
    durationMs: Number(r.duration_ms),
    resolution: r.resolution,
    resolutionLine: r.resolution_line,
    createdAt: r.created_at,
  };
}

export function toArchiveEntry(r: EntryRow): ArchiveEntry {
  const stored = JSON.parse(r.data) as NewArchiveEntry;
  return {
    ...stored,
    labels: labelSet(stored.labels),
    id: Number(r.id),
    incidentId: Number(r.incident_id),
    externalUrl: r.external_url,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The label pairs of an entry (or a query) that the similarity index keeps: short values only, never the alertname (its own column). */
export function indexedLabels(labels: Record<string, string>): [string, string][] {
  return Object.entries(labels)
    .filter(([k, v]) => k !== "alertname" && v.length <= SIMILAR_LABEL_VALUE_CHARS && k.length <= SIMILAR_LABEL_VALUE_CHARS)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The query's label pairs to look up. */
export function lookedUpLabels(query: SimilarQuery): [string, string][] {
  return indexedLabels(query.labels).slice(0, LOOKED_UP_LABELS);
}

/** The columns written for an entry. */
export function entryColumns(entry: NewArchiveEntry) {
  return {
    incidentId: entry.incidentId,
    alertname: entry.alertname,
    labels: JSON.stringify(entry.labels),
    title: entry.title,
    ticketKey: entry.ticketKey,
    ticketId: entry.ticketId,
    ticketUrl: entry.ticketUrl,
    startedAt: entry.startedAt,
    durationMs: entry.durationMs,
    resolution: entry.resolution,
    resolutionLine: entry.resolutionLine,
    data: JSON.stringify(entry),
    keywords: entry.keywords.join(" "),
    body: entry.body,
  };
}

/** The words of a search for SQLite FTS5: each a quoted string, all of them (AND) or any (OR). */
export function ftsMatch(text: string, mode: "all" | "any"): string | undefined {
  const terms = searchTerms(text);
  if (terms.length === 0) return undefined;
  return terms.map((t) => `"${t}"`).join(mode === "all" ? " " : " OR ");
}

/** The words of a search for PostgreSQL's to_tsquery: letters and digits only, joined by & or |. */
export function tsQuery(text: string, mode: "all" | "any"): string | undefined {
  const terms = searchTerms(text);
  if (terms.length === 0) return undefined;
  return terms.join(mode === "all" ? " & " : " | ");
}

export interface IncidentDeliveryRow {
  helpdesk: string;
  state: string;
  payload: string;
  created_at: number;
  done_at: number | null;
}

/** An outbox row for the timeline; a payload that no longer parses is skipped by the caller (undefined). */
export function toIncidentDelivery(r: IncidentDeliveryRow): IncidentDelivery | undefined {
  const parsed = ticketOperationSchema.safeParse(JSON.parse(r.payload));
  if (!parsed.success) return undefined;
  return {
    helpdesk: r.helpdesk,
    state: r.state as OutboxState,
    createdAt: new Date(Number(r.created_at)).toISOString(),
    doneAt: r.done_at === null ? null : new Date(Number(r.done_at)).toISOString(),
    operation: parsed.data,
  };
}
