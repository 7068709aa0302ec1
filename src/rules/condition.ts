/**
 * Numeric conditions: `value > 80`, `value > 80 and value <= 95`, `affected >= 10 or instances >= 3`.
 * `and` binds tighter than `or`. Compiled once, when rules load.
 */

export type Comparison = ">" | ">=" | "<" | "<=" | "==" | "!=";
/** The numbers a condition reads, by name; a missing number never satisfies a comparison. */
export type ConditionInput = Readonly<Record<string, number | undefined>>;
export type Condition = (input: ConditionInput) => boolean;

const COMPARE: Record<Comparison, (a: number, b: number) => boolean> = {
  ">": (a, b) => a > b,
  ">=": (a, b) => a >= b,
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  "==": (a, b) => a === b,
  "!=": (a, b) => a !== b,
};

const TERM_RE = /^([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)%?$/;

function compileTerm(text: string, variables: readonly string[]): Condition {
  const m = TERM_RE.exec(text.trim());
  const name = m?.[1] as string;
  if (!m || !variables.includes(name)) {
    const ops = "> >= < <= == !=";
    const want =
      variables.length === 1
        ? `"${variables[0]} <op> <number>" with one of ${ops}`
        : `"<name> <op> <number>" with <name> one of ${variables.join(", ")} and <op> one of ${ops}`;
    throw new Error(`bad comparison ${JSON.stringify(text.trim())}: want ${want}`);
  }
  const compare = COMPARE[m[2] as Comparison];
  const threshold = Number(m[3]);
  return (input) => {
    const v = input[name];
    return v !== undefined && compare(v, threshold);
  };
}

/** Compiles a condition over the named variables (default: `value`); throws an Error naming the bad part. */
export function compileCondition(text: string, variables: readonly string[] = ["value"]): Condition {
  const alternatives = text.split(/\s+or\s+/).map((alt) => alt.split(/\s+and\s+/).map((t) => compileTerm(t, variables)));
  return (input) => alternatives.some((terms) => terms.every((t) => t(input)));
}
