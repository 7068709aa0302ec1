import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { SOURCES } from "../model/alert.js";
import { FAILURE_REASONS } from "../model/delivery-error.js";

export const TICKET_ACTIONS = ["opened", "updated", "resolved", "reopened", "notified", "silenced", "archived"] as const;

/** Every metric alertdesk exports, declared in one place. */
export interface Metrics {
  registry: Registry;
  notificationsReceived: Counter<"source" | "outcome">;
  alertsReceived: Counter<"source" | "status">;
  alertsIgnored: Counter<"rule">;
  testNotifications: Counter<"source" | "outcome">;
  lifecycleSteps: Counter<"reason">;
  incidents: Gauge<"state">;
  tickets: Counter<"helpdesk" | "action">;
  deliveryAttempts: Counter<"helpdesk" | "op">;
  deliveryFailures: Counter<"helpdesk" | "reason">;
  deliveryDeadLetters: Counter<"helpdesk">;
  deliveriesDeferred: Counter<"helpdesk">;
  outboxPruned: Counter;
  deliveryLatency: Histogram<"helpdesk" | "op">;
  outboxDepth: Gauge<"state">;
  rulesLoaded: Gauge;
  rulesLastReloadSuccess: Gauge;
  rulesLastReloadTimestamp: Gauge;
  templateErrors: Counter<"rule" | "template">;
  incidentResponseDue: Gauge<"priority" | "ticket_key" | "rule">;
  commitBatchSize: Histogram;
  helpdeskEvents: Counter<"helpdesk" | "event">;
  helpdeskSyncErrors: Counter<"helpdesk">;
  helpdeskSyncLag: Gauge<"helpdesk">;
  doorbells: Counter<"helpdesk" | "outcome">;
  verifications: Counter<"outcome">;
  mutedNotifications: Counter;
  slaBreaches: Counter<"priority" | "helpdesk">;
  escalations: Counter<"priority" | "helpdesk" | "step">;
  archived: Counter;
  timeToFirstResponse: Histogram<"priority">;
  timeToResolve: Histogram<"priority">;
}

/** A firing incident's response target, for the due-time gauge. */
export interface DueIncident {
  priority: string;
  ticketKey: string;
  rule: string | null;
  dueAt: string;
}

export interface MetricsSources {
  /** Called on every scrape: the number of incidents per state and outbox rows per state. */
  countIncidents?: () => Promise<Record<string, number>>;
  countOutbox?: () => Promise<Record<string, number>>;
  /** Firing incidents with their due times, read on every scrape. */
  dueIncidents?: () => Promise<DueIncident[]>;
  /** When each helpdesk's way back last succeeded (ISO, null: never), read on every scrape. */
  syncedAt?: () => Promise<{ helpdesk: string; syncedAt: string | null }[]>;
  clock?: () => Date;
}

/** Creates a fresh registry with all alertdesk metrics (one per service instance, so tests don't share state). */
export function createMetrics(sources: MetricsSources = {}, helpdesks: readonly string[] = ["builtin"]): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "alertdesk_process_" });
  const r = [registry];
  const metrics: Metrics = {
    registry,
    notificationsReceived: new Counter({
      name: "alertdesk_notifications_received_total",
      help: "Webhook notifications received, by source (alertmanager, grafana) and outcome (accepted, invalid, unauthorized, too_large, unavailable).",
      labelNames: ["source", "outcome"],
      registers: r,
    }),
    alertsReceived: new Counter({
      name: "alertdesk_alerts_received_total",
      help: "Alerts received inside accepted notifications, by source and alert status.",
      labelNames: ["source", "status"],
      registers: r,
    }),
    testNotifications: new Counter({
      name: "alertdesk_test_notifications_total",
      help: "Senders' test notifications (Grafana's contact point Test button), by source and outcome: recorded (no ticket, the default) or ticketed (a rule says test_notifications: ticket).",
      labelNames: ["source", "outcome"],
      registers: r,
    }),
    alertsIgnored: new Counter({
      name: "alertdesk_alerts_ignored_total",
      help: "Alerts dropped by a rule with ignore: true.",
      labelNames: ["rule"],
      registers: r,
    }),
    lifecycleSteps: new Counter({
      name: "alertdesk_lifecycle_steps_total",
      help: "Incident lifecycle decisions, by reason (first notification, unchanged, stale, ...).",
      labelNames: ["reason"],
      registers: r,
    }),
    incidents: new Gauge({
      name: "alertdesk_incidents",
      help: "Incidents currently stored, by state (firing, resolved).",
      labelNames: ["state"],
      registers: r,
      async collect() {
        if (!sources.countIncidents) return;
        const counts = await sources.countIncidents().catch(() => undefined);
        if (!counts) return;
        for (const state of ["firing", "resolved"]) this.set({ state }, counts[state] ?? 0);
      },
    }),
    tickets: new Counter({
      name: "alertdesk_tickets_total",
      help: "Ticket actions confirmed by a helpdesk, by helpdesk and action (opened, updated, resolved, reopened).",
      labelNames: ["helpdesk", "action"],
      registers: r,
    }),
    deliveryAttempts: new Counter({
      name: "alertdesk_delivery_attempts_total",
      help: "Attempts to deliver an outbox operation to a helpdesk.",
      labelNames: ["helpdesk", "op"],
      registers: r,
    }),
    deliveryFailures: new Counter({
      name: "alertdesk_delivery_failures_total",
      help: "Failed delivery attempts, by helpdesk and reason.",
      labelNames: ["helpdesk", "reason"],
      registers: r,
    }),
    outboxPruned: new Counter({
      name: "alertdesk_outbox_pruned_total",
      help: "Finished outbox rows deleted after delivery.retention.",
      registers: r,
    }),
    deliveryDeadLetters: new Counter({
      name: "alertdesk_delivery_dead_letters_total",
      help: "Outbox operations given up on (dead letters).",
      labelNames: ["helpdesk"],
      registers: r,
    }),
    deliveriesDeferred: new Counter({
      name: "alertdesk_deliveries_deferred_total",
      help: "Ticket updates held back because the ticket used up its update budget (comments queued behind them go out as one).",
      labelNames: ["helpdesk"],
      registers: r,
    }),
    deliveryLatency: new Histogram({
      name: "alertdesk_delivery_latency_seconds",
      help: "Time from a notification's commit to the helpdesk confirming the operation.",
      labelNames: ["helpdesk", "op"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers: r,
    }),
    outboxDepth: new Gauge({
      name: "alertdesk_outbox_depth",
      help: "Outbox operations by state (pending, dead).",
      labelNames: ["state"],
      registers: r,
      async collect() {
        if (!sources.countOutbox) return;
        const counts = await sources.countOutbox().catch(() => undefined);
        if (!counts) return;
        for (const state of ["pending", "dead"]) this.set({ state }, counts[state] ?? 0);
      },
    }),
    rulesLoaded: new Gauge({
      name: "alertdesk_rules_loaded",
      help: "Rules in the active rule set.",
      registers: r,
    }),
    rulesLastReloadSuccess: new Gauge({
      name: "alertdesk_rules_last_reload_success",
      help: "1 when the last rules (re)load succeeded, 0 when it failed (the previous rules keep running).",
      registers: r,
    }),
    rulesLastReloadTimestamp: new Gauge({
      name: "alertdesk_rules_last_reload_timestamp_seconds",
      help: "When the rules were last (re)loaded successfully, Unix time.",
      registers: r,
    }),
    templateErrors: new Counter({
      name: "alertdesk_template_errors_total",
      help: "Rule templates that failed to render; the default title or body was used instead.",
      labelNames: ["rule", "template"],
      registers: r,
    }),
    incidentResponseDue: new Gauge({
      name: "alertdesk_incident_response_due_seconds",
      help: "Seconds until a firing incident's response target (negative: overdue), by priority, ticket key and rule.",
      labelNames: ["priority", "ticket_key", "rule"],
      registers: r,
      async collect() {
        if (!sources.dueIncidents) return;
        const incidents = await sources.dueIncidents().catch(() => undefined);
        if (!incidents) return;
        this.reset();
        const now = (sources.clock ?? (() => new Date()))().getTime();
        for (const i of incidents) {
          this.set({ priority: i.priority, ticket_key: i.ticketKey, rule: i.rule ?? "(defaults)" }, (Date.parse(i.dueAt) - now) / 1000);
        }
      },
    }),
    commitBatchSize: new Histogram({
      name: "alertdesk_commit_batch_size",
      help: "Notifications committed together in one store transaction (group commit).",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: r,
    }),
    helpdeskEvents: new Counter({
      name: "alertdesk_helpdesk_events_total",
      help: "Agents' actions learnt from a helpdesk, by event (commented, assigned, status_changed, priority_changed; repeated: one a doorbell brought again; late: older than a change of its kind already applied).",
      labelNames: ["helpdesk", "event"],
      registers: r,
    }),
    helpdeskSyncErrors: new Counter({
      name: "alertdesk_helpdesk_sync_errors_total",
      help: "Polls and ticket reads of the way back that failed, by helpdesk.",
      labelNames: ["helpdesk"],
      registers: r,
    }),
    helpdeskSyncLag: new Gauge({
      name: "alertdesk_helpdesk_sync_lag_seconds",
      help: "Seconds since alertdesk last read a helpdesk's activity successfully (its poll).",
      labelNames: ["helpdesk"],
      registers: r,
      async collect() {
        if (!sources.syncedAt) return;
        const rows = await sources.syncedAt().catch(() => undefined);
        if (!rows) return;
        const now = (sources.clock ?? (() => new Date()))().getTime();
        for (const row of rows) if (row.syncedAt) this.set({ helpdesk: row.helpdesk }, Math.max(0, (now - Date.parse(row.syncedAt)) / 1000));
      },
    }),
    doorbells: new Counter({
      name: "alertdesk_helpdesk_doorbells_total",
      help: "Inbound helpdesk webhooks (POST /webhooks/helpdesk/{name}), by outcome (accepted, repeated, rejected, unknown_ticket, unknown_helpdesk).",
      labelNames: ["helpdesk", "outcome"],
      registers: r,
    }),
    verifications: new Counter({
      name: "alertdesk_verifications_total",
      help: "Verifications of agents' solves against the monitoring, by outcome (passed, failed, given_up).",
      labelNames: ["outcome"],
      registers: r,
    }),
    slaBreaches: new Counter({
      name: "alertdesk_sla_breaches_total",
      help: "Response clocks that passed their priority's response target without a first response, by priority and helpdesk.",
      labelNames: ["priority", "helpdesk"],
      registers: r,
    }),
    escalations: new Counter({
      name: "alertdesk_escalations_total",
      help: "Escalation steps done (each once per response clock), by the priority before the step, helpdesk and step index.",
      labelNames: ["priority", "helpdesk", "step"],
      registers: r,
    }),
    archived: new Counter({
      name: "alertdesk_archived_incidents_total",
      help: "Incidents that were over and got their entry in the built-in archive (and, when configured, an outbox row for the external knowledge base).",
      registers: r,
    }),
    timeToFirstResponse: new Histogram({
      name: "alertdesk_time_to_first_response_seconds",
      help: "From the start of a response clock (the ticket's open or reopen) to the first human response, by priority.",
      labelNames: ["priority"],
      buckets: [60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 172_800],
      registers: r,
    }),
    timeToResolve: new Histogram({
      name: "alertdesk_time_to_resolve_seconds",
      help: "From an incident's open to the resolve of its last alert, by priority.",
      labelNames: ["priority"],
      buckets: [60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 604_800],
      registers: r,
    }),
    mutedNotifications: new Counter({
      name: "alertdesk_muted_notifications_total",
      help: "Notifications about incidents an agent marked won't fix, within mute_for: recorded, nothing sent to the helpdesk.",
      registers: r,
    }),
  };
  for (const helpdesk of helpdesks) {
    for (const reason of FAILURE_REASONS) metrics.deliveryFailures.inc({ helpdesk, reason }, 0);
    for (const action of TICKET_ACTIONS) metrics.tickets.inc({ helpdesk, action }, 0);
    metrics.deliveryDeadLetters.inc({ helpdesk }, 0);
    metrics.deliveriesDeferred.inc({ helpdesk }, 0);
    metrics.helpdeskSyncErrors.inc({ helpdesk }, 0);
    for (const priority of ["P1", "P2", "P3", "P4"]) metrics.slaBreaches.inc({ priority, helpdesk }, 0);
  }
  for (const outcome of ["passed", "failed", "given_up"]) metrics.verifications.inc({ outcome }, 0);
  for (const source of SOURCES) {
    for (const outcome of ["accepted", "invalid", "unauthorized", "too_large", "unavailable"]) {
      metrics.notificationsReceived.inc({ source, outcome }, 0);
    }
  }
  return metrics;
}
