import { createHash } from "node:crypto";
import { z } from "zod";
import { formatPath } from "../../model/field-path.js";
import { type Doorbell, DoorbellRejected, type DoorbellRequest, helpdeskEventSchema, type TicketActivity } from "../../model/helpdesk-event.js";
import { hmacSha256, sameSignature } from "../config.js";
import type { HelpdeskSync } from "../types.js";

/**
 * The generic webhook helpdesk's way back: its receiver calls `POST /webhooks/helpdesk/{name}` with
 * what agents did (docs/helpdesks/webhook.md), signed the way alertdesk signs its own calls to it:
 * `X-Alertdesk-Signature: sha256=<hex HMAC-SHA256 of "<X-Alertdesk-Timestamp>.<raw body>">`, the
 * timestamp in Unix seconds, five minutes either way. There is no API to read back, so the callback
 * carries the events themselves, each with the receiver's own id (stored once).
 */

/** How far a callback's timestamp may be from alertdesk's clock. */
export const CALLBACK_WINDOW_MS = 5 * 60_000;

const callbackSchema = z
  .object({
    version: z.literal(1),
    deliveryId: z.string().min(1).max(200).optional().describe("The receiver's id for this call; a repeat is stored once."),
    tickets: z
      .array(
        z.object({
          id: z.string().min(1).max(200).describe("The ticket id the receiver answered the open with (or its key)."),
          events: z.array(z.object({ id: z.string().min(1).max(200) }).and(helpdeskEventSchema)).max(1000),
        }),
      )
      .min(1)
      .max(100),
  })
  .strict();

/** Parses and verifies one callback; throws DoorbellRejected naming what is wrong. */
export function verifyCallback(secret: string | undefined, request: DoorbellRequest, now: Date): Doorbell {
  if (!secret) throw new DoorbellRejected("this webhook helpdesk has no secret: its callbacks cannot be verified, so none is accepted");
  const timestamp = request.headers["x-alertdesk-timestamp"];
  const seconds = Number(timestamp);
  if (!timestamp || !Number.isInteger(seconds)) throw new DoorbellRejected("X-Alertdesk-Timestamp is missing or not Unix seconds");
  if (Math.abs(now.getTime() - seconds * 1000) > CALLBACK_WINDOW_MS) throw new DoorbellRejected("X-Alertdesk-Timestamp is outside the 5-minute window");
  const expected = `sha256=${hmacSha256(secret, Buffer.concat([Buffer.from(`${timestamp}.`), request.rawBody]), "hex")}`;
  if (!sameSignature(request.headers["x-alertdesk-signature"], expected)) throw new DoorbellRejected("X-Alertdesk-Signature does not match the body");
  let json: unknown;
  try {
    json = JSON.parse(request.rawBody.toString("utf8"));
  } catch (err) {
    throw new DoorbellRejected(`the body is not JSON: ${(err as Error).message}`, { status: 400 });
  }
  const parsed = callbackSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DoorbellRejected(`${formatPath(issue?.path ?? []) || "body"}: ${issue?.message ?? "invalid"}`, { status: 400 });
  }
  const activity: TicketActivity[] = parsed.data.tickets.map((t) => ({
    ticketId: t.id,
    events: t.events.map(({ id, ...event }) => ({ id, event: helpdeskEventSchema.parse(event) })),
  }));
  const deliveryId = parsed.data.deliveryId ?? createHash("sha256").update(`${timestamp}.`).update(request.rawBody).digest("hex");
  return { deliveryId, ticketIds: [], activity };
}

/** The webhook helpdesk's sync: callbacks only; nothing to poll, nothing to read. */
export function webhookSync(secret: string | undefined): HelpdeskSync {
  return {
    // Nothing to ask: the receiver calls. The empty poll still runs every minute so that
    // alertdesk_helpdesk_sync_lag_seconds stays honest (the PrometheusRule alerts above 15 minutes).
    pollIntervalMs: 60_000,
    async poll(cursor) {
      return { activity: [], cursor: cursor ?? "callbacks" };
    },
    async readTicket() {
      return [];
    },
    doorbell: (request, now) => verifyCallback(secret, request, now),
  };
}
