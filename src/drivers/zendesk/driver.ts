import { z } from "zod";
import { DeliveryError } from "../../model/delivery-error.js";
import { toHtml } from "../../model/doc.js";
import type { TicketRef } from "../../model/incident.js";
import { PRIORITIES, type Priority } from "../../model/priority.js";
import type { OpenTicket } from "../../model/ticket-operation.js";
import {
  commonKeys,
  type DriverFactoryDeps,
  deliveryLimits,
  helpdeskLimiter,
  optionalSecret,
  pollIntervalMs,
  priorityMap,
  resolveSecret,
  syncKeys,
  timeoutMs,
} from "../config.js";
import { createHttpClient, type HttpClient } from "../http.js";
import type { HelpdeskDriver, TicketUpdateBudget } from "../types.js";
import { createZendeskSync } from "./sync.js";

/**
 * Zendesk Support: tickets API v2. Facts: docs/helpdesk-apis.md §1 and
 * developer.zendesk.com/api-reference/ticketing/tickets/tickets/. The way back (what agents do):
 * sync.ts and docs/helpdesks/zendesk.md.
 */

const ZENDESK_PRIORITIES = ["urgent", "high", "normal", "low"] as const;

/** Zendesk's documented limit on one ticket: 30 updates per 10 minutes (then 429), whatever the plan. */
const ZENDESK_TICKET_UPDATES: TicketUpdateBudget = { updates: 30, windowMs: 10 * 60_000 };

export const zendeskConfigSchema = z
  .object({
    type: z.literal("zendesk"),
    url: z.string().url().describe("https://acme.zendesk.com (tests point it at a local fake)."),
    email: z.string().min(1).describe("The integration agent's email; auth is email/token:TOKEN."),
    token: z.string().optional(),
    token_file: z.string().optional(),
    priority_map: priorityMap(z.enum(ZENDESK_PRIORITIES)).optional().describe("Default P1 urgent, P2 high, P3 normal, P4 low."),
    ticket_type: z.enum(["problem", "incident", "question", "task"]).default("incident"),
    groups: z.record(z.string(), z.number().int()).optional().describe("assignee_group name → Zendesk group_id."),
    custom_fields: z.record(z.string(), z.number().int()).optional().describe("Rule field name → Zendesk custom field id."),
    assignee_id: z.number().int().optional().describe("Set on solve when Zendesk needs an assignee to solve."),
    public_comments: z.boolean().default(false).describe("Comments visible to the requester (default: internal notes)."),
    resolution_field: z
      .number()
      .int()
      .optional()
      .describe("Id of a drop-down ticket field whose option tag names the resolution of a solve (docs/helpdesks/zendesk.md)."),
    resolution_tag_prefix: z
      .string()
      .regex(/^[a-z0-9_\-:/.]*$/, "must be a Zendesk tag prefix: lowercase letters, digits, _ - : / .")
      .optional()
      .describe('Without the field, a tag "<prefix><name>" names the resolution (default "resolution_"; "" turns tags off).'),
    ...syncKeys,
    ...commonKeys,
  })
  .strict();

export type ZendeskConfig = z.infer<typeof zendeskConfigSchema>;

const DEFAULT_PRIORITY: Record<Priority, (typeof ZENDESK_PRIORITIES)[number]> = { P1: "urgent", P2: "high", P3: "normal", P4: "low" };

/** Zendesk tags: lowercase, no spaces. */
function tag(t: string): string {
  return t
    .toLowerCase()
    .replace(/[^a-z0-9_\-:/.]+/g, "_")
    .slice(0, 80);
}

interface ZendeskTicket {
  id: number;
  status: string;
  subject?: string;
  external_id?: string | null;
}

export function createZendeskDriver(name: string, config: ZendeskConfig, deps: DriverFactoryDeps = {}): HelpdeskDriver {
  const token = resolveSecret(config.token, config.token_file, "token");
  const auth = Buffer.from(`${config.email}/token:${token}`).toString("base64");
  const base = config.url.replace(/\/+$/, "");
  const limiter = helpdeskLimiter(name, config, deps);
  const http: HttpClient = createHttpClient({
    name: `zendesk ${name}`,
    baseURL: base,
    headers: { Authorization: `Basic ${auth}`, "Content-Type": "application/json" },
    timeoutMs: timeoutMs(config.timeout),
    secrets: [token, auth],
    ...(deps.clock ? { clock: deps.clock } : {}),
    limiter,
  });
  const priority = (p: Priority) => config.priority_map?.[p] ?? DEFAULT_PRIORITY[p];
  // Read back, a Zendesk priority is the most urgent of alertdesk's that map onto it; one the map
  // does not use is read as the default map reads it.
  const priorityOf = (zendesk: string): Priority | undefined =>
    PRIORITIES.find((p) => priority(p) === zendesk) ?? PRIORITIES.find((p) => DEFAULT_PRIORITY[p] === zendesk);
  const ref = (id: number | string): TicketRef => ({ id: String(id), url: `${base}/agent/tickets/${id}` });
  const comment = (body: Parameters<typeof toHtml>[0]) => ({ html_body: toHtml(body), public: config.public_comments });

  function ticketBody(t: OpenTicket, followUpOf?: string) {
    const customFields = Object.entries(t.fields).flatMap(([field, value]) => {
      const id = config.custom_fields?.[field] ?? (/^\d+$/.test(field) ? Number(field) : undefined);
      return id === undefined ? [] : [{ id, value }];
    });
    const group = t.assigneeGroup ? (config.groups?.[t.assigneeGroup] ?? (/^\d+$/.test(t.assigneeGroup) ? Number(t.assigneeGroup) : undefined)) : undefined;
    return {
      ticket: {
        subject: t.title,
        comment: comment(t.body),
        priority: priority(t.priority),
        type: config.ticket_type,
        external_id: t.ticketKey,
        tags: [...new Set(["alertdesk", tag(t.ticketKey), tag(t.category), ...t.tags.map(tag)])],
        ...(customFields.length > 0 ? { custom_fields: customFields } : {}),
        ...(group !== undefined ? { group_id: group } : {}),
        ...(followUpOf ? { via_followup_source_id: Number(followUpOf) } : {}),
      },
    };
  }

  /** A 404 (deleted) or a 422 about a closed ticket: the ticket can take no more updates. */
  function gone(res: { status: number; data: unknown }): boolean {
    if (res.status === 404) return true;
    return res.status === 422 && /closed/i.test(JSON.stringify(res.data ?? ""));
  }

  async function update(what: string, id: string, ticket: Record<string, unknown>): Promise<void> {
    // Zendesk's account-wide limits ask to wait within the minute; a longer Retry-After on a ticket
    // update is that ticket's own limit (30 updates per 10 minutes), which must not stop the others.
    const res = await http.raw(what, { method: "PUT", url: `/api/v2/tickets/${encodeURIComponent(id)}`, data: { ticket } }, { ownLimitBeyondMs: 60_000 });
    if (res.status >= 200 && res.status < 300) return;
    if (gone(res)) throw http.failure(what, res, { retryable: false, reason: "gone" });
    throw http.failure(what, res);
  }

  const sync = createZendeskSync({
    label: `zendesk ${name}`,
    http,
    priorityOf,
    resolutions: config.resolutions,
    resolutionField: config.resolution_field,
    resolutionTagPrefix: config.resolution_tag_prefix ?? "resolution_",
    webhookSecret: optionalSecret(config.webhook_secret, config.webhook_secret_file, "webhook_secret"),
    pollIntervalMs: pollIntervalMs(config.poll_interval),
    now: deps.clock ?? (() => new Date()),
  });

  return {
    ...deliveryLimits(limiter, config, ZENDESK_TICKET_UPDATES),
    name,
    type: "zendesk",
    sync,
    async open(t, ctx) {
      // Zendesk returns the original ticket for a repeated Idempotency-Key with the same body (2 h).
      const res = await http.request<{ ticket: ZendeskTicket }>("create ticket", {
        method: "POST",
        url: "/api/v2/tickets",
        data: ticketBody(t),
        headers: { "Idempotency-Key": ctx.idempotencyKey },
      });
      return ref(res.data.ticket.id);
    },
    async comment(r, u) {
      await update("comment", r.id, { comment: comment(u.body), ...(u.priority ? { priority: priority(u.priority) } : {}) });
    },
    async resolve(r, u) {
      await update(u.solve ? "solve" : "comment on resolve", r.id, {
        comment: comment(u.body),
        // An agent's assignment is theirs: the configured assignee only fills an empty one.
        ...(u.solve ? { status: "solved", ...(config.assignee_id && !u.assigned ? { assignee_id: config.assignee_id } : {}) } : {}),
      });
    },
    async reopen(r, u, ctx) {
      try {
        await update("reopen", r.id, { status: "open", comment: comment(u.body), priority: priority(u.priority) });
        return r;
      } catch (err) {
        if (!(err instanceof DeliveryError) || err.reason !== "gone") throw err;
      }
      // Closed is final in Zendesk: the re-fire becomes a follow-up ticket of the closed one.
      const old = await http.raw<{ ticket: ZendeskTicket }>("read closed ticket", { method: "GET", url: `/api/v2/tickets/${encodeURIComponent(r.id)}` });
      const subject = old.status === 200 ? (old.data.ticket.subject ?? "Alert fired again") : "Alert fired again";
      const key = old.status === 200 ? (old.data.ticket.external_id ?? ctx.idempotencyKey) : ctx.idempotencyKey;
      const res = await http.request<{ ticket: ZendeskTicket }>("create follow-up", {
        method: "POST",
        url: "/api/v2/tickets",
        data: {
          ticket: {
            subject,
            comment: comment(u.body),
            priority: priority(u.priority),
            type: config.ticket_type,
            external_id: key,
            tags: ["alertdesk", tag(key)],
            ...(old.status === 200 && old.data.ticket.status === "closed" ? { via_followup_source_id: Number(r.id) } : {}),
          },
        },
        headers: { "Idempotency-Key": `${ctx.idempotencyKey}/follow-up` },
      });
      return ref(res.data.ticket.id);
    },
    async findByKey(key) {
      // The list endpoint reads the database (the search API lags by minutes); newest ticket wins,
      // since a follow-up carries the same key as the closed ticket it follows.
      const res = await http.request<{ tickets: ZendeskTicket[] }>("find ticket", {
        method: "GET",
        url: "/api/v2/tickets",
        params: { external_id: key },
      });
      const tickets = res.data.tickets.filter((t) => t.external_id === key).sort((a, b) => b.id - a.id);
      const found = tickets.find((t) => t.status !== "closed" && t.status !== "deleted") ?? tickets[0];
      return found ? ref(found.id) : undefined;
    },
  };
}
