/**
 * Alertmanager webhook notifications (version 4) for tests, in the shape Alertmanager 0.25 sends
 * (test/fixtures/alertmanager/ has real captures): one builder instead of one per test file.
 */

export interface AlertSpec {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  status?: "firing" | "resolved";
  startsAt: string;
  /** Default: ten minutes after startsAt when resolved; Go's zero time while firing, as Alertmanager sends it. */
  endsAt?: string;
  /** Default: the labels, joined. */
  fingerprint?: string;
  generatorURL?: string;
}

export interface GroupSpec {
  groupLabels: Record<string, string>;
  receiver?: string;
  externalURL?: string;
  truncatedAlerts?: number;
}

/** The labels every alert shares. */
function common(maps: Record<string, string>[]): Record<string, string> {
  const [first, ...rest] = maps;
  if (!first) return {};
  return Object.fromEntries(Object.entries(first).filter(([k, v]) => rest.every((m) => m[k] === v)));
}

/** One notification of the group `group.groupLabels`, its groupKey as Alertmanager writes it. */
export function alertmanagerNotification(alerts: readonly AlertSpec[], group: GroupSpec): string {
  const list = alerts.map((a) => {
    const status = a.status ?? "firing";
    return {
      status,
      labels: a.labels,
      annotations: a.annotations ?? {},
      startsAt: a.startsAt,
      endsAt: a.endsAt ?? (status === "resolved" ? new Date(Date.parse(a.startsAt) + 600_000).toISOString() : "0001-01-01T00:00:00Z"),
      generatorURL: a.generatorURL ?? "http://prometheus.example/graph",
      fingerprint:
        a.fingerprint ??
        Object.entries(a.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
    };
  });
  const key = Object.entries(group.groupLabels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ");
  return JSON.stringify({
    receiver: group.receiver ?? "alertdesk",
    status: list.some((a) => a.status === "firing") ? "firing" : "resolved",
    alerts: list,
    groupLabels: group.groupLabels,
    commonLabels: common(list.map((a) => a.labels)),
    commonAnnotations: {},
    externalURL: group.externalURL ?? "http://alertmanager.example",
    version: "4",
    groupKey: `{}:{${key}}`,
    truncatedAlerts: group.truncatedAlerts ?? 0,
  });
}
