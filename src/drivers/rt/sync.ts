import type { AxiosResponse } from "axios";
import { z } from "zod";
import { DeliveryError } from "../../model/delivery-error.js";
import {
  type Doorbell,
  DoorbellRejected,
  type DoorbellRequest,
  type HelpdeskEvent,
  type ObservedEvent,
  type Resolution,
  type TicketActivity,
  type TicketStatus,
} from "../../model/helpdesk-event.js";
import type { TicketRef } from "../../model/incident.js";
import { PRIORITIES, type Priority } from "../../model/priority.js";
import { hmacSha256, pollIntervalMs, resolutionFor, sameSignature } from "../config.js";
import type { HttpClient } from "../http.js";
import type { HelpdeskSync } from "../types.js";

/**
 * The way back from Request Tracker 5 (docs/helpdesks/rt.md): what agents did on alertdesk's
 * tickets, read from RT's transactions through REST2. A ticket's history for one ticket
 * (`/ticket/{id}/history`), a TxnSQL search of every ticket's transactions after the last one seen
 * (`/transactions`) for the poll, the texts of comments and replies from one `/attachments` search per
 * page. Whatever alertdesk's own RT user did is never reported (echo suppression). RT has no webhooks
 * of its own; a scrip (docs/helpdesks/rt.md, src/drivers/rt/doorbell-scrip.pl) may ring a signed
 * doorbell.
 */

/** The doorbell's headers, as the scrip sends them (lower case: the intake lower-cases header names). */
export const SIGNATURE_HEADER = "x-alertdesk-signature";
export const TIMESTAMP_HEADER = "x-alertdesk-timestamp";

/** How far a doorbell's timestamp may be from now, either way: a captured doorbell replays for no longer. */
export const REPLAY_WINDOW_MS = 5 * 60_000;

/**
 * How long a transaction may take to become visible after RT gave it its id. RT inserts the row,
 * runs the scrips (mail, maybe slow) and commits only then, holding a lock on that one ticket: on
 * PostgreSQL or MySQL a later id on another ticket can be read first. So the poll's cursor stays
 * behind transactions younger than this and reads them again (repeated events are stored once).
 */
export const SETTLE_MS = 60_000;

/**
 * The widest offset of any time zone from UTC. TxnSQL reads a date in the RT user's own time zone,
 * which alertdesk cannot learn, so the first poll asks from this much earlier than `since` and drops
 * the older transactions itself.
 */
const MAX_ZONE_OFFSET_MS = 14 * 3_600_000;

/** Rows per REST2 page: RT's own maximum. */
const PAGE = 100;
/** A history longer than this many pages is a broken answer (a server that never ends), not a ticket. */
const MAX_PAGES = 100;
/** A scrip's transaction this close after another on the same ticket is taken as that one's consequence. */
const CONSEQUENCE_MS = 5_000;
/** RT's own user, that runs scrips (e.g. "On Correspond Open Inactive Tickets"). */
const RT_SYSTEM = "rt_system";

/** The transaction types that can carry an agent's action; others (CustomField, EmailRecord, …) are never read. */
export const ACTION_TYPES = ["Comment", "Correspond", "Status", "Set", "Take", "Untake", "Give", "Steal"] as const;
const OWNER_TYPES = new Set(["Take", "Untake", "Give", "Steal"]);

/** RT's default lifecycle → the vocabulary; an inactive status also names a resolution (DEFAULT_RESOLUTIONS). */
export const STATUS_FROM_RT: Readonly<Record<string, TicketStatus>> = {
  new: "new",
  open: "active",
  stalled: "pending",
  resolved: "solved",
  rejected: "solved",
  deleted: "cancelled",
};

/** RT has no resolution field: its inactive statuses are the resolutions (`resolutions:` adds to these). */
export const DEFAULT_RESOLUTIONS: Readonly<Record<string, Resolution>> = { resolved: "fixed", rejected: "wont_fix" };

/**
 * The vocabulary's status (and resolution) for an RT status. A status of a custom lifecycle that the
 * config's `resolutions` names is a solve with that resolution; any other unknown status is not
 * reported (alertdesk cannot tell whether it is active or done).
 */
export function statusFromRt(
  status: string,
  resolutions: Record<string, Resolution> | undefined,
): { status: TicketStatus; resolution?: Resolution } | undefined {
  const name = status.trim().toLowerCase();
  const known = STATUS_FROM_RT[name];
  const configured = Object.keys(resolutions ?? {}).some((k) => k.trim().toLowerCase() === name);
  if (known === "solved" || (known === undefined && configured)) {
    return { status: "solved", resolution: resolutionFor(name, resolutions, { ...DEFAULT_RESOLUTIONS }) };
  }
  return known ? { status: known } : undefined;
}

/** The priority whose RT value is nearest to `value`; on a tie the more urgent one. */
export function priorityFromRt(value: number, map: Readonly<Record<Priority, number>>): Priority {
  let best: Priority = PRIORITIES[0];
  for (const p of PRIORITIES) if (Math.abs(map[p] - value) < Math.abs(map[best] - value)) best = p;
  return best;
}

/** A UTC instant in the form RT's queries take (`YYYY-MM-DD HH:MM:SS`). */
export function toRtTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ");
}

const id = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number);
const text = z
  .string()
  .nullish()
  .transform((v) => v ?? "");
const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not a date-time");

const transactionRow = z.object({
  id,
  Type: z.string(),
  Field: text,
  OldValue: text,
  NewValue: text,
  Created: isoTime,
  // REST2 names a user by its Name (`{"type": "user", "id": "root", …}`).
  Creator: z.object({ id: z.string().min(1) }),
  ObjectId: id,
});
type Transaction = z.infer<typeof transactionRow>;

const attachmentRow = z.object({ TransactionId: id, ContentType: text, Content: text, Filename: text });
type Attachment = z.infer<typeof attachmentRow>;

/** A REST2 collection page; `total`/`pages` only for a SuperUser, so a full page is the sign of another. */
const pageOf = <T extends z.ZodType>(row: T) =>
  z.object({ items: z.array(row), count: z.number().optional(), page: z.number().optional(), pages: z.number().nullish() });

const userRecord = z.object({ Name: z.string().min(1) });

/**
 * Where the poll is. `after`: every transaction up to this id has been read, more than SETTLE_MS ago.
 * `since`: none is known yet, read from this time. `page`: the next page of that same search, and
 * `settled` the newest settled id its earlier pages held (where `after` moves once the search is done).
 */
const paging = { page: z.number().int().min(2).optional(), settled: z.number().int().nonnegative().optional() };
const cursorSchema = z.union([z.object({ after: z.number().int().nonnegative(), ...paging }).strict(), z.object({ since: isoTime, ...paging }).strict()]);
type Cursor = z.infer<typeof cursorSchema>;

/** The common cursor is just the last transaction id; paging or a start by time is JSON. */
export function writeCursor(c: Cursor): string {
  return "after" in c && c.page === undefined && c.settled === undefined ? String(c.after) : JSON.stringify(c);
}

export function readCursor(cursor: string | undefined): Cursor | undefined {
  if (cursor === undefined) return undefined;
  if (/^\d{1,15}$/.test(cursor)) return { after: Number(cursor) };
  try {
    const got = cursorSchema.safeParse(JSON.parse(cursor));
    return got.success ? got.data : undefined;
  } catch {
    // Not one of ours (another helpdesk type under this name before): start from `since`.
    return undefined;
  }
}

/** The doorbell's body, as the scrip sends it. */
const doorbellBody = z.object({ ticket_id: id, transaction_id: id, type: z.string().max(40).optional() });

export interface RtSyncOptions {
  /** The helpdesk's name, for messages. */
  name: string;
  http: HttpClient;
  /** The RT user alertdesk writes as, when the config says (`user`, else `username`). */
  user?: string | undefined;
  /** The auth token alertdesk uses, when no user is named: its owner is alertdesk's user. */
  token?: string | undefined;
  /** The driver's priority map (priority → RT's number), read backwards. */
  priorities: Readonly<Record<Priority, number>>;
  resolutions?: Record<string, Resolution> | undefined;
  /** `poll_interval` in ms, when set. */
  pollInterval?: number | undefined;
  /** `webhook_secret` / `webhook_secret_file`; without one there is no doorbell, only the poll. */
  webhookSecret?: string | undefined;
  /** SETTLE_MS unless a test says otherwise. */
  settleMs?: number | undefined;
  /** Rows per poll page (tests use small pages). */
  pageSize?: number | undefined;
  clock?: () => Date;
}

/** The owner's user id in an RT 5 auth token (`1-<user id>-<32 hex>`, RT::AuthToken::ParseAuthString). */
export function tokenOwner(token: string): number | undefined {
  const m = /^1-(\d+)-[0-9a-f]{32}$/i.exec(token.trim());
  return m ? Number(m[1]) : undefined;
}

/** Text of an HTML part (RT's web editor sends HTML): tags out, breaks kept, the common entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, "")
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/(p|div|li|tr|h[1-6])>/gi, "\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** The text of a comment from its attachments: the first plain-text part that is not a file, else HTML. */
function contentOf(parts: readonly Attachment[]): string {
  const body = parts.filter((p) => p.Filename === "");
  const plain = body.find((p) => p.ContentType.toLowerCase() === "text/plain");
  if (plain) return plain.Content.trim();
  const html = body.find((p) => p.ContentType.toLowerCase() === "text/html");
  return html ? htmlToText(html.Content) : "";
}

export function createRtSync(options: RtSyncOptions): HelpdeskSync {
  const { http } = options;
  const prefix = `[rt ${options.name}]`;
  const settleMs = options.settleMs ?? SETTLE_MS;
  const pageSize = Math.min(PAGE, options.pageSize ?? PAGE);
  const clock = options.clock ?? (() => new Date());
  const users = new Map<number, string>();
  let self: Promise<string> | undefined;

  function parse<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
    const got = schema.safeParse(data);
    if (got.success) return got.data;
    const issue = got.error.issues[0];
    const where = issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "unexpected shape";
    throw new DeliveryError(`${prefix} ${what}: unexpected answer (${where})`, { retryable: true, reason: "server", cause: got.error });
  }

  async function get<T>(what: string, url: string, schema: z.ZodType<T>, params: Record<string, string | number>): Promise<{ data: T; res: AxiosResponse }> {
    const res = await http.request<unknown>(what, { method: "GET", url, params });
    return { data: parse(schema, res.data, what), res };
  }

  /** A user's name by id (owners are ids in a transaction), remembered: names of agents rarely change. */
  async function userName(userId: number): Promise<string> {
    const known = users.get(userId);
    if (known !== undefined) return known;
    const { data } = await get("read user", `/user/${userId}`, userRecord, {});
    users.set(userId, data.Name);
    return data.Name;
  }

  /**
   * The RT user alertdesk writes as, learnt once: the configured name, else the owner of the token
   * (REST2 in RT 5.0 has no "who am I"; the token names its owner's id, RT::AuthToken).
   */
  function ownUser(): Promise<string> {
    if (self) return self;
    const attempt = (async () => {
      if (options.user) return options.user;
      const owner = options.token === undefined ? undefined : tokenOwner(options.token);
      if (owner === undefined) {
        throw new DeliveryError(`${prefix} cannot tell which RT user the token belongs to: set user (alertdesk's RT user name)`, {
          retryable: false,
          reason: "client",
        });
      }
      return userName(owner);
    })().then((n) => n.trim().toLowerCase());
    // A failed look-up is tried again next time rather than remembered.
    self = attempt.catch((err: unknown) => {
      self = undefined;
      throw err;
    });
    return self;
  }

  /** The texts of these comment transactions, by transaction id: one search per hundred parts. */
  async function texts(ids: readonly number[]): Promise<Map<number, string>> {
    const parts = new Map<number, Attachment[]>();
    for (let i = 0; i < ids.length; i += PAGE) {
      const chunk = ids.slice(i, i + PAGE);
      const query = [
        { field: "TransactionId", operator: "IN", value: chunk },
        { field: "ContentType", operator: "IN", value: ["text/plain", "text/html"] },
      ];
      for (let page = 1; page <= MAX_PAGES; page++) {
        const res = await http.request<unknown>("read comment texts", {
          method: "POST",
          url: "/attachments",
          params: { fields: "TransactionId,ContentType,Content,Filename", orderby: "id", order: "ASC", per_page: PAGE, page },
          data: query,
        });
        const got = parse(pageOf(attachmentRow), res.data, "read comment texts");
        for (const a of got.items) parts.set(a.TransactionId, [...(parts.get(a.TransactionId) ?? []), a]);
        if (got.items.length < PAGE) break;
      }
    }
    return new Map(ids.map((t) => [t, contentOf(parts.get(t) ?? [])]));
  }

  /**
   * Events of transactions (oldest first, any tickets), alertdesk's own left out. A transaction of
   * RT_System right after another on its ticket is a scrip's consequence of that one (a reply reopening
   * the ticket): it is reported as its cause's author did it, and dropped when that was alertdesk.
   */
  async function eventsOf(rows: readonly Transaction[]): Promise<{ ticketId: number; observed: ObservedEvent }[]> {
    const own = await ownUser();
    const actorOf = new Map<number, string>();
    const previous = new Map<number, Transaction>();
    const kept: { t: Transaction; actor: string }[] = [];
    for (const t of rows) {
      const before = previous.get(t.ObjectId);
      previous.set(t.ObjectId, t);
      let actor = t.Creator.id;
      if (actor.toLowerCase() === RT_SYSTEM && before && Date.parse(t.Created) - Date.parse(before.Created) <= CONSEQUENCE_MS) {
        actor = actorOf.get(before.id) ?? before.Creator.id;
      }
      actorOf.set(t.id, actor);
      if (actor.trim().toLowerCase() !== own) kept.push({ t, actor });
    }
    const comments = await texts(kept.filter(({ t }) => t.Type === "Comment" || t.Type === "Correspond").map(({ t }) => t.id));
    const out: { ticketId: number; observed: ObservedEvent }[] = [];
    for (const { t, actor } of kept) {
      const event = await eventOf(t, actor, comments);
      if (event) out.push({ ticketId: t.ObjectId, observed: { id: `txn:${t.id}`, event } });
    }
    return out;
  }

  async function eventOf(t: Transaction, author: string, comments: Map<number, string>): Promise<HelpdeskEvent | undefined> {
    const at = new Date(t.Created).toISOString();
    if (t.Type === "Comment" || t.Type === "Correspond") {
      return { kind: "commented", at, author, public: t.Type === "Correspond", text: comments.get(t.id) ?? "" };
    }
    if (OWNER_TYPES.has(t.Type) || (t.Type === "Set" && t.Field === "Owner")) {
      const owner = /^\d+$/.test(t.NewValue) ? await userName(Number(t.NewValue)) : "";
      return { kind: "assigned", at, author, assignee: owner === "" || owner === "Nobody" ? null : owner };
    }
    if (t.Type === "Status" || (t.Type === "Set" && t.Field === "Status")) {
      const mapped = statusFromRt(t.NewValue, options.resolutions);
      return mapped ? { kind: "status_changed", at, author, ...mapped } : undefined;
    }
    if (t.Type === "Set" && t.Field === "Priority" && /^-?\d+$/.test(t.NewValue)) {
      return { kind: "priority_changed", at, author, priority: priorityFromRt(Number(t.NewValue), options.priorities) };
    }
    return undefined;
  }

  const fields = "Type,Creator,Created,Field,OldValue,NewValue,ObjectId";
  const typeCondition = `(${ACTION_TYPES.map((t) => `Type = '${t}'`).join(" OR ")})`;

  async function readTicket(ref: TicketRef): Promise<ObservedEvent[]> {
    if (!/^\d+$/.test(ref.id)) throw new DeliveryError(`${prefix} ${JSON.stringify(ref.id)} is not an RT ticket id`, { retryable: false, reason: "client" });
    const rows: Transaction[] = [];
    // Create is read too: a ticket always has one, so an empty history means the ticket is not there.
    const query = JSON.stringify([{ field: "Type", operator: "IN", value: ["Create", ...ACTION_TYPES] }]);
    for (let page = 1; ; page++) {
      if (page > MAX_PAGES) throw new DeliveryError(`${prefix} read history: more than ${MAX_PAGES} pages`, { retryable: false, reason: "server" });
      const { data } = await get("read history", `/ticket/${ref.id}/history`, pageOf(transactionRow), {
        query,
        fields,
        orderby: "id",
        order: "ASC",
        per_page: PAGE,
        page,
      });
      rows.push(...data.items);
      if (data.items.length < PAGE) break;
    }
    if (rows.length === 0) {
      throw new DeliveryError(`${prefix} ticket ${ref.id} has no history alertdesk's RT user may see: deleted, or moved where it has no rights`, {
        retryable: false,
        reason: "gone",
      });
    }
    // A merged ticket's history holds the transactions of the tickets merged into it: all are its own.
    return (await eventsOf(rows)).map((e) => e.observed);
  }

  async function poll(cursor: string | undefined, since: Date): Promise<{ activity: TicketActivity[]; cursor: string; more?: boolean }> {
    const at: Cursor = readCursor(cursor) ?? { since: since.toISOString() };
    const page = at.page ?? 1;
    // TxnSQL with `ObjectType = 'RT::Ticket'` lets RT check ShowTicket in SQL (UseSQLForACLChecks, the
    // default): a page is not full of rows the user may not see. A JSON search is checked row by row.
    const from = "after" in at ? `id > ${at.after}` : `Created > '${toRtTime(new Date(Date.parse(at.since) - MAX_ZONE_OFFSET_MS))}'`;
    const { data, res } = await get("poll transactions", "/transactions", pageOf(transactionRow), {
      query: `ObjectType = 'RT::Ticket' AND ${from} AND ${typeCondition}`,
      fields,
      orderby: "id",
      order: "ASC",
      per_page: pageSize,
      page,
    });
    const rows = "since" in at ? data.items.filter((t) => Date.parse(t.Created) > Date.parse(at.since)) : data.items;
    const byTicket = new Map<string, ObservedEvent[]>();
    for (const e of await eventsOf(rows)) byTicket.set(String(e.ticketId), [...(byTicket.get(String(e.ticketId)) ?? []), e.observed]);
    const activity = [...byTicket].map(([ticketId, events]) => ({ ticketId, events }));
    // The cursor moves only to transactions that have settled (by RT's clock, from its Date header):
    // younger ones, and any older id that commits late, are read again next time.
    const rtNow = Date.parse(String(res.headers.date ?? ""));
    const settledAt = (Number.isNaN(rtNow) ? clock().getTime() : rtNow) - settleMs;
    const newest = data.items.filter((t) => Date.parse(t.Created) <= settledAt).at(-1)?.id;
    const settled = Math.max(newest ?? -1, at.settled ?? -1);
    if (data.items.length >= pageSize) {
      return { activity, cursor: writeCursor({ ...at, page: page + 1, ...(settled >= 0 ? { settled } : {}) }), more: true };
    }
    const next: Cursor = "after" in at ? { after: Math.max(at.after, settled) } : settled >= 0 ? { after: settled } : { since: at.since };
    return { activity, cursor: writeCursor(next) };
  }

  const sync: HelpdeskSync = { pollIntervalMs: pollIntervalMs(options.pollInterval), readTicket, poll };
  const secret = options.webhookSecret;
  if (secret === undefined) return sync;
  return {
    ...sync,
    doorbell(request: DoorbellRequest, now: Date): Doorbell {
      const headers = new Map(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
      const signature = headers.get(SIGNATURE_HEADER);
      const timestamp = headers.get(TIMESTAMP_HEADER)?.trim();
      if (!signature || !timestamp) throw new DoorbellRejected(`${prefix} doorbell without X-Alertdesk-Signature or X-Alertdesk-Timestamp`);
      if (!/^\d{1,12}$/.test(timestamp)) throw new DoorbellRejected(`${prefix} doorbell timestamp is not Unix seconds`);
      if (Math.abs(now.getTime() - Number(timestamp) * 1000) > REPLAY_WINDOW_MS) {
        throw new DoorbellRejected(`${prefix} doorbell timestamp is outside the ${REPLAY_WINDOW_MS / 60_000}-minute replay window`);
      }
      // The timestamp is signed with the body, so a captured doorbell cannot be given a fresh one.
      const signed = Buffer.concat([Buffer.from(`${timestamp}.`), request.rawBody]);
      if (!sameSignature(signature, `sha256=${hmacSha256(secret, signed, "hex")}`)) throw new DoorbellRejected(`${prefix} doorbell signature does not match`);
      let body: unknown;
      try {
        body = JSON.parse(request.rawBody.toString("utf8"));
      } catch (err) {
        throw new DoorbellRejected(`${prefix} doorbell body is not JSON`, { cause: err });
      }
      const parsed = doorbellBody.safeParse(body);
      if (!parsed.success) throw new DoorbellRejected(`${prefix} doorbell body is not {"ticket_id": …, "transaction_id": …}`, { cause: parsed.error });
      // One doorbell per transaction: a repeated delivery of it is stored once.
      return { deliveryId: `txn:${parsed.data.transaction_id}`, ticketIds: [String(parsed.data.ticket_id)] };
    },
  };
}
