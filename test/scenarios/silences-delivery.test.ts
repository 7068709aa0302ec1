import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { type FaultProxy, startFaultProxy, status } from "../fakes/fault-proxy.js";
import { ensurePackages } from "../kit/apt.js";
import { portInUse } from "../kit/daemon.js";
import { type ExtraAlertmanager, startAlertmanager } from "../kit/lab.js";
import { alertmanagerNotification } from "../kit/notifications.js";
import { startTestService, type TestService } from "../kit/service.js";
import { until } from "../kit/until.js";

/**
 * Silences go through the outbox with the guarantees of ticket writes, against the real
 * Alertmanager 0.25 behind a fault proxy: a 5xx or a hang is retried, a 400 is a dead letter that a
 * replay delivers once fixed, and a retry never makes a second silence.
 */

const PORT = 25020; // clear of the other tests' ports (see test/alertmanagers/client.test.ts)
const root = mkdtempSync(join(tmpdir(), "alertdesk-silences-"));
let am: ExtraAlertmanager | undefined;
let proxy: FaultProxy;
let s: TestService;

beforeAll(async () => {
  await ensurePackages(["prometheus-alertmanager"], { commands: { "prometheus-alertmanager": "prometheus-alertmanager" } });
  if (await portInUse(PORT)) throw new Error(`127.0.0.1:${PORT} is already in use`);
  mkdirSync(join(root, "config"), { recursive: true });
  writeFileSync(join(root, "config", "alertmanager.yml"), "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n");
  am = await startAlertmanager({ labDir: root, name: "outbox", port: PORT });
  proxy = await startFaultProxy(am.url);
  s = await startTestService({
    rules: "defaults:\n  silence_on_wont_fix: 1h\n",
    background: true,
    realClock: true,
    config: {
      alertmanagers: [{ name: "lab", url: proxy.url, api: "alertmanager", timeout: 1000 }],
      delivery: { pollIntervalMs: 20, baseMs: 50, maxMs: 300 },
    },
  });
}, 900_000);

afterAll(async () => {
  await s?.cleanup();
  await proxy?.close();
  await am?.stop();
  rmSync(root, { recursive: true, force: true });
});

let group = 0;
/** A fresh incident with a built-in ticket. */
async function incident(): Promise<BuiltinTicket> {
  const name = `SilenceMe${++group}`;
  const labels = { alertname: name, instance: "web-1:9100" };
  const body = alertmanagerNotification([{ labels, startsAt: new Date().toISOString(), generatorURL: "", fingerprint: `fp-${name}` }], {
    groupLabels: { alertname: name },
    externalURL: "http://am",
  });
  expect((await s.post("/webhooks/alertmanager", body)).status).toBe(200);
  return until("the ticket", async () => (await s.tickets()).find((t) => t.subject.includes(name)));
}

interface AmSilence {
  id: string;
  status: { state: string };
  createdBy: string;
  comment: string;
  matchers: { name: string; value: string; isEqual: boolean; isRegex: boolean }[];
}
const silencesOf = async (key: string) =>
  ((await (await fetch(`${am?.url}/api/v2/silences`)).json()) as AmSilence[]).filter((x) => x.comment.includes(key) && x.status.state === "active");
const wontFix = (t: BuiltinTicket) => s.send("PATCH", `/api/tickets/${t.id}`, { status: "solved", resolution: "wont_fix", author: "alice" });
const silenceRow = async () => (await s.store.listDeliveries({ limit: 50 })).find((d) => d.op === "silence");

describe("silences through the outbox, against the real Alertmanager 0.25", () => {
  it("a 503 and a hang are retried; the silence is made once, with the incident's labels and the ticket's key", async () => {
    proxy.disarm();
    const t = await incident();
    proxy.arm(status(503, { "Retry-After": "1" }), { count: 1 });
    proxy.arm({ kind: "hang" }, { count: 1 });
    expect((await wontFix(t)).status).toBe(200);
    const [made] = await until("the silence", async () => {
      const found = await silencesOf(t.key);
      return found.length > 0 ? found : undefined;
    });
    expect(made).toMatchObject({
      createdBy: "alertdesk",
      matchers: [{ name: "alertname", value: t.subject.includes("SilenceMe") ? expect.any(String) : "", isEqual: true, isRegex: false }],
    });
    expect(made?.comment).toContain(`alertdesk ticket ${t.key}`);
    await until("the row done", async () => (await silenceRow())?.state === "done" || undefined);
    expect(((await silenceRow())?.attempts ?? 0) >= 2).toBe(true);
    expect(await silencesOf(t.key)).toHaveLength(1);
  });

  it("a 400 is a dead letter, kept with the error; after a replay it is delivered", async () => {
    proxy.disarm();
    const t = await incident();
    proxy.arm(status(400, {}, "bad matcher"), { count: 1, method: "POST", path: /silences/ });
    expect((await wontFix(t)).status).toBe(200);
    const dead = await until("the dead letter", async () => (await s.store.listDeliveries({ state: "dead", limit: 50 })).find((d) => d.op === "silence"));
    expect(dead.lastError).toMatch(/400/);
    expect(await silencesOf(t.key)).toEqual([]);
    const replay = await s.post("/api/deliveries/replay", JSON.stringify({ ids: [dead.id] }));
    expect(replay.status).toBe(200);
    await until("the silence after the replay", async () => ((await silencesOf(t.key)).length === 1 ? true : undefined));
  });
});
