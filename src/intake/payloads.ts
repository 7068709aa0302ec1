import { z } from "zod";
import { ALERT_STATUSES, type Alert, type AlertLinks, fingerprintOf, isTestNotification, type Notification, parseValue, type Source } from "../model/alert.js";

/**
 * Webhook payloads as Alertmanager (v4) and Grafana unified alerting send them, and the one
 * normalized `Notification` the rest of the pipeline works on. Unknown keys are ignored:
 * newer Alertmanagers add fields (notification_reason, routeLabels) and must keep working.
 */

const labelSet = z.record(z.string(), z.string());
const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: "must be an RFC 3339 timestamp" });
const alertStatus = z.enum(ALERT_STATUSES);

const alertmanagerAlert = z.object({
  status: alertStatus,
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().default(""),
  fingerprint: z.string().optional(),
});

const commonFields = {
  receiver: z.string().default(""),
  status: alertStatus,
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().default(""),
  groupKey: z.string().default(""),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  version: z.string().optional(),
};

/** Alertmanager webhook payload, version 4 (the only version Alertmanager has ever sent). */
export const alertmanagerPayload = z.object({ ...commonFields, alerts: z.array(alertmanagerAlert) });

const grafanaAlert = alertmanagerAlert.extend({
  values: z.record(z.string(), z.number().nullable()).nullable().optional(),
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

function normalizeTime(s: string): string {
  return new Date(Date.parse(s)).toISOString();
}

/** Go's zero time (0001-01-01T00:00:00Z) and anything before 1970 mean "not set". */
function normalizeEnd(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const ms = Date.parse(s);
  return ms <= 0 ? undefined : new Date(ms).toISOString();
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

type BaseAlert = z.infer<typeof alertmanagerAlert>;

function normalizeAlert(a: BaseAlert, value: number | undefined, extra: Partial<Alert>): Alert {
  const alert: Alert = {
    fingerprint: nonEmpty(a.fingerprint) ?? fingerprintOf(a.labels),
    status: a.status,
    labels: a.labels,
    annotations: a.annotations,
    startsAt: normalizeTime(a.startsAt),
    generatorURL: a.generatorURL,
    links: {},
    ...extra,
  };
  const endsAt = normalizeEnd(a.endsAt);
  if (endsAt !== undefined) alert.endsAt = endsAt;
  if (value !== undefined) alert.value = value;
  return alert;
}

function normalizeCommon(source: Source, p: AlertmanagerPayload | GrafanaPayload): Omit<Notification, "alerts"> {
  return {
    source,
    receiver: p.receiver,
    status: p.status,
    groupKey: p.groupKey,
    groupLabels: p.groupLabels,
    commonLabels: p.commonLabels,
    commonAnnotations: p.commonAnnotations,
    externalURL: p.externalURL,
    truncatedAlerts: p.truncatedAlerts,
  };
}

/** Marks a sender's test notification (see isTestNotification). */
function withTest(n: Notification): Notification {
  if (isTestNotification(n)) n.test = true;
  return n;
}

/** Normalizes a validated Alertmanager payload. The value comes from the `value` annotation. */
export function fromAlertmanager(p: AlertmanagerPayload): Notification {
  return withTest({
    ...normalizeCommon("alertmanager", p),
    alerts: p.alerts.map((a) => normalizeAlert(a, parseValue(a.annotations.value), {})),
  });
}

/** Normalizes a validated Grafana payload. The value is the first entry of `values`, else from `valueString`. */
export function fromGrafana(p: GrafanaPayload): Notification {
  const common = normalizeCommon("grafana", p);
  if (p.orgId !== undefined) common.orgId = p.orgId;
  return withTest({
    ...common,
    alerts: p.alerts.map((a) => {
      const values: Record<string, number> = {};
      for (const [ref, v] of Object.entries(a.values ?? {})) if (v !== null) values[ref] = v;
      const first = Object.values(values)[0];
      const links: AlertLinks = {};
      const silence = nonEmpty(a.silenceURL);
      const dashboard = nonEmpty(a.dashboardURL);
      const panel = nonEmpty(a.panelURL);
      const image = nonEmpty(a.imageURL);
      if (silence) links.silence = silence;
      if (dashboard) links.dashboard = dashboard;
      if (panel) links.panel = panel;
      if (image) links.image = image;
      const extra: Partial<Alert> = { links };
      if (Object.keys(values).length > 0) extra.values = values;
      return normalizeAlert(a, first ?? parseValueString(a.valueString) ?? parseValue(a.annotations.value), extra);
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

/** Guesses a payload's source: Grafana adds orgId/state/title and per-alert values; else Alertmanager. */
export function detectSource(data: unknown): Source {
  if (data && typeof data === "object") {
    const p = data as Record<string, unknown>;
    if ("orgId" in p || "state" in p || "title" in p) return "grafana";
    const first = Array.isArray(p.alerts) ? (p.alerts[0] as Record<string, unknown> | undefined) : undefined;
    if (first && ("values" in first || "valueString" in first || "dashboardURL" in first)) return "grafana";
  }
  return "alertmanager";
}

/** Validates and normalizes a parsed webhook body; the zod issues when it does not fit. */
export function parseNotification(source: Source, data: unknown): { ok: true; notification: Notification } | { ok: false; issues: z.core.$ZodIssue[] } {
  const legacy = legacyGrafanaIssues(data);
  if (legacy) return { ok: false, issues: legacy };
  if (source === "grafana") {
    const r = grafanaPayload.safeParse(data);
    return r.success ? { ok: true, notification: fromGrafana(r.data) } : { ok: false, issues: r.error.issues };
  }
  const r = alertmanagerPayload.safeParse(data);
  return r.success ? { ok: true, notification: fromAlertmanager(r.data) } : { ok: false, issues: r.error.issues };
}
