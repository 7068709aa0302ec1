import { z } from "zod";
import { DeliveryError } from "../../model/delivery-error.js";
import { type Doc, toAdf, toWiki } from "../../model/doc.js";
import { duration } from "../../model/duration.js";
import { TICKET_STATUSES } from "../../model/helpdesk-event.js";
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
import { createJiraSync } from "./sync.js";

/**
 * Jira Cloud (REST v3, ADF) and Data Center (REST v2, wiki markup). Facts:
 * docs/helpdesk-apis.md §2.
 * - Resolve and reopen are workflow transitions, picked by target status category or by name.
 * - The dedup key is a label and/or a custom field; lookups use /search/jql on Cloud, which is
 *   eventually consistent, so a lookup is retried before the outbox creates again.
 * - Fields humans edit are left alone: updates are comments; the priority is only ever raised, and
 *   never over one a human set higher.
 * - The way back (what agents did) is in sync.ts: changelog and comments, docs/helpdesks/jira.md.
 */

export const jiraConfigSchema = z
  .object({
    type: z.literal("jira"),
    api: z.enum(["cloud", "datacenter"]).default("cloud").describe("cloud: REST v3 with ADF; datacenter: REST v2 with wiki markup."),
    url: z.string().url(),
    email: z.string().optional().describe("Cloud: the account of the API token (Basic email:token)."),
    token: z.string().optional().describe("Cloud API token, or a Data Center personal access token (Bearer) when no email is set."),
    token_file: z.string().optional(),
    username: z.string().optional().describe("Data Center Basic auth instead of a token."),
    password: z.string().optional(),
    password_file: z.string().optional(),
    project: z.string().regex(/^[A-Z][A-Z0-9_]+$/, "must be a project key like OPS"),
    issue_type: z.string().min(1).default("Task"),
    priority_map: priorityMap(z.string().min(1)).optional().describe("Default P1 Highest, P2 High, P3 Medium, P4 Low."),
    key_label: z.boolean().default(true).describe("Carry the dedup key as a label (some teams' filters dislike extra labels)."),
    key_field: z
      .string()
      .regex(/^customfield_\d+$/)
      .optional()
      .describe("Also (or instead) carry the key in this text custom field."),
    resolve_transition: z.string().optional().describe("Transition name to resolve; default: the first one to a done status."),
    reopen_transition: z.string().optional().describe("Transition name to reopen; default: the first one to an in-progress or to-do status."),
    resolution: z.string().optional().describe("Resolution set by the resolve transition, when its screen has the field."),
    search_retries: z.number().int().min(0).max(20).default(3).describe("Lookups retried before creating again (search is eventually consistent)."),
    search_retry_delay: duration.default(1000),
    status_map: z
      .record(z.string(), z.enum(TICKET_STATUSES))
      .optional()
      .describe(
        "The way back: status names → new | active | pending | solved | closed | cancelled, over the status category (To Do new, In Progress active, Done solved). Default: Waiting for customer and Pending → pending.",
      ),
    ...syncKeys,
    ...commonKeys,
  })
  .strict()
  .refine((c) => c.key_label || c.key_field, { message: "key_label: false needs key_field", path: ["key_field"] });

export type JiraConfig = z.infer<typeof jiraConfigSchema>;

const DEFAULT_PRIORITY: Record<Priority, string> = { P1: "Highest", P2: "High", P3: "Medium", P4: "Low" };

interface Transition {
  id: string;
  name: string;
  to: { name: string; statusCategory?: { key: string } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createJiraDriver(name: string, config: JiraConfig, deps: DriverFactoryDeps = {}): HelpdeskDriver {
  const cloud = config.api === "cloud";
  const v = cloud ? "3" : "2";
  let credentials: Credentials;
  if (config.username) {
    credentials = basicAuth(config.username, resolveSecret(config.password, config.password_file, "password"));
  } else {
    const token = resolveSecret(config.token, config.token_file, "token");
    // Cloud: Basic email:token; Data Center: a personal access token as Bearer.
    credentials = config.email ? basicAuth(config.email, token) : { authorization: `Bearer ${token}`, secrets: [token] };
  }
  const webhookSecret = optionalSecret(config.webhook_secret, config.webhook_secret_file, "webhook_secret");
  const { authorization } = credentials;
  const secrets = [...credentials.secrets, ...(webhookSecret !== undefined ? [webhookSecret] : [])];
  const base = config.url.replace(/\/+$/, "");
  const limiter = helpdeskLimiter(name, config, deps);
  const http = createHttpClient({
    name: `jira ${name}`,
    baseURL: `${base}/rest/api/${v}`,
    headers: { Authorization: authorization, "Content-Type": "application/json" },
    timeoutMs: timeoutMs(config.timeout),
    secrets,
    ...(deps.clock ? { clock: deps.clock } : {}),
    limiter,
  });
  const priorityName = (p: Priority) => config.priority_map?.[p] ?? DEFAULT_PRIORITY[p];
  const rich = (doc: Doc) => (cloud ? toAdf(doc) : toWiki(doc));
  const ref = (key: string): TicketRef => ({ id: key, url: `${base}/browse/${key}` });
  /** Jira labels may not contain spaces. */
  const label = (t: string) => t.replace(/\s+/g, "_").slice(0, 255);
  const issuePath = (id: string) => `/issue/${encodeURIComponent(id)}`;
  const retryDelayMs = config.search_retry_delay;

  /** 404 on an issue: deleted, or no longer visible to us. */
  async function call(what: string, req: Parameters<typeof http.raw>[1]): Promise<unknown> {
    const res = await http.raw(what, req);
    if (res.status >= 200 && res.status < 300) return res.data;
    if (res.status === 404) throw http.failure(what, res, { retryable: false, reason: "gone" });
    throw http.failure(what, res);
  }

  async function addComment(id: string, body: Doc): Promise<void> {
    await call("comment", { method: "POST", url: `${issuePath(id)}/comment`, data: { body: rich(body) } });
  }

  async function statusCategory(id: string): Promise<string> {
    const data = (await call("read issue", { method: "GET", url: issuePath(id), params: { fields: "status,priority" } })) as {
      fields: { status?: { statusCategory?: { key: string } } };
    };
    return data.fields.status?.statusCategory?.key ?? "";
  }

  /** Moves the issue along the transition chosen by name, else by target category. */
  async function transition(id: string, what: string, byName: string | undefined, categories: string[]): Promise<void> {
    const data = (await call(`${what}: list transitions`, { method: "GET", url: `${issuePath(id)}/transitions` })) as { transitions: Transition[] };
    const list = data.transitions ?? [];
    const chosen = byName
      ? list.find((t) => t.name.toLowerCase() === byName.toLowerCase())
      : categories.map((c) => list.find((t) => t.to.statusCategory?.key === c)).find((t) => t !== undefined);
    if (!chosen) {
      throw new DeliveryError(
        `[jira ${name}] ${what}: no transition ${byName ? `named "${byName}"` : `to a ${categories.join(" or ")} status`} from the issue's status (have: ${list.map((t) => t.name).join(", ") || "none"})`,
        {
          retryable: false,
          reason: "client",
        },
      );
    }
    await call(what, {
      method: "POST",
      url: `${issuePath(id)}/transitions`,
      data: { transition: { id: chosen.id }, ...(what === "resolve" && config.resolution ? { fields: { resolution: { name: config.resolution } } } : {}) },
    });
  }

  /** Raises the priority, unless the issue already has an equal or higher one (maybe set by a human). */
  async function raisePriority(id: string, wanted: Priority): Promise<void> {
    const data = (await call("read priority", { method: "GET", url: issuePath(id), params: { fields: "priority" } })) as {
      fields: { priority?: { name: string } };
    };
    const currentName = data.fields.priority?.name;
    const current = PRIORITIES.find((p) => priorityName(p) === currentName);
    if (currentName !== undefined && (current === undefined || PRIORITIES.indexOf(current) <= PRIORITIES.indexOf(wanted))) return;
    await call("raise priority", { method: "PUT", url: issuePath(id), data: { fields: { priority: { name: priorityName(wanted) } } } });
  }

  const way = createJiraSync({
    name,
    cloud,
    project: config.project,
    call: (what, req) => call(what, req),
    priorityName,
    statusMap: config.status_map,
    resolutions: config.resolutions,
    pollInterval: config.poll_interval,
    webhookSecret,
  });

  async function search(key: string): Promise<string | undefined> {
    const jql = config.key_label
      ? `project = "${config.project}" AND labels = "${key.replace(/["\\]/g, "\\$&")}" ORDER BY created ASC`
      : `project = "${config.project}" AND cf[${config.key_field?.replace("customfield_", "")}] ~ "\\"${key.replace(/["\\]/g, "")}\\"" ORDER BY created ASC`;
    const fields = config.key_field ? `labels,${config.key_field}` : "labels";
    const data = (await call("find issue", {
      method: "GET",
      url: cloud ? "/search/jql" : "/search",
      params: { jql, fields, maxResults: 10 },
    })) as { issues: { key: string; fields?: Record<string, unknown> }[] };
    const exact = data.issues.find((i) => {
      const f = i.fields ?? {};
      return (config.key_label && (f.labels as string[] | undefined)?.includes(key)) || (config.key_field && f[config.key_field] === key);
    });
    return exact?.key;
  }

  return {
    ...deliveryLimits(limiter, config),
    name,
    type: "jira",
    sync: way.sync,
    async open(t) {
      const data = (await call("create issue", {
        method: "POST",
        url: "/issue",
        data: {
          fields: {
            project: { key: config.project },
            issuetype: { name: config.issue_type },
            summary: t.title.replace(/\s+/g, " ").slice(0, 255),
            description: rich(t.body),
            priority: { name: priorityName(t.priority) },
            labels: [...new Set(["alertdesk", ...(config.key_label ? [t.ticketKey] : []), ...t.tags.map(label)])],
            ...(config.key_field ? { [config.key_field]: t.ticketKey } : {}),
            ...Object.fromEntries(Object.entries(t.fields).filter(([k]) => /^customfield_\d+$/.test(k))),
          },
        },
      })) as { id?: string; key: string };
      if (data.id) way.noteCreated(data.id);
      return ref(data.key);
    },
    async comment(r, u) {
      await addComment(r.id, u.body);
      if (u.priority) await raisePriority(r.id, u.priority);
    },
    async resolve(r, u) {
      await addComment(r.id, u.body);
      if (u.solve && (await statusCategory(r.id)) !== "done") await transition(r.id, "resolve", config.resolve_transition, ["done"]);
    },
    async reopen(r, u) {
      if ((await statusCategory(r.id)) === "done") await transition(r.id, "reopen", config.reopen_transition, ["indeterminate", "new"]);
      await addComment(r.id, u.body);
      await raisePriority(r.id, u.priority);
      return r;
    },
    async findByKey(key) {
      // Cloud's /search/jql may not show an issue created a moment ago (and Data Center's index can
      // lag too): ask again before giving up, since giving up means creating again.
      for (let attempt = 0; ; attempt++) {
        const found = await search(key);
        if (found) return ref(found);
        if (attempt >= config.search_retries) return undefined;
        await sleep(retryDelayMs);
      }
    },
  };
}
