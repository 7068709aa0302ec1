/**
 * CQL (Confluence Query Language) as alertdesk writes it: every value a double-quoted string with
 * `"` and `\` escaped by a backslash, so no value (a label, a space key) can end its string early and
 * add a clause of its own (`x" OR label = "y`). Multiple `label =` clauses joined with AND ask for
 * pages carrying all of the labels (`label IN (…)` would ask for any).
 */

/** A CQL string literal holding exactly `value`. */
export function cqlString(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Pages of the space carrying every one of the labels, newest first. */
export function pagesWithLabels(space: string, labels: readonly string[]): string {
  const clauses = ["type = page", `space = ${cqlString(space)}`, ...labels.map((label) => `label = ${cqlString(label)}`)];
  return `${clauses.join(" AND ")} ORDER BY created DESC`;
}
