import { decide, type Observation, type Reason, type Step, type TicketAction } from "../lifecycle/decide.js";
import { scheduled } from "../lifecycle/escalation.js";
import type { Notification } from "../model/alert.js";
import type { SimilarIncident, SimilarQuery } from "../model/archive.js";
import type { Incident } from "../model/incident.js";
import { commonEntries, shortLabels } from "../model/labels.js";
import { SILENCES_TARGET } from "../model/ticket-operation.js";
import { dedupKey, evaluate, finishMatrix, legacyDedupKey } from "../rules/evaluate.js";
import type { RuleSet } from "../rules/load.js";
import type { IngestTx, NewOutboxRow } from "../store/types.js";
import { templateContext } from "../templates/context.js";
import { renderBody, renderComment, renderSilence, renderTitle } from "../templates/render.js";
import type { GroupCommitter } from "./group-commit.js";

/** The result of one notification, per incident it touched. */
export interface IngestOutcome {
  dedupKey: string;
  reason: Reason;
  incidentId?: number;
  actions: TicketAction["kind"][];
  /** The incident resolved: how long it lasted (for the time-to-resolve histogram). */
  resolved?: { priority: string; seconds: number };
}

export interface IngestPlan {
  /** Alerts grouped by dedup key, in first-seen order. */
  groups: Map<string, Observation[]>;
  /** For groups under the default key: the key alertdesk 0.1 gave the same group, whose firing incident they continue. */
  legacyKeys: Map<string, string>;
  /** Names of the rules that dropped alerts (ignore: true), one entry per alert. */
  ignoredBy: string[];
  /** Alerts of a sender's test notification that were only recorded (no rule said `test_notifications: ticket`). */
  testsRecorded: number;
}

/** Rules stage: evaluates every alert and groups what is not ignored by dedup key. Pure. */
export function plan(notification: Notification, rules: RuleSet, defaultHelpdesk: string): IngestPlan {
  const groups = new Map<string, Observation[]>();
  const legacyKeys = new Map<string, string>();
  const ignoredBy: string[] = [];
  let testsRecorded = 0;
  for (const alert of notification.alerts) {
    const d = evaluate(alert, rules);
    if (d.ignore) {
      ignoredBy.push(d.rule ?? "(defaults)");
      continue;
    }
    // A test is never resolved by its sender: a ticket would stay open for ever.
    if (notification.test && d.testNotifications !== "ticket") {
      testsRecorded++;
      continue;
    }
    const key = dedupKey(alert, d, notification);
    if (!d.groupBy) legacyKeys.set(key, legacyDedupKey(notification));
    const list = groups.get(key) ?? [];
    // The ticket shows the value the deciding rule read (value_from).
    const observed = d.value === alert.value ? alert : { ...alert, ...(d.value === undefined ? {} : { value: d.value }) };
    list.push({ alert: observed, decision: { ...d, helpdesk: d.helpdesk ?? defaultHelpdesk } });
    groups.set(key, list);
  }
  // Matrix impact from the incident's width: its firing alerts (and those Alertmanager truncated) and distinct instances.
  for (const [key, observations] of groups) {
    if (!observations.some((o) => o.decision.matrix && !o.decision.matrix.impact)) continue;
    const firing = observations.filter((o) => o.alert.status === "firing");
    const width = {
      affected: firing.length + notification.truncatedAlerts,
      instances: new Set(firing.map((o) => o.alert.labels.instance).filter((i) => i !== undefined)).size,
    };
    groups.set(
      key,
      observations.map((o) => ({ alert: o.alert, decision: { ...finishMatrix(o.decision, rules.matrix, width), helpdesk: o.decision.helpdesk } })),
    );
  }
  return { groups, legacyKeys, ignoredBy, testsRecorded };
}

/**
 * Common labels of the incident's alerts: what a helpdesk can tag or filter the ticket by. Values
 * shortened to 1 KiB, as in the body's environment: the whole values are in the incident, and the
 * outbox row and the built-in ticket need not store each long one again.
 */
function ticketLabels(incident: Incident): Record<string, string> {
  return shortLabels(incident.alerts.length === 0 ? incident.groupLabels : commonEntries(incident.alerts.map((a) => a.labels)), 1024);
}

/** A rule template that failed at render time; the default text was used instead. */
export interface TemplateFailure {
  rule: string;
  template: "title" | "description";
  error: string;
}

/** Renders a rule's template, or returns undefined (and records why) so the default text is used. */
function renderRuleTemplate(incident: Incident, rules: RuleSet, key: "title" | "description", failures: TemplateFailure[]): string | undefined {
  const rule = incident.rule === null ? undefined : rules.rules.find((r) => r.name === incident.rule);
  const template = rule?.[key];
  if (!rule || !template) return undefined;
  try {
    const text = template.render(templateContext(incident)).trim();
    return text === "" ? undefined : text;
  } catch (err) {
    failures.push({ rule: rule.name, template: key, error: (err as Error).message });
    return undefined;
  }
}

/** Templates stage: turns the lifecycle's actions into rendered outbox operations. Pure. */
export function render(
  step: Step,
  incident: Incident,
  rules: RuleSet,
  failures: TemplateFailure[] = [],
  similar: readonly SimilarIncident[] = [],
): NewOutboxRow[] {
  const rows: NewOutboxRow[] = [];
  for (const action of step.actions) {
    if (action.kind === "cancel") continue; // not a helpdesk call: the store withdraws the deferred open
    if (action.kind === "unsilence") {
      // Not a helpdesk call either: every configured Alertmanager (outbox/worker.ts).
      const op = renderSilence(incident, { action: "expire" });
      if (op) rows.push({ helpdesk: SILENCES_TARGET, operation: op });
      continue;
    }
    rows.push(renderAction(action, incident, rules, failures, similar));
  }
  return rows;
}

function renderAction(
  action: Exclude<TicketAction, { kind: "cancel" | "unsilence" }>,
  incident: Incident,
  rules: RuleSet,
  failures: TemplateFailure[],
  similar: readonly SimilarIncident[],
): NewOutboxRow {
  const helpdesk = incident.helpdesk;
  switch (action.kind) {
    case "open": {
      const previous = action.previous
        ? action.previous.ticket
          ? { ticketKey: action.previous.ticketKey, ticketId: action.previous.ticket.id }
          : { ticketKey: action.previous.ticketKey }
        : undefined;
      const title = renderRuleTemplate(incident, rules, "title", failures)?.replace(/\s+/g, " ").slice(0, 250);
      const description = renderRuleTemplate(incident, rules, "description", failures);
      const operation: NewOutboxRow["operation"] = {
        op: "open",
        ticketKey: incident.ticketKey,
        dedupKey: incident.dedupKey,
        title: title ?? renderTitle(incident),
        body: renderBody(incident, { ...(previous ? { previous } : {}), ...(description ? { description } : {}), similar }),
        priority: incident.priority,
        category: incident.category,
        dueAt: incident.dueAt,
        labels: ticketLabels(incident),
        tags: incident.tags ?? [],
        fields: incident.fields ?? {},
      };
      if (incident.assigneeGroup) operation.assigneeGroup = incident.assigneeGroup;
      if (incident.impact) operation.impact = incident.impact;
      if (incident.urgency) operation.urgency = incident.urgency;
      const row: NewOutboxRow = { helpdesk, operation };
      if (action.notBefore) row.notBefore = new Date(action.notBefore);
      if (action.replacesPending) row.replacesPending = true;
      return row;
    }
    case "comment":
      return {
        helpdesk,
        operation: action.raisedFrom
          ? { op: "comment", body: renderComment(action, incident), priority: incident.priority }
          : { op: "comment", body: renderComment(action, incident) },
      };
    case "resolve":
      return {
        helpdesk,
        operation: {
          op: "resolve",
          body: renderComment(action, incident),
          solve: action.solve,
          ...(incident.helpdeskState?.assignee ? { assigned: true } : {}),
        },
      };
    case "reopen":
      return { helpdesk, operation: { op: "reopen", body: renderComment(action, incident), priority: incident.priority } };
  }
}

/**
 * Upgrade safety: a group with no incident under its key may still have one firing under the key
 * alertdesk 0.1 gave it (the group labels alone). Its first notification continues that incident and
 * its ticket, which takes the new key from then on (stored by updateIncident). Only a firing one: a
 * resolved 0.1 incident may have merged unrelated groups, and reopening it would merge them again.
 */
function continuedFromLegacy(latest: Map<string, Incident>, legacyKey: string | undefined, key: string): Incident | undefined {
  if (legacyKey === undefined || legacyKey === key) return undefined;
  const old = latest.get(legacyKey);
  if (old?.state !== "firing") return undefined;
  latest.delete(legacyKey); // one group continues it, not every group of the batch
  return { ...old, dedupKey: key };
}

/**
 * Archived incidents like this new one, for its ticket's "Similar past incidents": the built-in
 * archive's indexes only (no helpdesk or wiki call on the webhook path), ranked by model/archive.ts
 * (the store ranks, so that only the few listed are read in full).
 */
async function similarTo(incident: Incident & { id: number }, tx: IngestTx): Promise<SimilarIncident[]> {
  const limit = incident.similarIncidents ?? 3;
  if (limit <= 0) return [];
  const firing = incident.alerts.filter((a) => a.status === "firing");
  const alerts = firing.length > 0 ? firing : incident.alerts;
  const alertnames = [...new Set(alerts.map((a) => a.labels.alertname).filter((n): n is string => n !== undefined))];
  const query: SimilarQuery = {
    alertname: alertnames.length === 1 ? (alertnames[0] as string) : null,
    labels: commonEntries(alerts.map((a) => a.labels)),
    excludeIncidentId: incident.id,
    limit,
  };
  return tx.similarIncidents(query);
}

/**
 * Lifecycle + store stage, inside the (group-commit) transaction: for each dedup key, load the
 * latest incident, decide, store the next state and enqueue the rendered operations, atomically.
 */
export async function apply(
  tx: IngestTx,
  notification: Notification,
  planned: IngestPlan,
  rules: RuleSet,
  now: Date,
  failures: TemplateFailure[] = [],
): Promise<IngestOutcome[]> {
  const latest = await tx.latestIncidents([...planned.groups.keys()]);
  // Upgrade safety costs a second look-up only for groups with no incident under their own key (new
  // groups), not for every repeat and change on the webhook path.
  const legacy = [...planned.groups.keys()]
    .filter((k) => !latest.has(k))
    .map((k) => planned.legacyKeys.get(k))
    .filter((k): k is string => k !== undefined && !latest.has(k));
  if (legacy.length > 0) for (const [k, incident] of await tx.latestIncidents(legacy)) latest.set(k, incident);
  const outcomes: IngestOutcome[] = [];
  for (const [key, observations] of planned.groups) {
    const continued = latest.has(key) ? undefined : continuedFromLegacy(latest, planned.legacyKeys.get(key), key);
    const prev = latest.get(key) ?? continued;
    const step = decide(
      prev,
      {
        dedupKey: key,
        source: notification.source,
        receiver: notification.receiver,
        groupLabels: notification.groupLabels,
        externalURL: notification.externalURL,
        truncatedAlerts: notification.truncatedAlerts,
        observations,
        responseTargets: rules.responseTargets,
      },
      now,
    );
    const outcome: IngestOutcome = { dedupKey: key, reason: step.reason, actions: step.actions.map((a) => a.kind) };
    // The escalation schedule follows every change: a resolve or a reopen starts or stops the clock.
    if (step.incident) step.incident = scheduled(step.incident, now);
    if (step.incident?.state === "resolved" && prev?.state === "firing" && !step.incident.cancelled) {
      outcome.resolved = { priority: step.incident.priority, seconds: Math.max(0, (now.getTime() - Date.parse(step.incident.openedAt)) / 1000) };
    }
    if (step.incident) {
      let id: number;
      if (step.created) {
        id = await tx.insertIncident(step.incident);
      } else {
        id = prev?.id as number;
        await tx.updateIncident({ ...step.incident, id });
      }
      if (step.actions.some((a) => a.kind === "cancel" || (a.kind === "open" && a.replacesPending))) await tx.cancelPending(id);
      // An archived incident that is no longer over (a re-fire reopened it): its archive write waits for the next end.
      if (prev?.archivedAt !== undefined && step.incident.archivedAt === undefined) await tx.cancelArchive(id, now);
      const similar = step.actions.some((a) => a.kind === "open") ? await similarTo({ ...step.incident, id }, tx) : [];
      const rows = render(step, { ...step.incident, id }, rules, failures, similar);
      if (rows.length > 0) await tx.enqueue(id, rows, now);
      outcome.incidentId = id;
    } else if (prev?.id !== undefined) {
      // Nothing changed, but a continued 0.1 incident must keep its new key even so.
      if (continued?.id !== undefined) await tx.updateIncident({ ...continued, id: continued.id });
      outcome.incidentId = prev.id;
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

/** What one notification did, as the service counts and logs it (on whichever thread it ran). */
export interface IngestResult {
  outcomes: IngestOutcome[];
  failures: TemplateFailure[];
  /** Names of the rules that dropped alerts, one per alert. */
  ignoredBy: string[];
  testsRecorded: number;
  /** Whether any group of the notification went on to the lifecycle (a test notification that was ticketed). */
  ticketed: boolean;
}

/**
 * One notification through the write path: plan, then apply inside the group commit; resolves once
 * durable. The main thread and the ingest thread both run this. Everything up to the submit happens
 * before the first await, so notifications keep the order in which this was called.
 */
export async function ingestNotification(
  committer: GroupCommitter,
  notification: Notification,
  receivedAt: Date,
  rules: RuleSet,
  defaultHelpdesk: string,
): Promise<IngestResult> {
  const planned = plan(notification, rules, defaultHelpdesk);
  const failures: TemplateFailure[] = [];
  const outcomes = await committer.submit((tx) => apply(tx, notification, planned, rules, receivedAt, failures));
  return { outcomes, failures, ignoredBy: planned.ignoredBy, testsRecorded: planned.testsRecorded, ticketed: planned.groups.size > 0 };
}
