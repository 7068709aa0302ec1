import { createHash } from "node:crypto";
import { z } from "zod";
import type { Alert, AlertLinks, AlertUpdate, LabelSet, Notification } from "../model/alert.js";
import { formatLabelSet, labelSet } from "../model/labels.js";
import { byteLength, type Cutter, FORBIDDEN_NAME, INTAKE_LIMITS, typeName } from "./bounds.js";

/**
 * The body alertdesk's Zabbix media type (deploy/zabbix/alertdesk_media_type.yaml) posts to
 * `POST /webhooks/zabbix`, and the `Notification` it becomes: one alert per Zabbix problem event.
 * docs/zabbix.md documents every field.
 *
 * - The alert's fingerprint is the problem's event id, which Zabbix's recovery and update messages
 *   carry too ({EVENT.ID} is the problem's there): retries and repeats of one problem are one alert,
 *   its recovery resolves it, and an update (acknowledged, severity changed, a message) is an
 *   `update` of it, a ticket comment. A later problem of the same trigger is a new event: a new
 *   alert of the same incident, so it reopens the ticket within reopen_within.
 * - The incident: one per trigger and host (group key `{host, trigger_id}`, receiver = the body's
 *   `receiver`, by default "zabbix"); a rule's group_by changes it as for any alert.
 * - Times: Zabbix's {EVENT.DATE} and {EVENT.TIME} are in the Zabbix server's time zone, so the media
 *   type's script, which runs in that server, turns them into epoch seconds. `event_time` is required:
 *   it tells a retried copy of a problem from a later one, and no receive time could.
 * - A macro Zabbix had no value for arrives literally ({EVENT.RECOVERY.ID} in a problem's message, an
 *   undefined {$ZABBIX.URL}): every optional text field treats that, and "", as absent.
 */

/** Zabbix's severities by number ({EVENT.NSEVERITY}), in Zabbix's own English names. */
export const ZABBIX_SEVERITIES = ["Not classified", "Information", "Warning", "Average", "High", "Disaster"] as const;

/** Labels alertdesk derives; an event tag of the same name becomes `tag_<name>` instead. */
const DERIVED_LABELS = new Set(["alertname", "host", "host_name", "host_groups", "instance", "severity", "trigger_id"]);

/** A macro left as Zabbix found it: `{EVENT.RECOVERY.ID}`, `{$ZABBIX.URL}`, `{$MACRO:"context"}`. */
const UNRESOLVED_MACRO = /^\{\$?[A-Z][A-Z0-9_.]*(?::[^{}]*)?\}$/;

export function isUnresolvedMacro(s: string): boolean {
  return UNRESOLVED_MACRO.test(s.trim());
}

/** An optional text: absent when missing, empty, or an unresolved macro. */
const text = z
  .unknown()
  .optional()
  .transform((v, ctx): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
    if (typeof v !== "string") {
      ctx.addIssue({ code: "custom", message: `expected a string, received ${typeName(v)}`, input: v });
      return z.NEVER;
    }
    return v.trim() === "" || isUnresolvedMacro(v) ? undefined : v;
  });

/** A required text; an unresolved macro is said as such, since that is what the Zabbix admin must fix. */
function requiredText(what: string) {
  return z.unknown().transform((v, ctx): string => {
    if (typeof v === "string" && v.trim() !== "" && !isUnresolvedMacro(v)) return v;
    const message =
      typeof v === "string" && isUnresolvedMacro(v)
        ? `Zabbix did not resolve ${v.trim()}: ${what} is required`
        : v === undefined || (typeof v === "string" && v.trim() === "")
          ? `required: ${what}`
          : `expected a string (${what}), received ${typeName(v)}`;
    ctx.addIssue({ code: "custom", message, input: v });
    return z.NEVER;
  });
}

/** Digits of a Zabbix id (an unsigned 64-bit integer), sent as text or a number; undefined when it is none. */
function idDigits(v: unknown): string | undefined {
  const s = typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? String(v) : typeof v === "string" ? v.trim() : undefined;
  return s !== undefined && /^\d{1,20}$/.test(s) ? s : undefined;
}

function isAbsent(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === "string" && (v.trim() === "" || isUnresolvedMacro(v)));
}

/** A required Zabbix id. */
function zabbixId(what: string) {
  return z.unknown().transform((v, ctx): string => {
    const id = idDigits(v);
    if (id !== undefined) return id;
    const message =
      typeof v === "string" && isUnresolvedMacro(v)
        ? `Zabbix did not resolve ${v.trim()}: ${what} is required`
        : isAbsent(v)
          ? `required: ${what}`
          : `expected ${what} as digits, like "1234", received ${JSON.stringify(v)}`;
    ctx.addIssue({ code: "custom", message, input: v });
    return z.NEVER;
  });
}

/** An optional Zabbix id: absent when missing, empty or unresolved. */
function optionalZabbixId(what: string) {
  return z.unknown().transform((v, ctx): string | undefined => {
    const id = idDigits(v);
    if (id !== undefined || isAbsent(v)) return id;
    ctx.addIssue({ code: "custom", message: `expected ${what} as digits, like "1234", received ${JSON.stringify(v)}`, input: v });
    return z.NEVER;
  });
}

/** Epoch seconds (a number or digits) as epoch milliseconds; NaN when it is none. */
function epochMs(v: unknown): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d{1,12}(\.\d+)?$/.test(v.trim()) ? Number(v) : Number.NaN;
  // After 1970 and before 10000: a date a ticket can print.
  return Number.isFinite(n) && n > 0 && n < 253_402_300_800 ? Math.floor(n * 1000) : Number.NaN;
}

function epochIssue(v: unknown): string {
  return `expected epoch seconds, like 1795585674 (the media type turns {EVENT.DATE} {EVENT.TIME} into them), received ${JSON.stringify(v) ?? "nothing"}`;
}

/** Required epoch seconds, as epoch milliseconds. */
const epochSeconds = z.unknown().transform((v, ctx): number => {
  const ms = epochMs(v);
  if (!Number.isNaN(ms)) return ms;
  ctx.addIssue({ code: "custom", message: epochIssue(v), input: v });
  return z.NEVER;
});

/** Optional epoch seconds: absent when missing, empty or unresolved. */
const optionalEpochSeconds = z.unknown().transform((v, ctx): number | undefined => {
  const ms = epochMs(v);
  if (!Number.isNaN(ms)) return ms;
  if (isAbsent(v)) return undefined;
  ctx.addIssue({ code: "custom", message: epochIssue(v), input: v });
  return z.NEVER;
});

/** {EVENT.NSEVERITY} (0–5), or one of Zabbix's severity names. */
const severity = z.unknown().transform((v, ctx): (typeof ZABBIX_SEVERITIES)[number] => {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d$/.test(v.trim()) ? Number(v) : Number.NaN;
  const byNumber = Number.isInteger(n) ? ZABBIX_SEVERITIES[n] : undefined;
  if (byNumber) return byNumber;
  const byName = ZABBIX_SEVERITIES.find((s) => typeof v === "string" && s.toLowerCase() === v.trim().toLowerCase());
  if (byName) return byName;
  ctx.addIssue({
    code: "custom",
    message: `expected Zabbix's severity as {EVENT.NSEVERITY} (0-5) or one of ${ZABBIX_SEVERITIES.map((s) => `"${s}"`).join(", ")}, received ${JSON.stringify(v) ?? "nothing"}`,
    input: v,
  });
  return z.NEVER;
});

interface Tag {
  tag: string;
  value: string;
}

/** {EVENT.TAGSJSON}: an array of `{tag, value}`, or the macro's JSON text as it is. */
const tags = z.unknown().transform((v, ctx): Tag[] => {
  let list: unknown = v;
  if (v === undefined || v === null || (typeof v === "string" && (v.trim() === "" || isUnresolvedMacro(v)))) return [];
  if (typeof v === "string") {
    try {
      list = JSON.parse(v);
    } catch {
      ctx.addIssue({ code: "custom", message: 'expected {EVENT.TAGSJSON}: a JSON array like [{"tag":"scope","value":"performance"}]', input: v });
      return z.NEVER;
    }
  }
  if (!Array.isArray(list)) {
    ctx.addIssue({ code: "custom", message: `expected an array of {tag, value}, received ${typeName(list)}`, input: v });
    return z.NEVER;
  }
  if (list.length > INTAKE_LIMITS.entries) {
    ctx.addIssue({ code: "custom", message: `${list.length} tags: at most ${INTAKE_LIMITS.entries} are accepted`, input: list.length });
    return z.NEVER;
  }
  const out: Tag[] = [];
  let failed = false;
  for (const [i, t] of list.entries()) {
    const fail = (message: string, path: PropertyKey[] = [i]) => {
      ctx.addIssue({ code: "custom", message, path, input: t });
      failed = true;
    };
    if (typeof t !== "object" || t === null || Array.isArray(t)) {
      fail(`expected {tag, value}, received ${typeName(t)}`);
      continue;
    }
    const { tag, value } = t as { tag?: unknown; value?: unknown };
    if (typeof tag !== "string" || tag === "") fail("expected the tag's name, a string", [i, "tag"]);
    else if (byteLength(tag) > INTAKE_LIMITS.nameBytes) fail(`tag name longer than ${INTAKE_LIMITS.nameBytes} bytes`, [i, "tag"]);
    else if (labelNameOfTag(tag) === FORBIDDEN_NAME) fail(`"${FORBIDDEN_NAME}" is not accepted as a tag name`, [i, "tag"]);
    else if (value !== undefined && value !== null && typeof value !== "string") fail(`expected a string, received ${typeName(value)}`, [i, "value"]);
    else out.push({ tag, value: typeof value === "string" ? value : "" });
  }
  return failed ? z.NEVER : out;
});

export const ZABBIX_EVENTS = ["problem", "recovery", "update"] as const;

/** The body of `POST /webhooks/zabbix`, version 1. Unknown keys are ignored. */
export const zabbixPayload = z
  .object({
    version: z.string().optional(),
    event: z.enum(ZABBIX_EVENTS),
    receiver: text,
    event_id: zabbixId("the problem's event id ({EVENT.ID})"),
    event_name: requiredText("the event's name ({EVENT.NAME})"),
    event_time: epochSeconds,
    severity,
    tags,
    opdata: text,
    host: requiredText("the host ({HOST.HOST})"),
    host_name: text,
    host_groups: text,
    trigger_id: zabbixId("the trigger's id ({TRIGGER.ID})"),
    trigger_description: text,
    item_id: optionalZabbixId("the item's id ({ITEM.ID})"),
    item_name: text,
    item_value: text,
    zabbix_url: text,
    recovery: z.object({ event_id: optionalZabbixId("the recovery's event id ({EVENT.RECOVERY.ID})"), time: optionalEpochSeconds }).optional(),
    update: z.object({ action: requiredText("what the update did ({EVENT.UPDATE.ACTION})"), message: text, user: text, time: optionalEpochSeconds }).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.event === "update" && !p.update)
      ctx.addIssue({ code: "custom", path: ["update"], message: 'required when event is "update": {action, message, user, time}', input: p.update });
  });

export type ZabbixPayload = z.infer<typeof zabbixPayload>;

/** Whether a webhook body looks like the Zabbix media type's (for `simulate` and the playground, which guess). */
export function detectZabbix(data: unknown): boolean {
  if (!data || typeof data !== "object" || Array.isArray(data)) return false;
  const p = data as Record<string, unknown>;
  return !("alerts" in p) && "event_id" in p && "trigger_id" in p;
}

/** A tag's name as a label name rules can match (`[a-zA-Z_][a-zA-Z0-9_]*`): other characters become `_`. */
export function labelNameOfTag(tag: string): string {
  const name = tag.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** Binary and byte units Zabbix scales ("1.5 GB" is 1.5 × 1024³ bytes): their number is not the item's value. */
const SCALED_UNIT = /^[KMGTPEZY]/;

/**
 * The item's value from {ITEM.LASTVALUE} as Zabbix prints it: "87.5 %", "0.25", "12 ms" give the
 * number; a scaled unit ("1.5 GB", "3 Mbps"), an uptime ("2d 3h"), a value mapping ("Up (1)") or
 * "*UNKNOWN*" give none (the text stays in the annotation `last_value`).
 */
export function zabbixValue(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = m[2] ?? "";
  if (unit.length > 1 && SCALED_UNIT.test(unit)) return undefined;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : undefined;
}

/** The Zabbix frontend's base URL, when it is an http(s) URL (never a javascript: link on a ticket). */
function frontendBase(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const u = new URL(url.trim());
    if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
    return u.href.replace(/\/+$/, "");
  } catch {
    return undefined;
  }
}

/** The labels: what alertdesk derives, then the event's tags (a name taken already becomes `tag_<name>`; repeated tags join their values). */
function labelsOf(p: ZabbixPayload, cut: Cutter): LabelSet {
  const labels = labelSet({ alertname: p.event_name, host: p.host, instance: p.host, severity: p.severity, trigger_id: p.trigger_id });
  if (p.host_name !== undefined) labels.host_name = p.host_name;
  if (p.host_groups !== undefined) labels.host_groups = p.host_groups;
  const fromTags = new Map<string, string[]>();
  for (const t of p.tags) {
    const base = labelNameOfTag(t.tag);
    const name = DERIVED_LABELS.has(base) ? `tag_${base}` : base;
    const values = fromTags.get(name) ?? [];
    if (!values.includes(t.value)) values.push(t.value);
    fromTags.set(name, values);
  }
  for (const [name, values] of fromTags) labels[name] = values.join(", ");
  return cut.map(labels, INTAKE_LIMITS.labelValueBytes, "labels");
}

function annotationsOf(p: ZabbixPayload, cut: Cutter): LabelSet {
  const annotations = labelSet();
  const put = (name: string, value: string | undefined) => {
    if (value !== undefined) annotations[name] = cut.value(value, INTAKE_LIMITS.annotationValueBytes, name);
  };
  // {EVENT.OPDATA} ("Current utilization: 87.5 %") reads as the ticket title's summary.
  put("summary", p.opdata);
  put("description", p.trigger_description);
  put("item", p.item_name);
  put("last_value", p.item_value);
  put("recovery_event_id", p.recovery?.event_id);
  return annotations;
}

function linksOf(p: ZabbixPayload, cut: Cutter): AlertLinks {
  const base = frontendBase(p.zabbix_url);
  if (!base) return {};
  const url = (s: string, field: string) => cut.value(s, INTAKE_LIMITS.urlBytes, field);
  const links: AlertLinks = {
    event: url(`${base}/tr_events.php?triggerid=${p.trigger_id}&eventid=${p.event_id}`, "links.event"),
    problem: url(`${base}/zabbix.php?action=problem.view&triggerids%5B%5D=${p.trigger_id}`, "links.problem"),
  };
  if (p.item_id !== undefined) links.graph = url(`${base}/history.php?action=showgraph&itemids%5B%5D=${p.item_id}`, "links.graph");
  return links;
}

/** The update, with an id that is the same for a retry of it and differs for the next update. */
function updateOf(p: ZabbixPayload, cut: Cutter): AlertUpdate | undefined {
  const u = p.update;
  if (p.event !== "update" || !u) return undefined;
  const id = createHash("sha256")
    .update(JSON.stringify([p.event_id, u.time ?? null, u.action, u.message ?? null, u.user ?? null]))
    .digest("hex")
    .slice(0, 16);
  const update: AlertUpdate = { id, action: cut.value(u.action, INTAKE_LIMITS.shortBytes, "update.action") };
  if (u.message !== undefined) update.message = cut.value(u.message, INTAKE_LIMITS.annotationValueBytes, "update.message");
  if (u.user !== undefined) update.user = cut.value(u.user, INTAKE_LIMITS.shortBytes, "update.user");
  if (u.time !== undefined) update.at = new Date(u.time).toISOString();
  return update;
}

/** Normalizes a validated Zabbix body: one alert, the problem. */
export function fromZabbix(p: ZabbixPayload, cut: Cutter): Notification {
  const labels = labelsOf(p, cut);
  const links = linksOf(p, cut);
  const status = p.event === "recovery" ? "resolved" : "firing";
  const alert: Alert = {
    fingerprint: `zabbix-event-${p.event_id}`,
    status,
    labels,
    annotations: annotationsOf(p, cut),
    startsAt: new Date(p.event_time).toISOString(),
    generatorURL: links.event ?? "",
    links,
  };
  // Without the recovery's time the lifecycle takes alertdesk's own (toRecord in lifecycle/decide.ts).
  if (status === "resolved" && p.recovery?.time !== undefined) alert.endsAt = new Date(Math.max(p.recovery.time, p.event_time)).toISOString();
  const value = zabbixValue(p.item_value);
  if (value !== undefined) alert.value = value;
  const update = updateOf(p, cut);
  if (update) alert.update = update;
  const groupLabels = labelSet({ host: labels.host as string, trigger_id: p.trigger_id });
  return {
    source: "zabbix",
    receiver: cut.value(p.receiver ?? "zabbix", INTAKE_LIMITS.shortBytes, "receiver"),
    status,
    groupKey: cut.value(formatLabelSet(groupLabels), INTAKE_LIMITS.groupKeyBytes, "groupKey"),
    groupLabels,
    commonLabels: labelSet(labels),
    commonAnnotations: labelSet(alert.annotations),
    externalURL: cut.value(frontendBase(p.zabbix_url) ?? "", INTAKE_LIMITS.urlBytes, "zabbix_url"),
    truncatedAlerts: 0,
    alerts: [alert],
  };
}

export type ParsedZabbix = { ok: true; notification: Notification } | { ok: false; issues: z.core.$ZodIssue[] };

/** Validates and normalizes a Zabbix body; values too long are cut by `cut`, which says so. */
export function parseZabbix(data: unknown, cut: Cutter): ParsedZabbix {
  const r = zabbixPayload.safeParse(data);
  if (!r.success) return { ok: false, issues: r.error.issues };
  return { ok: true, notification: fromZabbix(r.data, cut) };
}
