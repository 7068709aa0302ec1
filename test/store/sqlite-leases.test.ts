import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Incident } from "../../src/model/incident.js";
import { createSqliteStore } from "../../src/store/sqlite/store.js";
import type { Store } from "../../src/store/types.js";

/** After a kill -9, the restarted process delivers what the dead one had claimed at once, not after the lease. */

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function incident(): Incident {
  const at = "2026-12-01T10:00:00.000Z";
  return {
    dedupKey: '{alertname="Lease"}',
    seq: 1,
    ticketKey: "ad-lease-1",
    state: "firing",
    priority: "P2",
    category: "function",
    rule: null,
    helpdesk: "builtin",
    onResolved: "solve",
    reopenWithinMs: 3_600_000,
    source: "alertmanager",
    receiver: "r",
    groupLabels: {},
    externalURL: "",
    truncatedAlerts: 0,
    alerts: [],
    openedAt: at,
    updatedAt: at,
    dueAt: at,
    recurrences: 0,
  };
}

/** A pid that is certainly dead: a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", "0"]).pid as number;
}

describe("SQLite leases after a crash", () => {
  it("the next owner releases the leases of a dead owner; a live owner's store is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-lease-"));
    dirs.push(dir);
    const path = join(dir, "alertdesk.db");
    const now = new Date("2026-12-01T10:00:00Z");
    const first = createSqliteStore({ path, owner: true });
    stores.push(first);
    await first.transaction(async (tx) => {
      const id = await tx.insertIncident(incident());
      await tx.enqueue(id, [{ helpdesk: "builtin", operation: { op: "comment", body: [] } }], now);
    });
    expect(await first.claimDue(now, 10, 60_000)).toHaveLength(1); // leased for a minute
    expect(await first.claimDue(now, 10, 60_000)).toHaveLength(0);
    await first.close(); // its data stays as a kill -9 leaves it: the row still leased
    stores.splice(0);
    writeFileSync(`${path}.pid`, `${deadPid()}\n`); // and the pid of a process that is gone

    const second = createSqliteStore({ path, owner: true });
    stores.push(second);
    const claimed = await second.claimDue(now, 10, 60_000);
    expect(claimed.map((r) => r.attempts)).toEqual([2]); // at once, not 60 s later; the attempt counted

    // A CLI (replay) is not an owner: it opens the store beside the running service and touches no lease.
    const cli = createSqliteStore({ path });
    stores.push(cli);
    expect(await second.claimDue(now, 10, 60_000)).toHaveLength(0);
  });

  it("refuses a data directory that a live alertdesk serves", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-lease-"));
    dirs.push(dir);
    const path = join(dir, "alertdesk.db");
    // A live process whose command line names alertdesk, as the serving one's does.
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "alertdesk-serve-stand-in"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 200));
      writeFileSync(`${path}.pid`, `${other.pid}\n`);
      expect(() => createSqliteStore({ path, owner: true })).toThrow(`another alertdesk (pid ${other.pid}) serves ${path}`);
    } finally {
      other.kill("SIGKILL");
    }
  });
});
