import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Notification, Source } from "../model/alert.js";
import type { IngestResult } from "../pipeline/ingest.js";
import type { RuleSet } from "../rules/load.js";
import type { WriteLock } from "../store/sqlite/write-lock.js";
import type { FromIngestThread, IngestThreadData, ThreadBodyRead, ToIngestThread } from "./messages.js";

/**
 * Ingest on a second core: reading each webhook body (JSON, the sender's schema), the rules, the
 * lifecycle step, the rendering and the store's writes run in a worker thread (entry.ts) with its
 * own SQLite connection, while the main thread keeps HTTP, the outbox, the way back and the reads.
 * The guarantees stay those of the single thread:
 * - a webhook is answered after its commit is on disk: the thread replies once its group commit's
 *   fdatasync is done (store/sqlite/writer.ts);
 * - per-incident order: notifications reach the thread in the order they were received, and its
 *   group committer keeps that order;
 * - hot reload: every notification names the rule set the main thread had in force when it arrived;
 *   a new set's texts go to the thread before the first notification that needs them (messages
 *   between two threads arrive in order), and the thread compiles the same texts itself.
 * The two connections take turns writing through a lock they share (store/sqlite/write-lock.ts).
 */

export interface IngestThread {
  /** Ingests one notification under `rules`; resolves once its commit is on disk. */
  ingest(notification: Notification, receivedAt: Date, rules: RuleSet): Promise<IngestResult>;
  /**
   * Reads a webhook body (intake/read-body.ts) and ingests it. The bytes move to the thread: the
   * caller must not use `body` afterwards.
   * `onRead` is called once the body is read (before the commit), for the large-body gate.
   */
  ingestBody(source: Source, body: Uint8Array, receivedAt: Date, rules: RuleSet, onRead?: () => void): Promise<ThreadBodyRead>;
  /** Waits for the notifications in progress, then stops the thread. */
  close(): Promise<void>;
}

/** The thread stopped when it should not have; every ingest from then on fails with this. */
export class IngestThreadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IngestThreadError";
  }
}

/**
 * A worker for `entry`. Compiled (dist/*.js, what `npm start` runs) it is started as is; from the
 * sources (tsx, vitest) the thread registers tsx's loader first, as the main thread had it.
 */
function spawn(entry: URL, workerData: IngestThreadData): Worker {
  if (!entry.pathname.endsWith(".ts")) return new Worker(entry, { workerData });
  // tsx's ESM API (its package's "./esm/api" import export); require.resolve would give the CommonJS one.
  const api = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve("tsx/package.json")), "dist/esm/api/index.mjs")).href;
  const boot = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

/** Starts the ingest thread; resolves once it has opened the store. */
export async function startIngestThread(options: {
  entry: URL;
  data: IngestThreadData;
  /** This side's handle on the write lock shared with the thread (`data.lock`). */
  lock: WriteLock;
  /** A group commit on the thread of this many notifications. */
  onBatch?: (size: number) => void;
  /** The thread stopped on its own (a bug or out of memory): ingest fails from then on. */
  onFailure: (err: IngestThreadError) => void;
}): Promise<IngestThread> {
  const worker = spawn(options.entry, options.data);
  const pending = new Map<number, { resolve: (r: IngestResult & ThreadBodyRead) => void; reject: (err: Error) => void; onRead?: (() => void) | undefined }>();
  let nextId = 1;
  const versions = new WeakMap<RuleSet, number>();
  let sent: RuleSet | undefined;
  let failure: IngestThreadError | undefined;
  let closing = false;
  let closed: (() => void) | undefined;

  const fail = (err: IngestThreadError) => {
    if (failure) return;
    failure = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    if (!closing) options.onFailure(err);
  };

  await new Promise<void>((resolve, reject) => {
    const early = (err: Error) => reject(new IngestThreadError(`the ingest thread did not start: ${err.message}`, { cause: err }));
    const earlyExit = (code: number) => reject(new IngestThreadError(`the ingest thread did not start (exit code ${code})`));
    worker.once("error", early);
    worker.once("exit", earlyExit);
    worker.once("message", (m: FromIngestThread) => {
      worker.off("error", early);
      worker.off("exit", earlyExit);
      if (m.kind === "ready") resolve();
      else reject(new IngestThreadError(`the ingest thread did not start: unexpected ${m.kind}`));
    });
  });

  worker.on("message", (m: FromIngestThread) => {
    if (m.kind === "closed") {
      closed?.();
      return;
    }
    if (m.kind === "ready") return;
    if (m.kind === "batch") {
      options.onBatch?.(m.size);
      return;
    }
    if (m.kind === "fatal") {
      // The thread's store stopped writing (a failed fsync): nothing more can be stored there.
      fail(new IngestThreadError(`the ingest thread cannot store any more: ${m.error.message}`));
      void worker.terminate();
      return;
    }
    const p = pending.get(m.id);
    if (!p) return;
    if (m.kind === "parsed") {
      p.onRead?.();
      return;
    }
    pending.delete(m.id);
    if (m.kind === "done" || m.kind === "read") p.resolve(m.result as IngestResult & ThreadBodyRead);
    else p.reject(Object.assign(new Error(m.error.message), { name: m.error.name }));
  });
  worker.on("error", (err) => fail(new IngestThreadError(`the ingest thread failed: ${err.message}`, { cause: err })));
  worker.on("exit", (code) => {
    // Whatever the thread held or waited for in the write lock is let go, or this side would wait for ever.
    options.lock.releaseOther();
    closed?.();
    fail(new IngestThreadError(`the ingest thread stopped (exit code ${code})`));
  });

  const post = (m: ToIngestThread) => worker.postMessage(m);

  /** Hands the rule set to the thread if it does not have it yet; its version. */
  const rulesVersion = (rules: RuleSet): number => {
    if (rules !== sent) {
      if (!rules.sources) throw new IngestThreadError("the rules carry no sources to hand to the ingest thread");
      const version = versions.get(rules) ?? nextId++;
      versions.set(rules, version);
      post({ kind: "rules", version, sources: rules.sources });
      sent = rules;
    }
    return versions.get(rules) as number;
  };
  function call<T>(message: (id: number, version: number) => ToIngestThread, rules: RuleSet, transfer: ArrayBuffer[] = [], onRead?: () => void): Promise<T> {
    if (failure) return Promise.reject(failure);
    if (closing) return Promise.reject(new IngestThreadError("alertdesk is stopping"));
    let version: number;
    try {
      version = rulesVersion(rules);
    } catch (err) {
      return Promise.reject(err);
    }
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (r: unknown) => void, reject, onRead });
      worker.postMessage(message(id, version), transfer);
    });
  }

  return {
    ingest(notification, receivedAt, rules) {
      return call((id, version) => ({ kind: "ingest", id, version, notification, receivedAt: receivedAt.getTime() }), rules);
    },
    ingestBody(source, body, receivedAt, rules, onRead) {
      // The bytes move (no copy) when the array owns its buffer, as a large body's does; a view into a
      // shared one (Node's pool for small buffers) is copied, so the pool is never taken away.
      const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
      return call(
        (id, version) => ({ kind: "body", id, version, source, body: own, receivedAt: receivedAt.getTime(), ...(onRead ? { tellRead: true as const } : {}) }),
        rules,
        [own.buffer as ArrayBuffer],
        onRead,
      );
    },
    async close() {
      if (closing) return;
      closing = true;
      if (failure) return;
      // The thread answers everything queued before the close (messages arrive in order), then exits.
      await new Promise<void>((resolve) => {
        closed = resolve;
        post({ kind: "close" });
      });
      await worker.terminate();
    },
  };
}
