import type { Reason } from "../lifecycle/decide.js";
import type { Notification } from "../model/alert.js";
import type { Priority } from "../model/priority.js";
import type { TicketOperation } from "../model/ticket-operation.js";
import { dedupKey, evaluate } from "../rules/evaluate.js";
import type { RuleSet } from "../rules/load.js";
import { createSqliteStore } from "../store/sqlite/store.js";
import type { IngestTx, NewOutboxRow } from "../store/types.js";
import { apply, plan, type TemplateFailure } from "./ingest.js";

/** What the rules decided for one alert of a notification. */
export interface AlertPlan {
  fingerprint: string;
  alertname: string;
  status: string;
  rule: string | null;
  matched: string[];
  ignore: boolean;
  priority: Priority;
  category: string;
  dedupKey: string | null;
  value: number | null;
}

/** One incident a notification touched, and the helpdesk operations that would be made for it. */
export interface IncidentPlan {
  dedupKey: string;
  reason: Reason;
  priority: Priority | null;
  rule: string | null;
  operations: (TicketOperation & { helpdesk: string; notBefore?: string })[];
}

export interface NotificationPlan {
  alerts: AlertPlan[];
  incidents: IncidentPlan[];
  templateFailures: TemplateFailure[];
}

/**
 * The server's own pipeline (plan → decide → render, through a real store transaction) on a fresh
 * in-memory state: what `simulate` prints and `test` checks. Nothing is delivered anywhere.
 */
export async function dryRun(
  rules: RuleSet,
  notifications: { notification: Notification; receivedAt: Date }[],
  options: { defaultHelpdesk?: string } = {},
): Promise<NotificationPlan[]> {
  const defaultHelpdesk = options.defaultHelpdesk ?? "builtin";
  const store = createSqliteStore({ path: ":memory:" });
  const plans: NotificationPlan[] = [];
  try {
    for (const { notification, receivedAt } of notifications) {
      const alerts: AlertPlan[] = notification.alerts.map((a) => {
        const d = evaluate(a, rules);
        return {
          fingerprint: a.fingerprint,
          alertname: a.labels.alertname ?? "",
          status: a.status,
          rule: d.rule,
          matched: d.matched,
          ignore: d.ignore,
          priority: d.priority,
          category: d.category,
          dedupKey: d.ignore ? null : dedupKey(a, d, notification),
          value: d.value ?? null,
        };
      });
      const planned = plan(notification, rules, defaultHelpdesk);
      const failures: TemplateFailure[] = [];
      const enqueued = new Map<number, NewOutboxRow[]>();
      const outcomes = await store.transaction((tx) => {
        // Record what the real transaction enqueues, per incident.
        const recording: IngestTx = {
          latestIncidents: (keys) => tx.latestIncidents(keys),
          insertIncident: (i) => tx.insertIncident(i),
          updateIncident: (i) => tx.updateIncident(i),
          cancelPending: (id) => tx.cancelPending(id),
          similarIncidents: (query) => tx.similarIncidents(query),
          cancelArchive: (id, now) => tx.cancelArchive(id, now),
          async enqueue(incidentId, rows, now) {
            enqueued.set(incidentId, [...(enqueued.get(incidentId) ?? []), ...rows]);
            await tx.enqueue(incidentId, rows, now);
          },
        };
        return apply(recording, notification, planned, rules, receivedAt, failures);
      });
      const incidents: IncidentPlan[] = [];
      for (const o of outcomes) {
        const stored = o.incidentId === undefined ? undefined : (await store.listIncidents({ dedupKey: o.dedupKey, limit: 1 }))[0];
        incidents.push({
          dedupKey: o.dedupKey,
          reason: o.reason,
          priority: stored?.priority ?? null,
          rule: stored?.rule ?? null,
          operations: (o.incidentId === undefined ? [] : (enqueued.get(o.incidentId) ?? [])).map((r) => ({
            ...r.operation,
            helpdesk: r.helpdesk,
            ...(r.notBefore ? { notBefore: r.notBefore.toISOString() } : {}),
          })),
        });
      }
      plans.push({ alerts, incidents, templateFailures: failures });
    }
  } finally {
    await store.close();
  }
  return plans;
}
