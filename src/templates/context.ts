import { formatDuration } from "../model/duration.js";
import type { AlertRecord, Incident } from "../model/incident.js";
import { commonEntries } from "../model/labels.js";
import { incidentLinks } from "./render.js";

function alertView(a: AlertRecord) {
  return {
    status: a.status,
    labels: a.labels,
    annotations: a.annotations,
    value: a.value ?? null,
    values: a.values ?? {},
    startsAt: a.startsAt,
    endsAt: a.endsAt ?? null,
    generatorURL: a.generatorURL,
    priority: a.priority,
    rule: a.rule,
  };
}

/**
 * What rule templates see (docs/rules.md lists it): `labels` and `annotations` common to the firing
 * alerts, `value` of the first firing alert that has one, `alerts`, `incident`, `priority`,
 * `category`, `rule` and `links`. Plain data only: templates cannot reach anything else.
 */
export function templateContext(incident: Incident): Record<string, unknown> {
  const firing = incident.alerts.filter((a) => a.status === "firing");
  const alerts = firing.length > 0 ? firing : incident.alerts;
  const firstSeen = alerts.map((a) => a.startsAt).sort()[0] ?? incident.openedAt;
  const durationMs = Math.max(0, Date.parse(incident.updatedAt) - Date.parse(firstSeen));
  const links: Record<string, string> = {};
  for (const l of incidentLinks(incident, alerts)) links[l.label.toLowerCase().replace(/\s+/g, "_")] = l.url;
  return {
    labels: commonEntries(alerts.map((a) => a.labels)),
    annotations: commonEntries(alerts.map((a) => a.annotations)),
    value: alerts.find((a) => a.value !== undefined)?.value ?? null,
    alerts: alerts.map(alertView),
    incident: {
      count: alerts.length,
      instances: [...new Set(alerts.map((a) => a.labels.instance).filter((i) => i !== undefined))].length,
      firstSeen,
      duration: formatDuration(durationMs),
      durationSeconds: Math.round(durationMs / 1000),
      dedupKey: incident.dedupKey,
      ticketKey: incident.ticketKey,
      recurrences: incident.recurrences,
      dueAt: incident.dueAt,
    },
    priority: incident.priority,
    category: incident.category,
    rule: incident.rule,
    links,
  };
}
