import type { Doc } from "../model/doc.js";

/**
 * An external knowledge base that archive entries go to (Confluence, TiddlyWiki): one folder per
 * knowledge base behind this small interface, like the helpdesks'. The built-in archive is not one of
 * these: it lives in the store and is always kept (the similar-incidents lookup reads it).
 */

/** One archive entry as a knowledge base gets it: already rendered into the format-neutral Doc. */
export interface KnowledgeBaseEntry {
  /** Deterministic (it names the incident): the same incident always writes the same title. */
  title: string;
  doc: Doc;
  /** Normalised keywords (`alertname-hosthighcpu`, `priority-p2`, …): lower case, `[a-z0-9_-]` only. */
  labels: string[];
  /** alertdesk's ids, for knowledge bases that keep fields (TiddlyWiki) and for messages. */
  incidentId: number;
  ticketKey: string;
}

/** A page (Confluence) or tiddler (TiddlyWiki) as alertdesk knows it. */
export interface KnowledgePage {
  /** The knowledge base's own id (Confluence's page id; TiddlyWiki's title). */
  id: string;
  title: string;
  url?: string;
  labels: string[];
}

export interface KnowledgeBaseDriver {
  /** `confluence`, `tiddlywiki`: for logs, metrics and messages. */
  readonly type: string;
  /**
   * Writes the entry exactly once however often it is called: looks the title up first (a page of an
   * earlier attempt, or one created although the answer was an error) and updates that page, else
   * creates it; the labels end up exactly `entry.labels` plus any a person added. Failures are
   * DeliveryErrors saying whether a retry can help.
   */
  archive(entry: KnowledgeBaseEntry): Promise<KnowledgePage>;
  /** The page with exactly this title, if there is one. */
  findByTitle(title: string): Promise<KnowledgePage | undefined>;
  /** Pages carrying every one of the labels, newest first, at most `limit`. */
  findByLabels(labels: readonly string[], limit: number): Promise<KnowledgePage[]>;
}

/** A knowledge-base label from a keyword (vocabulary: the archive builds them, every knowledge base takes them). */
export { knowledgeLabel } from "../model/archive.js";
