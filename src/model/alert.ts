import { createHash } from "node:crypto";

/**
 * Alerts and notifications, whatever their source: what every stage after intake works on.
 * Intake parses each sender's payload into a `Notification`; nothing above intake knows payloads.
 */

export const ALERT_STATUSES = ["firing", "resolved"] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];
export type LabelSet = Record<string, string>;
export const SOURCES = ["alertmanager", "grafana", "zabbix"] as const;
export type Source = (typeof SOURCES)[number];

/** Links an agent needs so nobody has to ask for them. */
export interface AlertLinks {
  silence?: string;
  dashboard?: string;
  panel?: string;
  image?: string;
  /** Zabbix: the event's page (tr_events.php), the trigger's problems, and the item's graph. */
  event?: string;
  problem?: string;
  graph?: string;
}

/**
 * A change a person made to the alert in its sender while it fired: in Zabbix an update operation
 * (the problem acknowledged, its severity changed, a message added). It is a comment on the ticket,
 * never a new alert; `id` recognises a retry of the same update.
 */
export interface AlertUpdate {
  id: string;
  /** What was done, in the sender's words: "acknowledged", "commented", "changed severity from Warning to High". */
  action: string;
  message?: string;
  user?: string;
  /** When it was made (ISO), when the sender said. */
  at?: string;
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
  /** The latest update a person made in the sender (Zabbix's update operations). */
  update?: AlertUpdate;
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
 * Whether a sender tells each resolve only once. Zabbix sends one recovery per problem (retried only
 * while the webhook fails), so a recovery that arrives before its problem (retries reorder them)
 * must be remembered: the late problem is then a stale copy, not a new ticket that nothing would
 * ever resolve. Alertmanager repeats every group's state in each notification, so remembering
 * resolves of groups it never saw firing would only keep incidents of nothing.
 */
export function resolvesOnce(source: Source): boolean {
  return source === "zabbix";
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
