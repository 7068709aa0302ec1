import type { LabelSet } from "./alert.js";
import type { Doc } from "./doc.js";
import type { Priority } from "./priority.js";

/**
 * The archive: one knowledge-base entry per incident that is over, kept in the store (the built-in
 * knowledge base, always) and optionally written to an external one. docs/knowledge-base.md.
 */

/** How an incident ended, as its entry says it: an agent's resolution, or the monitoring's own resolve. */
export type ArchiveOutcome = "fixed" | "wont_fix" | "duplicate" | "cannot_reproduce" | "solved" | "closed" | "resolved by itself";

/** An entry as the archive builds it (templates/archive.ts), before the store gives it an id. */
export interface NewArchiveEntry {
  incidentId: number;
  ticketKey: string;
  /** Deterministic: the same incident always has the same title (external knowledge bases look it up by title). */
  title: string;
  /** The environment: the labels every alert of the incident shared. */
  labels: LabelSet;
  keywords: string[];
  /** The agents' notes (public comments up to the solve); "" when none was written. */
  resolution: string;
  /** The one line a similar incident's ticket shows of this one. */
  resolutionLine: string;
  outcome: ArchiveOutcome;
  /** The whole entry as plain text (what full-text search reads, and what the API's `body` is). */
  body: string;
  /** The whole entry, format-neutral (external knowledge bases render it). */
  doc: Doc;
  alertname: string | null;
  priority: Priority;
  category: string;
  helpdesk: string;
  ticketId: string | null;
  ticketUrl: string | null;
  /** The first alert's start, and when the incident was over (ISO). */
  startedAt: string;
  endedAt: string;
  durationMs: number;
}

/** An entry as the store keeps it. */
export interface ArchiveEntry extends NewArchiveEntry {
  id: number;
  createdAt: string;
  updatedAt: string;
  /** Where the external knowledge base keeps it, once written there. */
  externalUrl: string | null;
}

/** What a new incident looks for in the archive. */
export interface SimilarQuery {
  alertname: string | null;
  /** The new incident's environment (the labels its alerts share). */
  labels: LabelSet;
  /** Never the incident itself (a re-fire of an archived incident). */
  excludeIncidentId?: number;
  limit: number;
}

/** An archived incident the store found as a candidate: enough to rank it and to show one line. */
export interface SimilarCandidate {
  entryId: number;
  incidentId: number;
  alertname: string | null;
  labels: LabelSet;
  title: string;
  ticketKey: string;
  ticketId: string | null;
  ticketUrl: string | null;
  startedAt: string;
  durationMs: number;
  resolution: string;
  resolutionLine: string;
  createdAt: string;
}

/** A candidate with why it ranks where it does. */
export interface SimilarIncident extends SimilarCandidate {
  sameAlertname: boolean;
  /** Jaccard overlap of the label pairs, 0..1. */
  overlap: number;
}

/** Label values longer than this are not indexed for similarity (a long value is never shared anyway). */
export const SIMILAR_LABEL_VALUE_CHARS = 200;

/** |A ∩ B| / |A ∪ B| over name=value pairs. */
export function labelOverlap(a: LabelSet, b: LabelSet): number {
  const left = Object.entries(a).filter(([, v]) => v.length <= SIMILAR_LABEL_VALUE_CHARS);
  const right = Object.entries(b).filter(([, v]) => v.length <= SIMILAR_LABEL_VALUE_CHARS);
  if (left.length === 0 && right.length === 0) return 0;
  const shared = left.filter(([k, v]) => b[k] === v).length;
  return shared / (left.length + right.length - shared);
}

/**
 * The ranking of docs/knowledge-base.md: the same alertname first, then label overlap, then whether
 * a resolution was written, then recency. Candidates sharing neither the alertname nor any label
 * are not similar. Pure.
 */
export function rankSimilar(query: SimilarQuery, candidates: readonly SimilarCandidate[]): SimilarIncident[] {
  const seen = new Set<number>();
  const ranked: SimilarIncident[] = [];
  for (const c of candidates) {
    if (seen.has(c.entryId) || c.incidentId === query.excludeIncidentId) continue;
    seen.add(c.entryId);
    const sameAlertname = query.alertname !== null && c.alertname === query.alertname;
    const overlap = labelOverlap(query.labels, c.labels);
    if (!sameAlertname && overlap === 0) continue;
    ranked.push({ ...c, sameAlertname, overlap });
  }
  ranked.sort(
    (a, b) =>
      Number(b.sameAlertname) - Number(a.sameAlertname) ||
      b.overlap - a.overlap ||
      Number(b.resolution !== "") - Number(a.resolution !== "") ||
      Date.parse(b.createdAt) - Date.parse(a.createdAt) ||
      b.entryId - a.entryId,
  );
  return ranked.slice(0, query.limit);
}

/**
 * The words of a search, for the stores' full-text engines: letters and digits only, so no
 * operator of FTS5 or tsquery syntax can come from a user's text.
 */
export function searchTerms(text: string): string[] {
  return [...new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((t) => t.length > 0))].slice(0, 32);
}

/** A knowledge-base label from a keyword: lower case, runs of anything but `[a-z0-9_-]` become one `-`. */
export function knowledgeLabel(keyword: string): string {
  return keyword
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 255);
}
