import { createHash } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";

/**
 * A stateful fake of Zendesk's tickets API v2, following the documented behaviour
 * (docs/helpdesk-apis.md §1): Basic `email/token:TOKEN` auth, 201 {ticket, audit},
 * 422 RecordInvalid, Idempotency-Key (hit / miss / 400 IdempotentRequestError), closed tickets that
 * refuse updates, follow-ups, `?external_id=` lookup, and 429 + Retry-After past a per-minute limit.
 */

export interface FakeZendeskTicket {
  id: number;
  subject: string;
  status: "new" | "open" | "pending" | "hold" | "solved" | "closed";
  priority: string | null;
  type: string | null;
  external_id: string | null;
  tags: string[];
  group_id: number | null;
  custom_fields: { id: number; value: unknown }[];
  via_followup_source_id: number | null;
  comments: { html_body: string; public: boolean }[];
  /** When the fake created it (epoch ms): the benchmark measures end-to-end latency with it. */
  createdAtMs: number;
}

export interface FakeZendesk {
  url: string;
  email: string;
  token: string;
  tickets: FakeZendeskTicket[];
  /** Requests per minute before 429 (default: unlimited). */
  ratePerMinute?: number;
  /** Timestamps of every request that reached the fake. */
  requestTimes: number[];
  /** Closes a ticket, as Zendesk's automation does days after it was solved. */
  close(id: number): void;
  stop(): Promise<void>;
}

export async function startFakeZendesk(options: { email?: string; token?: string } = {}): Promise<FakeZendesk> {
  const email = options.email ?? "alerts@acme.example";
  const token = options.token ?? "zd-secret-token-123456";
  const expected = `Basic ${Buffer.from(`${email}/token:${token}`).toString("base64")}`;
  const tickets: FakeZendeskTicket[] = [];
  const idempotency = new Map<string, { hash: string; body: unknown }>();
  const requestTimes: number[] = [];
  const app = express();
  const state: FakeZendesk = {
    url: "",
    email,
    token,
    tickets,
    requestTimes,
    close(id) {
      const t = tickets.find((x) => x.id === id);
      if (t) t.status = "closed";
    },
    stop: async () => {},
  };

  app.use(express.json({ limit: "5mb" }));
  app.use((req: Request, res: Response, next) => {
    requestTimes.push(Date.now());
    if (req.headers.authorization !== expected) {
      res.status(401).json({ error: "Couldn't authenticate you" });
      return;
    }
    if (state.ratePerMinute !== undefined) {
      const since = Date.now() - 60_000;
      if (requestTimes.filter((t) => t > since).length > state.ratePerMinute) {
        res.status(429).set("Retry-After", "1").type("text/plain").send("Too Many Requests");
        return;
      }
    }
    next();
  });

  const invalid = (res: Response, details: Record<string, string>) =>
    res.status(422).json({
      error: "RecordInvalid",
      description: "Record validation errors",
      details: Object.fromEntries(Object.entries(details).map(([k, d]) => [k, [{ description: d, error: "InvalidValue" }]])),
    });

  const view = (t: FakeZendeskTicket) => {
    const { comments: _c, createdAtMs: _t, ...rest } = t;
    return { ...rest, url: `${state.url}/api/v2/tickets/${t.id}.json` };
  };

  app.post(["/api/v2/tickets", "/api/v2/tickets.json"], (req: Request, res: Response) => {
    const key = req.header("idempotency-key");
    const hash = createHash("sha256").update(JSON.stringify(req.body)).digest("hex");
    if (key) {
      const seen = idempotency.get(key);
      if (seen && seen.hash !== hash) {
        res.status(400).json({ error: "IdempotentRequestError", description: "Request parameters don't match the given idempotency key" });
        return;
      }
      if (seen) {
        res.status(201).set("x-idempotency-lookup", "hit").json(seen.body);
        return;
      }
    }
    const t = (req.body as { ticket?: Record<string, unknown> }).ticket;
    const comment = t?.comment as { body?: string; html_body?: string; public?: boolean } | undefined;
    if (!t || !comment || (!comment.body && !comment.html_body)) return invalid(res, { base: "Description: cannot be blank" });
    const priority = (t.priority as string | undefined) ?? null;
    if (priority !== null && !["urgent", "high", "normal", "low"].includes(priority)) return invalid(res, { priority: `${priority} is not a valid priority` });
    const ticket: FakeZendeskTicket = {
      id: tickets.length + 1,
      subject: String(t.subject ?? ""),
      status: "new",
      priority,
      type: (t.type as string | undefined) ?? null,
      external_id: (t.external_id as string | undefined) ?? null,
      tags: ((t.tags as string[] | undefined) ?? []).map((x) => x.toLowerCase()),
      group_id: (t.group_id as number | undefined) ?? null,
      custom_fields: (t.custom_fields as { id: number; value: unknown }[] | undefined) ?? [],
      via_followup_source_id: null,
      comments: [{ html_body: comment.html_body ?? comment.body ?? "", public: comment.public ?? true }],
      createdAtMs: Date.now(),
    };
    const source = t.via_followup_source_id as number | undefined;
    // "It has no effect on tickets that aren't closed."
    if (source !== undefined && tickets.find((x) => x.id === source)?.status === "closed") ticket.via_followup_source_id = source;
    tickets.push(ticket);
    const body = { ticket: view(ticket), audit: { events: [] } };
    if (key) idempotency.set(key, { hash, body });
    res.status(201).set("x-idempotency-lookup", "miss").set("Location", `${state.url}/api/v2/tickets/${ticket.id}.json`).json(body);
  });

  app.put(["/api/v2/tickets/:id", "/api/v2/tickets/:id.json"], (req: Request, res: Response) => {
    const ticket = tickets.find((x) => x.id === Number(req.params.id));
    if (!ticket) {
      res.status(404).json({ error: "RecordNotFound", description: "Not found" });
      return;
    }
    if (ticket.status === "closed") return invalid(res, { status: "closed prevents ticket update" });
    const t = ((req.body as { ticket?: Record<string, unknown> }).ticket ?? {}) as Record<string, unknown>;
    const status = t.status as FakeZendeskTicket["status"] | undefined;
    if (status === "new") return invalid(res, { status: "Status: cannot be changed back to new" });
    const comment = t.comment as { html_body?: string; body?: string; public?: boolean } | undefined;
    if (comment) ticket.comments.push({ html_body: comment.html_body ?? comment.body ?? "", public: comment.public ?? true });
    if (status) ticket.status = status;
    else if (ticket.status === "new") ticket.status = "open";
    if (t.priority) ticket.priority = String(t.priority);
    res.status(200).json({ ticket: view(ticket), audit: { events: [] } });
  });

  app.get(["/api/v2/tickets/:id", "/api/v2/tickets/:id.json"], (req: Request, res: Response) => {
    const ticket = tickets.find((x) => x.id === Number(req.params.id));
    if (!ticket) res.status(404).json({ error: "RecordNotFound", description: "Not found" });
    else res.json({ ticket: view(ticket) });
  });

  app.get(["/api/v2/tickets", "/api/v2/tickets.json"], (req: Request, res: Response) => {
    const key = req.query.external_id;
    const list = typeof key === "string" ? tickets.filter((t) => t.external_id === key) : tickets;
    res.json({ tickets: list.map(view), next_page: null, previous_page: null, count: list.length });
  });

  // The old search endpoint lags in real Zendesk; the driver must not rely on it.
  app.get("/api/v2/search", (_req: Request, res: Response) => {
    res.json({ results: [], count: 0 });
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
