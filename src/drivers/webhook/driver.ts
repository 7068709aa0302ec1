import { createHmac } from "node:crypto";
import { z } from "zod";
import { toText } from "../../model/doc.js";
import type { TicketRef } from "../../model/incident.js";
import type { TicketOperation } from "../../model/ticket-operation.js";
import { commonKeys, type DriverFactoryDeps, deliveryLimits, helpdeskLimiter, resolveSecret, timeoutMs } from "../config.js";
import { createHttpClient } from "../http.js";
import type { HelpdeskDriver } from "../types.js";
import { webhookSync } from "./callback.js";

/**
 * A generic webhook: every operation is one POST of JSON (docs/helpdesks.md shows the body). With a
 * secret, `X-Alertdesk-Signature: sha256=<hex HMAC of "<timestamp>.<body>">` and
 * `X-Alertdesk-Timestamp` let the receiver check it came from alertdesk. The receiver should treat
 * `idempotencyKey` as the operation's identity: a retry after an unknown outcome sends it again.
 * The receiver tells alertdesk what agents did by calling back, signed the same way (callback.ts).
 */

export const webhookConfigSchema = z
  .object({
    type: z.literal("webhook"),
    url: z.string().url(),
    headers: z.record(z.string(), z.string()).optional().describe("Extra headers; values may use ${ENV}."),
    secret: z.string().optional().describe("HMAC-SHA256 signing secret. Prefer secret_file."),
    secret_file: z.string().optional(),
    ...commonKeys,
  })
  .strict();

export type WebhookConfig = z.infer<typeof webhookConfigSchema>;

export function createWebhookDriver(name: string, config: WebhookConfig, deps: DriverFactoryDeps = {}): HelpdeskDriver {
  const clock = deps.clock ?? (() => new Date());
  const secret = config.secret || config.secret_file ? resolveSecret(config.secret, config.secret_file, "secret") : undefined;
  const headerSecrets = Object.values(config.headers ?? {});
  const limiter = helpdeskLimiter(name, config, deps);
  const http = createHttpClient({
    name: `webhook ${name}`,
    baseURL: config.url,
    headers: { "Content-Type": "application/json", ...config.headers },
    timeoutMs: timeoutMs(config.timeout),
    secrets: [...(secret ? [secret] : []), ...headerSecrets],
    clock,
    limiter,
  });

  async function send(operation: TicketOperation, ticket: TicketRef | undefined, ticketKey: string, idempotencyKey: string): Promise<unknown> {
    const body = JSON.stringify({
      version: 1,
      operation: operation.op,
      ticketKey,
      ticket: ticket ?? null,
      idempotencyKey,
      text: toText(operation.body),
      ...operation,
    });
    const headers: Record<string, string> = {};
    if (secret) {
      const timestamp = String(Math.floor(clock().getTime() / 1000));
      headers["X-Alertdesk-Timestamp"] = timestamp;
      headers["X-Alertdesk-Signature"] = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
    }
    const res = await http.request(operation.op, { method: "POST", url: "", data: body, headers });
    return res.data;
  }

  /** The receiver may answer `{"id": …, "url": …}` to name its ticket; else the key names it. */
  function refFrom(data: unknown, fallback: string): TicketRef {
    const d = (data ?? {}) as { id?: unknown; url?: unknown };
    const id = typeof d.id === "string" || typeof d.id === "number" ? String(d.id) : fallback;
    return typeof d.url === "string" ? { id, url: d.url } : { id };
  }

  return {
    ...deliveryLimits(limiter, config),
    name,
    type: "webhook",
    async open(t, ctx) {
      return refFrom(await send(t, undefined, t.ticketKey, ctx.idempotencyKey), t.ticketKey);
    },
    async comment(r, u, ctx) {
      await send(u, r, r.id, ctx.idempotencyKey);
    },
    async resolve(r, u, ctx) {
      await send(u, r, r.id, ctx.idempotencyKey);
    },
    async reopen(r, u, ctx) {
      await send(u, r, r.id, ctx.idempotencyKey);
      return r;
    },
    // An escalation for a pager or chat: {"operation": "notify", "event": "escalation", …}.
    async notify(op, ctx) {
      const ticket: TicketRef | undefined = op.ticket ? (op.ticket.url ? { id: op.ticket.id, url: op.ticket.url } : { id: op.ticket.id }) : undefined;
      await send(op, ticket, op.ticketKey, ctx.idempotencyKey);
    },
    // A webhook cannot be asked what it has; a re-sent open carries the same idempotencyKey instead.
    async findByKey() {
      return undefined;
    },
    sync: webhookSync(secret),
  };
}
