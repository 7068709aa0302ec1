/**
 * `when:` conditions on an alert's numeric value: `value > 80`, `value > 80 and value <= 95`,
 * `value < 1 or value > 99`. `and` binds tighter than `or`. Compiled once, when rules load.
 */

export type Comparison = ">" | ">=" | "<" | "<=" | "==" | "!=";
export type Condition = (value: number | undefined) => boolean;

const COMPARE: Record<Comparison, (a: number, b: number) => boolean> = {
  ">": (a, b) => a > b,
  ">=": (a, b) => a >= b,
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  "==": (a, b) => a === b,
  "!=": (a, b) => a !== b,
};

const TERM_RE = /^value\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)%?$/;

function compileTerm(text: string): Condition {
  const m = TERM_RE.exec(text.trim());
  if (!m) {
    throw new Error(`bad comparison ${JSON.stringify(text.trim())}: want "value <op> <number>" with one of > >= < <= == !=`);
  }
  const compare = COMPARE[m[1] as Comparison];
  const threshold = Number(m[2]);
  // An alert without a value never satisfies a comparison.
  return (v) => v !== undefined && compare(v, threshold);
}

/** Compiles a `when:` expression; throws an Error naming the bad part. */
export function compileCondition(text: string): Condition {
  const alternatives = text.split(/\s+or\s+/).map((alt) => alt.split(/\s+and\s+/).map(compileTerm));
  return (v) => alternatives.some((terms) => terms.every((t) => t(v)));
}
