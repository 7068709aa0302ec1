import { createHmac } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";

/** A receiver for the generic webhook driver: keeps tickets by key, applies each idempotencyKey once. */
export interface WebhookReceiver {
  url: string;
  tickets: Map<string, { id: string; status: "open" | "solved"; updates: number; key: string }>;
  deliveries: { headers: Record<string, string | string[] | undefined>; raw: string }[];
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const tickets: WebhookReceiver["tickets"] = new Map();
  const seen = new Map<string, unknown>();
  const deliveries: WebhookReceiver["deliveries"] = [];
  const app = express();
  app.use(express.text({ type: "*/*", limit: "5mb" }));
  app.post("/hook", (req: Request, res: Response) => {
    deliveries.push({ headers: req.headers, raw: req.body as string });
    const body = JSON.parse(req.body as string) as {
      operation: string;
      ticketKey: string;
      idempotencyKey: string;
      ticket: { id: string } | null;
      solve?: boolean;
    };
    const previous = seen.get(body.idempotencyKey);
    if (previous) {
      res.json(previous);
      return;
    }
    let answer: unknown = { ok: true };
    if (body.operation === "notify") {
      // A pager or chat: it keeps nothing, it only hears about the escalation.
    } else if (body.operation === "open") {
      const id = `T${tickets.size + 1}`;
      tickets.set(id, { id, status: "open", updates: 0, key: body.ticketKey });
      answer = { id, url: `http://desk.example/t/${id}` };
    } else {
      const t = body.ticket ? tickets.get(body.ticket.id) : undefined;
      if (!t) {
        res.status(404).json({ error: "no such ticket" });
        return;
      }
      t.updates++;
      if (body.operation === "resolve" && body.solve) t.status = "solved";
      if (body.operation === "reopen") t.status = "open";
    }
    seen.set(body.idempotencyKey, answer);
    res.json(answer);
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    tickets,
    deliveries,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A callback as a receiver would send it, signed with `secret` at `seconds`. */
export function signedCallback(body: unknown, secret: string, seconds: number): { headers: Record<string, string>; rawBody: Buffer } {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const timestamp = String(seconds);
  return {
    headers: {
      "x-alertdesk-timestamp": timestamp,
      "x-alertdesk-signature": `sha256=${createHmac("sha256", secret).update(`${timestamp}.${raw}`).digest("hex")}`,
    },
    rawBody: Buffer.from(raw),
  };
}
