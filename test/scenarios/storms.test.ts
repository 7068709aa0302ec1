import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { HelpdeskConfig } from "../../src/drivers/registry.js";
import { type FakeZendesk, startFakeZendesk } from "../fakes/zendesk.js";
import { alertmanagerNotification } from "../kit/notifications.js";
import { startTestService, type TestService } from "../kit/service.js";
import { until } from "../kit/until.js";

/**
 * Storms at a rate-limited Zendesk (docs/reliability.md "Delivery order"): a P1 open overtakes a
 * backlog of P3 opens instead of waiting behind it (and waits behind it with `delivery.order:
 * oldest`), and a ticket that used up its update budget gets its queued comments as one, never a 429.
 * The assertions are about order and counts, never about how long anything took.
 */

const RULES = `
rules:
  - name: down
    matchers: ['alertname="ServiceDown"']
    priority: P1
  - name: the-rest
    matchers: ['alertname=~".+"']
    priority: P3
`;

let svc: TestService | undefined;
let zendesk: FakeZendesk | undefined;
afterEach(async () => {
  await svc?.cleanup();
  await zendesk?.stop();
  svc = undefined;
  zendesk = undefined;
});

async function start(helpdesk: Partial<HelpdeskConfig>, order?: "priority" | "oldest") {
  zendesk = await startFakeZendesk();
  const support = {
    type: "zendesk",
    url: zendesk.url,
    email: zendesk.email,
    token: zendesk.token,
    ticket_type: "incident",
    public_comments: false,
    ...helpdesk,
  } as HelpdeskConfig;
  svc = await startTestService({
    rules: RULES,
    background: true,
    realClock: true,
    config: {
      helpdesks: { support },
      defaultHelpdesk: "support",
      delivery: { pollIntervalMs: 50, baseMs: 50, maxMs: 300, ...(order ? { order } : {}) },
    },
  });
  return { svc, zendesk };
}

const startsAt = new Date(Date.now() - 60_000).toISOString();
const group = (alertname: string, instances: string[]) =>
  alertmanagerNotification(
    instances.map((instance) => ({ labels: { alertname, instance }, startsAt })),
    { groupLabels: { alertname } },
  );

async function stormThenP1(order?: "priority" | "oldest"): Promise<number> {
  const { svc, zendesk } = await start({ rate_limit: "3/s" }, order);
  const backlog = 24;
  // Every P3 group's webhook is acknowledged (committed) before the P1 one is sent.
  const answers = await Promise.all(Array.from({ length: backlog }, (_, g) => svc.post("/webhooks/alertmanager", group(`Busy${g}`, ["a"]))));
  expect(answers.map((r) => r.status)).toEqual(Array(backlog).fill(200));
  expect((await svc.post("/webhooks/alertmanager", group("ServiceDown", ["db-1"]))).status).toBe(200);
  const p1 = await until("the P1 ticket", async () => zendesk.tickets.find((t) => t.subject.includes("ServiceDown")), { timeoutMs: 120_000 });
  const before = zendesk.tickets.filter((t) => t.id < p1.id).length;
  process.stderr.write(`[storms.test] order ${order ?? "priority"}: ${before} of ${backlog} P3 tickets before the P1's\n`);
  await until("every ticket", async () => zendesk.tickets.length === backlog + 1 || undefined, { timeoutMs: 120_000 });
  expect(zendesk.rateLimited).toBe(0);
  expect(new Set(zendesk.tickets.map((t) => t.external_id)).size).toBe(backlog + 1);
  return before;
}

describe("priority under a rate limit", () => {
  it("a P1 open overtakes a backlog of P3 opens", async () => {
    // At 3 requests/s the 24 opens take 8 s; the P1 goes with the next slot or two, so at most the
    // opens already sent or in hand (the limiter holds 2 s of requests) come before it.
    const before = await stormThenP1();
    expect(before).toBeLessThanOrEqual(12);
  }, 180_000);

  it("with delivery.order: oldest, the P1 open waits behind the whole backlog", async () => {
    expect(await stormThenP1("oldest")).toBe(24);
  }, 180_000);
});

describe("per-ticket update budget", () => {
  it("comments over a ticket's budget wait and go out as one: nothing dropped, no 429", async () => {
    const { svc, zendesk } = await start({ ticket_update_budget: { updates: 3, per: 4_000 } });
    zendesk.ticketUpdateLimit = { updates: 3, windowMs: 4_000 };
    const instances: string[] = [];
    expect((await svc.post("/webhooks/alertmanager", group("DiskBusy", ["disk-0"]))).status).toBe(200);
    instances.push("disk-0");
    const ticket = await until("the ticket", async () => zendesk.tickets[0], { timeoutMs: 60_000 });
    // Nine changes, each one more alert joining: nine comments queued for one ticket, one after another.
    for (let n = 1; n <= 9; n++) {
      instances.push(`disk-${n}`);
      expect((await svc.post("/webhooks/alertmanager", group("DiskBusy", instances))).status).toBe(200);
      await until(`change ${n} delivered or queued`, async () => (await svc.store.listDeliveries({ limit: 100 })).length >= n + 1 || undefined);
    }
    await until("every alert named on the ticket", async () => instances.every((i) => ticket.comments.some((c) => c.html_body.includes(i))) || undefined, {
      timeoutMs: 60_000,
    });
    await until("the outbox to drain", async () => ((await svc.store.listDeliveries({ state: "pending", limit: 1 })).length === 0 ? true : undefined), {
      timeoutMs: 60_000,
    });
    expect(zendesk.rateLimited).toBe(0);
    const deliveries = await svc.store.listDeliveries({ limit: 100 });
    expect(deliveries.filter((d) => d.state === "coalesced").length).toBeGreaterThan(0);
    // The open, then at most 3 updates before the first wait, and the rest in fewer updates than changes.
    expect(ticket.comments.length - 1).toBeLessThan(9);
    const metrics = await (await svc.get("/metrics")).text();
    expect(metrics).toMatch(/alertdesk_deliveries_deferred_total\{helpdesk="support"\} [1-9]/);
  }, 120_000);
});

describe("a delivery slower than its lease", () => {
  it("is sent once: the worker never claims an incident it is delivering, and keeps renewing the lease", async () => {
    const received: string[] = [];
    const slow: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        received.push(body);
        // Three leases long.
        setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end("{}"), 1_500);
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    try {
      svc = await startTestService({
        rules: RULES,
        background: true,
        realClock: true,
        config: {
          helpdesks: { hook: { type: "webhook", url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`, timeout: 10_000 } as HelpdeskConfig },
          defaultHelpdesk: "hook",
          delivery: { pollIntervalMs: 50, baseMs: 50, maxMs: 300, leaseMs: 500 },
        },
      });
      const running = svc;
      expect((await running.post("/webhooks/alertmanager", group("SlowHook", ["a"]))).status).toBe(200);
      await until("the delivery done", async () => ((await running.store.listDeliveries({ state: "done", limit: 10 })).length === 1 ? true : undefined), {
        timeoutMs: 60_000,
      });
      // Long enough for a lease that lapsed to be claimed again (it would have been, every 500 ms).
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(received).toHaveLength(1);
    } finally {
      await new Promise((resolve) => slow.close(resolve));
    }
  }, 120_000);
});
