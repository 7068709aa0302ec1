import { createHash } from "node:crypto";
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
import type { Priority } from "../../model/priority.js";
import { hmacSha256, resolutionFor, sameSignature } from "../config.js";
import type { HttpClient } from "../http.js";
import type { HelpdeskSync } from "../types.js";

/**
 * The way back from Zendesk (docs/helpdesks/zendesk.md): what agents did, read from a ticket's audits
 * (`GET /api/v2/tickets/{id}/audits`), found by the cursor-based incremental ticket export, and sooner
 * through a signed webhook that only names the ticket to read again.
 */

/** Zendesk's statuses in alertdesk's vocabulary. `hold` waits on a third party: pending, to alertdesk. */
export const ZENDESK_STATUSES: Readonly<Record<string, TicketStatus>> = {
  new: "new",
  open: "active",
  pending: "pending",
  hold: "pending",
  solved: "solved",
  closed: "closed",
  // The incremental export lists deleted tickets with this status; to alertdesk the ticket is gone.
  deleted: "cancelled",
};

/**
 * Resolution names understood without a `resolutions:` entry: the option tags docs/helpdesks/zendesk.md
 * suggests for the resolution drop-down, and the spellings people commonly give those options.
 */
export const DEFAULT_RESOLUTIONS: Readonly<Record<string, Resolution>> = {
  fixed: "fixed",
  resolved: "fixed",
  wont_fix: "wont_fix",
  wontfix: "wont_fix",
  won_t_fix: "wont_fix",
  duplicate: "duplicate",
  cannot_reproduce: "cannot_reproduce",
  cant_reproduce: "cannot_reproduce",
  not_reproducible: "cannot_reproduce",
};

/** How far a webhook's signature timestamp may be from alertdesk's clock. Zendesk names no tolerance. */
export const REPLAY_WINDOW_MS = 5 * 60_000;

/** The author id of changes Zendesk makes itself (automations, the system); triggers act as the updater. */
const SYSTEM_USER = -1;

/** alertdesk's tickets: the tag it always sets, or its ticket key as external_id (an agent may drop a tag). */
const OWN_TAG = "alertdesk";
const TICKET_KEY = /^ad-[0-9a-f]{16}-\d+$/;

export interface ZendeskSyncOptions {
  /** `zendesk <name>`, the prefix of every error message (as the HTTP client's). */
  label: string;
  http: HttpClient;
  /** The vocabulary's priority for a Zendesk priority: the inverse of the driver's priority_map. */
  priorityOf(zendeskPriority: string): Priority | undefined;
  resolutions?: Record<string, Resolution> | undefined;
  /** The custom drop-down field whose option tag names the resolution. */
  resolutionField?: number | undefined;
  /** A tag `<prefix><name>` names the resolution when the field is not set. */
  resolutionTagPrefix: string;
  webhookSecret?: string | undefined;
  pollIntervalMs: number;
  now(): Date;
}

// ---- Zendesk's answers, as far as alertdesk relies on them ----

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not a date");

/**
 * A Change or Create event. Its value is checked only for the fields alertdesk reads (below): other
 * fields (custom lookups, dates …) may carry any shape.
 */
const fieldEventSchema = z.object({
  id: z.number().int(),
  type: z.enum(["Change", "Create"]),
  field_name: z.string(),
  value: z.unknown().optional(),
});

/** Audit values are strings (ids too, `"235323"`); tags an array of strings. Absent or null: cleared. */
const textValue = z.union([z.string(), z.number()]).nullable().optional();
const tagsValue = z
  .union([z.array(z.string()), z.string()])
  .nullable()
  .optional();
const optionValue = z.union([z.string(), z.number(), z.boolean()]).nullable().optional();

const commentEventSchema = z.object({
  id: z.number().int(),
  type: z.literal("Comment"),
  author_id: z.number().int().optional(),
  body: z.string().nullable().optional(),
  plain_body: z.string().nullable().optional(),
  public: z.boolean(),
});

type FieldEvent = z.infer<typeof fieldEventSchema>;
type CommentEvent = z.infer<typeof commentEventSchema>;

const auditSchema = z.object({
  id: z.number().int(),
  author_id: z.number().int(),
  created_at: isoDate,
  // Each event is checked on its own: Zendesk adds event types at any time and says to ignore
  // the ones an integration does not know, so one odd event must not reject a whole page.
  events: z.array(z.unknown()),
});
type Audit = z.infer<typeof auditSchema>;

const auditsPageSchema = z.object({
  audits: z.array(auditSchema),
  meta: z.object({ has_more: z.boolean(), after_cursor: z.string().nullable().optional() }).optional(),
});

const userSchema = z.object({ id: z.number().int(), name: z.string().nullable().optional(), email: z.string().nullable().optional() });
const meSchema = z.object({ user: userSchema });
const usersSchema = z.object({ users: z.array(userSchema) });

const exportSchema = z.object({
  tickets: z.array(
    z.object({
      id: z.number().int(),
      status: z.string().optional(),
      tags: z.array(z.string()).optional(),
      external_id: z.string().nullable().optional(),
    }),
  ),
  after_cursor: z.string().nullable().optional(),
  end_of_stream: z.boolean(),
});

// ---- the webhook bodies alertdesk accepts ----

const ticketIdSchema = z.union([z.number().int().positive(), z.string().trim().regex(/^\d+$/)]).transform(String);

/** What docs/helpdesks/zendesk.md tells admins to put into the trigger's webhook action. */
const triggerBodySchema = z.object({ ticket_id: ticketIdSchema });

/** An event-subscription webhook: a fixed envelope; `detail` is the ticket, `subject` `zen:ticket:<id>`. */
const eventBodySchema = z.object({
  // Bounded: the type goes into the rejection's message.
  type: z.string().max(200),
  subject: z.string().optional(),
  detail: z.object({ id: z.unknown().optional() }).optional(),
});

/** Pages of one ticket's audits before alertdesk stops (a ticket holds at most 5000 comments). */
const MAX_AUDIT_PAGES = 200;

/** Whether a read failed because Zendesk no longer has the ticket (404): a poll skips such a ticket. */
function isGone(err: unknown): boolean {
  return err instanceof DeliveryError && err.reason === "gone";
}

function header(request: DoorbellRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(request.headers)) if (key.toLowerCase() === wanted && value !== undefined) return value;
  return undefined;
}

/**
 * Verifies a Zendesk webhook (docs/helpdesks/zendesk.md, "The webhook"): the signature is
 * base64(HMAC-SHA256(secret, timestamp + raw body)); the timestamp must be within the replay window;
 * the body must name a ticket. Throws DoorbellRejected, with a message that never holds the secret.
 */
export function verifyZendeskDoorbell(request: DoorbellRequest, now: Date, secret: string | undefined): Doorbell {
  if (secret === undefined || secret === "") {
    throw new DoorbellRejected("zendesk: no webhook_secret is configured, so no webhook can be verified");
  }
  const signature = header(request, "x-zendesk-webhook-signature");
  const timestamp = header(request, "x-zendesk-webhook-signature-timestamp");
  if (!signature) throw new DoorbellRejected("zendesk: the X-Zendesk-Webhook-Signature header is missing");
  if (!timestamp) throw new DoorbellRejected("zendesk: the X-Zendesk-Webhook-Signature-Timestamp header is missing");
  const expected = hmacSha256(secret, Buffer.concat([Buffer.from(timestamp, "utf8"), request.rawBody]), "base64");
  if (!sameSignature(signature, expected))
    throw new DoorbellRejected("zendesk: the webhook signature does not match (wrong signing secret, or a changed body)");
  // Zendesk sends ISO 8601 (`2021-03-25T05:09:27Z`); nothing else is accepted, so a replay cannot
  // slip through a lenient date parser.
  const at = /^\d{4}-\d{2}-\d{2}T/.test(timestamp) ? Date.parse(timestamp) : Number.NaN;
  if (Number.isNaN(at)) throw new DoorbellRejected("zendesk: the signature timestamp is not an ISO 8601 time");
  if (Math.abs(now.getTime() - at) > REPLAY_WINDOW_MS) {
    throw new DoorbellRejected(`zendesk: the signature timestamp ${timestamp} is outside the ${REPLAY_WINDOW_MS / 60_000}-minute replay window`);
  }
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody.toString("utf8"));
  } catch (err) {
    throw new DoorbellRejected("zendesk: the webhook body is not JSON", { cause: err });
  }
  const ticketId = doorbellTicket(body);
  const invocation = header(request, "x-zendesk-webhook-invocation-id");
  // A retried invocation carries the same id; without one, the same signed body is the same delivery.
  const deliveryId = invocation?.trim() || createHash("sha256").update(timestamp).update(request.rawBody).digest("hex");
  return { deliveryId, ticketIds: [ticketId] };
}

/** The ticket a webhook body names: the trigger body's `ticket_id`, or an event's `detail.id` / `subject`. */
function doorbellTicket(body: unknown): string {
  const event = eventBodySchema.safeParse(body);
  if (event.success && event.data.type.startsWith("zen:event-type:")) {
    if (!event.data.type.startsWith("zen:event-type:ticket.")) {
      throw new DoorbellRejected(`zendesk: the webhook event ${event.data.type} is not a ticket event; subscribe the webhook to ticket events only`);
    }
    const fromDetail = ticketIdSchema.safeParse(event.data.detail?.id);
    if (fromDetail.success) return fromDetail.data;
    const fromSubject = /^zen:ticket:(\d+)$/.exec(event.data.subject ?? "");
    if (fromSubject) return fromSubject[1] as string;
    throw new DoorbellRejected("zendesk: the ticket event names no ticket (no detail.id, no zen:ticket subject)");
  }
  const trigger = triggerBodySchema.safeParse(body);
  if (trigger.success) return trigger.data.ticket_id;
  throw new DoorbellRejected('zendesk: the webhook body names no ticket: expected {"ticket_id": "{{ticket.id}}"} or a ticket event with detail.id');
}

/** The Zendesk user names alertdesk reports: the name, else the email, else the id. */
function displayName(user: z.infer<typeof userSchema>): string {
  return user.name?.trim() || user.email?.trim() || `user ${user.id}`;
}

/** A field event's value as one string (ids, statuses, drop-down tags), or null when cleared. */
function scalar(value: string | number | boolean | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  const text = String(value).trim();
  return text === "" ? null : text;
}

/** Tags as Zendesk writes them in audits: an array, or (in older audits) one space-separated string. */
function tagList(value: z.infer<typeof tagsValue>): string[] {
  if (Array.isArray(value)) return value;
  if (typeof value === "string") return value.split(/\s+/).filter(Boolean);
  return [];
}

export function createZendeskSync(options: ZendeskSyncOptions): HelpdeskSync {
  const { http, label } = options;
  const names = new Map<number, string>([[SYSTEM_USER, "Zendesk"]]);
  let self: Promise<number> | undefined;

  function answer<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
    const parsed = schema.safeParse(data);
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    // An answer of the wrong shape is most often a proxy's or a maintenance page: worth another try.
    throw new DeliveryError(`[${label}] ${what}: unexpected answer (${issues})`, { retryable: true, reason: "server", cause: parsed.error });
  }

  /** alertdesk's own Zendesk user, asked once: its writes are never reported (echo suppression). */
  function selfId(): Promise<number> {
    if (!self) {
      self = http.request("read own user", { method: "GET", url: "/api/v2/users/me.json" }).then((res) => {
        const me = answer(meSchema, res.data, "read own user");
        names.set(me.user.id, displayName(me.user));
        return me.user.id;
      });
      // A failed lookup is asked again next time, not remembered.
      self.catch(() => {
        self = undefined;
      });
    }
    return self;
  }

  async function resolveNames(ids: Iterable<number>): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => id > 0 && !names.has(id));
    // Show Many Users takes up to 100 ids a request.
    for (let i = 0; i < missing.length; i += 100) {
      const batch = missing.slice(i, i + 100);
      const res = await http.request("read users", { method: "GET", url: "/api/v2/users/show_many.json", params: { ids: batch.join(",") } });
      for (const user of answer(usersSchema, res.data, "read users").users) names.set(user.id, displayName(user));
    }
  }

  const nameOf = (id: number) => names.get(id) ?? `user ${id}`;

  async function audits(ticketId: string): Promise<Audit[]> {
    if (!/^\d+$/.test(ticketId))
      throw new DeliveryError(`[${label}] read audits: ${JSON.stringify(ticketId)} is not a Zendesk ticket id`, { retryable: false, reason: "client" });
    const all: Audit[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_AUDIT_PAGES; page++) {
      const what = "read audits";
      const res = await http.raw(what, {
        method: "GET",
        url: `/api/v2/tickets/${ticketId}/audits.json`,
        params: { "page[size]": 100, ...(after ? { "page[after]": after } : {}) },
      });
      if (res.status === 404) throw http.failure(what, res, { retryable: false, reason: "gone" });
      if (res.status < 200 || res.status >= 300) throw http.failure(what, res);
      const body = answer(auditsPageSchema, res.data, what);
      all.push(...body.audits);
      // Archived tickets answer everything at once, without meta.
      // Past MAX_AUDIT_PAGES the rest is left unread rather than looping on a cursor that never ends.
      if (!body.meta?.has_more || !body.meta.after_cursor) break;
      after = body.meta.after_cursor;
    }
    return all.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || a.id - b.id);
  }

  /** The resolution a solve carries: the drop-down's option, else a `<prefix><name>` tag, else a fix. */
  function resolutionNow(field: string | null, tags: readonly string[]): Resolution {
    const prefix = options.resolutionTagPrefix.toLowerCase();
    const tagged = prefix ? tags.find((t) => t.toLowerCase().startsWith(prefix) && t.length > prefix.length) : undefined;
    const name = field ?? (tagged ? tagged.slice(prefix.length) : null);
    return resolutionFor(name, options.resolutions, DEFAULT_RESOLUTIONS);
  }

  async function readEvents(ticketId: string): Promise<ObservedEvent[]> {
    const [me, list] = await Promise.all([selfId(), audits(ticketId)]);
    const resolutionFieldName = options.resolutionField !== undefined ? String(options.resolutionField) : undefined;
    let tags: string[] = [];
    let field: string | null = null;
    // Events are made once every name they need is known: users are looked up together, at the end.
    const drafts: { id: string; make(): HelpdeskEvent }[] = [];
    const people: number[] = [];
    const draft = (id: string, who: readonly number[], make: () => HelpdeskEvent) => {
      people.push(...who);
      drafts.push({ id, make });
    };

    for (const audit of list) {
      const at = new Date(Date.parse(audit.created_at)).toISOString();
      const fields: FieldEvent[] = [];
      const comments: CommentEvent[] = [];
      for (const raw of audit.events) {
        const type = (raw as { type?: unknown } | null)?.type;
        if (type === "Change" || type === "Create") fields.push(answer(fieldEventSchema, raw, "read audits"));
        else if (type === "Comment") comments.push(answer(commentEventSchema, raw, "read audits"));
      }
      // State first, so a solve sees the resolution set in the same update, and alertdesk's own
      // writes (never reported) still count for what comes after them.
      for (const e of fields) {
        if (e.field_name === "tags") tags = tagList(answer(tagsValue, e.value, "read audits"));
        else if (resolutionFieldName !== undefined && e.field_name === resolutionFieldName) field = scalar(answer(optionValue, e.value, "read audits"));
      }
      for (const c of comments) {
        const author = c.author_id ?? audit.author_id;
        if (author === me) continue;
        draft(`audit:${audit.id}:${c.id}`, [author], () => ({
          kind: "commented",
          at,
          author: nameOf(author),
          public: c.public,
          text: c.body ?? c.plain_body ?? "",
        }));
      }
      // A ticket's creation is alertdesk's (or not alertdesk's ticket at all): only changes count.
      if (audit.author_id === me) continue;
      const author = audit.author_id;
      const by = () => (author === SYSTEM_USER ? {} : { author: nameOf(author) });
      for (const e of fields) {
        if (e.type !== "Change") continue;
        const id = `audit:${audit.id}:${e.id}`;
        if (!["assignee_id", "status", "priority"].includes(e.field_name)) continue;
        const value = scalar(answer(textValue, e.value, "read audits"));
        if (e.field_name === "assignee_id") {
          const assignee = value !== null && /^\d+$/.test(value) ? Number(value) : null;
          draft(id, assignee === null ? [author] : [author, assignee], () => ({
            kind: "assigned",
            at,
            ...by(),
            assignee: assignee === null ? null : nameOf(assignee),
          }));
        } else if (e.field_name === "status") {
          const status = value === null ? undefined : ZENDESK_STATUSES[value.toLowerCase()];
          if (!status) continue;
          const resolution = status === "solved" || status === "closed" ? resolutionNow(field, tags) : undefined;
          draft(id, [author], () => ({ kind: "status_changed", at, ...by(), status, ...(resolution ? { resolution } : {}) }));
        } else if (e.field_name === "priority") {
          const priority = value === null ? undefined : options.priorityOf(value.toLowerCase());
          if (!priority) continue;
          draft(id, [author], () => ({ kind: "priority_changed", at, ...by(), priority }));
        }
      }
    }
    await resolveNames(people);
    return drafts.map((d) => ({ id: d.id, event: d.make() }));
  }

  /** Where a poll starts: Zendesk's own cursor, or a start time (unix seconds). */
  type Position = { cursor: string } | { start_time: number };
  const encode = (p: Position) => ("cursor" in p ? `cursor:${p.cursor}` : `start_time:${p.start_time}`);
  function decode(text: string): Position {
    if (text.startsWith("start_time:") && /^\d+$/.test(text.slice(11))) return { start_time: Number(text.slice(11)) };
    return { cursor: text.startsWith("cursor:") ? text.slice(7) : text };
  }
  function startTime(since: Date): number {
    // The export leaves out the last minute anyway, and an earlier start only repeats events, which
    // the store keeps once; so never ask for a start inside the last minute.
    const latest = Math.floor(options.now().getTime() / 1000) - 60;
    return Math.max(0, Math.min(Math.floor(since.getTime() / 1000), latest));
  }

  const EXPORT = "incremental ticket export";
  const exportPage = (position: Position) => http.raw(EXPORT, { method: "GET", url: "/api/v2/incremental/tickets/cursor.json", params: position });

  return {
    pollIntervalMs: options.pollIntervalMs,

    readTicket(ref: TicketRef) {
      return readEvents(ref.id);
    },

    async poll(cursor, since) {
      let position: Position = cursor ? decode(cursor) : { start_time: startTime(since) };
      let res = await exportPage(position);
      if ("cursor" in position && (res.status === 400 || res.status === 422)) {
        // A cursor Zendesk no longer takes would stop the way back for good: start again from
        // `since` instead (what was seen before is stored once).
        position = { start_time: startTime(since) };
        res = await exportPage(position);
      }
      if (res.status < 200 || res.status >= 300) throw http.failure(EXPORT, res);
      const page = answer(exportSchema, res.data, EXPORT);
      const activity: TicketActivity[] = [];
      const seen = new Set<number>();
      for (const t of page.tickets) {
        if (seen.has(t.id) || t.status === "deleted") continue;
        seen.add(t.id);
        const ours = (t.tags ?? []).includes(OWN_TAG) || TICKET_KEY.test(t.external_id ?? "");
        if (!ours) continue;
        try {
          const events = await readEvents(String(t.id));
          if (events.length > 0) activity.push({ ticketId: String(t.id), events });
        } catch (err) {
          // Deleted between the export and the read: nothing left to learn of it.
          if (!isGone(err)) throw err;
        }
      }
      const next: Position = page.after_cursor ? { cursor: page.after_cursor } : position;
      return { activity, cursor: encode(next), more: !page.end_of_stream };
    },

    doorbell(request, now) {
      return verifyZendeskDoorbell(request, now, options.webhookSecret);
    },
  };
}
