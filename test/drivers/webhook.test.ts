import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createWebhookDriver } from "../../src/drivers/webhook/driver.js";
import { startFaultProxy } from "../fakes/fault-proxy.js";
import { startWebhookReceiver } from "../fakes/webhook-receiver.js";
import { describeDriverContract, openTicket } from "./contract.js";

const SECRET = "hook-signing-secret-42";
const HEADER_SECRET = "header-api-key-0042";

describeDriverContract("webhook", async () => {
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
});

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
