import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { type Lab, startAlertmanager, startLab } from "../kit/lab.js";
import { type ServiceProcess, spawnService } from "../kit/process.js";

/**
 * A real Prometheus 2.42 and Alertmanager 0.25 (Debian's packages, the lab in test/lab/)
 * drive a running alertdesk (its own process, bearer token on, the default rules) to tickets in the
 * built-in helpdesk. Everything on loopback; every process is stopped at the end, also on failure.
 */

const TOKEN = "e2e-webhook-token";
const PORT = 29095;
const BASE = 29090; // Prometheus 29090, Alertmanager 29093, node exporter 29100
const root = mkdtempSync(join(tmpdir(), "alertdesk-e2e-"));
const dataDir = join(root, "data");
const configFile = join(root, "alertdesk.yml");
const rulesDir = join(root, "rules");
let alertdesk: ServiceProcess | undefined;
let lab: Lab | undefined;
const extra: { stop(): Promise<void> }[] = [];

function startAlertdesk() {
  return spawnService({
    PORT: String(PORT),
    ALERTDESK_DATA_DIR: dataDir,
    ALERTDESK_WEBHOOK_TOKEN: TOKEN,
    ALERTDESK_CONFIG: configFile,
    ALERTDESK_RULES: rulesDir,
  });
}

beforeAll(async () => {
  writeFileSync(configFile, "delivery:\n  poll_interval: 100ms\n  lease: 2s\n  backoff_base: 200ms\n");
  // The default rules as shipped, with flap damping off: these scenarios re-fire one group on
  // purpose more often than its flap threshold, and assert plain reopen/solve cycles.
  mkdirSync(rulesDir);
  copyFileSync(new URL("../../rules/00-defaults.yaml", import.meta.url), join(rulesDir, "00-defaults.yaml"));
  writeFileSync(join(rulesDir, "99-e2e.yaml"), "defaults:\n  flap_threshold: 0\n");
  alertdesk = await startAlertdesk();
  lab = await startLab({ webhookUrl: `http://127.0.0.1:${PORT}/webhooks/alertmanager`, token: TOKEN, portBase: BASE, labDir: join(root, "lab") });
  // A first run installs the lab's packages; on a slow, busy machine every daemon starts slowly.
}, 1_200_000);

afterAll(async () => {
  for (const e of extra) await e.stop();
  await lab?.stop();
  await alertdesk?.kill();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

async function tickets(subject: RegExp): Promise<BuiltinTicket[]> {
  const res = await fetch(`http://127.0.0.1:${PORT}/api/tickets`).catch(() => undefined);
  if (!res?.ok) return [];
  return ((await res.json()) as { tickets: BuiltinTicket[] }).tickets.filter((t) => subject.test(t.subject)).sort((a, b) => a.id - b.id);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The one ticket matching `subject`, once `check` holds for it (and fails if there is ever more than one). */
async function ticketWhen(subject: RegExp, what: string, check: (t: BuiltinTicket) => boolean, timeoutMs?: number): Promise<BuiltinTicket> {
  return until(
    what,
    async () => {
      const list = await tickets(subject);
      expect(list.length, `tickets matching ${subject}`).toBeLessThanOrEqual(1);
      const [t] = list;
      return t && check(t) ? t : undefined;
    },
    timeoutMs,
  );
}

const SERVICE_DOWN = /^LabServiceDown/;

describe("LabServiceDown from the node exporter's textfile collector", () => {
  it("P1 ticket; a second service joins → one comment; both recover → solved; one fails again → the same ticket reopened", async () => {
    const l = lab as Lab;
    l.setServicesDown(["api"]);
    let t = await ticketWhen(SERVICE_DOWN, "the P1 ticket", () => true);
    expect(t).toMatchObject({ priority: "P1", status: "open", category: "function" });
    expect(t.body).toContain(`instance=127.0.0.1:${BASE + 10}, service=api`);
    expect(t.body).toContain(`Graph: http://`);

    l.setServicesDown(["api", "db"]);
    t = await ticketWhen(SERVICE_DOWN, "the join comment", (x) => x.comments.length >= 1);
    expect(t.comments[0]?.body).toContain("1 alert joined the incident");
    expect(t.comments[0]?.body).toContain("service=db");

    l.setServicesDown([]);
    t = await ticketWhen(SERVICE_DOWN, "the resolve", (x) => x.status === "solved");
    expect(t.comments.at(-1)?.body).toMatch(/^Resolved: all 2 alerts stopped firing\. The incident lasted \d+s/);

    l.setServicesDown(["api"]);
    t = await ticketWhen(SERVICE_DOWN, "the reopen", (x) => x.status === "open" && x.comments.some((c) => c.body.startsWith("Fired again")));
    expect((await tickets(SERVICE_DOWN)).map((x) => x.id)).toEqual([t.id]);
    l.setServicesDown([]);
    await ticketWhen(SERVICE_DOWN, "the second resolve", (x) => x.status === "solved");
  });
});

describe("alertdesk killed (kill -9) while Alertmanager keeps sending", () => {
  it("loses nothing and doubles nothing", async () => {
    const l = lab as Lab;
    const before = await ticketWhen(SERVICE_DOWN, "the ticket", () => true);
    await (alertdesk as ServiceProcess).kill("SIGKILL");
    // While alertdesk is down, a service fails: Alertmanager's webhook fails and is retried.
    l.setServicesDown(["cache"]);
    await new Promise((r) => setTimeout(r, 8000));
    alertdesk = await startAlertdesk();
    const t = await ticketWhen(SERVICE_DOWN, "the re-fire after the restart", (x) => x.status === "open" && x.comments.length > before.comments.length);
    expect(t.id).toBe(before.id);
    expect(t.comments.at(-1)?.body).toContain("service=cache");
    l.setServicesDown([]);
    const solved = await ticketWhen(SERVICE_DOWN, "the resolve after the restart", (x) => x.status === "solved" && x.comments.length > t.comments.length);
    const bodies = solved.comments.map((c) => c.body);
    expect(new Set(bodies).size, "no comment twice").toBe(bodies.length);
  });
});

describe("HostHighCpu at 87.5 % (the seed's example)", () => {
  it("one P2 performance ticket with the value, the instance and the Prometheus link; the CPU drops → solved with how long it lasted", async () => {
    const l = lab as Lab;
    // The lab's CPU gauge, not the machine's real CPU: other work on a busy machine cannot move it.
    l.setCpuUsage(87.5);
    const t = await ticketWhen(/^HostHighCpu/, "the CPU ticket", () => true, 180_000);
    expect(t).toMatchObject({ priority: "P2", category: "performance" });
    expect(t.body).toContain("value 87.5");
    expect(t.body).toContain("CPU usage on 127.0.0.1:");
    expect(t.body).toContain(`instance=127.0.0.1:${BASE + 10}`);
    expect(t.body).toMatch(/Graph: http:\/\/[^\s]+:29090\/graph\?g0\.expr=/);
    l.setCpuUsage(12);
    const solved = await ticketWhen(/^HostHighCpu/, "the CPU ticket to be solved", (x) => x.status === "solved", 180_000);
    expect(solved.comments.at(-1)?.body).toMatch(/The incident lasted \d+(m \d+)?s/);
  });
});

describe("two Alertmanagers for one Prometheus", () => {
  async function pointPrometheusAt(ports: number[]) {
    const l = lab as Lab;
    const text = l
      .prometheusConfig()
      .replace(/targets: \['127\.0\.0\.1:\d+'(, '127\.0\.0\.1:\d+')*\]/, `targets: [${ports.map((p) => `'127.0.0.1:${p}'`).join(", ")}]`);
    l.writePrometheusConfig(text);
    await l.reloadPrometheus();
    await until("Prometheus to use the Alertmanagers", async () => {
      const res = (await (await fetch(`${l.promUrl}/api/v1/alertmanagers`)).json()) as { data: { activeAlertmanagers: { url: string }[] } };
      return ports.every((p) => res.data.activeAlertmanagers.some((a) => a.url.includes(`:${p}/`))) && res.data.activeAlertmanagers.length === ports.length
        ? true
        : undefined;
    });
  }

  /** What an Alertmanager's own metrics say it sent to the webhook receiver. */
  async function webhookNotifications(port: number): Promise<{ sent: number; failed: number }> {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // Summed over the series of the webhook integration (later releases add a receiver label).
    const value = (name: string) =>
      [...text.matchAll(new RegExp(`^${name}\\{[^}]*integration="webhook"[^}]*\\} (\\d+)`, "gm"))].reduce((sum, m) => sum + Number(m[1]), 0);
    return { sent: value("alertmanager_notifications_total"), failed: value("alertmanager_notifications_failed_total") };
  }

  /**
   * One outage of `service` seen through the Alertmanagers on `ports`: alertdesk must keep one ticket,
   * reopened once and solved once. `every`: each Alertmanager notifies on its own (no gossip), so the
   * resolve waits until each has sent its firing copy; otherwise (an HA pair) one of them is enough.
   */
  async function cycle(service: string, ports: number[], every: boolean) {
    const l = lab as Lab;
    const before = (await tickets(SERVICE_DOWN))[0];
    const counts = () => Promise.all(ports.map((p) => webhookNotifications(p)));
    const start = await counts();
    const delta = (now: { sent: number; failed: number }[], key: "sent" | "failed") => now.map((n, i) => n[key] - (start[i]?.[key] ?? 0));
    l.setServicesDown([service]);
    const fired = await ticketWhen(
      SERVICE_DOWN,
      `${service} firing`,
      (x) => x.status === "open" && x.body.length > 0 && x.comments.length > (before?.comments.length ?? 0),
    );
    // An Alertmanager that still holds the group from an earlier outage waits out its group_interval
    // (5 s) first; an alert resolved before its first notification is never sent at all.
    await until(
      `the firing notification of ${every ? "each Alertmanager" : "the pair"}`,
      async () => {
        const sent = delta(await counts(), "sent");
        return (every ? sent.every((n) => n > 0) : sent.some((n) => n > 0)) ? true : undefined;
      },
      120_000,
    );
    l.setServicesDown([]);
    const solved = await ticketWhen(SERVICE_DOWN, `${service} resolved`, (x) => x.status === "solved" && x.comments.length > fired.comments.length);
    // Stale firing copies from the second Alertmanager arrive after the resolve: nothing may reopen.
    await new Promise((r) => setTimeout(r, 12_000));
    const after = (await tickets(SERVICE_DOWN))[0];
    expect(after?.status).toBe("solved");
    expect(after?.comments.length).toBe(solved.comments.length);
    expect(after?.id).toBe(before?.id);
    // Every notification was answered (the lab's own Alertmanager also counts the failures of the
    // kill -9 scenario, hence deltas).
    expect(delta(await counts(), "failed"), "failed notifications per Alertmanager").toEqual(ports.map(() => 0));
    return solved;
  }

  it("without gossip (every notification twice) and as an HA pair with gossip: one ticket, no stale reopen", async () => {
    // Without gossip: the lab's Alertmanager and a second one, each notifying alertdesk.
    extra.push(await startAlertmanager({ labDir: (lab as Lab).labDir, name: "solo2", port: BASE + 103 }));
    await pointPrometheusAt([BASE + 3, BASE + 103]);
    const t1 = await cycle("search", [BASE + 3, BASE + 103], true);
    // An HA pair gossiping on loopback replaces them.
    extra.push(await startAlertmanager({ labDir: (lab as Lab).labDir, name: "ha1", port: BASE + 203, clusterPort: BASE + 204, peers: [BASE + 304] }));
    extra.push(await startAlertmanager({ labDir: (lab as Lab).labDir, name: "ha2", port: BASE + 303, clusterPort: BASE + 304, peers: [BASE + 204] }));
    await pointPrometheusAt([BASE + 203, BASE + 303]);
    const t2 = await cycle("billing", [BASE + 203, BASE + 303], false);
    expect(t2.id).toBe(t1.id);
    expect(await tickets(SERVICE_DOWN)).toHaveLength(1);
  });
});
