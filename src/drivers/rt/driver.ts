import { z } from "zod";
import { DeliveryError } from "../../model/delivery-error.js";
import { toText } from "../../model/doc.js";
import type { TicketRef } from "../../model/incident.js";
import { PRIORITIES, type Priority } from "../../model/priority.js";
import {
  basicAuth,
  type Credentials,
  commonKeys,
  type DriverFactoryDeps,
  deliveryLimits,
  helpdeskLimiter,
  optionalSecret,
  priorityMap,
  resolveSecret,
  syncKeys,
  timeoutMs,
} from "../config.js";
import { createHttpClient } from "../http.js";
import type { HelpdeskDriver } from "../types.js";
import { createRtSync } from "./sync.js";

/**
 * Request Tracker 5, REST2. Facts: docs/helpdesk-apis.md §4 (checked against the real RT 5.0.3
 * that test/kit/rt.ts starts in the test suite).
 * - Updates are comments, never correspondence: a correspond reopens a resolved ticket.
 * - RT answers 200 to a PUT even when the change failed: the status is read back.
 * - An unknown custom field is dropped silently on create: the dedup field is checked once.
 * The way back (what agents do) is `sync.ts`, docs/helpdesks/rt.md.
 */

export const rtConfigSchema = z
  .object({
    type: z.literal("rt"),
    url: z.string().url().describe("RT's base URL, e.g. http://127.0.0.1:18080 (REST2 is under /REST/2.0)."),
    token: z.string().optional().describe("An RT auth token. Prefer token_file."),
    token_file: z.string().optional(),
    username: z.string().optional().describe("Basic auth instead of a token."),
    password: z.string().optional(),
    password_file: z.string().optional(),
    queue: z.string().min(1).default("General"),
    dedup_field: z.string().min(1).default("DedupKey").describe("The ticket custom field that carries the dedup key."),
    priority_map: priorityMap(z.number().int().min(0).max(255)).optional().describe("Default P1 100, P2 75, P3 50, P4 25."),
    user: z
      .string()
      .min(1)
      .optional()
      .describe("The RT user alertdesk writes as, whose actions are never reported back (default: username, or the token's owner)."),
    ...commonKeys,
    ...syncKeys,
  })
  .strict();

export type RtConfig = z.infer<typeof rtConfigSchema>;

const DEFAULT_PRIORITY: Record<Priority, number> = { P1: 100, P2: 75, P3: 50, P4: 25 };

export function createRtDriver(name: string, config: RtConfig, deps: DriverFactoryDeps & { settleMs?: number } = {}): HelpdeskDriver {
  const base = config.url.replace(/\/+$/, "");
  let credentials: Credentials;
  let token: string | undefined;
  if (config.username) {
    credentials = basicAuth(config.username, resolveSecret(config.password, config.password_file, "password"));
  } else {
    token = resolveSecret(config.token, config.token_file, "token");
    credentials = { authorization: `token ${token}`, secrets: [token] };
  }
  const webhookSecret = optionalSecret(config.webhook_secret, config.webhook_secret_file, "webhook_secret");
  const { authorization } = credentials;
  const secrets = webhookSecret === undefined ? credentials.secrets : [...credentials.secrets, webhookSecret];
  const limiter = helpdeskLimiter(name, config, deps);
  const http = createHttpClient({
    name: `rt ${name}`,
    baseURL: `${base}/REST/2.0`,
    headers: { Authorization: authorization, "Content-Type": "application/json" },
    timeoutMs: timeoutMs(config.timeout),
    secrets,
    ...(deps.clock ? { clock: deps.clock } : {}),
    limiter,
  });
  const priorities = Object.fromEntries(PRIORITIES.map((p) => [p, config.priority_map?.[p] ?? DEFAULT_PRIORITY[p]])) as Record<Priority, number>;
  const priority = (p: Priority) => priorities[p];
  const ref = (id: number | string): TicketRef => ({ id: String(id), url: `${base}/Ticket/Display.html?id=${id}` });
  const text = (body: Parameters<typeof toText>[0]) => ({ Content: toText(body), ContentType: "text/plain" });
  let fieldChecked = false;

  async function ensureDedupField(): Promise<void> {
    if (fieldChecked) return;
    const res = await http.request<{ items: { name?: string }[] }>("check dedup field", {
      method: "GET",
      url: "/customfields",
      params: { query: JSON.stringify([{ field: "Name", value: config.dedup_field }]) },
    });
    if (!res.data.items?.length) {
      throw new DeliveryError(`[rt ${name}] custom field "${config.dedup_field}" does not exist: create it, or set dedup_field`, {
        retryable: false,
        reason: "client",
      });
    }
    fieldChecked = true;
  }

  async function ticketStatus(id: string): Promise<string> {
    const res = await http.raw<{ Status?: string }>("read ticket", { method: "GET", url: `/ticket/${encodeURIComponent(id)}` });
    if (res.status === 404) throw http.failure("read ticket", res, { retryable: false, reason: "gone" });
    if (res.status !== 200) throw http.failure("read ticket", res);
    return res.data.Status ?? "";
  }

  async function comment(what: string, id: string, body: Parameters<typeof toText>[0]): Promise<void> {
    const res = await http.raw(what, { method: "POST", url: `/ticket/${encodeURIComponent(id)}/comment`, data: text(body) });
    if (res.status === 404) throw http.failure(what, res, { retryable: false, reason: "gone" });
    if (res.status < 200 || res.status >= 300) throw http.failure(what, res);
  }

  /** PUT, then read the ticket back: RT answers 200 with a list of messages even when nothing changed. */
  async function setStatus(what: string, id: string, status: string, extra: Record<string, unknown> = {}): Promise<void> {
    const res = await http.raw<string[]>(what, { method: "PUT", url: `/ticket/${encodeURIComponent(id)}`, data: { Status: status, ...extra } });
    if (res.status === 404) throw http.failure(what, res, { retryable: false, reason: "gone" });
    if (res.status < 200 || res.status >= 300) throw http.failure(what, res);
    const now = await ticketStatus(id);
    if (now !== status) {
      throw new DeliveryError(`[rt ${name}] ${what}: status is "${now}", not "${status}" after the update (${JSON.stringify(res.data).slice(0, 200)})`, {
        retryable: now !== "deleted",
        reason: now === "deleted" ? "gone" : "server",
      });
    }
  }

  const sync = createRtSync({
    name,
    http,
    user: config.user ?? config.username,
    token,
    priorities,
    resolutions: config.resolutions,
    pollInterval: config.poll_interval,
    webhookSecret,
    ...(deps.settleMs !== undefined ? { settleMs: deps.settleMs } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });

  return {
    ...deliveryLimits(limiter, config),
    name,
    type: "rt",
    sync,
    async open(t) {
      await ensureDedupField();
      const res = await http.request<{ id: string | number }>("create ticket", {
        method: "POST",
        url: "/ticket",
        data: {
          Queue: config.queue,
          Subject: t.title,
          Priority: priority(t.priority),
          ...text(t.body),
          CustomFields: { [config.dedup_field]: t.ticketKey },
        },
      });
      return ref(res.data.id);
    },
    async comment(r, u) {
      await comment("comment", r.id, u.body);
      if (u.priority) {
        const res = await http.raw("raise priority", { method: "PUT", url: `/ticket/${encodeURIComponent(r.id)}`, data: { Priority: priority(u.priority) } });
        if (res.status < 200 || res.status >= 300) throw http.failure("raise priority", res);
      }
    },
    async resolve(r, u) {
      await comment("resolution note", r.id, u.body);
      if (u.solve && (await ticketStatus(r.id)) !== "resolved") await setStatus("resolve", r.id, "resolved");
    },
    async reopen(r, u) {
      if ((await ticketStatus(r.id)) !== "open") await setStatus("reopen", r.id, "open", { Priority: priority(u.priority) });
      await comment("reopen note", r.id, u.body);
      return r;
    },
    async findByKey(key) {
      // Keys are alertdesk's own (`ad-<hex>-<n>`); anything else must not reach TicketSQL.
      if (!/^[A-Za-z0-9_.:-]+$/.test(key))
        throw new DeliveryError(`[rt ${name}] refusing to search for key ${JSON.stringify(key)}`, { retryable: false, reason: "client" });
      const res = await http.request<{ items: { id: string | number }[] }>("find ticket", {
        method: "GET",
        url: "/tickets",
        params: { query: `'CF.{${config.dedup_field}}'='${key}'`, orderby: "id", order: "DESC", per_page: 1, fields: "Status" },
      });
      const first = res.data.items?.[0];
      return first ? ref(first.id) : undefined;
    },
  };
}
