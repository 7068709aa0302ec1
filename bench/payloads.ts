/** The notifications the benchmark sends. */

/** A realistic Alertmanager notification: one alert per instance of one group, those in `resolved` resolved. */
export function payload(group: string, instances: number[], resolvedList: number[] = [], startsAt = "2026-11-25T06:00:00.000Z"): string {
  const resolved = new Set(resolvedList); // a set: the large-group section builds 80,000 alerts
  return JSON.stringify({
    receiver: "alertdesk",
    status: instances.some((i) => !resolved.has(i)) ? "firing" : "resolved",
    alerts: instances.map((i) => ({
      status: resolved.has(i) ? "resolved" : "firing",
      labels: { alertname: group, instance: `host-${i}:9100`, job: "node", severity: "warning", team: "infra" },
      annotations: { summary: `${group} on host-${i}`, description: `Something is wrong on host-${i}.`, value: String(80 + (i % 20)) },
      startsAt,
      endsAt: resolved.has(i) ? "2026-11-25T06:30:00.000Z" : "0001-01-01T00:00:00Z",
      generatorURL: "http://prometheus:9090/graph?g0.expr=up",
      fingerprint: `${group}-${i}`,
    })),
    groupLabels: { alertname: group },
    commonLabels: { alertname: group, job: "node" },
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    version: "4",
    groupKey: `{}:{alertname="${group}"}`,
    truncatedAlerts: 0,
  });
}

/** The ingest mix: 5 alerts each; 20 % new groups, 40 % unchanged repeats, 40 % changes (a join, a partial resolve); group names start with `prefix`. */
export function ingestBodies(n: number, prefix = "Bench"): string[] {
  const bodies: string[] = [];
  for (let k = 0; k < n; k++) {
    const g = Math.floor(k / 5);
    const kind = k % 5;
    const group = `${prefix}${g}`;
    if (kind <= 2)
      bodies.push(payload(group, [1, 2, 3, 4, 5])); // new, then two unchanged repeats
    else if (kind === 3)
      bodies.push(payload(group, [1, 2, 3, 4, 6])); // change: 6 joins, 5 leaves the list
    else bodies.push(payload(group, [1, 2, 3, 4, 6], [1])); // change: 1 resolves
  }
  return bodies;
}
