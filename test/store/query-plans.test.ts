import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/store/sqlite/migrations.js";

/**
 * Every statement the SQLite store prepares finds its rows through an index or the primary key:
 * the cost of a notification must not grow with the number of incidents or outbox rows
 * (the benchmark's "scale of state"). Reads the statements from the store's source, so a new
 * query is checked without being listed here.
 */

const source = ["store.ts", "sync.ts"].map((f) => readFileSync(new URL(`../../src/store/sqlite/${f}`, import.meta.url), "utf8")).join("\n");
// The writer's statements (db) and the read API's (reader): a page of a list must cost the same whatever the table's size.
const statements = [...source.matchAll(/(\w+): (?:db|reader)\.prepare(?:<(?:[^<>]|<[^<>]*>)*>)?\(\s*(?:\/\/[^\n]*\n\s*)*(`[^`]*`|"[^"]*")/g)].map((m) => ({
  name: m[1] as string,
  sql: (m[2] as string).slice(1, -1).replaceAll("${TICKET_COLUMNS}", "*"),
}));

function plan(db: Database.Database, sql: string): string[] {
  const explain = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const named = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1] as string))];
  const positional = (sql.match(/\?/g) ?? []).length;
  const rows = (named.length > 0 ? explain.all(Object.fromEntries(named.map((n) => [n, 1]))) : explain.all(...Array<number>(positional).fill(1))) as {
    detail: string;
  }[];
  return rows.map((r) => r.detail);
}

describe("SQLite query plans", () => {
  const db = new Database(":memory:");
  for (const sql of MIGRATIONS) db.exec(sql);

  it("finds the store's statements", () => {
    expect(statements.length).toBeGreaterThanOrEqual(20);
    expect(statements.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        "latest",
        "due",
        "nextDue",
        "following",
        "pruneFinished",
        "ticketByKey",
        "incidentSizes",
        "incidentSizesByState",
        "incidentSizesByKey",
        "deliveries",
        "deliveriesByState",
        "ticketSizes",
        "ticketSizesByStatus",
        "latestComments",
        "byTicket",
        "dueDoorbells",
        "dueVerifications",
        "activitySince",
      ]),
    );
  });

  it.each(statements.map((s) => [s.name, s.sql]))("%s never scans a whole table", (_name, sql) => {
    const details = plan(db, sql);
    // A scan of a subquery's result reads what the subquery produced (at most its LIMIT), no table.
    // helpdesk_sync holds one row per configured helpdesk: reading it whole costs the same at any scale.
    expect(details.filter((d) => /^SCAN /.test(d) && !/^SCAN \(subquery-\d+\)$/.test(d) && !/^SCAN helpdesk_sync\b/.test(d))).toEqual([]);
  });
});
