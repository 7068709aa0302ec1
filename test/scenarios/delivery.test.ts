import { afterEach, describe, expect, it } from "vitest";
import type { HelpdeskConfig } from "../../src/drivers/registry.js";
import { type FaultProxy, startFaultProxy, status } from "../fakes/fault-proxy.js";
import { type FakeZendesk, startFakeZendesk } from "../fakes/zendesk.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * Delivery through the whole service to a (fake) Zendesk behind a fault proxy: routing by rule,
 * outages, 429 storms, dead letters and replay. Real clock, background worker, fast backoff.
 */

const RULES = `
rules:
  - name: cpu-high
    matchers: ['alertname="HostHighCpu"']
    when: value > 80
    priority: P2
    category: performance
    helpdesk: support
  - name: service-down
    matchers: ['alertname="LabServiceDown"']
    priority: P1
`;

let svc: TestService | undefined;
let zendesk: FakeZendesk | undefined;
let proxy: FaultProxy | undefined;
afterEach(async () => {
  await svc?.cleanup();
  await proxy?.close();
  await zendesk?.stop();
  svc = undefined;
  proxy = undefined;
  zendesk = undefined;
});

async function start(options: { rules?: string; defaultHelpdesk?: string; maxAttempts?: number } = {}) {
  zendesk = await startFakeZendesk();
  proxy = await startFaultProxy(zendesk.url);
  const support: HelpdeskConfig = {
    type: "zendesk",
    url: proxy.url,
    email: zendesk.email,
    token: zendesk.token,
    ticket_type: "incident",
    public_comments: false,
    timeout: 500,
  };
  svc = await startTestService({
    rules: options.rules ?? RULES,
    background: true,
    realClock: true,
    config: {
      helpdesks: { support },
      defaultHelpdesk: options.defaultHelpdesk ?? "builtin",
      delivery: { pollIntervalMs: 20, baseMs: 50, maxMs: 300, ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}) },
    },
  });
  return { svc, zendesk, proxy };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function settled(s: TestService) {
  return until("the outbox to drain", async () => ((await s.store.listDeliveries({ state: "pending", limit: 1 })).length === 0 ? true : undefined));
}

/**
 * Waits until a metric's text contains `series`, then asserts it. A read of the store can see a
 * completion as soon as it is committed; the worker counts it once the commit is on disk, a moment later.
 */
async function counted(s: TestService, metric: string, series: string) {
  const text = () => s.metrics.registry.getSingleMetricAsString(metric);
  await until(`${metric} to show ${series}`, async () => ((await text()).includes(series) ? true : undefined), 5_000).catch(() => undefined);
  expect(await text()).toContain(series);
}

describe("routing", () => {
  it("a rule's helpdesk: gets the ticket; other alerts go to the default helpdesk", async () => {
    const { svc, zendesk } = await start();
    await svc.replay("09-cpu-firing");
    await svc.replay("01-first-firing-single");
    await settled(svc);
    expect(zendesk.tickets.map((t) => [t.subject, t.priority])).toEqual([["HostHighCpu on 127.0.0.1:19100: High CPU usage on 127.0.0.1:19100", "high"]]);
    expect((await svc.tickets()).map((t) => t.subject)).toEqual(["LabServiceDown on 127.0.0.1:19100: Service api is down"]);
    await counted(svc, "alertdesk_tickets_total", 'helpdesk="support",action="opened"} 1');
    await counted(svc, "alertdesk_tickets_total", 'helpdesk="builtin",action="opened"} 1');
  });
});

describe("outages", () => {
  it("refused connections, then 503s, then timeouts: afterwards every ticket action arrives once, in order, updates coalesced", async () => {
    const { svc, zendesk, proxy } = await start({ defaultHelpdesk: "support" });
    proxy.armAll({ kind: "refuse" });
    await svc.replay("01-first-firing-single");
    await until("a refused attempt", () => proxy.requests.some((r) => r.status === "refused"));
    proxy.armAll(status(503));
    await svc.replay("04-group-gains-alert");
    await until("a 503", () => proxy.requests.some((r) => r.status === 503));
    proxy.armAll({ kind: "hang" });
    await svc.replay("05-partial-resolve");
    await until("a timed-out attempt", () => proxy.requests.some((r) => r.status === "dropped"));
    proxy.disarm();
    await settled(svc);
    expect(zendesk.tickets).toHaveLength(1);
    const [ticket] = zendesk.tickets;
    // The two updates queued during the outage went out as one comment after the create.
    expect(
      ticket?.comments.map((c) =>
        c.html_body
          .replace(/<[^>]+>/g, " ")
          .replace(/\s+/g, " ")
          .trim()
          .slice(0, 40),
      ),
    ).toEqual([expect.stringContaining("What is happening"), expect.stringContaining("1 alert joined the incident")]);
    expect(ticket?.comments[1]?.html_body).toContain("1 alert resolved");
    const deliveries = await svc.store.listDeliveries({ limit: 100 });
    expect(deliveries.map((d) => [d.op, d.state]).reverse()).toEqual([
      ["open", "done"],
      ["comment", "done"],
      ["comment", "coalesced"],
    ]);
    expect(await svc.metrics.registry.getSingleMetricAsString("alertdesk_delivery_failures_total")).toMatch(/helpdesk="support",reason="network"} [1-9]/);
  });

  it("a 429 storm: no request before Retry-After has passed, then everything delivered once", async () => {
    const { svc, zendesk, proxy } = await start({ defaultHelpdesk: "support" });
    proxy.arm(status(429, { "Retry-After": "1" }), { count: 3 });
    await svc.replay("01-first-firing-single");
    await svc.replay("09-cpu-firing");
    await settled(svc);
    const limited = proxy.requests.filter((r) => r.status === 429);
    expect(limited).toHaveLength(3);
    for (const l of limited) {
      const next = proxy.requests.find((r) => r.at > l.at && r.status !== 429);
      const anyBefore = proxy.requests.filter((r) => r.at > l.at && r.at < l.at + 990);
      expect(anyBefore, "a request arrived before Retry-After passed").toEqual([]);
      expect(next).toBeDefined();
    }
    expect(zendesk.tickets).toHaveLength(2);
    expect(new Set(zendesk.tickets.map((t) => t.external_id)).size).toBe(2);
  });

  it("a create whose answer is lost is looked up, not repeated: one ticket", async () => {
    const { svc, zendesk, proxy } = await start({ defaultHelpdesk: "support" });
    proxy.arm({ kind: "drop-after-forward" }, { method: "POST" });
    await svc.replay("01-first-firing-single");
    await settled(svc);
    expect(zendesk.tickets).toHaveLength(1);
    expect(proxy.requests.map((r) => `${r.method} ${r.status}`)).toEqual(["POST dropped", `GET 200`]);
    const [incident] = await svc.store.listIncidents({ limit: 1 });
    expect(incident?.ticket?.id).toBe("1");
  });
});

describe("dead letters", () => {
  it("a permanent error is a dead letter at once, visible with its incident, and replay delivers it", async () => {
    const { svc, zendesk, proxy } = await start({ defaultHelpdesk: "support" });
    proxy.arm(status(422, {}, { error: "RecordInvalid", description: "Record validation errors" }));
    await svc.replay("01-first-firing-single");
    const dead = await until("a dead letter", async () => {
      const res = (await (await svc.get("/api/deliveries?state=dead")).json()) as { deliveries: Record<string, unknown>[] };
      return res.deliveries[0];
    });
    expect(dead).toMatchObject({
      dedupKey: 'alertmanager receiver="bridge" {}/{}:{alertname="LabServiceDown"}',
      labels: { alertname: "LabServiceDown", service: "api" },
      helpdesk: "support",
      op: "open",
      state: "dead",
      attempts: 1,
      lastError: expect.stringContaining("[zendesk support] create ticket: 422"),
    });
    expect(JSON.stringify(dead)).not.toContain(zendesk.token);
    await counted(svc, "alertdesk_delivery_dead_letters_total", 'helpdesk="support"} 1');
    expect(zendesk.tickets).toHaveLength(0);

    const replayed = await svc.post("/api/deliveries/replay", JSON.stringify({ all: true }));
    expect(await replayed.json()).toEqual({ requeued: 1 });
    await settled(svc);
    expect(zendesk.tickets).toHaveLength(1);
    expect(await svc.post("/api/deliveries/replay", JSON.stringify({ ids: "x" }))).toHaveProperty("status", 400);
  });

  it("retries stop at max_attempts", async () => {
    const { svc, proxy } = await start({ defaultHelpdesk: "support", maxAttempts: 3 });
    proxy.armAll(status(500));
    await svc.replay("01-first-firing-single");
    const dead = await until("a dead letter", async () => (await svc.store.listDeliveries({ state: "dead", limit: 1 }))[0]);
    expect(dead.attempts).toBe(3);
    expect(proxy.requests.filter((r) => r.status === 500)).toHaveLength(3);
  });
});
