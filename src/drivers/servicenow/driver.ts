import { z } from "zod";
import { DeliveryError } from "../../model/delivery-error.js";
import { toText } from "../../model/doc.js";
import type { TicketRef } from "../../model/incident.js";
import type { Level, Priority } from "../../model/priority.js";
import type { OpenTicket } from "../../model/ticket-operation.js";
import {
  basicAuth,
  commonKeys,
  type DriverFactoryDeps,
  deliveryLimits,
  helpdeskLimiter,
  optionalSecret,
  resolveSecret,
  syncKeys,
  timeoutMs,
} from "../config.js";
import { createHttpClient } from "../http.js";
import type { HelpdeskDriver } from "../types.js";
import { FINAL_STATES, LEVEL, PAIR } from "./fields.js";
import { CORRELATION_DISPLAY, createServicenowSync } from "./sync.js";

/**
 * ServiceNow incidents through the Table API. Facts: docs/helpdesk-apis.md §3.
 * ServiceNow computes priority from impact × urgency, so the driver sends those (the matrix's levels,
 * or the pair that gives the ticket's priority in the base-system lookup) and never priority itself.
 * The dedup key is `correlation_id`; updates are work notes; closed (7) and canceled (8) are final.
 * The way back (what agents do) is `sync.ts`, docs/helpdesks/servicenow.md.
 */

export const servicenowConfigSchema = z
  .object({
    type: z.literal("servicenow"),
    url: z.string().url().describe("https://acme.service-now.com"),
    username: z.string().min(1),
    password: z.string().optional(),
    password_file: z.string().optional(),
    table: z
      .string()
      .regex(/^[a-z0-9_]+$/)
      .default("incident"),
    caller_id: z.string().optional().describe("Caller (sys_id or user name) set on new incidents."),
    close_code: z.string().default("Solution provided").describe("Resolution code on resolve; the choices vary by release."),
    category_map: z.record(z.string(), z.string()).optional().describe("alertdesk category → ServiceNow incident category."),
    ...commonKeys,
    ...syncKeys,
  })
  .strict();

export type ServicenowConfig = z.infer<typeof servicenowConfigSchema>;

interface Incident {
  sys_id: string;
  number?: string;
  state?: string;
}

export interface ServicenowDeps extends DriverFactoryDeps {
  /** Incidents per poll page; tests page through a few. */
  pollPageSize?: number;
}

export function createServicenowDriver(name: string, config: ServicenowConfig, deps: ServicenowDeps = {}): HelpdeskDriver {
  const { authorization: auth, secrets } = basicAuth(config.username, resolveSecret(config.password, config.password_file, "password"));
  const webhookSecret = optionalSecret(config.webhook_secret, config.webhook_secret_file, "webhook_secret");
  const base = config.url.replace(/\/+$/, "");
  const limiter = helpdeskLimiter(name, config, deps);
  const http = createHttpClient({
    name: `servicenow ${name}`,
    baseURL: base,
    headers: { Authorization: auth, "Content-Type": "application/json" },
    timeoutMs: timeoutMs(config.timeout),
    // The webhook secret never goes to ServiceNow; it is masked anyway, should an answer ever echo it.
    secrets: webhookSecret === undefined ? secrets : [...secrets, webhookSecret],
    ...(deps.clock ? { clock: deps.clock } : {}),
    limiter,
  });
  const path = `/api/now/table/${config.table}`;
  const params = { sysparm_exclude_reference_link: "true", sysparm_input_display_value: "true" };
  const ref = (sysId: string): TicketRef => ({ id: sysId, url: `${base}/nav_to.do?uri=${config.table}.do?sys_id=${sysId}` });
  const levels = (priority: Priority, impact?: Level, urgency?: Level) =>
    impact && urgency ? { impact: LEVEL[impact], urgency: LEVEL[urgency] } : { impact: PAIR[priority][0], urgency: PAIR[priority][1] };

  async function read(sysId: string): Promise<Incident | undefined> {
    const res = await http.raw<{ result: Incident }>("read incident", {
      method: "GET",
      url: `${path}/${encodeURIComponent(sysId)}`,
      params: { sysparm_fields: "sys_id,number,state" },
    });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw http.failure("read incident", res);
    return res.data.result;
  }

  /** PATCH; a 403/404 on an incident that is gone or closed is final, not an endless retry. */
  async function patch(what: string, sysId: string, data: Record<string, unknown>): Promise<void> {
    const res = await http.raw(what, { method: "PATCH", url: `${path}/${encodeURIComponent(sysId)}`, params, data });
    if (res.status >= 200 && res.status < 300) return;
    if (res.status === 403 || res.status === 404) {
      const now = await read(sysId);
      if (!now || FINAL_STATES.has(String(now.state))) throw http.failure(what, res, { retryable: false, reason: "gone" });
    }
    throw http.failure(what, res);
  }

  async function create(
    what: string,
    t: Pick<OpenTicket, "title" | "body" | "priority" | "ticketKey"> & Partial<OpenTicket>,
    extra: Record<string, unknown> = {},
  ): Promise<TicketRef> {
    const category = t.category ? config.category_map?.[t.category] : undefined;
    const res = await http.request<{ result: Incident }>(what, {
      method: "POST",
      url: path,
      params,
      data: {
        short_description: t.title.slice(0, 160),
        description: toText(t.body),
        ...levels(t.priority, t.impact, t.urgency),
        correlation_id: t.ticketKey,
        correlation_display: CORRELATION_DISPLAY,
        ...(config.caller_id ? { caller_id: config.caller_id } : {}),
        ...(t.assigneeGroup ? { assignment_group: t.assigneeGroup } : {}),
        ...(category ? { category } : {}),
        ...(t.fields ?? {}),
        ...extra,
      },
    });
    return ref(res.data.result.sys_id);
  }

  const sync = createServicenowSync({
    name,
    http,
    table: config.table,
    username: config.username,
    resolutions: config.resolutions,
    pollInterval: config.poll_interval,
    webhookSecret,
    pollPageSize: deps.pollPageSize,
  });

  return {
    ...deliveryLimits(limiter, config),
    name,
    type: "servicenow",
    sync,
    open: (t) => create("create incident", t),
    async comment(r, u) {
      await patch("work note", r.id, { work_notes: toText(u.body), ...(u.priority ? levels(u.priority) : {}) });
    },
    async resolve(r, u) {
      const text = toText(u.body);
      await patch(
        u.solve ? "resolve" : "work note",
        r.id,
        u.solve ? { state: "6", close_code: config.close_code, close_notes: text, work_notes: text } : { work_notes: text },
      );
    },
    async reopen(r, u, ctx) {
      const now = await read(r.id);
      if (now && !FINAL_STATES.has(String(now.state))) {
        await patch("reopen", r.id, { state: "2", work_notes: toText(u.body), ...levels(u.priority) });
        return r;
      }
      // Closed or canceled is final: a new incident, child of the old one, with the same correlation id.
      return create(
        "create follow-up incident",
        { title: `Fired again (follow-up of ${now?.number ?? r.id})`, body: u.body, priority: u.priority, ticketKey: ctx.ticketKey },
        now ? { parent_incident: r.id } : {},
      );
    },
    async findByKey(key) {
      // `^` separates clauses in an encoded query: a key containing it could widen the search.
      if (key.includes("^") || /\s/.test(key)) {
        throw new DeliveryError(`[servicenow ${name}] refusing to search for key ${JSON.stringify(key)}`, { retryable: false, reason: "client" });
      }
      const res = await http.request<{ result: Incident[] }>("find incident", {
        method: "GET",
        url: path,
        params: { sysparm_query: `correlation_id=${key}^ORDERBYDESCsys_created_on`, sysparm_fields: "sys_id,number,state", sysparm_limit: "1" },
      });
      const first = res.data.result[0];
      return first ? ref(first.sys_id) : undefined;
    },
  };
}
