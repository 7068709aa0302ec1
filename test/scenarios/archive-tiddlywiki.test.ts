import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tiddlywikiConfigSchema } from "../../src/knowledge/tiddlywiki/driver.js";
import { alertmanagerNotification } from "../kit/notifications.js";
import { startTestService, type TestService } from "../kit/service.js";
import { startTiddlyWiki, type TiddlyWiki } from "../kit/tiddlywiki.js";

/**
 * A real knowledge base through the whole service: with `knowledge_base: {type: tiddlywiki}`, an
 * incident that is over is written to a real TiddlyWiki 5 (its own HTTP API, on loopback), and found
 * there again by its tags, with the agents' resolution in its text.
 */

const PORT = 26181;
const root = mkdtempSync(join(tmpdir(), "alertdesk-archive-tiddlywiki-"));
let wiki: TiddlyWiki;
let svc: TestService;

beforeAll(async () => {
  wiki = await startTiddlyWiki({ port: PORT, dir: join(root, "wiki"), username: "alertdesk", password: "wiki-secret-3f9a" });
  const knowledgeBase = tiddlywikiConfigSchema.parse({
    type: "tiddlywiki",
    url: wiki.url,
    username: "alertdesk",
    password: "wiki-secret-3f9a",
    timeout: "60s",
  });
  svc = await startTestService({ rules: "defaults:\n  archive_after: 1m\n", config: { knowledgeBase } });
}, 240_000);

afterAll(async () => {
  await svc?.cleanup();
  await wiki?.stop();
  rmSync(root, { recursive: true, force: true });
});

const T0 = "2026-11-25T06:00:00.000Z";
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000);

function memory(status: "firing" | "resolved"): string {
  return alertmanagerNotification(
    [
      {
        status,
        labels: { alertname: "HostOutOfMemory", instance: "cache-1", job: "node", service: "sessions" },
        annotations: { summary: "Memory almost exhausted on cache-1" },
        startsAt: T0,
        endsAt: status === "resolved" ? at(20).toISOString() : "0001-01-01T00:00:00Z",
        fingerprint: "mem-cache-1",
      },
    ],
    { groupLabels: { alertname: "HostOutOfMemory" } },
  );
}

describe("archive into a real TiddlyWiki", () => {
  it("the entry becomes a tiddler, found again by its tags, with the resolution and the review", async () => {
    svc.now = at(0);
    expect((await svc.post("/webhooks/alertmanager", memory("firing"))).status).toBe(200);
    await svc.sync();
    const [ticket] = await svc.tickets();
    svc.now = at(5);
    const noted = await svc.post(
      `/api/tickets/${ticket?.id}/comments`,
      JSON.stringify({ body: "Raised maxmemory and evicted stale sessions.", author: "carol", public: true }),
    );
    expect(noted.status).toBe(201);
    await svc.sync();
    svc.now = at(20);
    expect((await svc.post("/webhooks/alertmanager", memory("resolved"))).status).toBe(200);
    await svc.sync();
    svc.now = at(22);
    await svc.sync();

    const [entry] = await svc.store.searchArchive({ q: "maxmemory", limit: 5 });
    expect(entry?.title).toMatch(/^HostOutOfMemory on cache-1 — 2026-11-25 /);
    const found = await wiki.filter("[tag[alertname-hostoutofmemory]tag[service-sessions]]", { text: true });
    expect(found.map((t) => t.title)).toEqual([entry?.title]);
    const tiddler = found[0];
    expect(tiddler?.tags).toEqual(expect.arrayContaining(["alertdesk", "priority-p3", "job-node"]));
    expect(tiddler?.fields.incident_id).toBe(String(entry?.incidentId));
    expect(tiddler?.text).toContain("Raised maxmemory and evicted stale sessions.");
    expect(tiddler?.text).toContain("Why did it happen?");
    expect(entry?.externalUrl).toContain(`127.0.0.1:${PORT}/#`);
  });
});
