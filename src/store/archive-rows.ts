import type { ArchiveEntry, NewArchiveEntry, SimilarCandidate, SimilarDetails, SimilarQuery } from "../model/archive.js";
import { SIMILAR_LABEL_VALUE_CHARS, searchTerms } from "../model/archive.js";
import { labelSet } from "../model/labels.js";
import { ticketOperationSchema } from "../model/ticket-operation.js";
import type { IncidentDelivery, OutboxState } from "./types.js";

/** The archive's rows as both stores (SQLite, PostgreSQL) read them, and their mapping to the domain types. */

/** The columns ranking a similar-incidents candidate needs: few, from the narrow row, never the entry's text (kb_documents). */
export const CANDIDATE_COLUMNS = "id, incident_id, alertname, labels, has_resolution, created_at";
/** The columns a listed similar incident shows. */
export const DETAIL_COLUMNS = "id, title, ticket_key, ticket_id, ticket_url, started_at, duration_ms, resolution_line";

export interface CandidateRow {
  id: number;
  incident_id: number;
  alertname: string | null;
  labels: string;
  has_resolution: number | boolean;
  created_at: string;
}

export interface DetailRow {
  id: number;
  title: string;
  ticket_key: string;
  ticket_id: string | null;
  ticket_url: string | null;
  started_at: string;
  duration_ms: number;
  resolution_line: string;
}

export interface EntryRow extends CandidateRow, DetailRow {
  external_url: string | null;
  data: string;
  updated_at: string;
}

/** A whole entry: its row and its document. */
export const ENTRY_SELECT = `SELECT e.incident_id, e.alertname, e.labels, e.has_resolution, e.created_at, ${DETAIL_COLUMNS.split(", ")
  .map((c) => `e.${c}`)
  .join(", ")}, e.external_url, e.updated_at, d.data FROM kb_entries e JOIN kb_documents d ON d.entry_id = e.id`;

/**
 * How many of the newest entries each indexed label pair (and the alertname) contributes as
 * candidates: bounded work per new incident, whatever the archive's size (a label like
 * `severity=warning` is on most entries).
 */
export const CANDIDATES_PER_ALERTNAME = 30;
export const CANDIDATES_PER_LABEL = 10;
/** At most this many of a new incident's labels are looked up. */
export const LOOKED_UP_LABELS = 16;

export function toCandidate(r: CandidateRow): SimilarCandidate {
  return {
    entryId: Number(r.id),
    incidentId: Number(r.incident_id),
    alertname: r.alertname,
    // Read only to compare values (model/archive.ts): a prototype-less copy would cost more than the compare.
    labels: JSON.parse(r.labels) as Record<string, string>,
    hasResolution: Boolean(r.has_resolution),
    createdAt: r.created_at,
  };
}

export function toDetails(r: DetailRow): SimilarDetails {
  return {
    title: r.title,
    ticketKey: r.ticket_key,
    ticketId: r.ticket_id,
    ticketUrl: r.ticket_url,
    startedAt: r.started_at,
    durationMs: Number(r.duration_ms),
    resolutionLine: r.resolution_line,
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

/**
 * Text as a database column takes it: PostgreSQL refuses U+0000 in text (intake lets it through in
 * label values, which are stored inside JSON elsewhere, where it is escaped).
 */
export function columnText(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}

/** The label pairs of an entry (or a query) that the similarity index keeps: short values only, never the alertname (its own column). */
export function indexedLabels(labels: Record<string, string>): [string, string][] {
  return Object.entries(labels)
    .filter(([k, v]) => k !== "alertname" && v.length <= SIMILAR_LABEL_VALUE_CHARS && k.length <= SIMILAR_LABEL_VALUE_CHARS)
    .map(([k, v]): [string, string] => [columnText(k), columnText(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The query's label pairs to look up. */
export function lookedUpLabels(query: SimilarQuery): [string, string][] {
  return indexedLabels(query.labels).slice(0, LOOKED_UP_LABELS);
}

/** The columns written for an entry. */
export function entryColumns(entry: NewArchiveEntry) {
  const nullable = (t: string | null) => (t === null ? null : columnText(t));
  return {
    incidentId: entry.incidentId,
    alertname: nullable(entry.alertname),
    labels: JSON.stringify(entry.labels),
    title: columnText(entry.title),
    ticketKey: entry.ticketKey,
    ticketId: nullable(entry.ticketId),
    ticketUrl: nullable(entry.ticketUrl),
    startedAt: entry.startedAt,
    durationMs: entry.durationMs,
    hasResolution: entry.resolution.trim() === "" ? 0 : 1,
    resolutionLine: columnText(entry.resolutionLine),
    data: JSON.stringify(entry),
    keywords: columnText(entry.keywords.join(" ")),
    body: columnText(entry.body),
    resolution: columnText(entry.resolution),
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
