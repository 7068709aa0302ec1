import type { LabelSet } from "./alert.js";

/** Formats a label set canonically (sorted names, quoted values), as Alertmanager prints group keys. */
export function formatLabelSet(labels: LabelSet): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `{${parts.join(", ")}}`;
}

/** The entries every map of the list shares (labels or annotations common to an incident's alerts). */
export function commonEntries(maps: Record<string, string>[]): Record<string, string> {
  const [first, ...rest] = maps;
  if (!first) return {};
  const common: Record<string, string> = {};
  for (const [k, v] of Object.entries(first)) if (rest.every((m) => m[k] === v)) common[k] = v;
  return common;
}
