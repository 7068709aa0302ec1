import { createHash } from "node:crypto";
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
} from "../../model/helpdesk-event.js";
import type { TicketRef } from "../../model/incident.js";
import { hmacSha256, pollIntervalMs, resolutionFor, sameSignature } from "../config.js";
import type { HttpClient } from "../http.js";
import type { HelpdeskSync } from "../types.js";
import { DEFAULT_RESOLUTIONS, PRIORITY_FROM_SERVICENOW, STATUS_FROM_STATE } from "./fields.js";

/**
 * The way back from ServiceNow (docs/helpdesks/servicenow.md): what agents did on alertdesk's
 * incidents, read from the journal (`sys_journal_field`: comments and work notes) and the audit trail
 * (`sys_audit`: state, assigned_to, priority), found by a Table API query on `sys_updated_on`, or
 * rung for by a business rule that posts a signed doorbell. Everything alertdesk's own user wrote is
 * left out (echo suppression).
 */

/** The `correlation_display` the driver stamps on every incident it opens: the poll reads only those. */
export const CORRELATION_DISPLAY = "alertdesk";

/** The doorbell's headers, as the business rule in docs/helpdesks/servicenow.md sends them. */
export const SIGNATURE_HEADER = "x-alertdesk-signature";
export const TIMESTAMP_HEADER = "x-alertdesk-timestamp";
export const DELIVERY_HEADER = "x-alertdesk-delivery";

/** How far a doorbell's timestamp may be from now, either way: a captured doorbell replays for no longer. */
export const REPLAY_WINDOW_MS = 5 * 60_000;

/**
 * How far each poll reaches back before the newest change it saw. `sys_updated_on` is set when the
 * update starts, and an update commits a little later: a row can appear with a time before one
 * already read. Repeated events are stored once, so reading them twice is harmless.
 */
export const POLL_OVERLAP_MS = 60_000;

/** Incidents per poll page: each costs two more requests (journal, audit). */
const DEFAULT_POLL_PAGE = 50;
/** Journal or audit rows per request of one incident's history. */
const HISTORY_PAGE = 1000;
/** A history longer than this many pages is a broken answer (a server that never ends), not a ticket. */
const MAX_HISTORY_PAGES = 100;
/** Users remembered by sys_id (assignees); a directory of agents, not of every caller. */
const MAX_CACHED_USERS = 5000;

const SN_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const SYS_ID = /^[0-9a-f]{32}$/;

/** ServiceNow's own date-time format (`yyyy-MM-dd HH:mm:ss`), in UTC as the database stores it. */
export function toServicenowTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ");
}

/** ISO 8601 of a ServiceNow date-time (UTC with `sysparm_display_value=false`, the default). */
export function fromServicenowTime(s: string): string {
  return `${s.replace(" ", "T")}Z`;
}

const snTime = z.string().regex(SN_TIME, "not a yyyy-MM-dd HH:mm:ss date-time");
const text = z
  .string()
  .nullish()
  .transform((v) => v ?? "");

const journalRow = z.object({
  sys_id: z.string().min(1),
  element: z.string(),
  value: text,
  sys_created_on: snTime,
  sys_created_by: text,
});
type JournalRow = z.infer<typeof journalRow>;

const auditRow = z.object({
  sys_id: z.string().min(1),
  fieldname: z.string(),
  oldvalue: text,
  newvalue: text,
  user: text,
  sys_created_on: snTime,
});
type AuditRow = z.infer<typeof auditRow>;

const incidentRow = z.object({ sys_id: z.string().min(1), sys_updated_on: snTime, close_code: text });
const userRecord = z.object({ result: z.object({ user_name: text }) });
const closeCodeRecord = z.object({ result: z.object({ close_code: text }) });

/** The poll's position: the `sys_updated_on` to query from, and rows of that same second to step over. */
const cursorSchema = z.object({ at: snTime, skip: z.number().int().min(0) }).strict();
type Cursor = z.infer<typeof cursorSchema>;

/** The doorbell's body (docs/helpdesks/servicenow.md, the business rule). */
const doorbellBody = z.object({ sys_id: z.string().regex(SYS_ID), number: z.string().max(40).optional() });

export interface ServicenowSyncOptions {
  /** The helpdesk's name, for messages. */
  name: string;
  http: HttpClient;
  /** The Table API table of the incidents (the driver's `table`). */
  table: string;
  /** The user alertdesk writes as: whatever it did is never reported. */
  username: string;
  resolutions?: Record<string, Resolution> | undefined;
  /** `poll_interval` in ms, when set. */
  pollInterval?: number | undefined;
  /** `webhook_secret` / `webhook_secret_file`; without it every doorbell is rejected. */
  webhookSecret?: string | undefined;
  /** Incidents per poll page (tests use small pages). */
  pollPageSize?: number | undefined;
}

export function createServicenowSync(options: ServicenowSyncOptions): HelpdeskSync {
  const { http, table } = options;
  const prefix = `[servicenow ${options.name}]`;
  const pageSize = options.pollPageSize ?? DEFAULT_POLL_PAGE;
  const self = options.username.trim().toLowerCase();
  const isSelf = (user: string) => user.trim().toLowerCase() === self;
  // Left out in the query too, so a ticket's hundreds of alertdesk work notes are never fetched; a
  // name that would break an encoded query is filtered here only.
  const selfQueryable = !/[\^=\s]/.test(options.username);
  const users = new Map<string, string>();

  function parse<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
    const got = schema.safeParse(data);
    if (got.success) return got.data;
    const issue = got.error.issues[0];
    const where = issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "unexpected shape";
    throw new DeliveryError(`${prefix} ${what}: unexpected answer (${where})`, { retryable: true, reason: "server", cause: got.error });
  }

  /** Whether a list answer has rows after `offset` (X-Total-Count; the limit applies before ACLs, so a short page is not the end). */
  function hasMore(res: AxiosResponse, offset: number, rows: number, limit: number): boolean {
    const total = String(res.headers["x-total-count"] ?? "").trim();
    return /^\d+$/.test(total) ? offset < Number(total) : rows === limit;
  }

  async function page<T>(what: string, path: string, query: string, fields: string, schema: z.ZodType<T>, limit: number, offset: number) {
    const res = await http.request(what, {
      method: "GET",
      url: `/api/now/table/${path}`,
      params: {
        sysparm_query: query,
        sysparm_fields: fields,
        sysparm_limit: String(limit),
        sysparm_offset: String(offset),
        sysparm_exclude_reference_link: "true",
      },
    });
    const rows = parse(z.object({ result: z.array(schema) }), res.data, what).result;
    return { rows, more: hasMore(res, offset + limit, rows.length, limit) };
  }

  async function listAll<T>(what: string, path: string, query: string, fields: string, schema: z.ZodType<T>): Promise<T[]> {
    const out: T[] = [];
    for (let n = 0; n < MAX_HISTORY_PAGES; n++) {
      const got = await page(what, path, query, fields, schema, HISTORY_PAGE, n * HISTORY_PAGE);
      out.push(...got.rows);
      if (!got.more) return out;
    }
    throw new DeliveryError(`${prefix} ${what}: more than ${MAX_HISTORY_PAGES * HISTORY_PAGE} rows`, { retryable: false, reason: "client" });
  }

  /** The user name of a sys_user sys_id (what agents and the harness call an assignee); the sys_id when hidden or gone. */
  async function userName(sysId: string): Promise<string> {
    const known = users.get(sysId);
    if (known !== undefined) return known;
    if (!SYS_ID.test(sysId)) return sysId;
    const res = await http.raw("read user", { method: "GET", url: `/api/now/table/sys_user/${sysId}`, params: { sysparm_fields: "user_name" } });
    if (res.status === 404 || res.status === 403) return sysId;
    if (res.status !== 200) throw http.failure("read user", res);
    const name = parse(userRecord, res.data, "read user").result.user_name || sysId;
    if (users.size >= MAX_CACHED_USERS) users.clear();
    users.set(sysId, name);
    return name;
  }

  async function currentCloseCode(sysId: string): Promise<string> {
    const res = await http.raw("read incident", { method: "GET", url: `/api/now/table/${table}/${sysId}`, params: { sysparm_fields: "close_code" } });
    if (res.status === 404) return "";
    if (res.status !== 200) throw http.failure("read incident", res);
    return parse(closeCodeRecord, res.data, "read incident").result.close_code;
  }

  /**
   * One incident's agent actions, oldest first. `closeCode` is the incident's current resolution code
   * when the caller has it (the poll's row); otherwise it is read only if a solve needs it.
   */
  async function history(sysId: string, closeCode?: string): Promise<ObservedEvent[]> {
    if (!SYS_ID.test(sysId)) throw new DeliveryError(`${prefix} not an incident sys_id: ${JSON.stringify(sysId)}`, { retryable: false, reason: "client" });
    const notSelf = selfQueryable ? `^sys_created_by!=${options.username}` : "";
    const journal = await listAll(
      "read journal",
      "sys_journal_field",
      `element_id=${sysId}^elementINcomments,work_notes${notSelf}^ORDERBYsys_created_on^ORDERBYsys_id`,
      "sys_id,element,value,sys_created_on,sys_created_by",
      journalRow,
    );
    // `^OR` binds to the condition before it: (user is not alertdesk OR the field is close_code). Every
    // close_code change is read, alertdesk's too, because a solve reports the code in force then.
    const notSelfAudit = selfQueryable ? `^user!=${options.username}^ORfieldname=close_code` : "";
    const audits = await listAll(
      "read audit",
      "sys_audit",
      `tablename=${table}^documentkey=${sysId}^fieldnameINstate,assigned_to,priority,close_code${notSelfAudit}^ORDERBYsys_created_on^ORDERBYsys_id`,
      "sys_id,fieldname,oldvalue,newvalue,user,sys_created_on",
      auditRow,
    );

    const closeCodes = audits.filter((a) => a.fieldname === "close_code");
    let current = closeCode;
    const resolutionAt = async (at: string): Promise<Resolution> => {
      let code = closeCodes.filter((c) => c.sys_created_on <= at).at(-1)?.newvalue;
      if (code === undefined) {
        current ??= await currentCloseCode(sysId);
        code = current;
      }
      return resolutionFor(code, options.resolutions, DEFAULT_RESOLUTIONS);
    };

    const events: { at: string; observed: ObservedEvent }[] = [];
    for (const a of inChainOrder(audits)) {
      if (isSelf(a.user)) continue;
      const event = await auditEvent(a, resolutionAt);
      if (event) events.push({ at: a.sys_created_on, observed: { id: `audit:${a.sys_id}`, event } });
    }
    for (const j of journal) {
      const event = journalEvent(j);
      if (event) events.push({ at: j.sys_created_on, observed: { id: `journal:${j.sys_id}`, event } });
    }
    // Stable: within one second, the order of the queries (a state change before the note made with it).
    return events.sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0)).map((e) => e.observed);
  }

  function journalEvent(j: JournalRow): HelpdeskEvent | undefined {
    if (isSelf(j.sys_created_by) || (j.element !== "comments" && j.element !== "work_notes")) return undefined;
    return {
      kind: "commented",
      at: fromServicenowTime(j.sys_created_on),
      author: j.sys_created_by || "unknown",
      // Additional comments reach the caller; work notes stay inside the service desk.
      public: j.element === "comments",
      text: j.value,
    };
  }

  async function auditEvent(a: AuditRow, resolutionAt: (at: string) => Promise<Resolution>): Promise<HelpdeskEvent | undefined> {
    const at = fromServicenowTime(a.sys_created_on);
    const author = a.user ? { author: a.user } : {};
    switch (a.fieldname) {
      case "state": {
        const status = STATUS_FROM_STATE[a.newvalue];
        if (!status) return undefined;
        const resolution = status === "solved" || status === "closed" ? { resolution: await resolutionAt(a.sys_created_on) } : {};
        return { kind: "status_changed", at, ...author, status, ...resolution };
      }
      case "assigned_to":
        return { kind: "assigned", at, ...author, assignee: a.newvalue ? await userName(a.newvalue) : null };
      case "priority": {
        const priority = PRIORITY_FROM_SERVICENOW[a.newvalue];
        return priority ? { kind: "priority_changed", at, ...author, priority } : undefined;
      }
      default:
        return undefined;
    }
  }

  function readCursor(cursor: string | undefined): Cursor | undefined {
    if (cursor === undefined) return undefined;
    try {
      const got = cursorSchema.safeParse(JSON.parse(cursor));
      return got.success ? got.data : undefined;
    } catch {
      // Not JSON: a cursor from elsewhere; start from `since` instead.
      return undefined;
    }
  }

  return {
    pollIntervalMs: pollIntervalMs(options.pollInterval),

    readTicket: (ref: TicketRef) => history(ref.id),

    async poll(cursor, since) {
      const from = readCursor(cursor) ?? { at: toServicenowTime(since), skip: 0 };
      const got = await page(
        "poll incidents",
        table,
        `correlation_display=${CORRELATION_DISPLAY}^sys_updated_on>=${from.at}^ORDERBYsys_updated_on^ORDERBYsys_id`,
        "sys_id,sys_updated_on,close_code",
        incidentRow,
        pageSize,
        from.skip,
      );
      const activity: TicketActivity[] = [];
      for (const row of got.rows) {
        const events = await history(row.sys_id, row.close_code);
        if (events.length > 0) activity.push({ ticketId: row.sys_id, events });
      }
      const last = got.rows.at(-1)?.sys_updated_on;
      let next: Cursor;
      if (got.more) {
        // A full page within one second (or hidden by ACLs) is stepped over by offset; otherwise the
        // next page starts at the newest second seen, reading its rows again rather than skipping any.
        next = last === undefined || last === from.at ? { at: from.at, skip: from.skip + pageSize } : { at: last, skip: 0 };
      } else {
        // Caught up: the next poll reaches back POLL_OVERLAP_MS before the newest change, and stays
        // put while nothing changes.
        next =
          last === undefined ? { at: from.at, skip: 0 } : { at: toServicenowTime(new Date(Date.parse(fromServicenowTime(last)) - POLL_OVERLAP_MS)), skip: 0 };
      }
      return { activity, cursor: JSON.stringify(next), ...(got.more ? { more: true } : {}) };
    },

    doorbell(request: DoorbellRequest, now: Date): Doorbell {
      const secret = options.webhookSecret;
      if (secret === undefined) throw new DoorbellRejected(`${prefix} no webhook_secret is configured, so no doorbell can be verified`);
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
      if (!sameSignature(signature, `sha256=${hmacSha256(secret, signed, "base64")}`))
        throw new DoorbellRejected(`${prefix} doorbell signature does not match`);
      let body: unknown;
      try {
        body = JSON.parse(request.rawBody.toString("utf8"));
      } catch (err) {
        throw new DoorbellRejected(`${prefix} doorbell body is not JSON`, { cause: err });
      }
      const parsed = doorbellBody.safeParse(body);
      if (!parsed.success) throw new DoorbellRejected(`${prefix} doorbell body is not {"sys_id": …, "number": …}`, { cause: parsed.error });
      const given = headers.get(DELIVERY_HEADER)?.trim();
      // Without the rule's delivery id, a digest of what was signed: two doorbells for the same incident
      // differ in their timestamps, so neither is mistaken for a repeat of the other.
      const deliveryId = given && /^[\w.:-]{1,200}$/.test(given) ? given : `sha256:${createHash("sha256").update(signed).digest("hex")}`;
      return { deliveryId, ticketIds: [parsed.data.sys_id] };
    },
  };
}

/**
 * Audits of one field written in the same second come back in sys_id order, not in the order they
 * happened (In Progress → Resolved in one second could read as Resolved → In Progress). Their values
 * chain, each old value the previous new value, which gives the order back; where they do not chain,
 * the order stays as it came.
 */
export function inChainOrder<T extends { sys_created_on: string; fieldname: string; oldvalue: string; newvalue: string }>(rows: readonly T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < rows.length; ) {
    let j = i;
    while (j < rows.length && (rows[j] as T).sys_created_on === (rows[i] as T).sys_created_on) j++;
    const second = rows.slice(i, j);
    const fields = [...new Set(second.map((r) => r.fieldname))];
    for (const field of fields) out.push(...chained(second.filter((r) => r.fieldname === field)));
    i = j;
  }
  return out;
}

function chained<T extends { oldvalue: string; newvalue: string }>(group: T[]): T[] {
  if (group.length < 2) return group;
  const first = group.filter((r) => !group.some((o) => o !== r && o.newvalue === r.oldvalue));
  if (first.length !== 1) return group;
  const order = [first[0] as T];
  const left = new Set(group.filter((r) => r !== first[0]));
  while (left.size > 0) {
    const prev = order.at(-1) as T;
    const next = [...left].filter((r) => r.oldvalue === prev.newvalue);
    if (next.length !== 1) return group;
    order.push(next[0] as T);
    left.delete(next[0] as T);
  }
  return order;
}
