import type { Notification, Source } from "../model/alert.js";
import { formatPath } from "../model/field-path.js";
import { parseNotification, type Truncation } from "./payloads.js";

/**
 * What one webhook body may cost before it is validated (docs/reliability.md, "Bounds at intake").
 * Nesting: Alertmanager's and Grafana's payloads are 4 levels deep; JSON.parse of 8 MB of `[[[[…`
 * built 4 million arrays (1.3 GB, seconds of garbage collection), so deeper bodies are refused
 * before parsing. Large bodies: parsing one 9 MiB body takes some 100 MB for a moment; at most
 * two are parsed at once, a few more wait their turn, and the rest are told to retry (503), so a
 * burst of large bodies cannot take the memory the service needs for everything else.
 */
export const BODY_LIMITS = {
  maxDepth: 32,
  /** Bodies above this many bytes (or of unknown length) take a turn at the large-body gate. */
  largeBytes: 1024 * 1024,
  largeConcurrent: 2,
  largeWaiting: 8,
  /** Rejected webhooks logged per second; the rest are counted in one line (metrics count each). */
  rejectionsLoggedPerSecond: 10,
} as const;

/**
 * Whether a JSON text nests arrays and objects deeper than `max`, scanned on the raw bytes (a
 * bracket inside a string does not count; UTF-8 never has these bytes inside a multi-byte character).
 */
export function nestedDeeperThan(body: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * A webhook body from bytes to a notification: the nesting bound, JSON, then the sender's schema.
 * The same on the main thread and on the ingest thread (ingest-thread/client.ts), which reads the bodies
 * itself when it runs, so that parsing and validation leave the main thread too. Plain data in and
 * out: the answer crosses between threads as it is.
 */
export type BodyRead = { ok: true; notification: Notification; truncated?: Truncation } | { ok: false; rejection: BodyRejection };

/** A body refused as it was read: always 400, with the answer's JSON and what the log line says. */
export interface BodyRejection {
  why: "nested too deep" | "not valid JSON" | "invalid payload";
  /** The answer: `{error, detail}`, or `{error, issues: [{field, message}]}` for a payload that does not fit. */
  answer: { error: string; detail?: string; issues?: { field: string; message: string }[] };
  /** For the log line. */
  fields: Record<string, unknown>;
}

export function readBody(source: Source, body: Uint8Array): BodyRead {
  if (nestedDeeperThan(body, BODY_LIMITS.maxDepth)) {
    return {
      ok: false,
      rejection: {
        why: "nested too deep",
        answer: { error: `body nested deeper than ${BODY_LIMITS.maxDepth} levels of arrays and objects; a webhook payload has 4` },
        fields: {},
      },
    };
  }
  let data: unknown;
  try {
    data = JSON.parse(
      Buffer.from(body.buffer, body.byteOffset, body.byteLength)
        .toString("utf8")
        .replace(/^\uFEFF/, ""),
    );
  } catch (err) {
    return { ok: false, rejection: { why: "not valid JSON", answer: { error: "body is not valid JSON", detail: (err as Error).message }, fields: {} } };
  }
  const parsed = parseNotification(source, data);
  if (!parsed.ok) {
    const issues = parsed.issues.map((i) => ({ field: formatPath(i.path), message: i.message }));
    return {
      ok: false,
      rejection: { why: "invalid payload", answer: { error: "invalid payload", issues }, fields: { issues: issues.length, field: issues[0]?.field ?? "" } },
    };
  }
  return parsed;
}

/** What the webhook's answer, counters and log line need of a stored notification. */
export interface NotificationSummary {
  groupKey: string;
  receiver: string;
  alerts: number;
  firing: number;
  test: boolean;
}

export function summarize(notification: Notification): NotificationSummary {
  return {
    groupKey: notification.groupKey,
    receiver: notification.receiver,
    alerts: notification.alerts.length,
    firing: notification.alerts.filter((a) => a.status === "firing").length,
    test: notification.test === true,
  };
}
