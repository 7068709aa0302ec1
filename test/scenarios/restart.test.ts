import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { type ServiceProcess, spawnService } from "../kit/process.js";
import { fixture, startTestService } from "../kit/service.js";

/** Restarts on the same data directory: graceful, and kill -9 in the middle of traffic. */

const dirs: string[] = [];
const processes: ServiceProcess[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "alertdesk-restart-"));
  dirs.push(d);
  return d;
}

describe("graceful restart on the same data directory", () => {
  it("an acknowledged notification whose ticket was not yet delivered is delivered after the restart, once", async () => {
    const dataDir = tempDir();
    let svc = await startTestService({ dataDir });
    expect((await svc.post("/webhooks/alertmanager", fixture("01-first-firing-single").body)).status).toBe(200);
    await svc.cleanup(); // stopped before the worker ran
    svc = await startTestService({ dataDir });
    expect(await svc.tickets()).toHaveLength(0);
    await svc.deliverAll();
    expect(await svc.tickets()).toHaveLength(1);
    // The repeat after the restart is still recognised as a repeat.
    await svc.replay("03-repeat-unchanged");
    await svc.replay("01-first-firing-single");
    expect(await svc.tickets()).toHaveLength(1);
    expect((await svc.store.listDeliveries({ limit: 100 })).map((d) => d.state)).toEqual(["done"]);
    await svc.cleanup();
  });
});

/** One Alertmanager-shaped notification for group `g`, every alert firing or resolved. */
function notification(g: number, status: "firing" | "resolved", startsAt: string, endsAt: string): string {
  const labels = { alertname: "CrashTest", group: `g${g}`, instance: `host-${g}:9100`, severity: "critical" };
  return JSON.stringify({
    receiver: "alertdesk",
    status,
    alerts: [{ status, labels, annotations: { summary: `group ${g}` }, startsAt, endsAt, generatorURL: "http://prom/graph", fingerprint: `fp${g}` }],
    groupLabels: { alertname: "CrashTest", group: `g${g}` },
    commonLabels: labels,
    commonAnnotations: {},
    externalURL: "http://am",
    version: "4",
    groupKey: `{}:{group="g${g}"}`,
    truncatedAlerts: 0,
  });
}

/** Posts every body concurrently; returns which were acknowledged (2xx) before anything went wrong. */
async function postAll(url: string, token: string, bodies: string[], killAfterAcks: number, kill: () => Promise<void>) {
  let acks = 0;
  let killing: Promise<void> | undefined;
  const results = await Promise.all(
    bodies.map(async (body) => {
      try {
        const res = await fetch(`${url}/webhooks/alertmanager`, {
          method: "POST",
          body,
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        });
        const ok = res.status === 200;
        if (ok && ++acks === killAfterAcks) killing = kill();
        return ok;
      } catch {
        return false; // connection reset by the kill: not acknowledged, Alertmanager would retry
      }
    }),
  );
  await killing;
  return results;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Real processes on a possibly slow, busy machine: three starts (up to 2 min each) and a wait.
describe("kill -9 while Alertmanager keeps sending", { timeout: 480_000 }, () => {
  it("loses nothing and duplicates nothing", async () => {
    const dataDir = tempDir();
    const token = "crash-test-token";
    const config = join(dataDir, "alertdesk.yml");
    // A short lease, so the claims of a killed process are picked up again within the test.
    writeFileSync(config, "delivery:\n  lease: 2s\n  poll_interval: 100ms\n  backoff_base: 100ms\n");
    const env = { ALERTDESK_DATA_DIR: dataDir, ALERTDESK_WEBHOOK_TOKEN: token, ALERTDESK_CONFIG: config };
    const groups = 30;
    const started = new Date(Date.now() - 60_000).toISOString();
    const firing = Array.from({ length: groups }, (_, g) => notification(g, "firing", started, "0001-01-01T00:00:00Z"));
    const resolvedGroups = Array.from({ length: groups / 2 }, (_, i) => i * 2);
    const resolved = resolvedGroups.map((g) => notification(g, "resolved", started, new Date().toISOString()));

    // Round 1: every group fires; killed after a third of them were acknowledged.
    let p = await spawnService(env);
    processes.push(p);
    const acked1 = await postAll(p.url, token, firing, groups / 3, () => p.kill());
    expect(acked1.filter(Boolean).length).toBeGreaterThanOrEqual(groups / 3);

    // Round 2: Alertmanager re-sends every group (repeat_interval), then half of them resolve; killed
    // after five resolves were acknowledged. Like Alertmanager, one group's notifications go in order.
    p = await spawnService(env);
    processes.push(p);
    const never = async () => {};
    expect((await postAll(p.url, token, firing, Number.POSITIVE_INFINITY, never)).every(Boolean)).toBe(true);
    await postAll(p.url, token, resolved, 5, () => p.kill());

    // Round 3: Alertmanager retries everything it has not seen acknowledged; this time nobody interrupts.
    p = await spawnService(env);
    processes.push(p);
    expect((await postAll(p.url, token, firing, Number.POSITIVE_INFINITY, never)).every(Boolean)).toBe(true);
    expect((await postAll(p.url, token, resolved, Number.POSITIVE_INFINITY, never)).every(Boolean)).toBe(true);
    const tickets = await waitFor("every delivery to finish", async () => {
      const pending = (await (await fetch(`${p.url}/api/deliveries?state=pending`)).json()) as { deliveries: unknown[] };
      if (pending.deliveries.length > 0) return undefined;
      return ((await (await fetch(`${p.url}/api/tickets`)).json()) as { tickets: BuiltinTicket[] }).tickets;
    });

    expect(tickets).toHaveLength(groups);
    expect(new Set(tickets.map((t) => t.subject)).size).toBe(groups);
    const dead = (await (await fetch(`${p.url}/api/deliveries?state=dead`)).json()) as { deliveries: unknown[] };
    expect(dead.deliveries).toEqual([]);
    for (const t of tickets) {
      const g = Number(/group (\d+)/.exec(t.subject)?.[1]);
      if (resolvedGroups.includes(g)) {
        expect({ g, status: t.status, comments: t.comments.length }).toEqual({ g, status: "solved", comments: 1 });
        expect(t.comments[0]?.body).toContain("Resolved: all 1 alert stopped firing");
      } else {
        expect({ g, status: t.status, comments: t.comments.length }).toEqual({ g, status: "open", comments: 0 });
      }
    }
  });
});

describe("signals", { timeout: 240_000 }, () => {
  it("SIGHUP reloads the rules of a running alertdesk; SIGTERM stops it cleanly", async () => {
    const dataDir = tempDir();
    const rules = join(dataDir, "rules.yaml");
    writeFileSync(rules, "rules:\n  - name: first\n");
    writeFileSync(join(dataDir, "alertdesk.yml"), "rules_watch: false\n");
    const p = await spawnService({ ALERTDESK_DATA_DIR: dataDir, ALERTDESK_RULES: rules, ALERTDESK_CONFIG: join(dataDir, "alertdesk.yml") });
    processes.push(p);
    const names = async () => ((await (await fetch(`${p.url}/api/rules`)).json()) as { rules: { name: string }[] }).rules.map((r) => r.name);
    expect(await names()).toEqual(["first"]);
    writeFileSync(rules, "rules:\n  - name: second\n");
    process.kill(p.pid, "SIGHUP");
    await waitFor("the reload", async () => ((await names()).includes("second") ? true : undefined));
    await p.kill("SIGTERM");
    expect(p.output.join("")).toContain('"msg":"alertdesk stopped"');
  });
});
