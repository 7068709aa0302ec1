import { createHash } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";

/**
 * A stateful fake of Zendesk's tickets API v2, following the documented behaviour
 * (docs/helpdesk-apis.md §1, docs/helpdesks/zendesk.md): Basic `email/token:TOKEN` auth, each token
 * acting as its user, 201 {ticket, audit}, 422 RecordInvalid, Idempotency-Key (hit / miss / 400
 * IdempotentRequestError), closed tickets that refuse updates, follow-ups, `?external_id=` lookup, and
 * 429 + Retry-After past a per-minute limit.
 *
 * For the way back: users (alertdesk's integration user, an admin, and an agent), an audit for every
 * change whoever made it (Create, Comment and Change events, values as strings the way Zendesk writes
 * them), the audits of a ticket with cursor pagination, `users/me`, `users/{id}`, `users/show_many`,
 * and the cursor-based incremental ticket export (admins only, its own 10-a-minute limit when set).
 * Unlike Zendesk, the export leaves nothing out: Zendesk omits the last minute's changes, which would
 * make every test wait a minute.
 */

export interface FakeZendeskUser {
  id: number;
  name: string;
  email: string;
  role: "admin" | "agent" | "end-user";
  token: string;
}

export interface FakeZendeskAudit {
  id: number;
  ticket_id: number;
  created_at: string;
  author_id: number;
  via: { channel: string; source: { rel: string | null; from: Record<string, unknown>; to: Record<string, unknown> } };
  metadata: { system: Record<string, unknown>; custom: Record<string, unknown> };
  events: Record<string, unknown>[];
}

export interface FakeZendeskTicket {
  id: number;
  subject: string;
  status: "new" | "open" | "pending" | "hold" | "solved" | "closed";
  priority: string | null;
  type: string | null;
  external_id: string | null;
  tags: string[];
  group_id: number | null;
  assignee_id: number | null;
  custom_fields: { id: number; value: unknown }[];
  via_followup_source_id: number | null;
  comments: { html_body: string; public: boolean; author_id: number }[];
  /** Every change, oldest first (GET /api/v2/tickets/{id}/audits). */
  audits: FakeZendeskAudit[];
  /** When the fake created it (epoch ms): the benchmark measures end-to-end latency with it. */
  createdAtMs: number;
  updatedAtMs: number;
  /** Its place in the incremental export: the order of last changes across all tickets. */
  exportSeq: number;
}

/** An agent acting on a ticket through the API with the agent's own token, as a person in Zendesk would. */
export interface FakeZendeskAgent {
  comment(ticketId: number, text: string, isPublic: boolean): Promise<void>;
  assign(ticketId: number): Promise<void>;
  /** Zendesk's own status; `resolution` is the option tag set on the resolution drop-down field. */
  setStatus(ticketId: number, status: "open" | "pending" | "hold" | "solved", resolution?: string): Promise<void>;
  /** Any update, for the cases the helpers do not cover (tags, priority …). */
  update(ticketId: number, ticket: Record<string, unknown>): Promise<void>;
}

export interface FakeZendesk {
  url: string;
  email: string;
  token: string;
  /** alertdesk's integration user (an admin: the incremental export is for admins only). */
  user: FakeZendeskUser;
  /** An agent, with a token of their own. */
  agentUser: FakeZendeskUser;
  agent: FakeZendeskAgent;
  users: FakeZendeskUser[];
  /** The id of the resolution drop-down field the agent sets on a solve. */
  resolutionFieldId: number;
  tickets: FakeZendeskTicket[];
  /** Requests per minute before 429 (default: unlimited). */
  ratePerMinute?: number;
  /**
   * Zendesk's Update Ticket limit: updates of one ticket by one user per window before 429 with
   * Retry-After (Zendesk: 30 per 10 minutes, the default here too).
   */
  ticketUpdateLimit: { updates: number; windowMs: number };
  /** 429s answered, for any reason. */
  rateLimited: number;
  /** Incremental export requests per minute before 429 (Zendesk: 10; default: unlimited). */
  exportRatePerMinute?: number | undefined;
  /** Tickets per export page (Zendesk: up to 1000). */
  exportPageSize: number;
  /** Audits per page at most, whatever page[size] asks (Zendesk: 100). */
  auditPageLimit: number;
  /** Zendesk's "auto assign upon solve" setting: off, a solve without an assignee is a 422. */
  autoAssignOnSolve: boolean;
  /** Timestamps of every request that reached the fake. */
  requestTimes: number[];
  /** Closes a ticket, as Zendesk's automation does days after it was solved (an audit by the system user). */
  close(id: number): void;
  stop(): Promise<void>;
}

/** Zendesk's author id for triggers, automations and the system. */
const SYSTEM_USER = -1;

const PRIORITIES = ["urgent", "high", "normal", "low"];
const STATUSES = ["new", "open", "pending", "hold", "solved", "closed"];

/** Zendesk's timestamps: ISO 8601 to the second. */
const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

const basic = (u: { email: string; token: string }) => `Basic ${Buffer.from(`${u.email}/token:${u.token}`).toString("base64")}`;

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const stripHtml = (s: string) =>
  s
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();

/** `:id` of a route, which also matches `35436.json` (Zendesk accepts both forms). */
const idParam = (req: Request) => Number(String(req.params.id).replace(/\.json$/, ""));

const cursorOf = (n: number) => Buffer.from(`seq:${n}`).toString("base64url");
function seqOf(cursor: string): number | undefined {
  const m = /^seq:(\d+)$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  return m ? Number(m[1]) : undefined;
}

export async function startFakeZendesk(
  options: { email?: string; token?: string; agent?: { name?: string; email?: string; token?: string } } = {},
): Promise<FakeZendesk> {
  const email = options.email ?? "alerts@acme.example";
  const token = options.token ?? "zd-secret-token-123456";
  const user: FakeZendeskUser = { id: 360_000_101, name: "alertdesk integration", email, role: "admin", token };
  const agentUser: FakeZendeskUser = {
    id: 360_000_202,
    name: options.agent?.name ?? "Ada Agent",
    email: options.agent?.email ?? "ada@acme.example",
    role: "agent",
    token: options.agent?.token ?? "zd-agent-token-654321",
  };
  const users = [user, agentUser];
  const byAuth = new Map(users.map((u) => [basic(u), u]));
  const tickets: FakeZendeskTicket[] = [];
  const idempotency = new Map<string, { hash: string; body: unknown }>();
  const requestTimes: number[] = [];
  const exportTimes: number[] = [];
  let nextId = 5_000_000_000;
  let exportSeq = 0;
  const app = express();

  /** Stores one audit: one update by one user, its events numbered the way Zendesk numbers them. */
  function record(ticket: FakeZendeskTicket, authorId: number, events: Record<string, unknown>[], rel: string | null = null): FakeZendeskAudit {
    const audit: FakeZendeskAudit = {
      id: nextId++,
      ticket_id: ticket.id,
      created_at: isoNow(),
      author_id: authorId,
      via: { channel: rel ? "rule" : "api", source: { rel, from: {}, to: {} } },
      metadata: { system: { client: "alertdesk-fake" }, custom: {} },
      events: [],
    };
    audit.events = events.map((e) => ({ id: nextId++, ...e, ...(e.type === "Comment" ? { audit_id: audit.id } : {}) }));
    ticket.audits.push(audit);
    ticket.updatedAtMs = Date.now();
    ticket.exportSeq = ++exportSeq;
    return audit;
  }

  /** When each (user, ticket) pair's recent updates were made. */
  const updatesOf = new Map<string, number[]>();
  const state: FakeZendesk = {
    url: "",
    email,
    token,
    user,
    agentUser,
    users,
    resolutionFieldId: 360_009_000_042,
    tickets,
    exportPageSize: 1000,
    auditPageLimit: 100,
    autoAssignOnSolve: true,
    ticketUpdateLimit: { updates: 30, windowMs: 10 * 60_000 },
    rateLimited: 0,
    requestTimes,
    agent: {
      comment: (id, text, isPublic) => agentUpdate(id, { comment: { body: text, public: isPublic } }),
      assign: (id) => agentUpdate(id, { assignee_id: agentUser.id }),
      setStatus: (id, status, resolution) =>
        agentUpdate(id, { status, ...(resolution !== undefined ? { custom_fields: [{ id: state.resolutionFieldId, value: resolution }] } : {}) }),
      update: (id, ticket) => agentUpdate(id, ticket),
    },
    close(id) {
      const t = tickets.find((x) => x.id === id);
      if (!t || t.status === "closed") return;
      record(t, SYSTEM_USER, [{ type: "Change", field_name: "status", value: "closed", previous_value: t.status }], "automation");
      t.status = "closed";
    },
    stop: async () => {},
  };

  async function agentUpdate(id: number, ticket: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${state.url}/api/v2/tickets/${id}.json`, {
      method: "PUT",
      headers: { Authorization: basic(agentUser), "Content-Type": "application/json" },
      body: JSON.stringify({ ticket }),
    });
    if (!res.ok) throw new Error(`the agent's update of ticket ${id} failed: ${res.status} ${await res.text()}`);
  }

  app.use(express.json({ limit: "5mb" }));
  app.use((req: Request, res: Response, next) => {
    requestTimes.push(Date.now());
    const acting = byAuth.get(req.headers.authorization ?? "");
    if (!acting) {
      res.status(401).json({ error: "Couldn't authenticate you" });
      return;
    }
    res.locals.user = acting;
    if (state.ratePerMinute !== undefined) {
      const since = Date.now() - 60_000;
      if (requestTimes.filter((t) => t > since).length > state.ratePerMinute) {
        state.rateLimited++;
        res.status(429).set("Retry-After", "1").type("text/plain").send("Too Many Requests");
        return;
      }
    }
    next();
  });
  const actor = (res: Response) => res.locals.user as FakeZendeskUser;

  const invalid = (res: Response, details: Record<string, string>) =>
    res.status(422).json({
      error: "RecordInvalid",
      description: "Record validation errors",
      details: Object.fromEntries(Object.entries(details).map(([k, d]) => [k, [{ description: d, error: "InvalidValue" }]])),
    });
  const notFound = (res: Response) => res.status(404).json({ error: "RecordNotFound", description: "Not found" });

  const view = (t: FakeZendeskTicket) => {
    const { comments: _c, audits: _a, createdAtMs, updatedAtMs, exportSeq: _s, ...rest } = t;
    return {
      ...rest,
      url: `${state.url}/api/v2/tickets/${t.id}.json`,
      created_at: new Date(createdAtMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
      updated_at: new Date(updatedAtMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
      generated_timestamp: Math.floor(updatedAtMs / 1000),
    };
  };
  const userView = (u: FakeZendeskUser) => ({
    id: u.id,
    url: `${state.url}/api/v2/users/${u.id}.json`,
    name: u.name,
    email: u.email,
    role: u.role,
    active: true,
  });

  /** A Comment event as Zendesk writes it: the text in `body` and `plain_body`, the markup in `html_body`. */
  function commentEvent(comment: { body?: string; html_body?: string; public?: boolean }, authorId: number) {
    const html = comment.html_body ?? `<div class="zd-comment"><p>${escapeHtml(comment.body ?? "")}</p></div>`;
    const text = comment.body ?? stripHtml(comment.html_body ?? "");
    return { type: "Comment", author_id: authorId, body: text, html_body: html, plain_body: text, public: comment.public ?? true, attachments: [] };
  }

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
    if (priority !== null && !PRIORITIES.includes(priority)) return invalid(res, { priority: `${priority} is not a valid priority` });
    const author = actor(res);
    const now = Date.now();
    const ticket: FakeZendeskTicket = {
      id: tickets.length + 1,
      subject: String(t.subject ?? ""),
      status: "new",
      priority,
      type: (t.type as string | undefined) ?? null,
      external_id: (t.external_id as string | undefined) ?? null,
      tags: ((t.tags as string[] | undefined) ?? []).map((x) => x.toLowerCase()),
      group_id: (t.group_id as number | undefined) ?? null,
      assignee_id: (t.assignee_id as number | undefined) ?? null,
      custom_fields: (t.custom_fields as { id: number; value: unknown }[] | undefined) ?? [],
      via_followup_source_id: null,
      comments: [{ html_body: comment.html_body ?? comment.body ?? "", public: comment.public ?? true, author_id: author.id }],
      audits: [],
      createdAtMs: now,
      updatedAtMs: now,
      exportSeq: 0,
    };
    const source = t.via_followup_source_id as number | undefined;
    // "It has no effect on tickets that aren't closed."
    if (source !== undefined && tickets.find((x) => x.id === source)?.status === "closed") ticket.via_followup_source_id = source;
    tickets.push(ticket);
    const created = (field_name: string, value: unknown) => ({ type: "Create", field_name, value });
    const audit = record(ticket, author.id, [
      commentEvent(comment, author.id),
      created("subject", ticket.subject),
      created("status", ticket.status),
      created("priority", ticket.priority),
      created("type", ticket.type),
      created("tags", ticket.tags),
      created("assignee_id", ticket.assignee_id === null ? null : String(ticket.assignee_id)),
      created("group_id", ticket.group_id === null ? null : String(ticket.group_id)),
      ...ticket.custom_fields.map((f) => created(String(f.id), f.value === null || f.value === undefined ? null : String(f.value))),
    ]);
    const body = { ticket: view(ticket), audit };
    if (key) idempotency.set(key, { hash, body });
    res.status(201).set("x-idempotency-lookup", "miss").set("Location", `${state.url}/api/v2/tickets/${ticket.id}.json`).json(body);
  });

  app.put(["/api/v2/tickets/:id", "/api/v2/tickets/:id.json"], (req: Request, res: Response) => {
    const ticket = tickets.find((x) => x.id === idParam(req));
    if (!ticket) return notFound(res);
    const author = actor(res);
    // Update Ticket: so many updates of one ticket per user per window, then 429 until the earliest leaves it.
    const key = `${author.id}/${ticket.id}`;
    const limit = state.ticketUpdateLimit;
    const recent = (updatesOf.get(key) ?? []).filter((t) => t > Date.now() - limit.windowMs);
    if (recent.length >= limit.updates) {
      state.rateLimited++;
      const wait = Math.max(1, Math.ceil(((recent[0] as number) + limit.windowMs - Date.now()) / 1000));
      res.status(429).set("Retry-After", String(wait)).json({ error: "TooManyRequests", description: "Ticket update limit exceeded" });
      return;
    }
    recent.push(Date.now());
    updatesOf.set(key, recent);
    if (ticket.status === "closed") return invalid(res, { status: "closed prevents ticket update" });
    const t = ((req.body as { ticket?: Record<string, unknown> }).ticket ?? {}) as Record<string, unknown>;
    const status = t.status as FakeZendeskTicket["status"] | undefined;
    if (status === "new") return invalid(res, { status: "Status: cannot be changed back to new" });
    if (status !== undefined && !STATUSES.includes(status)) return invalid(res, { status: `Status: ${String(status)} is not valid` });
    if (t.priority !== undefined && !PRIORITIES.includes(String(t.priority)))
      return invalid(res, { priority: `${String(t.priority)} is not a valid priority` });
    const events: Record<string, unknown>[] = [];
    const change = (field_name: string, value: unknown, previous_value: unknown) => events.push({ type: "Change", field_name, value, previous_value });
    const idText = (id: number | null) => (id === null ? null : String(id));

    let assignee = ticket.assignee_id;
    if (t.assignee_id !== undefined) assignee = t.assignee_id === null ? null : Number(t.assignee_id);
    const nextStatus = status ?? (ticket.status === "new" ? "open" : ticket.status);
    if (nextStatus === "solved" && assignee === null) {
      // Zendesk's native rule: no solve without an assignee, unless the solver is assigned on solve.
      if (!state.autoAssignOnSolve) return invalid(res, { assignee_id: "Assignee: is required when ticket is solved" });
      assignee = author.id;
    }
    const comment = t.comment as { html_body?: string; body?: string; public?: boolean } | undefined;
    if (comment) {
      events.push(commentEvent(comment, author.id));
      ticket.comments.push({ html_body: comment.html_body ?? comment.body ?? "", public: comment.public ?? true, author_id: author.id });
    }
    if (nextStatus !== ticket.status) {
      change("status", nextStatus, ticket.status);
      ticket.status = nextStatus;
    }
    if (assignee !== ticket.assignee_id) {
      change("assignee_id", idText(assignee), idText(ticket.assignee_id));
      ticket.assignee_id = assignee;
    }
    if (t.priority && t.priority !== ticket.priority) {
      change("priority", String(t.priority), ticket.priority);
      ticket.priority = String(t.priority);
    }
    if (Array.isArray(t.tags)) {
      const tags = (t.tags as string[]).map((x) => x.toLowerCase());
      if (tags.join(" ") !== ticket.tags.join(" ")) change("tags", tags, ticket.tags);
      ticket.tags = tags;
    }
    for (const f of (t.custom_fields as { id: number; value: unknown }[] | undefined) ?? []) {
      const old = ticket.custom_fields.find((x) => x.id === f.id);
      const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
      if (text(old?.value) === text(f.value)) continue;
      change(String(f.id), text(f.value), text(old?.value));
      if (old) old.value = f.value;
      else ticket.custom_fields.push({ id: f.id, value: f.value });
    }
    // Zendesk stores an audit only for an update that changed something.
    const audit = events.length > 0 ? record(ticket, author.id, events) : { events: [] };
    res.status(200).json({ ticket: view(ticket), audit });
  });

  app.get(["/api/v2/tickets/:id/audits", "/api/v2/tickets/:id/audits.json"], (req: Request, res: Response) => {
    const ticket = tickets.find((x) => x.id === idParam(req));
    if (!ticket) return notFound(res);
    const size = req.query["page[size]"];
    if (size === undefined) {
      // Offset pagination, the endpoint's older default.
      const page = Math.max(1, Number(req.query.page ?? 1));
      const per = state.auditPageLimit;
      const slice = ticket.audits.slice((page - 1) * per, page * per);
      const more = page * per < ticket.audits.length;
      const at = (p: number) => `${state.url}/api/v2/tickets/${ticket.id}/audits.json?page=${p}`;
      res.json({ audits: slice, next_page: more ? at(page + 1) : null, previous_page: page > 1 ? at(page - 1) : null, count: ticket.audits.length });
      return;
    }
    const per = Math.min(state.auditPageLimit, Math.max(1, Number(size) || 100));
    const after = req.query["page[after]"];
    let start = 0;
    if (typeof after === "string") {
      const seq = seqOf(after);
      if (seq === undefined) {
        res.status(400).json({ error: "InvalidPaginationParameter", description: "page[after] is not a valid cursor" });
        return;
      }
      start = seq;
    }
    const slice = ticket.audits.slice(start, start + per);
    const hasMore = start + per < ticket.audits.length;
    const afterCursor = slice.length > 0 ? cursorOf(start + slice.length) : null;
    const beforeCursor = slice.length > 0 ? cursorOf(start) : null;
    const link = (c: string | null, dir: "after" | "before") =>
      c === null ? null : `${state.url}/api/v2/tickets/${ticket.id}/audits.json?page%5Bsize%5D=${per}&page%5B${dir}%5D=${c}`;
    res.json({
      audits: slice,
      meta: { has_more: hasMore, after_cursor: afterCursor, before_cursor: beforeCursor },
      links: { next: hasMore ? link(afterCursor, "after") : null, prev: start > 0 ? link(beforeCursor, "before") : null },
    });
  });

  app.get(["/api/v2/tickets/:id", "/api/v2/tickets/:id.json"], (req: Request, res: Response) => {
    const ticket = tickets.find((x) => x.id === idParam(req));
    if (!ticket) notFound(res);
    else res.json({ ticket: view(ticket) });
  });

  app.get(["/api/v2/tickets", "/api/v2/tickets.json"], (req: Request, res: Response) => {
    const key = req.query.external_id;
    const list = typeof key === "string" ? tickets.filter((t) => t.external_id === key) : tickets;
    res.json({ tickets: list.map(view), next_page: null, previous_page: null, count: list.length });
  });

  app.get(["/api/v2/users/me", "/api/v2/users/me.json"], (_req: Request, res: Response) => {
    res.json({ user: userView(actor(res)) });
  });

  app.get(["/api/v2/users/show_many", "/api/v2/users/show_many.json"], (req: Request, res: Response) => {
    const ids = String(req.query.ids ?? "")
      .split(",")
      .filter(Boolean)
      .map(Number);
    if (ids.length > 100) return invalid(res, { ids: "At most 100 ids" });
    // Unknown ids are left out, not an error.
    res.json({ users: users.filter((u) => ids.includes(u.id)).map(userView) });
  });

  app.get(["/api/v2/users/:id", "/api/v2/users/:id.json"], (req: Request, res: Response) => {
    const found = users.find((u) => u.id === idParam(req));
    if (!found) notFound(res);
    else res.json({ user: userView(found) });
  });

  app.get(["/api/v2/incremental/tickets/cursor", "/api/v2/incremental/tickets/cursor.json"], (req: Request, res: Response) => {
    if (actor(res).role !== "admin") {
      res
        .status(403)
        .json({ error: "Forbidden", description: "You do not have access to this page. Please contact the account owner of this help desk for further help." });
      return;
    }
    exportTimes.push(Date.now());
    if (state.exportRatePerMinute !== undefined) {
      const since = Date.now() - 60_000;
      const recent = exportTimes.filter((t) => t > since);
      if (recent.length > state.exportRatePerMinute) {
        // Seconds until the oldest request of the window leaves it.
        const wait = state.exportRatePerMinute === 0 ? 60 : Math.max(1, Math.ceil(((recent[0] as number) + 60_000 - Date.now()) / 1000));
        res.status(429).set("Retry-After", String(wait)).type("text/plain").send("Too Many Requests");
        return;
      }
    }
    const { cursor, start_time } = req.query;
    let candidates: FakeZendeskTicket[];
    let position: number;
    if (typeof cursor === "string") {
      const seq = seqOf(cursor);
      if (seq === undefined) {
        res.status(400).json({ error: "InvalidValue", description: "Invalid cursor" });
        return;
      }
      position = seq;
      candidates = tickets.filter((t) => t.exportSeq > seq);
    } else if (typeof start_time === "string" && /^\d+$/.test(start_time)) {
      const from = Number(start_time);
      if (from * 1000 > Date.now()) return invalid(res, { start_time: "start_time cannot be in the future" });
      // A start with nothing after it: the stream's end, as of now.
      position = exportSeq;
      candidates = tickets.filter((t) => Math.floor(t.updatedAtMs / 1000) >= from);
    } else {
      res.status(400).json({ error: "InvalidValue", description: "start_time or cursor is required" });
      return;
    }
    candidates.sort((a, b) => a.exportSeq - b.exportSeq);
    const page = candidates.slice(0, state.exportPageSize);
    const end = candidates.length <= state.exportPageSize;
    const after = cursorOf(page.length > 0 ? (page.at(-1) as FakeZendeskTicket).exportSeq : position);
    res.json({
      tickets: page.map(view),
      after_cursor: after,
      after_url: `${state.url}/api/v2/incremental/tickets/cursor.json?cursor=${after}`,
      before_cursor: null,
      before_url: null,
      end_of_stream: end,
    });
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
