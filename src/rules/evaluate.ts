import { createHash } from "node:crypto";
import type { Alert, LabelSet, Notification } from "../model/alert.js";
import { parseValue } from "../model/alert.js";
import type { AgentPolicy } from "../model/helpdesk-event.js";
import type { FieldValue, OnResolved, TestNotifications } from "../model/incident.js";
import { formatLabelSet } from "../model/labels.js";
import { type Category, type EscalationStep, higherPriority, type Level, type Priority } from "../model/priority.js";
import type { CompiledMatrix, CompiledRule, LevelSource, RuleSet } from "./load.js";

/** What the rules say about one alert. */
export interface AlertDecision {
  /** The first matching rule's name; null when the defaults applied. */
  rule: string | null;
  /** Every rule that matched (more than one only through `continue: true`). */
  matched: string[];
  ignore: boolean;
  priority: Priority;
  /**
   * Set when the priority comes from the matrix. `impact` is missing when neither the rule nor a
   * label decided it: then the incident's width decides (see `finishMatrix`).
   */
  matrix?: { impact?: Level; urgency: Level };
  category: Category;
  /** The alert's value as the matching rule reads it (`value_from`). */
  value?: number;
  groupBy?: string[];
  reopenWithinMs: number;
  onResolved: OnResolved;
  /** Open the ticket only once the alert has fired this long (0: at once). */
  openAfterMs: number;
  flapThreshold: number;
  flapWindowMs: number;
  /** What a sender's test notification matched by this rule does. */
  testNotifications: TestNotifications;
  /** The escalation steps when nobody responds (`escalation:`). */
  escalation: readonly EscalationStep[];
  /** How many similar archived incidents a new ticket lists (`similar_incidents`; 0: none). */
  similarIncidents: number;
  /** How long after the end the archive entry is written (`archive_after`). */
  archiveAfterMs: number;
  /** What alertdesk does when agents act on the ticket (`on_agent_solved`, `verify_after`, …). */
  agentPolicy: AgentPolicy;
  /** Undefined: the service's default helpdesk. */
  helpdesk?: string;
  assigneeGroup?: string;
  tags: string[];
  fields: Record<string, FieldValue>;
}

/** The alert's value for a rule: its `value_from` (a Grafana refId, else an annotation), or the default value. */
export function valueFor(alert: Alert, valueFrom: string | undefined): number | undefined {
  if (!valueFrom) return alert.value;
  return alert.values?.[valueFrom] ?? parseValue(alert.annotations[valueFrom]);
}

function ruleMatches(rule: CompiledRule, alert: Alert): boolean {
  for (const m of rule.matchers) if (!m.matches(alert.labels)) return false;
  for (const m of rule.annotationMatchers) if (!m.matches(alert.annotations)) return false;
  return rule.when ? rule.when({ value: valueFor(alert, rule.valueFrom) }) : true;
}

function levelFrom(source: LevelSource, labels: LabelSet): Level | undefined {
  if (!source.label) return undefined;
  const v = labels[source.label];
  if (v === undefined) return undefined;
  if (source.map) return source.map[v];
  return v === "high" || v === "medium" || v === "low" ? v : undefined;
}

/** The matrix's priority for an impact and urgency. */
export function matrixPriority(matrix: CompiledMatrix, impact: Level, urgency: Level): Priority {
  return matrix.priorities[impact][urgency];
}

/**
 * The rules stage for one alert: the first matching rule decides; with `continue: true` later
 * matching rules add tags and fields and may raise (never lower) the priority. An alert that matches
 * no rule gets the defaults. Pure.
 */
export function evaluate(alert: Alert, rules: RuleSet): AlertDecision {
  const d = rules.defaults;
  const matched: CompiledRule[] = [];
  for (const rule of rules.rules) {
    if (!ruleMatches(rule, alert)) continue;
    matched.push(rule);
    if (!rule.continue) break;
  }
  const [first, ...later] = matched;
  const decision: AlertDecision = {
    rule: first?.name ?? null,
    matched: matched.map((r) => r.name),
    ignore: first?.ignore ?? false,
    priority: "P4",
    category: first?.category ?? d.category,
    reopenWithinMs: first?.reopenWithinMs ?? d.reopenWithinMs,
    onResolved: first?.onResolved ?? d.onResolved,
    openAfterMs: first?.openAfterMs ?? d.openAfterMs,
    flapThreshold: first?.flapThreshold ?? d.flapThreshold,
    flapWindowMs: first?.flapWindowMs ?? d.flapWindowMs,
    testNotifications: first?.testNotifications ?? d.testNotifications,
    escalation: first?.escalation ?? d.escalation,
    similarIncidents: first?.similarIncidents ?? d.similarIncidents,
    archiveAfterMs: first?.archiveAfterMs ?? d.archiveAfterMs,
    agentPolicy: { ...d.agentPolicy, ...first?.agentPolicy },
    tags: [...new Set([...(d.tags ?? []), ...matched.flatMap((r) => r.tags ?? [])])],
    fields: Object.assign({}, d.fields, ...matched.map((r) => r.fields ?? {})) as Record<string, FieldValue>,
  };
  const value = valueFor(alert, first?.valueFrom);
  if (value !== undefined) decision.value = value;
  const priority = first?.priority ?? d.priority;
  if (priority === "matrix") {
    const impact = first?.impact ?? levelFrom(rules.matrix.impact, alert.labels);
    const urgency = first?.urgency ?? levelFrom(rules.matrix.urgency, alert.labels) ?? rules.matrix.urgency.default;
    decision.matrix = impact ? { impact, urgency } : { urgency };
    decision.priority = matrixPriority(rules.matrix, impact ?? rules.matrix.impact.default, urgency);
  } else {
    decision.priority = priority;
  }
  for (const r of later) if (r.priority && r.priority !== "matrix") decision.priority = higherPriority(decision.priority, r.priority);
  const groupBy = first?.groupBy ?? d.groupBy;
  if (groupBy) decision.groupBy = groupBy;
  const helpdesk = first?.helpdesk ?? d.helpdesk;
  if (helpdesk) decision.helpdesk = helpdesk;
  const assigneeGroup = first?.assigneeGroup ?? d.assigneeGroup;
  if (assigneeGroup) decision.assigneeGroup = assigneeGroup;
  return decision;
}

/**
 * Finishes matrix priorities once the incident's width is known: an alert whose impact no rule or
 * label decided gets it from how many alerts (`affected`) and distinct instances the incident has.
 */
export function finishMatrix(decision: AlertDecision, matrix: CompiledMatrix, width: { affected: number; instances: number }): AlertDecision {
  if (!decision.matrix || decision.matrix.impact) return decision;
  const impact = matrix.impact.width.find((w) => w.when(width))?.level ?? matrix.impact.default;
  return { ...decision, matrix: { impact, urgency: decision.matrix.urgency }, priority: matrixPriority(matrix, impact, decision.matrix.urgency) };
}

/** What identifies the group a notification is about, as its sender defines it. */
export type NotificationGroup = Pick<Notification, "source" | "orgId" | "receiver" | "groupKey" | "groupLabels">;

/**
 * The default incident identity: one incident per group as the sender defines it. Alertmanager's
 * groupKey names the route and the group labels ("key identifying the group of alerts (e.g. to
 * deduplicate)", and its own notification log deduplicates by receiver and group key); two routes or
 * two receivers with the same group labels are two groups, and so are Grafana's organisations.
 * externalURL is not part of it: both Alertmanagers of an HA pair send the same receiver and group
 * key from different URLs, and must land on one incident. Readable on purpose (it is shown in the
 * API and on tickets): `alertmanager receiver="ops" {}/{team="db"}:{alertname="DiskFull"}`.
 */
export function groupDedupKey(group: NotificationGroup): string {
  const org = group.orgId === undefined ? "" : ` org=${group.orgId}`;
  return `${group.source}${org} receiver=${JSON.stringify(group.receiver)} ${group.groupKey || formatLabelSet(group.groupLabels)}`;
}

/**
 * The default key of alertdesk 0.1 (the group labels alone), which merged every group whose
 * groupLabels were equal. Incidents still firing under it are continued by the group's first
 * notification after an upgrade (see pipeline/ingest.ts), so an upgrade opens no second ticket.
 */
export function legacyDedupKey(group: NotificationGroup): string {
  return formatLabelSet(group.groupLabels);
}

/**
 * The incident's identity. By default the sender's group (groupDedupKey); a rule's group_by picks
 * labels instead and groups across everything the rule matches, whatever the route; ['...'] = all.
 */
export function dedupKey(alert: Alert, decision: AlertDecision, group: NotificationGroup): string {
  return bounded(labelKey(alert, decision, group));
}

/**
 * Keys stay readable and short enough for every store's index (PostgreSQL's btree refuses entries
 * over 2,704 bytes): a longer one keeps its first 512 characters and a hash of the whole.
 */
function bounded(key: string): string {
  if (key.length <= 1024) return key;
  return `${key.slice(0, 512)}… sha256:${createHash("sha256").update(key).digest("hex")}`;
}

function labelKey(alert: Alert, decision: AlertDecision, group: NotificationGroup): string {
  const groupBy = decision.groupBy;
  if (!groupBy) return groupDedupKey(group);
  if (groupBy.includes("...")) return formatLabelSet(alert.labels);
  const picked: LabelSet = {};
  for (const name of groupBy) {
    const v = alert.labels[name];
    if (v !== undefined && v !== "") picked[name] = v;
  }
  return formatLabelSet(picked);
}
