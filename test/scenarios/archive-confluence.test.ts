import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { confluenceConfigSchema } from "../../src/knowledge/confluence/driver.js";
import { type FakeConfluence, startFakeConfluence } from "../fakes/confluence.js";
import { type FaultProxy, startFaultProxy } from "../fakes/fault-proxy.js";
import { alertmanagerNotification } from "../kit/notifications.js";
import { type ServiceProcess, spawnService } from "../kit/process.js";
import { startTestService, type TestService } from "../kit/service.js";
import { until } from "../kit/until.js";

/**
 * The archive into an external knowledge base (the Confluence fake), through the whole service: the
 * entry is in the built-in archive and becomes one page (title, labels, body), also when Confluence
 * created the page and still answered an error, and across a kill -9 while the create was in flight.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const T0 = "2026-11-25T06:00:00.000Z";
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000);

function disk(instance: string, status: "firing" | "resolved", startsAt = T0): string {
  return alertmanagerNotification(
    [
      {
        status,
        labels: { alertname: "HostDiskFull", instance, job: "node", service: "billing" },
        annotations: { summary: `Disk /var almost full on ${instance}` },
        startsAt,
        fingerprint: `disk-${instance}`,
      },
    ],
    { groupLabels: { alertname: "HostDiskFull", instance } },
  );
}

async function fake(): Promise<FakeConfluence> {
  const f = await startFakeConfluence({ api: "cloud" });
  cleanups.push(() => f.stop());
  return f;
}

async function service(f: FakeConfluence, url = f.url): Promise<TestService> {
  const knowledgeBase = confluenceConfigSchema.parse({ type: "confluence", url, space: "OPS", email: f.email, token: f.token, timeout: "2s" });
  const s = await startTestService({ rules: "defaults:\n  archive_after: 1m\n", config: { knowledgeBase } });
  cleanups.push(() => s.cleanup());
  return s;
}

async function endIncident(s: TestService, instance: string) {
  s.now = at(0);
  expect((await s.post("/webhooks/alertmanager", disk(instance, "firing"))).status).toBe(200);
  await s.sync();
  s.now = at(10);
  expect((await s.post("/webhooks/alertmanager", disk(instance, "resolved"))).status).toBe(200);
  await s.sync();
  s.now = at(12);
  await s.sync();
}

describe("archive into Confluence (fake)", () => {
  it("an incident that is over becomes one page with its title, body and labels; the entry records where", async () => {
    const f = await fake();
    const s = await service(f);
    await endIncident(s, "db-1");
    const [entry] = await s.store.searchArchive({ q: "db-1", limit: 5 });
    expect(entry).toBeDefined();
    const pages = f.pages.filter((p) => p.title === entry?.title);
    expect(pages).toHaveLength(1);
    const page = pages[0];
    expect(page?.spaceKey).toBe("OPS");
    expect(page?.labels).toEqual(
      expect.arrayContaining([
        "alertdesk",
        "alertname-hostdiskfull",
        "service-billing",
        "job-node",
        "priority-p3",
        "category-function",
        "outcome-resolved-by-itself",
      ]),
    );
    expect(page?.body).toContain("Disk /var almost full on db-1");
    expect(page?.body).toContain("Why did it happen?");
    expect(entry?.externalUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/wiki\//);
    // Later rounds write nothing again.
    const writes = f.requests.filter((r) => r.method !== "GET").length;
    s.now = at(30);
    await s.sync();
    expect(f.requests.filter((r) => r.method !== "GET").length).toBe(writes);
  });

  it("Confluence created the page and still answered an error: the retry finds it, one page", async () => {
    const f = await fake();
    const s = await service(f);
    f.createdButErrored(1);
    await endIncident(s, "db-2");
    const [entry] = await s.store.searchArchive({ q: "db-2", limit: 5 });
    const failed = (await s.store.listDeliveries({ limit: 100 })).find((d) => d.op === "archive");
    expect(failed?.state).toBe("pending");
    expect(failed?.lastError).toMatch(/500/);
    // The retry, once its backoff passed.
    s.now = at(20);
    await s.deliverAll();
    expect(f.pages.filter((p) => p.title === entry?.title)).toHaveLength(1);
    expect((await s.store.listDeliveries({ limit: 100 })).find((d) => d.op === "archive")?.state).toBe("done");
  });

  it("kill -9 while the create is in flight: after the restart, exactly one entry and one page", async () => {
    const f = await fake();
    const proxy: FaultProxy = await startFaultProxy(f.url);
    cleanups.push(() => proxy.close());
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-archive-crash-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "rules.yaml"), "defaults:\n  archive_after: 1s\n");
    writeFileSync(
      join(dir, "config.yaml"),
      [
        "knowledge_base:",
        "  type: confluence",
        `  url: ${proxy.url}`,
        "  space: OPS",
        `  email: ${f.email}`,
        `  token: ${f.token}`,
        "  timeout: 60s",
        "delivery:",
        "  lease: 3s",
        "",
      ].join("\n"),
    );
    const env = { ALERTDESK_DATA_DIR: join(dir, "data"), ALERTDESK_RULES: join(dir, "rules.yaml"), ALERTDESK_CONFIG: join(dir, "config.yaml") };
    const processes: ServiceProcess[] = [];
    cleanups.push(async () => {
      for (const p of processes) await p.kill();
    });
    let p = await spawnService(env);
    processes.push(p);
    // Every create of a page reaches Confluence and its answer never comes back, until the proxy is disarmed.
    proxy.arm({ kind: "drop-after-forward" }, { method: "POST", path: /\/wiki\/api\/v2\/pages/, count: 1000 });
    const started = new Date().toISOString();
    const json = { "content-type": "application/json" };
    expect((await fetch(`${p.url}/webhooks/alertmanager`, { method: "POST", headers: json, body: disk("db-9", "firing", started) })).status).toBe(200);
    expect((await fetch(`${p.url}/webhooks/alertmanager`, { method: "POST", headers: json, body: disk("db-9", "resolved", started) })).status).toBe(200);
    await until("the page created, its answer lost", async () => (f.pages.some((pg) => pg.title.includes("db-9")) ? true : undefined));
    await p.kill("SIGKILL");
    proxy.disarm();

    p = await spawnService(env);
    processes.push(p);
    const done = await until("the archive delivered after the restart", async () => {
      const res = await fetch(`${p.url}/api/deliveries?limit=100`);
      const list = ((await res.json()) as { deliveries: { op: string; state: string }[] }).deliveries;
      return list.some((d) => d.op === "archive" && d.state === "done") ? list : undefined;
    });
    expect(done.filter((d) => d.op === "archive")).toHaveLength(1);
    const entries = ((await (await fetch(`${p.url}/api/kb?q=db-9`)).json()) as { entries: { title: string; externalUrl: string | null }[] }).entries;
    expect(entries).toHaveLength(1);
    expect(f.pages.filter((pg) => pg.title === entries[0]?.title)).toHaveLength(1);
    expect(entries[0]?.externalUrl).toBeTruthy();
  }, 300_000);
});
