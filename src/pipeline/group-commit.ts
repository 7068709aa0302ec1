import type { IngestStore, IngestTx } from "../store/types.js";

type Job<T> = {
  run: (tx: IngestTx) => Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
};

export interface GroupCommitter {
  /** Runs `work` inside a transaction shared with whatever else is waiting; resolves once committed. */
  submit<T>(work: (tx: IngestTx) => Promise<T>): Promise<T>;
  /** Resolves when nothing is queued or committing. */
  drain(): Promise<void>;
}

/**
 * Group commit: notifications that arrive while a commit is in progress are committed together in
 * the next transaction, so one fsync acknowledges many webhooks. A failing batch is retried one job
 * per transaction, so one bad notification cannot fail the others.
 *
 * When the store commits transactions in the order they were started (SQLite's single writer), the
 * next batch starts while the last one waits for its fsync; otherwise (PostgreSQL, where concurrent
 * transactions could reorder notifications of one group) one batch at a time.
 */
export function createGroupCommitter(store: IngestStore, options: { maxBatch?: number; onBatch?: (size: number) => void } = {}): GroupCommitter {
  const maxBatch = options.maxBatch ?? 256;
  const maxInFlight = store.ordersWrites ? 8 : 1;
  let queue: Job<unknown>[] = [];
  let inFlight = 0;
  let scheduled = false;
  const idle: (() => void)[] = [];

  async function runBatch(batch: Job<unknown>[]): Promise<void> {
    try {
      const results = await store.transaction(async (tx) => {
        const out: unknown[] = [];
        for (const job of batch) out.push(await job.run(tx));
        return out;
      });
      options.onBatch?.(batch.length);
      for (const [i, job] of batch.entries()) job.resolve(results[i]);
    } catch (err) {
      if (batch.length === 1) {
        batch[0]?.reject(err);
        return;
      }
      // One at a time, in order among themselves (a batch started meanwhile may have committed first).
      for (const job of batch) await runBatch([job]);
    }
  }

  function dispatch(): void {
    scheduled = false;
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      inFlight++;
      void runBatch(batch).finally(() => {
        inFlight--;
        if (queue.length > 0) schedule();
        else if (inFlight === 0) for (const resolve of idle.splice(0)) resolve();
      });
    }
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    // Let the current tick's requests join before committing.
    setImmediate(dispatch);
  }

  return {
    submit<T>(run: (tx: IngestTx) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ run, resolve, reject } as Job<unknown>);
        schedule();
      });
    },
    async drain() {
      if (queue.length === 0 && inFlight === 0) return;
      await new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
