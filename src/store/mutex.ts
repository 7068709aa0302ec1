/**
 * Serializes async critical sections. better-sqlite3 is synchronous, but a transaction that awaits
 * (our IngestTx is async so PostgreSQL can implement it) could otherwise interleave with the outbox
 * worker's writes on the same connection.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
