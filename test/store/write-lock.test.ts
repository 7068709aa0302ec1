import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createWriteLock, joinWriteLock, type WriteLock } from "../../src/store/sqlite/write-lock.js";
import { createSqliteWriter } from "../../src/store/sqlite/writer.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("write lock", () => {
  it("lets one side in at a time", async () => {
    const main = createWriteLock();
    const thread = joinWriteLock(main.buffer); // the other thread's handle on the same lock
    let inside = 0;
    let most = 0;
    const hold = async (lock: WriteLock, ms: number) => {
      await lock.acquire();
      inside++;
      most = Math.max(most, inside);
      await sleep(ms);
      inside--;
      lock.release();
    };
    await Promise.all([hold(main, 20), hold(thread, 5), hold(main, 5), hold(thread, 5), hold(main, 1)]);
    expect(most).toBe(1);
  });

  it("hands the lock over to a side that has waited past the hand-off time", async () => {
    const main = createWriteLock();
    const thread = joinWriteLock(main.buffer);
    // The thread takes the lock again and again, right after each release (as a busy writer does).
    const order: string[] = [];
    let stop = false;
    const busy = (async () => {
      for (let i = 0; i < 500 && !stop; i++) {
        await thread.acquire();
        order.push("thread");
        await sleep(1);
        thread.release();
      }
    })();
    await sleep(10);
    await main.acquire();
    order.push("main");
    main.release();
    stop = true;
    await busy;
    // The main thread got in long before the busy side ran out of work.
    expect(order.indexOf("main")).toBeGreaterThan(0);
    expect(order.length).toBeLessThan(500);
  });

  it("steps back for a waiting side for a bounded time only: a stalled event loop there stalls nothing here", async () => {
    const main = createWriteLock();
    const thread = joinWriteLock(main.buffer);
    // The main side registered a wait 1 s ago and its event loop never came round to take its turn.
    new BigInt64Array(main.buffer, 8, 2)[0] = BigInt(Date.now() - 1000);
    const outcome = await Promise.race([thread.acquire().then(() => "acquired"), sleep(5000).then(() => "still waiting")]);
    expect(outcome).toBe("acquired");
    thread.release();
  });

  it("lets go of what a side that is gone held or waited for", async () => {
    const main = createWriteLock();
    const thread = joinWriteLock(main.buffer);
    await thread.acquire(); // …and its thread dies inside the transaction
    let got = false;
    const waiting = main.acquire().then(() => {
      got = true;
    });
    await sleep(30);
    expect(got).toBe(false);
    main.releaseOther();
    await waiting;
    expect(got).toBe(true);
    main.release();
    // A release by a side that does not hold the lock frees nothing.
    await main.acquire();
    thread.release();
    const other = await Promise.race([thread.acquire().then(() => "acquired"), sleep(100).then(() => "waits")]);
    expect(other).toBe("waits");
    main.release();
  });

  it("refuses a buffer that is not a write lock's", () => {
    expect(() => joinWriteLock(new SharedArrayBuffer(8))).toThrow(/24 bytes, not 8/);
  });
});

describe("two SQLite writers on one database", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** Two connections to one WAL database, each with its own writer, as the main and the ingest thread have. */
  function twoWriters(shareLock: boolean) {
    dir = mkdtempSync(join(tmpdir(), "alertdesk-lock-"));
    const path = join(dir, "t.db");
    const first = new Database(path);
    first.pragma("journal_mode = WAL");
    first.exec("CREATE TABLE t (n INTEGER NOT NULL)");
    const second = new Database(path);
    // Short, so that the unshared case fails fast: SQLite's busy handler spins on this thread meanwhile.
    second.pragma("busy_timeout = 200");
    const lock = createWriteLock();
    const lockOf = (own: boolean) => (shareLock ? { lock: own ? lock : joinWriteLock(lock.buffer) } : {});
    const w1 = createSqliteWriter(first, `${path}-wal`, lockOf(true));
    const w2 = createSqliteWriter(second, `${path}-wal`, lockOf(false));
    const insert1 = first.prepare("INSERT INTO t (n) VALUES (?)");
    const insert2 = second.prepare("INSERT INTO t (n) VALUES (?)");
    const rows = () =>
      first
        .prepare<[], { n: number }>("SELECT n FROM t ORDER BY rowid")
        .all()
        .map((r) => r.n);
    const close = async () => {
      await w1.close();
      await w2.close();
      first.close();
      second.close();
    };
    return { w1, w2, insert1, insert2, rows, close };
  }

  it("take turns through the shared lock: the second waits for the first's commit, without SQLITE_BUSY", async () => {
    const { w1, w2, insert1, insert2, rows, close } = twoWriters(true);
    // The first holds its transaction across an await for longer than the second's busy timeout.
    const first = w1.write(async () => {
      insert1.run(1);
      await sleep(500);
      insert1.run(2);
    });
    await sleep(20); // the first's transaction has begun
    const second = w2.write(() => insert2.run(3));
    await expect(Promise.all([first, second])).resolves.toHaveLength(2);
    expect(rows()).toEqual([1, 2, 3]);
    await close();
  });

  it("without it, the second connection's BEGIN finds the database locked", async () => {
    const { w1, w2, insert1, insert2, rows, close } = twoWriters(false);
    const first = w1.write(async () => {
      insert1.run(1);
      await sleep(500);
      insert1.run(2);
    });
    await sleep(20);
    await expect(w2.write(() => insert2.run(3))).rejects.toThrow(/locked|busy/i);
    await first;
    expect(rows()).toEqual([1, 2]);
    await close();
  });
});
