import type { ArchiveEntry, NewArchiveEntry, SimilarIncident, SimilarQuery } from "../model/archive.js";
import type { BuiltinTicketBook } from "../model/builtin-tickets.js";
import type { HelpdeskEvent, ObservedEvent } from "../model/helpdesk-event.js";
import type { Incident, TicketRef } from "../model/incident.js";
import type { TicketOperation } from "../model/ticket-operation.js";

export type OutboxState = "pending" | "done" | "dead" | "cancelled" | "coalesced";

/** An outbox row claimed for delivery, with what the worker needs from its incident. */
export interface OutboxRow {
  id: number;
  incidentId: number;
  dedupKey: string;
  ticketKey: string;
  /** The ticket the helpdesk confirmed earlier for this incident, if any. */
  ticket?: TicketRef;
  helpdesk: string;
  operation: TicketOperation;
  /** Attempts so far, including the one this claim starts. */
  attempts: number;
  createdAt: Date;
}

/** An outbox row as the deliveries API shows it. */
export interface DeliveryView {
  id: number;
  incidentId: number;
  dedupKey: string;
  labels: Record<string, string>;
  helpdesk: string;
  op: TicketOperation["op"];
  state: OutboxState;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  nextAttemptAt: string;
}

export interface NewOutboxRow {
  helpdesk: string;
  operation: TicketOperation;
  /** Deliver no earlier than this (open_after). */
  notBefore?: Date;
  /** Replaces the incident's pending rows that were never attempted (a deferred open rendered again). */
  replacesPending?: boolean;
}

/** What both write paths may do with the archive inside their transaction. */
export interface ArchiveTx {
  /**
   * The archived incidents most like the query, ranked by model/archive.ts: candidates that share the
   * alertname or a label pair, read through bounded index look-ups whatever the archive's size.
   */
  similarIncidents(query: SimilarQuery): Promise<SimilarIncident[]>;
  /** Withdraws the incident's archive deliveries not in flight (it is no longer over); returns how many. */
  cancelArchive(incidentId: number, now: Date): Promise<number>;
}

/** What one ingest transaction may do. Everything commits together or not at all. */
export interface IngestTx extends ArchiveTx {
  /** The latest incident of each key (one round trip for the whole notification). */
  latestIncidents(keys: readonly string[]): Promise<Map<string, Incident>>;
  insertIncident(incident: Incident): Promise<number>;
  updateIncident(incident: Incident & { id: number }): Promise<void>;
  enqueue(incidentId: number, rows: readonly NewOutboxRow[], now: Date): Promise<void>;
  /** Withdraws the incident's pending rows that no attempt has touched yet (state cancelled); returns how many. */
  cancelPending(incidentId: number): Promise<number>;
}

/**
 * Which page of a list, newest first: at most `limit` rows with an id below `before` (the previous
 * page's `next`), and fewer once their stored size passes `maxBytes` (but never none), so that one
 * read never builds an answer of unbounded size.
 */
export interface PageQuery {
  limit: number;
  before?: number;
  maxBytes?: number;
}

/** One page of a list; `next` is the `before` of the following page, null on the last one. */
export interface Page<T> {
  items: T[];
  next: number | null;
}

export interface IncidentQuery extends PageQuery {
  state?: Incident["state"];
  dedupKey?: string;
}

export interface DeliveryQuery extends PageQuery {
  state?: OutboxState;
}

/** The write path's slice: one transaction per batch of notifications (group commit). */
export interface IngestStore {
  /** Transactions commit in the order they were started, so a caller may start the next before the last resolved. */
  readonly ordersWrites: boolean;
  /** Runs `fn` in one transaction. Used by group commit: many notifications, one commit. */
  transaction<T>(fn: (tx: IngestTx) => Promise<T>): Promise<T>;
}

/** The outbox worker's slice: claim due operations, record how their delivery went. */
/**
 * The claim order: `priority` (by delivery rank, aged; docs/reliability.md "Delivery order") or
 * `oldest` (oldest due first: the order before ranks, kept for comparison and as a way back).
 */
export type DeliveryOrder = "priority" | "oldest";

export interface ClaimOptions {
  /** Helpdesks not to claim for now (their limiter has enough in hand). */
  skipHelpdesks?: readonly string[];
  /** Only this helpdesk's rows. */
  onlyHelpdesk?: string;
  /** Incidents not to claim (this worker is delivering one of their rows). */
  skipIncidents?: readonly number[];
  order?: DeliveryOrder;
}

/** The request slots of one helpdesk shared by every replica (PostgreSQL only). */
export interface RequestBudgetStore {
  /** Reserves the next slot `intervalMs` after the last reserved, not before now or the end of a pause; the wait in ms. */
  reserveRequestSlot(helpdesk: string, intervalMs: number): Promise<number>;
  /** No slot of this helpdesk before `ms` from now, for any replica. */
  pauseRequests(helpdesk: string, ms: number): Promise<void>;
}

export interface OutboxStore {
  /**
   * Claims up to `limit` due rows, at most one per incident and only the oldest unfinished one of
   * each (per-incident order), leasing them for `leaseMs` and counting the attempt.
   */
  claimDue(now: Date, limit: number, leaseMs: number, options?: ClaimOptions): Promise<OutboxRow[]>;
  /**
   * Marks a row delivered; records the ticket on the incident when the helpdesk returned one, the
   * silence id each Alertmanager answered (null: expired, forgotten), and where the external
   * knowledge base keeps an archive entry.
   */
  complete(
    id: number,
    result: {
      ticket?: TicketRef;
      silences?: readonly { alertmanager: string; silenceId: string | null }[];
      archived?: { entryId: number; url: string | null };
    },
    now: Date,
  ): Promise<void>;
  /** The silence ids Alertmanager answered for the incident, by Alertmanager name. */
  silenceIds(incidentId: number): Promise<Record<string, string>>;
  /** Extends the lease of rows still claimed (deliveries in progress) to `until`. */
  extendLeases(ids: readonly number[], until: Date): Promise<void>;
  /** Releases a row for another attempt at `nextAttemptAt`. */
  reschedule(id: number, error: string, nextAttemptAt: Date): Promise<void>;
  /**
   * Puts a claimed row back unsent until `until`, without counting the attempt (it waits for its
   * ticket's update budget; the comments queued behind it go out with it then).
   */
  defer(id: number, why: string, until: Date): Promise<void>;
  /**
   * The updates (comments, resolves, reopens) delivered to the incident's ticket at this helpdesk
   * since `since`: how many, and when the earliest of them was delivered (epoch ms).
   */
  ticketUpdatesSince(incidentId: number, helpdesk: string, since: Date): Promise<{ count: number; earliestAt: number | undefined }>;
  /** Gives up on a row; it stays visible as a dead letter. */
  deadLetter(id: number, error: string, now: Date): Promise<void>;
  /**
   * Deletes up to `limit` finished rows (done, coalesced, cancelled) that finished before `before`;
   * returns how many. Pending rows and dead letters are never pruned.
   */
  pruneFinished(before: Date, limit: number): Promise<number>;
  /** Epoch ms of the earliest pending row, to sleep until then. */
  nextDueAt(): Promise<number | undefined>;
}

/** The operator's slice of the outbox: dead letters back into the queue (API and CLI replay). */
export interface ReplayStore {
  /** Puts dead letters back in the queue; returns how many. */
  requeueDead(ids: readonly number[] | "all", now: Date): Promise<number>;
}

/** The read API's slice: what incidents and deliveries look like now. Never writes. */
export interface QueryStore {
  /** A page of the outbox, newest first. */
  pageDeliveries(query: DeliveryQuery): Promise<Page<DeliveryView>>;
  /** A page of incidents, newest first. */
  pageIncidents(query: IncidentQuery): Promise<Page<Incident>>;
  /** The items of pageDeliveries. */
  listDeliveries(query: DeliveryQuery): Promise<DeliveryView[]>;
  /** The items of pageIncidents. */
  listIncidents(query: IncidentQuery): Promise<Incident[]>;
  /** One incident by id. */
  getIncident(id: number): Promise<Incident | undefined>;
  /** The incident's outbox rows still kept (delivery.retention), oldest first: its timeline, and the ticket text as the helpdesk got it. */
  deliveriesOf(incidentId: number): Promise<IncidentDelivery[]>;
  countIncidents(): Promise<Record<string, number>>;
  countOutbox(): Promise<Record<string, number>>;
}

/** One of an incident's outbox rows, for its archive entry's timeline. */
export interface IncidentDelivery {
  helpdesk: string;
  state: OutboxState;
  createdAt: string;
  doneAt: string | null;
  operation: TicketOperation;
}

/** What one way-back transaction may do: agents' events onto their incidents, atomically with the cursor. */
export interface SyncTx extends ArchiveTx {
  /**
   * The latest incident whose ticket this is, locked for the transaction (replicas take turns); by
   * its correlation key when no incident has the ticket's id yet (the delivery that created it has
   * not recorded it).
   */
  incidentByTicket(helpdesk: string, ticketId: string, ticketKey?: string): Promise<(Incident & { id: number }) | undefined>;
  /** The incident, locked for the transaction. */
  incidentById(id: number): Promise<(Incident & { id: number }) | undefined>;
  /** Keeps the event once per (helpdesk, event id); false when it was seen before (a repeat changes nothing). */
  recordEvent(incidentId: number, helpdesk: string, ticketId: string, observed: ObservedEvent, now: Date): Promise<boolean>;
  updateIncident(incident: Incident & { id: number }): Promise<void>;
  enqueue(incidentId: number, rows: readonly NewOutboxRow[], now: Date): Promise<void>;
  /** Stores the helpdesk's poll cursor, if `owner` still holds its lease; false when another replica took it. */
  saveCursor(helpdesk: string, owner: string, cursor: string, now: Date): Promise<boolean>;
  /** The agents' events stored for the incident, oldest first. */
  incidentEvents(incidentId: number): Promise<StoredHelpdeskEvent[]>;
  /** The incident's outbox rows still kept (delivery.retention), oldest first. */
  incidentDeliveries(incidentId: number): Promise<IncidentDelivery[]>;
  /** Writes the incident's archive entry (one per incident: a second write replaces it) and indexes it; returns its id. */
  saveArchiveEntry(entry: NewArchiveEntry, now: Date): Promise<number>;
}

/** A doorbell waiting to be answered by reading its ticket again. */
export interface DoorbellRow {
  id: number;
  helpdesk: string;
  ticketId: string;
  attempts: number;
}

/** The way back's bookkeeping per helpdesk (sync lag and errors in /metrics). */
export interface SyncStatus {
  helpdesk: string;
  cursor: string | null;
  syncedAt: string | null;
  lastError: string | null;
}

/** An agent's event as stored per ticket. */
export interface StoredHelpdeskEvent {
  eventId: string;
  ticketId: string;
  event: HelpdeskEvent;
  receivedAt: string;
}

/** The way back's slice: agents' events, poll cursors and leases, doorbells, due verifications. */
export interface SyncStore {
  syncTransaction<T>(fn: (tx: SyncTx) => Promise<T>): Promise<T>;
  /**
   * Takes (or renews) the lease on polling `helpdesk` for `owner` until now + leaseMs; returns the
   * stored cursor, or undefined while another replica holds the lease. Exactly one replica polls.
   */
  takePollLease(helpdesk: string, owner: string, now: Date, leaseMs: number): Promise<{ cursor: string | null } | undefined>;
  /** Gives up this replica's poll leases (a graceful stop: the next process polls at once). */
  releasePollLeases(owner: string): Promise<void>;
  /** Records how the last poll went (null: it worked). */
  notePoll(helpdesk: string, error: string | null, now: Date): Promise<void>;
  /** Stores a verified doorbell once per (helpdesk, delivery id, ticket); false when it was a repeat. */
  recordDoorbell(helpdesk: string, deliveryId: string, ticketIds: readonly string[], now: Date): Promise<boolean>;
  /** Claims doorbells due now, leasing them for leaseMs. */
  claimDoorbells(now: Date, limit: number, leaseMs: number): Promise<DoorbellRow[]>;
  /** Done with a doorbell: answered, or given up on after too many attempts (the poller repairs it). */
  finishDoorbell(id: number, now: Date): Promise<void>;
  /** A doorbell whose ticket could not be read: again at `nextAttemptAt`. */
  retryDoorbell(id: number, nextAttemptAt: Date): Promise<void>;
  /** Ids of incidents whose verification of an agent's solve is due (verifyAt ≤ now). */
  dueVerifications(now: Date, limit: number): Promise<number[]>;
  /** Epoch ms of the earliest pending verification. */
  nextVerificationAt(): Promise<number | undefined>;
  /** Ids of incidents whose archive entry is due (archiveAt ≤ now). */
  dueArchives(now: Date, limit: number): Promise<number[]>;
  /** Ids of incidents the escalation scheduler must look at now (escalateAt ≤ now). */
  dueEscalations(now: Date, limit: number): Promise<number[]>;
  syncStatus(): Promise<SyncStatus[]>;
  /** The agents' events stored for an incident, oldest first. */
  helpdeskEvents(incidentId: number): Promise<StoredHelpdeskEvent[]>;
}

/** A search of the archive: full text (every word, else any word), best first; no text: the newest. */
export interface ArchiveSearch {
  q?: string;
  limit: number;
}

/** The archive's read slice (the built-in knowledge base): search and read entries. Never writes. */
export interface KnowledgeStore {
  searchArchive(search: ArchiveSearch): Promise<ArchiveEntry[]>;
  archiveEntry(id: number): Promise<ArchiveEntry | undefined>;
  countArchive(): Promise<number>;
}

/**
 * alertdesk's durable state: incidents, the outbox, the archive, and the built-in helpdesk's tickets.
 * Implemented by SQLite (embedded default) and PostgreSQL; one contract suite tests both.
 * Only the composition root holds the whole store; every consumer gets its slice.
 */
export interface Store extends IngestStore, OutboxStore, ReplayStore, QueryStore, SyncStore, KnowledgeStore, BuiltinTicketBook {
  readonly kind: string;
  /** Request slots shared by replicas (PostgreSQL); absent where one process is the only one (SQLite). */
  readonly requestBudget?: RequestBudgetStore;
  /** Throws when the store cannot be used (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
