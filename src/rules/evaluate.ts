import type { Alert, LabelSet } from "../intake/notification.js";
import type { CompiledRule, RuleSet } from "./load.js";
import type { Category, Priority } from "./priority.js";
import type { OnResolved } from "./schema.js";

/** What the rules say about one alert. */
export interface AlertDecision {
  /** The matching rule's name; null when the defaults applied. */
  rule: string | null;
  ignore: boolean;
  priority: Priority;
  category: Category;
  groupBy?: string[];
  reopenWithinMs: number;
  onResolved: OnResolved;
  /** Undefined: the service's default helpdesk. */
  helpdesk?: string;
}

function ruleMatches(rule: CompiledRule, alert: Alert): boolean {
  for (const m of rule.matchers) if (!m.matches(alert.labels)) return false;
  return rule.when ? rule.when(alert.value) : true;
}

/** The first rule that matches the alert decides; an alert that matches none gets the defaults. Pure. */
export function evaluate(alert: Alert, rules: RuleSet): AlertDecision {
  const d = rules.defaults;
  const rule = rules.rules.find((r) => ruleMatches(r, alert));
  const decision: AlertDecision = {
    rule: rule?.name ?? null,
    ignore: rule?.ignore ?? false,
    priority: rule?.priority ?? d.priority,
    category: rule?.category ?? d.category,
    reopenWithinMs: rule?.reopenWithinMs ?? d.reopenWithinMs,
    onResolved: rule?.onResolved ?? d.onResolved,
  };
  const groupBy = rule?.groupBy ?? d.groupBy;
  if (groupBy) decision.groupBy = groupBy;
  const helpdesk = rule?.helpdesk ?? d.helpdesk;
  if (helpdesk) decision.helpdesk = helpdesk;
  return decision;
}

/** Formats a label set canonically (sorted names, quoted values), as Alertmanager prints group keys. */
export function formatLabelSet(labels: LabelSet): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `{${parts.join(", ")}}`;
}

/**
 * The incident's identity. By default the notification's groupLabels (one ticket per Alertmanager
 * group, as the SRE configured grouping there); a rule's group_by picks labels instead; ['...'] = all.
 */
export function dedupKey(alert: Alert, decision: AlertDecision, groupLabels: LabelSet): string {
  const groupBy = decision.groupBy;
  if (!groupBy) return formatLabelSet(groupLabels);
  if (groupBy.includes("...")) return formatLabelSet(alert.labels);
  const picked: LabelSet = {};
  for (const name of groupBy) {
    const v = alert.labels[name];
    if (v !== undefined && v !== "") picked[name] = v;
  }
  return formatLabelSet(picked);
}
