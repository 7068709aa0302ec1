import { z } from "zod";
import {
  ALERT_STATUSES,
  type Alert,
  type AlertLinks,
  fingerprintOf,
  isTestNotification,
  type LabelSet,
  type Notification,
  parseValue,
  type Source,
} from "../model/alert.js";
import { labelSet } from "../model/labels.js";
import { annotationMap, boundedMap, Cutter, INTAKE_LIMITS, labelMap, nonEmpty, typeName } from "./bounds.js";
import { detectZabbix, parseZabbix } from "./zabbix.js";

export { cutValue, INTAKE_LIMITS } from "./bounds.js";

/**
 * Webhook payloads as Alertmanager (v4) and Grafana unified alerting send them, and the one
 * normalized `Notification` the rest of the pipeline works on. Unknown keys are ignored:
 * newer Alertmanagers add fields (notification_reason, routeLabels) and must keep working.
 *
 * Bounds (docs/reliability.md, "Bounds at intake", and bounds.ts): what no sender produces is refused
 * with a 400 naming the field (a name over 1 KiB, more than 256 labels, a `__proto__` key, a date that
 * is not RFC 3339); a value that is merely long is cut, never refused, because Alertmanager does not
 * retry a 4xx and the alert would be lost. Zabbix's webhook body is zabbix.ts; parseNotification and
 * detectSource below cover all three.
 */

const valuesMap = boundedMap("value", (v) =>
  v === null || (typeof v === "number" && Number.isFinite(v))
    ? ({ ok: true, value: v } as const)
    : ({ ok: false, message: `expected a number or null, received ${typeName(v)}` } as const),
);
const emptyMap = () => labelSet();

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Epoch milliseconds of an RFC 3339 date-time (a real calendar date, a time, an offset or Z); NaN
 * otherwise. Strict where Date.parse guesses: "foo 1" is no date (Date.parse: 2001-01-01) and
 * 2026-02-30 no day (Date.parse: March 2). Fractions of any length (Alertmanager sends nanoseconds)
 * are cut to milliseconds; second 60 (a leap second) counts as the next second's start.
 */
export function parseRfc3339(s: string): number {
  const m = s.length <= 64 ? RFC3339.exec(s) : null;
  if (!m) return Number.NaN;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const days = mo === 2 && isLeap(y) ? 29 : DAYS[mo - 1];
  if (days === undefined || d < 1 || d > days || h > 23 || mi > 59 || sec > 60) return Number.NaN;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, "0")) : 0;
  let offset = 0;
  if (m[8]) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return Number.NaN;
    offset = (m[8] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // not Date.UTC, which reads years 0–99 as 1900–1999
  date.setUTCHours(h, mi, sec, ms);
  return date.getTime() - offset;
}

/** An RFC 3339 timestamp, parsed to epoch milliseconds. */
const timestamp = z.string().transform((s, ctx) => {
  const ms = parseRfc3339(s);
  if (Number.isNaN(ms)) {
    ctx.addIssue({
      code: "custom",
      message: "must be an RFC 3339 timestamp with a real date and an offset, like 2026-11-25T05:46:52.832573478Z or 2026-11-25T06:46:52+01:00",
      input: s,
    });
    return z.NEVER;
  }
  return ms;
});
const alertStatus = z.enum(ALERT_STATUSES);

const alertmanagerAlert = z.object({
  status: alertStatus,
  labels: labelMap,
  annotations: annotationMap.default(emptyMap),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().default(""),
  fingerprint: z.string().optional(),
});

const commonFields = {
  receiver: z.string().default(""),
  status: alertStatus,
  groupLabels: labelMap.default(emptyMap),
  commonLabels: labelMap.default(emptyMap),
  commonAnnotations: annotationMap.default(emptyMap),
  externalURL: z.string().default(""),
  groupKey: z.string().default(""),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  version: z.string().optional(),
};

/** Alertmanager webhook payload, version 4 (the only version Alertmanager has ever sent). */
export const alertmanagerPayload = z.object({ ...commonFields, alerts: z.array(alertmanagerAlert) });

const grafanaAlert = alertmanagerAlert.extend({
  values: valuesMap.nullable().optional(),
  valueString: z.string().optional(),
  silenceURL: z.string().optional(),
  dashboardURL: z.string().optional(),
  panelURL: z.string().optional(),
  imageURL: z.string().optional(),
});

/** Grafana unified-alerting webhook: Alertmanager's shape plus values, links, state, title and message. */
export const grafanaPayload = z.object({
  ...commonFields,
  alerts: z.array(grafanaAlert),
  orgId: z.number().optional(),
  state: z.string().optional(),
  title: z.string().optional(),
  message: z.string().optional(),
});

export type AlertmanagerPayload = z.infer<typeof alertmanagerPayload>;
export type GrafanaPayload = z.infer<typeof grafanaPayload>;
/** Grafana 9 only sent `valueString`: "[ var='B' labels={...} value=83.4 ], ...". Takes the first value. */
export function parseValueString(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const m = /value=([-+0-9.eE]+|NaN|[+-]?Inf)/.exec(text);
  return m ? parseValue(m[1]) : undefined;
}

/** Go's zero time (0001-01-01T00:00:00Z) and anything before 1970 mean "not set". */
function normalizeEnd(ms: number | undefined): string | undefined {
  return ms === undefined || ms <= 0 ? undefined : new Date(ms).toISOString();
}

type BaseAlert = z.infer<typeof alertmanagerAlert>;

function normalizeAlert(a: BaseAlert, at: string, cut: Cutter, value: (annotations: LabelSet) => number | undefined, extra: Partial<Alert>): Alert {
  const labels = cut.map(a.labels, INTAKE_LIMITS.labelValueBytes, `${at}.labels`);
  const annotations = cut.map(a.annotations, INTAKE_LIMITS.annotationValueBytes, `${at}.annotations`);
  const fingerprint = nonEmpty(a.fingerprint);
  const alert: Alert = {
    fingerprint: fingerprint === undefined ? fingerprintOf(labels) : cut.value(fingerprint, INTAKE_LIMITS.shortBytes, `${at}.fingerprint`),
    status: a.status,
    labels,
    annotations,
    startsAt: new Date(a.startsAt).toISOString(),
    generatorURL: cut.value(a.generatorURL, INTAKE_LIMITS.urlBytes, `${at}.generatorURL`),
    links: {},
    ...extra,
  };
  const endsAt = normalizeEnd(a.endsAt);
  if (endsAt !== undefined) alert.endsAt = endsAt;
  const v = value(annotations);
  if (v !== undefined) alert.value = v;
  return alert;
}

function normalizeCommon(source: Source, p: AlertmanagerPayload | GrafanaPayload, cut: Cutter): Omit<Notification, "alerts"> {
  return {
    source,
    receiver: cut.value(p.receiver, INTAKE_LIMITS.shortBytes, "receiver"),
    status: p.status,
    groupKey: cut.value(p.groupKey, INTAKE_LIMITS.groupKeyBytes, "groupKey"),
    groupLabels: cut.map(p.groupLabels, INTAKE_LIMITS.labelValueBytes, "groupLabels"),
    commonLabels: cut.map(p.commonLabels, INTAKE_LIMITS.labelValueBytes, "commonLabels"),
    commonAnnotations: cut.map(p.commonAnnotations, INTAKE_LIMITS.annotationValueBytes, "commonAnnotations"),
    externalURL: cut.value(p.externalURL, INTAKE_LIMITS.urlBytes, "externalURL"),
    truncatedAlerts: p.truncatedAlerts,
  };
}

/** Marks a sender's test notification (see isTestNotification). */
function withTest(n: Notification): Notification {
  if (isTestNotification(n)) n.test = true;
  return n;
}

/** Normalizes a validated Alertmanager payload. The value comes from the `value` annotation. */
function fromAlertmanager(p: AlertmanagerPayload, cut: Cutter): Notification {
  return withTest({
    ...normalizeCommon("alertmanager", p, cut),
    alerts: p.alerts.map((a, i) => normalizeAlert(a, `alerts[${i}]`, cut, (annotations) => parseValue(annotations.value), {})),
  });
}

/** Normalizes a validated Grafana payload. The value is the first entry of `values`, else from `valueString`. */
function fromGrafana(p: GrafanaPayload, cut: Cutter): Notification {
  const common = normalizeCommon("grafana", p, cut);
  if (p.orgId !== undefined) common.orgId = p.orgId;
  return withTest({
    ...common,
    alerts: p.alerts.map((a, i) => {
      const at = `alerts[${i}]`;
      const values = Object.create(null) as Record<string, number>;
      for (const [ref, v] of Object.entries(a.values ?? {})) if (v !== null) values[ref] = v;
      const first = Object.values(values)[0];
      const links: AlertLinks = {};
      const url = (s: string | undefined, name: string) => {
        const given = nonEmpty(s);
        return given === undefined ? undefined : cut.value(given, INTAKE_LIMITS.urlBytes, `${at}.${name}`);
      };
      const silence = url(a.silenceURL, "silenceURL");
      const dashboard = url(a.dashboardURL, "dashboardURL");
      const panel = url(a.panelURL, "panelURL");
      const image = url(a.imageURL, "imageURL");
      if (silence) links.silence = silence;
      if (dashboard) links.dashboard = dashboard;
      if (panel) links.panel = panel;
      if (image) links.image = image;
      const extra: Partial<Alert> = { links };
      if (Object.keys(values).length > 0) extra.values = values;
      return normalizeAlert(a, at, cut, (annotations) => first ?? parseValueString(a.valueString) ?? parseValue(annotations.value), extra);
    }),
  });
}

/**
 * Grafana's legacy dashboard alerting (before unified alerting, removed in Grafana 11) posted
 * `{ruleName, state: "alerting" | "ok", evalMatches, …}` with no `alerts` list. Said plainly, since
 * "status: expected firing or resolved" would not tell anybody what to change.
 */
function legacyGrafanaIssues(data: unknown): z.core.$ZodIssue[] | undefined {
  if (!data || typeof data !== "object" || Array.isArray(data)) return undefined;
  const p = data as Record<string, unknown>;
  if ("alerts" in p || !("evalMatches" in p || "ruleName" in p || "ruleId" in p)) return undefined;
  const message =
    "missing: this is Grafana's legacy dashboard alerting format (ruleName, state, evalMatches); alertdesk takes the webhook of Grafana unified alerting (a webhook contact point), which sends status and alerts";
  return [
    { code: "custom", path: ["status"], message, input: p.status },
    { code: "custom", path: ["alerts"], message, input: p.alerts },
  ];
}

/** Guesses a payload's source: Zabbix's media type sends event_id and trigger_id; Grafana adds orgId/state/title and per-alert values; else Alertmanager. */
export function detectSource(data: unknown): Source {
  if (detectZabbix(data)) return "zabbix";
  if (data && typeof data === "object") {
    const p = data as Record<string, unknown>;
    if ("orgId" in p || "state" in p || "title" in p) return "grafana";
    const first = Array.isArray(p.alerts) ? (p.alerts[0] as Record<string, unknown> | undefined) : undefined;
    if (first && ("values" in first || "valueString" in first || "dashboardURL" in first)) return "grafana";
  }
  return "alertmanager";
}

/** Which values intake cut to their limit: the first 20 fields (`alerts[0].labels.instance`) and how many in all. */
export interface Truncation {
  fields: string[];
  count: number;
}

export type ParsedNotification = { ok: true; notification: Notification; truncated?: Truncation } | { ok: false; issues: z.core.$ZodIssue[] };

/** Validates and normalizes a parsed webhook body; the zod issues when it does not fit. */
export function parseNotification(source: Source, data: unknown): ParsedNotification {
  const cut = new Cutter();
  let notification: Notification;
  const legacy = source === "zabbix" ? undefined : legacyGrafanaIssues(data);
  if (legacy) return { ok: false, issues: legacy };
  if (source === "zabbix") {
    const r = parseZabbix(data, cut);
    if (!r.ok) return r;
    notification = r.notification;
  } else if (source === "grafana") {
    const r = grafanaPayload.safeParse(data);
    if (!r.success) return { ok: false, issues: r.error.issues };
    notification = fromGrafana(r.data, cut);
  } else {
    const r = alertmanagerPayload.safeParse(data);
    if (!r.success) return { ok: false, issues: r.error.issues };
    notification = fromAlertmanager(r.data, cut);
  }
  return cut.count > 0 ? { ok: true, notification, truncated: { fields: cut.fields, count: cut.count } } : { ok: true, notification };
}
