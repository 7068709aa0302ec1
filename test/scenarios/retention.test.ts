import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The outbox does not grow for ever: delivered rows older than delivery.retention are deleted;
 * incidents, tickets and dead letters stay.
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

describe("outbox retention", () => {
  it("delivery.retention is read from the config file", () => {
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-retention-"));
    try {
      const file = join(dir, "alertdesk.yml");
      writeFileSync(file, "delivery:\n  retention: 14d\n");
      expect(loadServiceConfig({ ALERTDESK_CONFIG: file }).delivery.retentionMs).toBe(14 * 86_400_000);
      writeFileSync(file, "delivery:\n  retention: forever\n");
      expect(() => loadServiceConfig({ ALERTDESK_CONFIG: file })).toThrow(/delivery\.retention: must be a duration/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("deletes delivered rows once they are older than the retention, and counts them", async () => {
    svc = await startTestService({ config: { delivery: { pollIntervalMs: 50, retentionMs: 3_600_000 } } });
    await svc.replay("09-cpu-firing");
    await svc.replay("11-cpu-resolved");
    const deliveries = async (query = "") =>
      ((await (await (svc as TestService).get(`/api/deliveries${query}`)).json()) as { deliveries: { op: string }[] }).deliveries;
    expect((await deliveries("?state=done")).map((d) => d.op).sort()).toEqual(["open", "resolve"]);

    expect(await svc.worker.prune()).toBe(0); // just delivered: kept
    svc.now = new Date(svc.now.getTime() + 2 * 3_600_000);
    expect(await svc.worker.prune()).toBe(2);

    expect(await deliveries()).toEqual([]);
    const [ticket] = await svc.tickets();
    expect(ticket?.status).toBe("solved"); // the ticket and its incident stay
    const [incident] = ((await (await svc.get("/api/incidents")).json()) as { incidents: { ticket: unknown }[] }).incidents;
    expect(incident?.ticket).toMatchObject({ id: String(ticket?.id) });
    expect(await (await svc.get("/metrics")).text()).toMatch(/^alertdesk_outbox_pruned_total 2$/m);
  });
});
