import { closeSync, fdatasync, openSync } from "node:fs";
import type Database from "better-sqlite3";
import type { WriteLock } from "./write-lock.js";

type Write = {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
};

export interface SqliteWriter {
  /**
   * Runs `fn` in a write transaction shared with the other writes queued meanwhile, inside a
   * savepoint of its own (its failure rolls back its work only). Resolves once the commit is on disk.
   */
  write<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Throws the error that made the writer stop (a failed fsync), if any. */
  check(): void;
  /** Waits for queued writes and their fsync, then refuses new ones. */
  close(): Promise<void>;
}

/** Writes that share one transaction at most; a bound on how long one commit holds the writer. */
const MAX_BATCH = 512;

/**
 * The single writer of a SQLite database, with group commit and an fsync that does not block the
 * event loop.
 *
 * Every write queued while a transaction is being built or committed joins the next one, so one
 * commit (and one fsync) covers many webhooks and outbox updates. The connection runs with
 * `synchronous=NORMAL`: SQLite then writes each commit into the WAL without syncing it (and still
 * syncs the WAL and the database around checkpoints). Before a write resolves, this writer syncs
 * the WAL file itself with fdatasync on libuv's thread pool: what resolved is on disk, as with
 * `synchronous=FULL`, but the event loop keeps parsing and building the next transaction while the
 * disk works, and one fdatasync covers every commit written before it started. Nothing outside the
 * process (a helpdesk call, an HTTP 200) happens before the write it depends on has resolved.
 *
 * A failed fdatasync stops the writer for good: after one, Linux may already have dropped the dirty
 * pages, so retrying could report success for data that never reached the disk.
 */
export function createSqliteWriter(
  db: Database.Database,
  walPath: string | undefined,
  options: {
    fdatasync?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
    /** Shared with the ingest thread's writer on the same database (write-lock.ts); held from BEGIN to COMMIT. */
    lock?: WriteLock;
  } = {},
): SqliteWriter {
  const lock = options.lock;
  const syncFile = options.fdatasync ?? fdatasync;
  // Prepared once: these run several times per transaction.
  const sql = {
    begin: db.prepare("BEGIN IMMEDIATE"),
    commit: db.prepare("COMMIT"),
    rollback: db.prepare("ROLLBACK"),
    savepoint: db.prepare("SAVEPOINT write"),
    release: db.prepare("RELEASE write"),
    rollbackTo: db.prepare("ROLLBACK TO write"),
  };
  const walFd = walPath === undefined ? undefined : openSync(walPath, "r");
  let queue: Write[] = [];
  let flushing: Promise<void> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let failure: Error | undefined;

  let committed = 0; // commits written to the WAL
  let syncing = false;
  let waiters: { seq: number; resolve: () => void; reject: (err: Error) => void }[] = [];

  function durable(seq: number): Promise<void> {
    if (walFd === undefined) return Promise.resolve();
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      waiters.push({ seq, resolve, reject });
      sync(walFd);
    });
  }

  function sync(fd: number): void {
    if (syncing || waiters.length === 0) return;
    syncing = true;
    const target = committed;
    syncFile(fd, (err) => {
      syncing = false;
      if (err) {
        failure = new Error(`fsync of the SQLite WAL failed (${err.code ?? err.message}); alertdesk must be restarted`);
        for (const w of waiters) w.reject(failure);
        waiters = [];
        return;
      }
      const ready = waiters.filter((w) => w.seq <= target);
      waiters = waiters.filter((w) => w.seq > target);
      for (const w of ready) w.resolve();
      sync(fd);
    });
  }

  /** Builds and commits one transaction from `batch`; each write's outcome goes to its own promise. */
  async function commit(batch: Write[]): Promise<void> {
    let rest = batch;
    while (rest.length > 0) {
      await lock?.acquire();
      try {
        rest = await attempt(rest);
      } catch (err) {
        // Rolled back before the lock goes to the other thread: its BEGIN must find the database free.
        rollbackQuietly();
        throw err;
      } finally {
        lock?.release();
      }
    }
  }

  /** Ends an open transaction after an error; a rollback that fails too changes nothing more. */
  function rollbackQuietly(): void {
    try {
      if (db.inTransaction) sql.rollback.run();
    } catch {
      // The connection is then beyond use for writes; the next BEGIN says why.
    }
  }

  /** One transaction: returns the writes still to run when a write's error aborted it, else none. */
  async function attempt(rest: Write[]): Promise<Write[]> {
    try {
      sql.begin.run();
    } catch (err) {
      for (const w of rest) w.reject(err);
      return [];
    }
    const done: { w: Write; result: unknown }[] = [];
    let next = 0;
    while (next < rest.length) {
      const w = rest[next++] as Write;
      sql.savepoint.run();
      try {
        const result = await w.fn();
        sql.release.run();
        done.push({ w, result });
      } catch (err) {
        w.reject(err);
        // Some errors (a full disk, I/O) make SQLite roll back the whole transaction.
        if (!db.inTransaction) {
          for (const d of done) d.w.reject(err);
          return rest.slice(next);
        }
        sql.rollbackTo.run();
        sql.release.run();
      }
    }
    try {
      sql.commit.run();
    } catch (err) {
      rollbackQuietly();
      for (const d of done) d.w.reject(err);
      return [];
    }
    const seq = ++committed;
    durable(seq).then(
      () => {
        for (const d of done) d.w.resolve(d.result);
      },
      (err: unknown) => {
        for (const d of done) d.w.reject(err);
      },
    );
    return [];
  }

  async function flush(): Promise<void> {
    // Let the current tick's writes join before the transaction starts.
    await new Promise<void>((r) => setImmediate(r));
    while (queue.length > 0) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(batch.length);
      try {
        await commit(batch);
      } catch (err) {
        // A transaction statement itself failed (BEGIN, SAVEPOINT, ROLLBACK TO): nothing of the
        // batch is committed. Rejecting a write that already settled does nothing.
        rollbackQuietly();
        for (const w of batch) w.reject(err);
      }
    }
    flushing = undefined;
  }

  return {
    write<T>(fn: () => Promise<T> | T): Promise<T> {
      if (failure) return Promise.reject(failure);
      if (closed) return Promise.reject(new Error("the store is closed"));
      return new Promise<T>((resolve, reject) => {
        queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
        flushing ??= flush();
      });
    },
    check() {
      if (failure) throw failure;
    },
    close() {
      closing ??= (async () => {
        closed = true;
        while (flushing) await flushing;
        if (walFd !== undefined) {
          await durable(committed).catch(() => undefined);
          closeSync(walFd);
        }
      })();
      return closing;
    },
  };
}
