import { readFileSync } from "node:fs";
import { z } from "zod";
import { duration } from "../model/duration.js";
import { PRIORITIES, type Priority } from "../model/priority.js";

/** Config keys every helpdesk shares, and how secrets are read. */

/** `200/min`, `10/s`, `1000/h`: a client-side request rate. */
export const rateLimitSchema = z
  .string()
  .regex(/^\d+(\.\d+)?\/(s|sec|second|m|min|minute|h|hour)$/, "must be a rate like 200/min, 10/s or 1000/h")
  .describe("Client-side limit of requests to this helpdesk, like 200/min.");

export const timeoutSchema = duration.describe("How long one request may take (default 10s).");

/** Shared keys of every helpdesk entry. */
export const commonKeys = {
  rate_limit: rateLimitSchema.optional(),
  timeout: timeoutSchema.optional(),
};

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
