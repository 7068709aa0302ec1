import { createHash } from "node:crypto";

/**
 * Alerts and notifications, whatever their source: what every stage after intake works on.
 * Intake parses each sender's payload into a `Notification`; nothing above intake knows payloads.
 */

export const ALERT_STATUSES = ["firing", "resolved"] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];
export type LabelSet = Record<string, string>;
export type Source = "alertmanager" | "grafana";

/** Links an agent needs so nobody has to ask for them. */
export interface AlertLinks {
  silence?: string;
  dashboard?: string;
  panel?: string;
  image?: string;
}

/** One alert, normalized: timestamps in ISO form, the numeric value extracted. */
export interface Alert {
  fingerprint: string;
  status: AlertStatus;
  labels: LabelSet;
  annotations: LabelSet;
  startsAt: string;
  /** Absent while firing (Alertmanager sends Go's zero time, 0001-01-01). */
  endsAt?: string;
  generatorURL: string;
  value?: number;
  /** Grafana's refId → value map, kept for rules that pick another expression. */
  values?: Record<string, number>;
  links: AlertLinks;
}

/** One webhook notification, whatever its source. */
export interface Notification {
  source: Source;
  receiver: string;
  status: AlertStatus;
  groupKey: string;
  groupLabels: LabelSet;
  commonLabels: LabelSet;
  commonAnnotations: LabelSet;
  externalURL: string;
  truncatedAlerts: number;
  /** Grafana's organisation: two orgs' groups are two incidents even with the same receiver and group key. */
  orgId?: number;
  /** A sender's test notification (Grafana's contact point "Test" button): never resolved, so no ticket by default. */
  test?: boolean;
  alerts: Alert[];
}

/**
 * Whether a notification is a sender's test. Grafana's test (its `TestAlert`) carries the labels
 * alertname=TestAlert, instance=Grafana (Alertmanager in Grafana's Alertmanager mode) and the summary
 * "Notification test", in a group keyed `<receiver>-<fingerprint>-<unix time>` instead of the
 * `{route}:{labels}` of a real group (grafana/alerting notify/testing.go).
 */
export function isTestNotification(n: Pick<Notification, "groupKey" | "alerts">): boolean {
  if (n.alerts.length === 0) return false;
  const testKey = /^[^{}]*-[0-9a-f]{16}-\d+$/.test(n.groupKey);
  const testAlerts = n.alerts.every(
    (a) =>
      a.labels.alertname === "TestAlert" &&
      (a.labels.instance === "Grafana" || a.labels.instance === "Alertmanager") &&
      a.annotations.summary === "Notification test",
  );
  return testKey || testAlerts;
}

/** Parses a number as Prometheus templates print it into an annotation: "83.4375", "83.4%", "1e3". */
export function parseValue(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim().replace(/\s*%$/, "");
  if (trimmed === "") return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : undefined;
}

/** Alertmanager's fingerprint when present; otherwise a stable hash of the label set. */
export function fingerprintOf(labels: LabelSet): string {
  const canonical = Object.keys(labels)
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join("\u0001");
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}
