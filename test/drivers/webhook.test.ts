import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createWebhookDriver } from "../../src/drivers/webhook/driver.js";
import { DoorbellRejected } from "../../src/model/helpdesk-event.js";
import { startFaultProxy } from "../fakes/fault-proxy.js";
import { signedCallback, startWebhookReceiver } from "../fakes/webhook-receiver.js";
import { describeDriverContract, openTicket } from "./contract.js";

const SECRET = "hook-signing-secret-42";
const HEADER_SECRET = "header-api-key-0042";

describeDriverContract(
  "webhook",
  async () => {
    const receiver = await startWebhookReceiver();
    const proxy = await startFaultProxy(new URL(receiver.url).origin);
    const driver = createWebhookDriver("hook", {
      type: "webhook",
      url: `${proxy.url}/hook`,
      secret: SECRET,
      headers: { "X-Api-Key": HEADER_SECRET },
      timeout: 1000,
    });
    return {
      driver,
      proxy,
      secrets: [SECRET, HEADER_SECRET],
      missingId: "T999999",
      async inspect(ref) {
        const t = receiver.tickets.get(ref.id);
        if (!t) throw new Error(`no ticket ${ref.id}`);
        return { status: t.status, updates: t.updates };
      },
      async countByKey(key) {
        return [...receiver.tickets.values()].filter((t) => t.key === key).length;
      },
      async stop() {
        await proxy.close();
        await receiver.stop();
      },
    };
  },
  { wayBack: { notApplicable: "a webhook receiver has no API to read back: its callbacks carry the events (tested below)" } },
);

describe("webhook specifics", () => {
  it("signs the body with HMAC-SHA256 over timestamp and body, and sends the operation with its rendered text", async () => {
    const receiver = await startWebhookReceiver();
    try {
      const driver = createWebhookDriver("hook", { type: "webhook", url: receiver.url, secret: SECRET });
      const t = openTicket();
      await driver.open(t, { idempotencyKey: `${t.ticketKey}/1`, attempt: 1, ticketKey: t.ticketKey });
      const [d] = receiver.deliveries;
      const timestamp = d?.headers["x-alertdesk-timestamp"] as string;
      expect(d?.headers["x-alertdesk-signature"]).toBe(`sha256=${createHmac("sha256", SECRET).update(`${timestamp}.${d?.raw}`).digest("hex")}`);
      const body = JSON.parse(d?.raw ?? "{}") as Record<string, unknown>;
      expect(body).toMatchObject({ version: 1, operation: "open", ticketKey: t.ticketKey, idempotencyKey: `${t.ticketKey}/1`, title: t.title, priority: "P2" });
      expect(body.text).toContain("## What is happening");
    } finally {
      await receiver.stop();
    }
  });
});

describe("webhook callbacks: the way back", () => {
  const now = new Date("2026-11-25T06:00:00Z");
  const seconds = now.getTime() / 1000;
  const driver = createWebhookDriver("hook", { type: "webhook", url: "http://127.0.0.1:1/hook", secret: SECRET });
  const body = {
    version: 1,
    deliveryId: "call-1",
    tickets: [
      {
        id: "T1",
        events: [
          { id: "e1", kind: "commented", at: "2026-11-25T05:59:00Z", author: "alice", public: false, text: "on it" },
          { id: "e2", kind: "status_changed", at: "2026-11-25T05:59:30Z", author: "alice", status: "solved", resolution: "wont_fix" },
        ],
      },
    ],
  };
  const doorbell = (request: { headers: Record<string, string>; rawBody: Buffer }, at = now) => {
    if (!driver.sync?.doorbell) throw new Error("no doorbell");
    return driver.sync.doorbell(request, at);
  };

  it("a signed callback gives its events, with the receiver's ids and delivery id", () => {
    const bell = doorbell(signedCallback(body, SECRET, seconds));
    expect(bell.deliveryId).toBe("call-1");
    expect(bell.activity).toEqual([
      {
        ticketId: "T1",
        events: [
          { id: "e1", event: { kind: "commented", at: "2026-11-25T05:59:00Z", author: "alice", public: false, text: "on it" } },
          { id: "e2", event: { kind: "status_changed", at: "2026-11-25T05:59:30Z", author: "alice", status: "solved", resolution: "wont_fix" } },
        ],
      },
    ]);
  });

  it.each([
    ["a forged signature", { ...signedCallback(body, "not-the-secret", seconds) }, /Signature does not match/],
    ["no signature", { headers: { "x-alertdesk-timestamp": String(seconds) }, rawBody: Buffer.from(JSON.stringify(body)) }, /Signature does not match/],
    ["no timestamp", { headers: {}, rawBody: Buffer.from(JSON.stringify(body)) }, /Timestamp is missing/],
    ["a timestamp 6 minutes old (a replay)", signedCallback(body, SECRET, seconds - 360), /outside the 5-minute window/],
    [
      "a body changed after signing",
      { ...signedCallback(body, SECRET, seconds), rawBody: Buffer.from(JSON.stringify({ ...body, deliveryId: "x" })) },
      /does not match/,
    ],
    [
      "a bad status",
      signedCallback({ ...body, tickets: [{ id: "T1", events: [{ id: "e", kind: "status_changed", at: "x", status: "done" }] }] }, SECRET, seconds),
      /tickets\[0\]\.events\[0\]/,
    ],
    ["no tickets", signedCallback({ version: 1, tickets: [] }, SECRET, seconds), /tickets/],
    ["not JSON", signedCallback("{nope", SECRET, seconds), /not JSON/],
  ])("%s is rejected", (_why, request, message) => {
    expect(() => doorbell(request)).toThrow(DoorbellRejected);
    expect(() => doorbell(request)).toThrow(message);
  });

  it("without a secret no callback is accepted (it could not be verified)", () => {
    const open = createWebhookDriver("hook", { type: "webhook", url: "http://127.0.0.1:1/hook" });
    expect(() => open.sync?.doorbell?.(signedCallback(body, SECRET, seconds), now)).toThrow(/no secret/);
  });

  it("a callback without a delivery id is identified by a digest of what was signed", () => {
    const { deliveryId: _omitted, ...anonymous } = body;
    const a = doorbell(signedCallback(anonymous, SECRET, seconds));
    const b = doorbell(signedCallback(anonymous, SECRET, seconds));
    expect(a.deliveryId).toMatch(/^[0-9a-f]{64}$/);
    expect(b.deliveryId).toBe(a.deliveryId);
  });
});
