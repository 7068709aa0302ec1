import type { Truncation } from "../intake/payloads.js";
import type { BodyRejection, NotificationSummary } from "../intake/read-body.js";
import type { Notification, Source } from "../model/alert.js";
import type { IngestResult } from "../pipeline/ingest.js";
import type { RuleSource } from "../rules/load.js";

/** What the thread gets at its start. */
export interface IngestThreadData {
  dbPath: string;
  /** The write lock's shared state (store/sqlite/write-lock.ts). */
  lock: SharedArrayBuffer;
  defaultHelpdesk: string;
}

/** The main thread's messages to the ingest thread. */
export type ToIngestThread =
  | { kind: "rules"; version: number; sources: readonly RuleSource[] }
  | { kind: "ingest"; id: number; version: number; notification: Notification; receivedAt: number }
  | { kind: "body"; id: number; version: number; source: Source; body: Uint8Array; receivedAt: number; tellRead?: true }
  | { kind: "close" };

/** A body the thread read: refused, or stored (with what the answer needs). */
export type ThreadBodyRead = { ok: false; rejection: BodyRejection } | { ok: true; summary: NotificationSummary; truncated?: Truncation; result: IngestResult };

/** The ingest thread's messages back. */
export type FromIngestThread =
  | { kind: "ready" }
  | { kind: "done"; id: number; result: IngestResult }
  /** A group commit of this many notifications (for the commit batch size histogram). */
  | { kind: "batch"; size: number }
  | { kind: "read"; id: number; result: ThreadBodyRead }
  /** The body of `body` message `id` is read (asked for with tellRead: the large-body gate waits for it). */
  | { kind: "parsed"; id: number }
  | { kind: "failed"; id: number; error: { name: string; message: string } }
  /** The thread's store cannot write any more (a failed fsync); the thread stops taking notifications. */
  | { kind: "fatal"; error: { name: string; message: string } }
  | { kind: "closed" };
