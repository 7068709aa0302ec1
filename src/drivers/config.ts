import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { duration } from "../model/duration.js";
import { RESOLUTIONS, type Resolution } from "../model/helpdesk-event.js";
import { PRIORITIES, type Priority } from "../model/priority.js";
import { createRateLimiter, type RateLimiter, type SharedRequestBudget } from "./rate-limit.js";
import type { HelpdeskDriver, TicketUpdateBudget } from "./types.js";

/** Config keys every helpdesk shares, and how secrets are read. */

/** `200/min`, `10/s`, `1000/h`: a client-side request rate. */
export const rateLimitSchema = z
  .string()
  .regex(/^\d+(\.\d+)?\/(s|sec|second|m|min|minute|h|hour)$/, "must be a rate like 200/min, 10/s or 1000/h")
  .describe("Client-side limit of requests to this helpdesk, like 200/min.");

export const timeoutSchema = duration.describe("How long one request may take (default 10s).");

/** `30 per 10m`: how many updates one ticket may take in a window (Zendesk: 30 per 10 minutes). */
export const ticketUpdateBudgetSchema = z
  .object({
    updates: z.number().int().positive().describe("Updates of one ticket…"),
    per: duration.describe("…within this window."),
  })
  .strict()
  .describe("Updates one ticket may take per window; comments beyond it wait and go out as one (docs/reliability.md).");

/** Shared keys of every helpdesk entry. */
export const commonKeys = {
  rate_limit: rateLimitSchema.optional(),
  ticket_update_budget: ticketUpdateBudgetSchema.optional(),
  timeout: timeoutSchema.optional(),
};

/** What a driver's factory gets from the service: the clock, and where several replicas share request slots. */
export interface DriverFactoryDeps {
  clock?: () => Date;
  /** A helpdesk's request slots shared by every replica (PostgreSQL); undefined: this process alone paces. */
  requestBudget?: (helpdesk: string) => SharedRequestBudget | undefined;
}

/** A helpdesk's limiter: its `rate_limit`, its slots shared with the other replicas when there are any. */
export function helpdeskLimiter(name: string, config: { rate_limit?: string | undefined }, deps: DriverFactoryDeps): RateLimiter {
  const shared = deps.requestBudget?.(name);
  return createRateLimiter(config.rate_limit ? parseRate(config.rate_limit) : undefined, shared ? { shared } : {});
}

/**
 * What the outbox needs to know of a driver's limits: its request rate (from its limiter) and its
 * per-ticket update budget (its `ticket_update_budget`, else the helpdesk's documented one). Fields
 * absent when there is no such limit.
 */
export function deliveryLimits(
  limiter: RateLimiter,
  config: { ticket_update_budget?: { updates: number; per: number } | undefined },
  documented?: TicketUpdateBudget,
): Pick<HelpdeskDriver, "requestsPerSecond" | "ticketUpdateBudget"> {
  const c = config.ticket_update_budget;
  const budget = c ? { updates: c.updates, windowMs: c.per } : documented;
  return {
    ...(limiter.ratePerSecond !== undefined ? { requestsPerSecond: limiter.ratePerSecond } : {}),
    ...(budget ? { ticketUpdateBudget: budget } : {}),
  };
}

/** Requests per second of a rate like `200/min`. */
export function parseRate(rate: string): number {
  const [n, unit] = rate.split("/") as [string, string];
  const per = unit.startsWith("s") ? 1 : unit.startsWith("m") ? 60 : 3600;
  return Number(n) / per;
}

/** A helpdesk's request timeout in ms: its `timeout`, else 10 s. */
export function timeoutMs(timeout: number | undefined): number {
  return timeout ?? 10_000;
}

/** A priority → helpdesk value map, each entry overridable. */
export function priorityMap<T extends z.ZodType>(value: T) {
  return z.object(Object.fromEntries(PRIORITIES.map((p) => [p, value.optional()])) as Record<Priority, z.ZodOptional<T>>).strict();
}

/** A secret given inline (after ${ENV} substitution) or in a file (like Alertmanager's credentials_file). */
export function resolveSecret(inline: string | undefined, file: string | undefined, key: string): string {
  if (inline !== undefined && inline !== "") return inline;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8").trim();
    } catch (err) {
      throw new Error(`${key}_file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (text === "") throw new Error(`${key}_file: ${file} is empty; an empty secret would turn authentication off`);
    return text;
  }
  throw new Error(`${key} or ${key}_file is required`);
}

/** An Authorization header value and the secrets it carries (for redaction). */
export interface Credentials {
  authorization: string;
  secrets: string[];
}

/** HTTP basic auth: the header, and both the secret and its base64 form for redaction. */
export function basicAuth(user: string, secret: string): Credentials {
  const encoded = Buffer.from(`${user}:${secret}`).toString("base64");
  return { authorization: `Basic ${encoded}`, secrets: [secret, encoded] };
}

/** Keys of the way back (what agents did), for every helpdesk that can tell (docs/helpdesks/). */
export const syncKeys = {
  poll_interval: duration.optional().describe("How often to ask the helpdesk what its agents did (default 1m); webhooks make it sooner."),
  resolutions: z
    .record(z.string(), z.enum(RESOLUTIONS))
    .optional()
    .describe("The helpdesk's own resolution names → fixed | wont_fix | duplicate | cannot_reproduce (added to the driver's defaults)."),
  webhook_secret: z.string().optional().describe("The secret inbound webhooks are signed with (POST /webhooks/helpdesk/{name}). Prefer webhook_secret_file."),
  webhook_secret_file: z.string().optional(),
};

/** A helpdesk's poll interval in ms: its `poll_interval`, else a minute. */
export function pollIntervalMs(interval: number | undefined): number {
  return interval ?? 60_000;
}

/**
 * The vocabulary's resolution for a helpdesk's own name: the config's `resolutions` first, then the
 * driver's defaults, both case-insensitive; `fixed` for a name nobody mapped (a solve is a fix unless
 * somebody said otherwise).
 */
export function resolutionFor(
  name: string | null | undefined,
  configured: Record<string, Resolution> | undefined,
  defaults: Record<string, Resolution>,
): Resolution {
  if (!name) return "fixed";
  const wanted = name.trim().toLowerCase();
  for (const map of [configured ?? {}, defaults]) {
    for (const [own, resolution] of Object.entries(map)) if (own.trim().toLowerCase() === wanted) return resolution;
  }
  return "fixed";
}

/** An optional secret: inline or from a file, undefined when neither is given. */
export function optionalSecret(inline: string | undefined, file: string | undefined, key: string): string | undefined {
  if ((inline === undefined || inline === "") && !file) return undefined;
  return resolveSecret(inline, file, key);
}

/** HMAC-SHA256 of `data` with `secret`, in the encoding a helpdesk signs with. */
export function hmacSha256(secret: string, data: string | Buffer, encoding: "base64" | "hex"): string {
  return createHmac("sha256", secret).update(data).digest(encoding);
}

/** Compares a signature a request carries with the expected one in constant time. */
export function sameSignature(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given.trim());
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
