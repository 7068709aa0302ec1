import type { IngestTx, Store } from "../store/types.js";

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
 */
export function createGroupCommitter(store: Store, options: { maxBatch?: number; onBatch?: (size: number) => void } = {}): GroupCommitter {
  const maxBatch = options.maxBatch ?? 256;
  let queue: Job<unknown>[] = [];
  let running: Promise<void> | undefined;

  async function runBatch(batch: Job<unknown>[]): Promise<void> {
    try {
      const results = await store.transaction(async (tx) => {
        const out: unknown[] = [];
        for (const job of batch) out.push(await job.run(tx));
        return out;
      });
      options.onBatch?.(batch.length);
      batch.forEach((job, i) => job.resolve(results[i]));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]?.reject(err);
        return;
      }
      for (const job of batch) await runBatch([job]);
    }
  }

  async function loop(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      await runBatch(batch);
    }
    running = undefined;
  }

  return {
    submit<T>(run: (tx: IngestTx) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ run, resolve, reject } as Job<unknown>);
        // Let the current tick's requests join before committing.
        running ??= new Promise<void>((r) => setImmediate(r)).then(loop);
      });
    },
    async drain() {
      while (running) await running;
    },
  };
}
