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

/** An archived incident the store found as a candidate: what ranking it needs, and no more (the look-up is on the webhook path). */
export interface SimilarCandidate {
  entryId: number;
  incidentId: number;
  alertname: string | null;
  labels: LabelSet;
  /** Whether the agents wrote a resolution (a note before the solve). */
  hasResolution: boolean;
  createdAt: string;
}

/** What a new ticket's line shows of a similar incident. */
export interface SimilarDetails {
  title: string;
  ticketKey: string;
  ticketId: string | null;
  ticketUrl: string | null;
  startedAt: string;
  durationMs: number;
  resolutionLine: string;
}

/** Why a candidate ranks where it does. */
export interface SimilarRank {
  sameAlertname: boolean;
  /** Jaccard overlap of the label pairs, 0..1. */
  overlap: number;
}

/** A similar incident as a new ticket lists it. */
export type SimilarIncident = SimilarCandidate & SimilarDetails & SimilarRank;

/** Label values longer than this are not indexed for similarity (a long value is never shared anyway). */
export const SIMILAR_LABEL_VALUE_CHARS = 200;

/** The pairs that count for similarity: short values only (a long value is never shared anyway). */
function comparablePairs(labels: LabelSet): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const [k, v] of Object.entries(labels)) if (v.length <= SIMILAR_LABEL_VALUE_CHARS) pairs.set(k, v);
  return pairs;
}

/** |A ∩ B| / |A ∪ B| of `b`'s pairs against the query's (already comparable) pairs. */
function overlapWith(query: ReadonlyMap<string, string>, b: LabelSet): number {
  let size = 0;
  let shared = 0;
  for (const k in b) {
    if (!Object.hasOwn(b, k)) continue;
    const v = b[k] as string;
    if (v.length > SIMILAR_LABEL_VALUE_CHARS) continue;
    size++;
    if (query.get(k) === v) shared++;
  }
  const union = query.size + size - shared;
  return union === 0 ? 0 : shared / union;
}

/** |A ∩ B| / |A ∪ B| over name=value pairs. */
export function labelOverlap(a: LabelSet, b: LabelSet): number {
  return overlapWith(comparablePairs(a), b);
}

/** A candidate while it is ranked: the candidate is copied only once it made the cut (copies cost more than the rest). */
interface Scored<T> {
  candidate: T;
  sameAlertname: boolean;
  overlap: number;
}

/** Whether `a` ranks before `b`. */
function ranksBefore<T extends SimilarCandidate>(a: Scored<T>, b: Scored<T>): boolean {
  if (a.sameAlertname !== b.sameAlertname) return a.sameAlertname;
  if (a.overlap !== b.overlap) return a.overlap > b.overlap;
  if (a.candidate.hasResolution !== b.candidate.hasResolution) return a.candidate.hasResolution;
  // ISO times of the same form compare as strings.
  if (a.candidate.createdAt !== b.candidate.createdAt) return a.candidate.createdAt > b.candidate.createdAt;
  return a.candidate.entryId > b.candidate.entryId;
}

/**
 * The ranking of docs/knowledge-base.md: the same alertname first, then label overlap, then whether
 * a resolution was written, then recency. Candidates sharing neither the alertname nor any label
 * are not similar. Pure; one pass that keeps the best `limit` (a new ticket's look-up runs on the
 * webhook path).
 */
export function rankSimilar<T extends SimilarCandidate>(query: SimilarQuery, candidates: readonly T[]): (T & SimilarRank)[] {
  if (query.limit <= 0) return [];
  const pairs = comparablePairs(query.labels);
  const seen = new Set<number>();
  const best: Scored<T>[] = [];
  for (const c of candidates) {
    if (seen.has(c.entryId) || c.incidentId === query.excludeIncidentId) continue;
    seen.add(c.entryId);
    const sameAlertname = query.alertname !== null && c.alertname === query.alertname;
    const overlap = overlapWith(pairs, c.labels);
    if (!sameAlertname && overlap === 0) continue;
    const scored: Scored<T> = { candidate: c, sameAlertname, overlap };
    if (best.length === query.limit && !ranksBefore(scored, best[best.length - 1] as Scored<T>)) continue;
    let at = best.length;
    while (at > 0 && ranksBefore(scored, best[at - 1] as Scored<T>)) at--;
    best.splice(at, 0, scored);
    if (best.length > query.limit) best.pop();
  }
  return best.map((b) => ({ ...b.candidate, sameAlertname: b.sameAlertname, overlap: b.overlap }));
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
