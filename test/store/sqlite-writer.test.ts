import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqliteWriter, type SqliteWriter } from "../../src/store/sqlite/writer.js";

/**
 * The SQLite writer: group commit with a savepoint per write, and a write resolves only after an
 * fdatasync that started after its commit. The fsync is injected so the test decides when the
 * "disk" answers.
 */

let dir: string;
let db: Database.Database;
let syncs: { fd: number; done: (err: NodeJS.ErrnoException | null) => void }[];
let writer: SqliteWriter;

const rows = () => (db.prepare("SELECT v FROM t ORDER BY v").all() as { v: string }[]).map((r) => r.v);
const settled = async <T>(p: Promise<T>) => {
  let state = "pending";
  p.then(
    () => (state = "resolved"),
    () => (state = "rejected"),
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return state;
};
/** Waits until the writer asks for an fsync (commits run on a later tick than the write call). */
async function nextSync() {
  for (let i = 0; i < 50 && syncs.length === 0; i++) await new Promise((r) => setImmediate(r));
  const s = syncs.shift();
  if (!s) throw new Error("no fsync was requested");
  return s;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "alertdesk-writer-"));
  db = new Database(join(dir, "db.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec("CREATE TABLE t (v TEXT PRIMARY KEY)");
  syncs = [];
  writer = createSqliteWriter(db, join(dir, "db.sqlite-wal"), { fdatasync: (fd, done) => syncs.push({ fd, done }) });
});

afterEach(async () => {
  for (const s of syncs.splice(0)) s.done(null);
  const closed = writer.close();
  for (let i = 0; i < 20; i++) {
    for (const s of syncs.splice(0)) s.done(null);
    await new Promise((r) => setImmediate(r));
  }
  await closed;
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Marks a rejection as handled now; the test checks it later. */
const later = <T>(p: Promise<T>) => {
  p.catch(() => undefined);
  return p;
};
const insert = (v: string) => () => void db.prepare("INSERT INTO t (v) VALUES (?)").run(v);

describe("SQLite writer", () => {
  it("resolves a write only once the WAL has been synced after its commit", async () => {
    const w = writer.write(insert("a"));
    const sync = await nextSync();
    expect(rows()).toEqual(["a"]); // committed…
    expect(await settled(w)).toBe("pending"); // …but not acknowledged before the disk has it
    sync.done(null);
    await expect(w).resolves.toBeUndefined();
  });

  it("puts the writes of one tick in one transaction and covers them with one fsync", async () => {
    const changes = db.prepare("SELECT total_changes() AS n");
    const ws = ["a", "b", "c", "d"].map((v) => writer.write(insert(v)));
    const sync = await nextSync();
    expect(syncs).toHaveLength(0);
    sync.done(null);
    await Promise.all(ws);
    expect(rows()).toEqual(["a", "b", "c", "d"]);
    expect((changes.get() as { n: number }).n).toBe(4);
  });

  it("a failing write rolls back its own work only; the others in its transaction commit", async () => {
    const good1 = writer.write(insert("a"));
    const bad = later(
      writer.write(() => {
        insert("x")();
        throw new Error("rule blew up");
      }),
    );
    const dup = later(writer.write(insert("a"))); // a constraint error inside the shared transaction
    const good2 = writer.write(insert("b"));
    (await nextSync()).done(null);
    await expect(good1).resolves.toBeUndefined();
    await expect(good2).resolves.toBeUndefined();
    await expect(bad).rejects.toThrow("rule blew up");
    await expect(dup).rejects.toThrow(/UNIQUE/);
    expect(rows()).toEqual(["a", "b"]);
  });

  it("when SQLite aborts the whole transaction, the writes before fail with it and the ones after commit anew", async () => {
    const before = later(writer.write(insert("a")));
    const aborting = later(
      writer.write(() => {
        db.exec("ROLLBACK"); // what SQLite does itself on a full disk or an I/O error
        throw new Error("disk full");
      }),
    );
    const after = writer.write(insert("b"));
    (await nextSync()).done(null);
    await expect(before).rejects.toThrow("disk full");
    await expect(aborting).rejects.toThrow("disk full");
    await expect(after).resolves.toBeUndefined();
    expect(rows()).toEqual(["b"]);
  });

  it("when a transaction statement itself fails, the batch fails and the writer goes on with the next writes", async () => {
    const before = later(writer.write(insert("a")));
    const breaking = later(
      writer.write(() => {
        db.exec("RELEASE write"); // the writer's own savepoint is gone: its RELEASE and ROLLBACK TO fail
      }),
    );
    await expect(before).rejects.toThrow(/no such savepoint/);
    await expect(breaking).rejects.toThrow(/no such savepoint/);
    expect(db.inTransaction).toBe(false);
    const next = writer.write(insert("b"));
    (await nextSync()).done(null);
    await expect(next).resolves.toBeUndefined();
    expect(rows()).toEqual(["b"]);
  });

  it("a commit made while an fsync is in flight waits for the next fsync", async () => {
    const first = writer.write(insert("a"));
    const sync1 = await nextSync();
    const second = writer.write(insert("b"));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(rows()).toEqual(["a", "b"]); // the second transaction did not wait for the first fsync
    expect(syncs).toHaveLength(0); // one fsync at a time
    sync1.done(null);
    await first;
    expect(await settled(second)).toBe("pending");
    (await nextSync()).done(null);
    await expect(second).resolves.toBeUndefined();
  });

  it("a failed fsync fails what it covered and stops the writer for good", async () => {
    const w = later(writer.write(insert("a")));
    const err = Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
    (await nextSync()).done(err);
    await expect(w).rejects.toThrow("fsync of the SQLite WAL failed (EIO)");
    expect(() => writer.check()).toThrow(/must be restarted/);
    await expect(writer.write(insert("b"))).rejects.toThrow(/fsync of the SQLite WAL failed/);
  });

  it("syncs the WAL file itself", async () => {
    const w = writer.write(insert("a"));
    const sync = await nextSync();
    const { fstatSync, statSync } = await import("node:fs");
    expect(fstatSync(sync.fd).ino).toBe(statSync(join(dir, "db.sqlite-wal")).ino);
    sync.done(null);
    await w;
  });
});
