import type { LabelSet } from "./alert.js";

/**
 * Label sets are maps without a prototype (intake and the stores build them so): a label named
 * `constructor` or `toString` is a label like any other, and one that is absent reads as undefined,
 * never as a function of Object.prototype printed into a ticket.
 */
export function labelSet(entries: Record<string, string> = {}): LabelSet {
  const set = Object.create(null) as LabelSet;
  for (const k of Object.keys(entries)) set[k] = entries[k] as string;
  return set;
}

/** The end of a value intake cut to its limit (intake/payloads.ts): the whole value's size and a hash of it. */
export function cutMarker(bytes: number, sha256: string): string {
  return `… [truncated by alertdesk: ${bytes} bytes, sha256 ${sha256.slice(0, 16)}]`;
}
const CUT_MARKER = /… \[truncated by alertdesk: \d+ bytes, sha256 [0-9a-f]{16}\]$/;

/** The marker of a value intake cut, if it has one: a shortened view of the value keeps it. */
export function cutMarkerOf(value: string): string | undefined {
  return CUT_MARKER.exec(value)?.[0];
}

/**
 * A value shortened to `chars` for a place that repeats it (an alert's name in a list, a row of a
 * ticket's environment, a ticket's labels): the whole value stays in the incident. Says how much it
 * left out, keeps intake's marker when intake had cut the value, and never splits a surrogate pair.
 */
export function shortValue(value: string, chars: number): string {
  if (value.length <= chars) return value;
  const end = /[\uD800-\uDBFF]/.test(value.charAt(chars - 1)) ? chars - 1 : chars;
  return `${value.slice(0, end)}… (${value.length - end} more characters)${cutMarkerOf(value) ?? ""}`;
}

/** A label set with every value shortened (shortValue), without a prototype. */
export function shortLabels(labels: Record<string, string>, chars: number): LabelSet {
  const out = labelSet();
  for (const k of Object.keys(labels)) out[k] = shortValue(labels[k] as string, chars);
  return out;
}

/** A label's value, own entries only: safe on an ordinary object too (a test's or an old store row's). */
export function labelOf(labels: Record<string, string>, name: string): string | undefined {
  return Object.hasOwn(labels, name) ? labels[name] : undefined;
}

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
  const common = labelSet();
  if (!first) return common;
  for (const [k, v] of Object.entries(first)) if (rest.every((m) => labelOf(m, k) === v)) common[k] = v;
  return common;
}
