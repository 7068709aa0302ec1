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
import { PRIORITIES, type Priority } from "../../model/priority.js";
import { hmacSha256, pollIntervalMs, resolutionFor, sameSignature } from "../config.js";
import type { HelpdeskSync } from "../types.js";

/**
 * The way back from Jira Cloud (REST v3) and Data Center (REST v2): what agents did, read from each
 * issue's changelog and comments (docs/helpdesks/jira.md). A webhook is only a doorbell; a poll over
 * `updated >=` with an overlapping window repairs whatever the webhooks lost.
 */

/** One request through the driver's HTTP client: resolves with the body of a 2xx, throws a DeliveryError otherwise. */
export type JiraCall = (
  what: string,
  req: { method: "GET" | "POST"; url: string; params?: Record<string, string | number>; data?: unknown },
) => Promise<unknown>;

export interface JiraSyncOptions {
  /** The helpdesk's name, for messages. */
  name: string;
  cloud: boolean;
  project: string;
  call: JiraCall;
  /** The instance's priority name of a vocabulary priority (the driver's `priority_map`). */
  priorityName: (p: Priority) => string;
  /** Status names → vocabulary, over the status category (`status_map`). */
  statusMap: Record<string, TicketStatus> | undefined;
  /** Resolution names → vocabulary (`resolutions`), over DEFAULT_RESOLUTIONS. */
  resolutions: Record<string, Resolution> | undefined;
  pollInterval: number | undefined;
  /** The secret admin webhooks are signed with; undefined: every doorbell is rejected. */
  webhookSecret: string | undefined;
}

/** Jira's stock resolution names (Jira Software and Service Management templates). */
export const DEFAULT_RESOLUTIONS: Record<string, Resolution> = {
  Done: "fixed",
  Fixed: "fixed",
  "Won't Do": "wont_fix",
  "Won't Fix": "wont_fix",
  Duplicate: "duplicate",
  "Cannot Reproduce": "cannot_reproduce",
};

/**
 * Status names that mean "waiting on somebody else" although their category is In Progress: Jira has
 * no pending category, and these are the names Service Management's templates use.
 */
export const DEFAULT_STATUS_MAP: Record<string, TicketStatus> = {
  "Waiting for customer": "pending",
  Pending: "pending",
};

const CATEGORY_STATUS: Record<string, TicketStatus> = { new: "new", indeterminate: "active", done: "solved" };

/**
 * How far each poll reaches back before the latest `updated` it saw: JQL compares to the minute, the
 * search index lags behind writes, and clocks differ. Events seen twice are stored once.
 */
export const POLL_OVERLAP_MS = 2 * 60_000;
/** Issues per search page; each costs two more requests (changelog and comments). */
const SEARCH_PAGE = 25;
/** Page size asked for changelogs and comments (Jira's maximum for both). */
const LIST_PAGE = 100;
/** Issues alertdesk created are named in `reconcileIssues` this long, so a poll sees them before the index does. */
const RECONCILE_MS = 10 * 60_000;
/** Cloud takes at most 50 ids in `reconcileIssues`. */
const RECONCILE_MAX = 50;
/** The greatest offset from UTC of any time zone, for a time zone Intl does not know. */
const MAX_TZ_OFFSET_MS = 14 * 3_600_000;

// ---- Jira's answers, validated where they enter ----

const userSchema = z.object({
  accountId: z.string().optional(),
  name: z.string().optional(),
  key: z.string().optional(),
  displayName: z.string().optional(),
  timeZone: z.string().optional(),
});
type JiraUser = z.infer<typeof userSchema>;

/**
 * A changelog item. Its `toString` key would be read from Object.prototype when Jira leaves it out,
 * so it is renamed before validation, taken only when the item has it.
 */
const changeItemSchema = z.preprocess(
  (v) => {
    if (typeof v !== "object" || v === null) return v;
    const own = (k: string) => (Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : null);
    return { ...v, toText: own("toString"), fromText: own("fromString") };
  },
  z.object({
    field: z.string(),
    fieldId: z.string().optional(),
    from: z.string().nullable().optional(),
    to: z.string().nullable().optional(),
    fromText: z.string().nullable(),
    toText: z.string().nullable(),
  }),
);
const historySchema = z.object({
  id: z.string(),
  author: userSchema.optional(),
  created: z.string(),
  items: z.array(changeItemSchema),
});
type History = z.infer<typeof historySchema>;
const cloudChangelogPage = z.object({ startAt: z.number(), total: z.number().optional(), isLast: z.boolean().optional(), values: z.array(historySchema) });
const dcIssueWithChangelog = z.object({
  key: z.string(),
  changelog: z.object({ startAt: z.number(), total: z.number(), histories: z.array(historySchema) }),
});

const commentSchema = z.object({
  id: z.string(),
  author: userSchema.optional(),
  body: z.unknown(),
  created: z.string(),
  jsdPublic: z.boolean().optional(),
  visibility: z.object({ type: z.string(), value: z.string().optional() }).nullable().optional(),
  properties: z.array(z.object({ key: z.string(), value: z.unknown() })).optional(),
});
type JiraComment = z.infer<typeof commentSchema>;
const commentPage = z.object({ startAt: z.number(), total: z.number(), comments: z.array(commentSchema) });

const statusList = z.array(z.object({ id: z.string(), name: z.string(), statusCategory: z.object({ key: z.string() }).optional() }));

const searchIssue = z.object({ id: z.string(), key: z.string().optional(), fields: z.object({ updated: z.string().optional() }).optional() });
const cloudSearchPage = z.object({ issues: z.array(searchIssue), nextPageToken: z.string().nullable().optional(), isLast: z.boolean().optional() });
const dcSearchPage = z.object({ startAt: z.number(), total: z.number(), issues: z.array(searchIssue) });

/** The poll's cursor: where the next round's window starts, and the page of a round under way. */
const cursorSchema = z.object({
  v: z.literal(1),
  /** The latest `updated` seen (or `since`): the next round reaches back POLL_OVERLAP_MS before it. */
  from: z.iso.datetime(),
  page: z
    .object({
      /** The JQL date as sent, so every page of a round runs the same query. */
      window: z.string(),
      token: z.string().optional(),
      startAt: z.number().int().min(0).optional(),
      latest: z.iso.datetime(),
    })
    .optional(),
});
type Cursor = z.infer<typeof cursorSchema>;

/** A webhook body: only the issue it is about matters (the doorbell re-reads it). */
const webhookBody = z.object({
  issue: z
    .object({
      key: z
        .string()
        .regex(/^[A-Z][A-Z0-9_]*-\d+$/)
        .optional()
        .catch(undefined),
      id: z
        .union([z.string().regex(/^\d+$/), z.number().int().nonnegative()])
        .optional()
        .catch(undefined),
    })
    .optional()
    .catch(undefined),
});

// ---- helpers, exported where tests pin them down ----

/** Jira's `2026-05-01T10:04:05.123+0000` (no colon in the offset) as epoch ms; NaN when unreadable. */
export function parseJiraTime(text: string): number {
  return Date.parse(text.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
}

/**
 * A JQL date (`yyyy/MM/dd HH:mm`) for an instant. JQL reads dates in the time zone of the user who
 * runs the query, so the date is written in that zone. For a zone Intl does not know, the date is
 * written in UTC and moved back by the greatest offset there is: never later than the instant,
 * whatever the zone, at the cost of a wider window.
 */
export function jqlTime(at: Date, timeZone: string | undefined): string {
  let zone = timeZone ?? "UTC";
  let instant = at;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    zone = "UTC";
    instant = new Date(at.getTime() - MAX_TZ_OFFSET_MS);
  }
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "00";
  return `${part("year")}/${part("month")}/${part("day")} ${part("hour")}:${part("minute")}`;
}

/** The plain text of an ADF document (v3 comment bodies), or a wiki string as it is (v2). */
export function plainText(body: unknown): string {
  if (typeof body === "string") return body;
  const out: string[] = [];
  const BLOCKS = new Set(["paragraph", "heading", "listItem", "codeBlock", "blockquote", "tableRow", "panel", "rule"]);
  const walk = (node: unknown) => {
    if (typeof node !== "object" || node === null) return;
    const n = node as { type?: unknown; text?: unknown; content?: unknown };
    if (n.type === "text" && typeof n.text === "string") out.push(n.text);
    if (n.type === "hardBreak") out.push("\n");
    if (Array.isArray(n.content)) for (const child of n.content) walk(child);
    if (typeof n.type === "string" && BLOCKS.has(n.type)) out.push("\n");
  };
  walk(body);
  return out.join("").trim();
}

/**
 * Whether customers see a comment. Service Management marks internal comments with `jsdPublic: false`
 * (Cloud) or the `sd.public.comment` property `{internal: true}` (both); a comment restricted to a
 * role or group (`visibility`) is not public either. Anything else is public: that is what Jira
 * reports for a comment in a project without Service Management.
 */
export function isPublicComment(c: Pick<JiraComment, "jsdPublic" | "visibility" | "properties">): boolean {
  if (c.visibility) return false;
  if (c.jsdPublic !== undefined) return c.jsdPublic;
  const flag = c.properties?.find((p) => p.key === "sd.public.comment")?.value;
  return !(typeof flag === "object" && flag !== null && (flag as { internal?: unknown }).internal === true);
}

function header(headers: DoorbellRequest["headers"], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

/** An event before its time is known (the changelog's and the comment's own). */
type Untimed = HelpdeskEvent extends infer E ? (E extends HelpdeskEvent ? Omit<E, "at"> : never) : never;

const byName = <T>(map: Record<string, T>, name: string | null | undefined): T | undefined => {
  if (!name) return undefined;
  const wanted = name.trim().toLowerCase();
  return Object.entries(map).find(([k]) => k.trim().toLowerCase() === wanted)?.[1];
};

export interface JiraSync {
  sync: HelpdeskSync;
  /** The driver created this issue (its numeric id): name it in `reconcileIssues` for a while. */
  noteCreated(issueId: string): void;
}

export function createJiraSync(o: JiraSyncOptions): JiraSync {
  const statusMap = { ...DEFAULT_STATUS_MAP, ...o.statusMap };
  const issuePath = (key: string) => `/issue/${encodeURIComponent(key)}`;
  const recent = new Map<number, number>();

  /** Validates an answer; one that does not match is a server fault worth retrying, never silently empty. */
  async function read<T extends z.ZodType>(what: string, schema: T, req: Parameters<JiraCall>[1]): Promise<z.infer<T>> {
    const data = await o.call(what, req);
    const parsed = schema.safeParse(data);
    if (parsed.success) return parsed.data;
    throw new DeliveryError(
      `[jira ${o.name}] ${what}: unexpected answer (${parsed.error.issues[0]?.path.join(".") || "body"}: ${parsed.error.issues[0]?.message})`,
      {
        retryable: true,
        reason: "server",
        cause: parsed.error,
      },
    );
  }

  // alertdesk's own account, asked once: every write it makes comes back authored by it.
  let me: Promise<JiraUser> | undefined;
  function myself(): Promise<JiraUser> {
    me ??= read("read own account", userSchema, { method: "GET", url: "/myself" })
      .then((user) => {
        // Without its id every write of alertdesk's own would come back as an agent's.
        if (o.cloud ? !user.accountId : !user.key && !user.name) {
          throw new DeliveryError(`[jira ${o.name}] read own account: /myself names no ${o.cloud ? "accountId" : "key or name"}`, {
            retryable: true,
            reason: "server",
          });
        }
        return user;
      })
      .catch((err: unknown) => {
        me = undefined; // ask again next time rather than remember a failure
        throw err;
      });
    return me;
  }
  const isMe = (self: JiraUser, who: JiraUser | undefined): boolean => {
    if (!who) return false;
    if (o.cloud) return who.accountId !== undefined && who.accountId === self.accountId;
    return (who.key !== undefined && who.key === self.key) || (who.name !== undefined && who.name === self.name);
  };

  // Status id → name and category, for the changelog names only the target status.
  let statuses: Promise<Map<string, { name: string; category: string | undefined }>> | undefined;
  function statusIndex(refresh: boolean) {
    if (refresh || !statuses) {
      statuses = read("list statuses", statusList, { method: "GET", url: "/status" })
        .then((list) => new Map(list.map((s) => [s.id, { name: s.name, category: s.statusCategory?.key }])))
        .catch((err: unknown) => {
          statuses = undefined;
          throw err;
        });
    }
    return statuses;
  }

  const inverse = new Map<string, Priority>();
  for (const p of PRIORITIES) {
    const name = o.priorityName(p).toLowerCase();
    if (!inverse.has(name)) inverse.set(name, p);
  }

  async function histories(key: string): Promise<History[]> {
    if (!o.cloud) {
      // Data Center has no changelog resource; the expanded issue carries every history.
      const data = await read("read changelog", dcIssueWithChangelog, {
        method: "GET",
        url: issuePath(key),
        params: { expand: "changelog", fields: "status" },
      });
      return data.changelog.histories;
    }
    const all: History[] = [];
    for (let startAt = 0; ; ) {
      const page = await read("read changelog", cloudChangelogPage, {
        method: "GET",
        url: `${issuePath(key)}/changelog`,
        params: { startAt, maxResults: LIST_PAGE },
      });
      all.push(...page.values);
      startAt += page.values.length;
      // The server may cap maxResults below what was asked: go by isLast and total, never by page size.
      if (page.values.length === 0 || page.isLast === true || (page.isLast === undefined && startAt >= (page.total ?? startAt))) return all;
    }
  }

  async function comments(key: string): Promise<JiraComment[]> {
    const all: JiraComment[] = [];
    for (let startAt = 0; ; ) {
      const page = await read("read comments", commentPage, {
        method: "GET",
        url: `${issuePath(key)}/comment`,
        params: { startAt, maxResults: LIST_PAGE, orderBy: "created", expand: "properties" },
      });
      all.push(...page.comments);
      startAt += page.comments.length;
      if (page.comments.length === 0 || startAt >= page.total) return all;
    }
  }

  async function readTicket(ref: TicketRef): Promise<ObservedEvent[]> {
    const self = await myself();
    const [hist, notes] = await Promise.all([histories(ref.id), comments(ref.id)]);
    const sorted = [...hist].sort((a, b) => parseJiraTime(a.created) - parseJiraTime(b.created) || Number(a.id) - Number(b.id));
    const fieldOf = (item: History["items"][number]) => (item.fieldId ?? item.field).toLowerCase();
    let index = await statusIndex(false);
    const wanted = sorted.flatMap((h) => h.items.filter((i) => fieldOf(i) === "status" && i.to).map((i) => i.to as string));
    if (wanted.some((id) => !index.has(id))) index = await statusIndex(true); // a status created since

    const timed: { at: number; seq: number; observed: ObservedEvent }[] = [];
    let seq = 0;
    const push = (id: string, created: string, event: Untimed) => {
      const at = parseJiraTime(created);
      timed.push({ at, seq: seq++, observed: { id, event: { ...event, at: new Date(at).toISOString() } as HelpdeskEvent } });
    };

    // The resolution is tracked through every history, alertdesk's too: a transition sets it in the
    // same history as the status, but an agent may also set it on its own earlier.
    let resolution: string | null = null;
    for (const h of sorted) {
      if (Number.isNaN(parseJiraTime(h.created))) continue;
      const res = h.items.find((i) => fieldOf(i) === "resolution");
      if (res) resolution = res.toText;
      if (isMe(self, h.author)) continue;
      const author = h.author?.displayName ? { author: h.author.displayName } : {};
      h.items.forEach((item, i) => {
        const id = `changelog:${h.id}:${i}`;
        const field = fieldOf(item);
        if (field === "assignee") {
          push(id, h.created, { kind: "assigned", ...author, assignee: item.to ? item.toText || item.to : null });
        } else if (field === "status" && item.to) {
          const known = index.get(item.to);
          const name = known?.name ?? item.toText;
          const status = byName(statusMap, name) ?? (known?.category ? CATEGORY_STATUS[known.category] : undefined);
          if (!status) return; // a status whose category Jira does not tell: better unreported than wrong
          const solved = status === "solved" || status === "closed";
          push(id, h.created, {
            kind: "status_changed",
            ...author,
            status,
            ...(solved ? { resolution: resolutionFor(resolution, o.resolutions, DEFAULT_RESOLUTIONS) } : {}),
          });
        } else if (field === "priority" && item.toText) {
          const priority = inverse.get(item.toText.toLowerCase());
          if (priority) push(id, h.created, { kind: "priority_changed", ...author, priority });
        }
      });
    }
    for (const c of notes) {
      if (isMe(self, c.author) || Number.isNaN(parseJiraTime(c.created))) continue;
      push(`comment:${c.id}`, c.created, {
        kind: "commented",
        author: c.author?.displayName || c.author?.name || c.author?.accountId || "unknown",
        public: isPublicComment(c),
        text: plainText(c.body),
      });
    }
    return timed.sort((a, b) => a.at - b.at || a.seq - b.seq).map((t) => t.observed);
  }

  function reconcileIds(now: number): number[] {
    for (const [id, at] of recent) if (now - at > RECONCILE_MS) recent.delete(id);
    return [...recent.keys()].slice(-RECONCILE_MAX);
  }

  /** One page of changed issues: their keys, `updated` times and where the next page starts. */
  async function searchPage(
    jql: string,
    page: { token?: string; startAt?: number },
  ): Promise<{ issues: z.infer<typeof searchIssue>[]; token?: string; startAt?: number }> {
    if (!o.cloud) {
      const data = await read("poll: search", dcSearchPage, {
        method: "GET",
        url: "/search",
        params: { jql, startAt: page.startAt ?? 0, maxResults: SEARCH_PAGE, fields: "updated" },
      });
      const next = data.startAt + data.issues.length;
      return { issues: data.issues, ...(data.issues.length > 0 && next < data.total ? { startAt: next } : {}) };
    }
    const reconcile = reconcileIds(Date.now());
    const body = (withReconcile: boolean) => ({
      jql,
      maxResults: SEARCH_PAGE,
      fields: ["updated"],
      ...(page.token ? { nextPageToken: page.token } : {}),
      ...(withReconcile && reconcile.length > 0 ? { reconcileIssues: reconcile } : {}),
    });
    let data: z.infer<typeof cloudSearchPage>;
    try {
      data = await read("poll: search", cloudSearchPage, { method: "POST", url: "/search/jql", data: body(true) });
    } catch (err) {
      // Every id in reconcileIssues must exist: one an agent deleted spoils the search. Forget them all
      // (they are only there for the index's lag) and search without.
      if (!(err instanceof DeliveryError) || err.reason !== "client" || reconcile.length === 0) throw err;
      recent.clear();
      data = await read("poll: search", cloudSearchPage, { method: "POST", url: "/search/jql", data: body(false) });
    }
    // The last page may leave nextPageToken out rather than send null (JRACLOUD-92184).
    return { issues: data.issues, ...(data.nextPageToken && data.isLast !== true ? { token: data.nextPageToken } : {}) };
  }

  const encode = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString("base64url");
  function decode(cursor: string | undefined): Cursor | undefined {
    if (!cursor) return undefined;
    try {
      const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined; // not ours (another driver's, or damaged): start again from `since`
    }
  }

  async function poll(cursor: string | undefined, since: Date): Promise<{ activity: TicketActivity[]; cursor: string; more?: boolean }> {
    const self = await myself();
    const c = decode(cursor);
    const from = c ? new Date(c.from) : since;
    const window = c?.page?.window ?? jqlTime(new Date(from.getTime() - POLL_OVERLAP_MS), self.timeZone);
    let latest = c?.page ? Date.parse(c.page.latest) : from.getTime();
    // Every issue alertdesk opens carries the label `alertdesk`; the sync ignores the others anyway.
    const jql = `project = "${o.project}" AND labels = "alertdesk" AND updated >= "${window}" ORDER BY updated ASC`;
    let page: Awaited<ReturnType<typeof searchPage>>;
    try {
      page = await searchPage(jql, { ...(c?.page?.token ? { token: c.page.token } : {}), ...(c?.page?.startAt ? { startAt: c.page.startAt } : {}) });
    } catch (err) {
      // A page token expires (after 7 days on Cloud): run the round again from its start.
      if (!(err instanceof DeliveryError) || err.reason !== "client" || !c?.page) throw err;
      return poll(encode({ v: 1, from: c.from }), since);
    }

    const activity: TicketActivity[] = [];
    for (const issue of page.issues) {
      const updated = issue.fields?.updated ? parseJiraTime(issue.fields.updated) : Number.NaN;
      if (!Number.isNaN(updated)) latest = Math.max(latest, updated);
      const key = issue.key ?? issue.id;
      try {
        const events = await readTicket({ id: key });
        if (events.length > 0) activity.push({ ticketId: key, events });
      } catch (err) {
        // Deleted between the search and the read: nothing left to learn from it.
        if (err instanceof DeliveryError && err.reason === "gone") continue;
        throw err;
      }
    }
    const more = page.token !== undefined || page.startAt !== undefined;
    const next: Cursor = more
      ? {
          v: 1,
          from: from.toISOString(),
          page: {
            window,
            latest: new Date(latest).toISOString(),
            ...(page.token ? { token: page.token } : {}),
            ...(page.startAt ? { startAt: page.startAt } : {}),
          },
        }
      : { v: 1, from: new Date(latest).toISOString() };
    return { activity, cursor: encode(next), ...(more ? { more: true } : {}) };
  }

  function doorbell(request: DoorbellRequest, _now: Date): Doorbell {
    // No replay window: Jira signs no timestamp, retries arrive up to half an hour late, and a replayed
    // doorbell can only make alertdesk read an issue again.
    if (o.webhookSecret === undefined) throw new DoorbellRejected(`[jira ${o.name}] webhook: no webhook_secret configured, so no webhook can be trusted`);
    const given = header(request.headers, "x-hub-signature")?.trim();
    if (!given) throw new DoorbellRejected(`[jira ${o.name}] webhook: no X-Hub-Signature (register the webhook with a secret)`);
    if (!/^sha256=/i.test(given)) throw new DoorbellRejected(`[jira ${o.name}] webhook: X-Hub-Signature must be sha256=<hex> (HMAC-SHA256)`);
    const expected = `sha256=${hmacSha256(o.webhookSecret, request.rawBody, "hex")}`;
    if (!sameSignature(`sha256=${given.slice(7).toLowerCase()}`, expected))
      throw new DoorbellRejected(`[jira ${o.name}] webhook: the signature does not match`);

    const deliveryId = header(request.headers, "x-atlassian-webhook-identifier")?.trim() || createHash("sha256").update(request.rawBody).digest("hex");
    let json: unknown;
    try {
      json = JSON.parse(request.rawBody.toString("utf8"));
    } catch {
      json = undefined;
    }
    // A signed event that names no issue (a project or version event) rings for nothing to read.
    const issue = webhookBody.safeParse(json).data?.issue;
    const id = issue?.key ?? (issue?.id !== undefined ? String(issue.id) : undefined);
    return { deliveryId, ticketIds: id ? [id] : [] };
  }

  return {
    sync: { poll, readTicket, doorbell, pollIntervalMs: pollIntervalMs(o.pollInterval) },
    noteCreated(issueId) {
      const id = Number(issueId);
      if (!Number.isSafeInteger(id)) return;
      recent.delete(id);
      recent.set(id, Date.now());
    },
  };
}
