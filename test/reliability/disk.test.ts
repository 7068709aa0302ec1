import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The SQLite store on a disk that fills up: webhooks answer 503 (so Alertmanager retries), nothing
 * half-written stays behind, and it recovers when space returns. The disk is a small tmpfs mounted
 * for the test (the suite runs as root). A disk turning read-only under an open database cannot be
 * produced here (the kernel refuses to remount a filesystem with files open for writing, and root
 * ignores permissions): docs/reliability.md says so.
 */

const run = promisify(execFile);
const mountPoint = mkdtempSync(join(tmpdir(), "alertdesk-tinyfs-"));
let svc: TestService | undefined;

beforeAll(async () => {
  await run("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]);
});
afterAll(async () => {
  await svc?.cleanup().catch(() => {});
  await run("umount", ["-l", mountPoint]).catch(() => {});
  rmSync(mountPoint, { recursive: true, force: true });
});

let n = 0;
/** A new group each time, with a large annotation so every commit needs fresh pages. */
function notification(): string {
  n++;
  return JSON.stringify({
    status: "firing",
    alerts: [
      {
        status: "firing",
        labels: { alertname: `Disk${n}`, instance: "a" },
        annotations: { description: "x".repeat(64 * 1024) },
        startsAt: "2026-11-25T06:00:00Z",
      },
    ],
    groupLabels: { alertname: `Disk${n}` },
  });
}

async function state(s: TestService) {
  const incidents = await s.store.listIncidents({ limit: 100_000 });
  const deliveries = await s.store.listDeliveries({ limit: 100_000 });
  // Every incident has its open in the outbox, and every outbox row its incident: nothing half-written.
  for (const i of incidents)
    expect(
      deliveries.some((d) => d.incidentId === i.id && d.op === "open"),
      `open of ${i.dedupKey}`,
    ).toBe(true);
  return { incidents: incidents.length, deliveries: deliveries.length };
}

describe("SQLite on a troubled disk", () => {
  it("a full disk: 503 and no partial state while full; everything works again when space returns", async () => {
    mkdirSync(join(mountPoint, "data"));
    svc = await startTestService({ dataDir: join(mountPoint, "data"), rules: "rules:\n  - name: all\n    priority: P3\n" });
    const s = svc;
    expect((await s.post("/webhooks/alertmanager", notification())).status).toBe(200);
    // Fill the disk.
    const filler = join(mountPoint, "filler");
    try {
      writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
    } catch {
      // ENOSPC: the disk is full now, which is the point.
    }
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = await state(s);
      const res = await s.post("/webhooks/alertmanager", notification());
      statuses.push(res.status);
      if (res.status !== 200) {
        expect(res.status).toBe(503);
        expect(await state(s)).toEqual(before);
      }
    }
    expect(statuses).toContain(503);
    rmSync(filler, { force: true });
    const after = await s.post("/webhooks/alertmanager", notification());
    expect(after.status).toBe(200);
    await s.deliverAll();
    const stored = await state(s);
    expect((await s.tickets()).length).toBe(stored.incidents);
  });
});
