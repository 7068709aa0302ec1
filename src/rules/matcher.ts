/**
 * Alertmanager's matcher syntax: `name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"`.
 * Regexes are fully anchored, as in Alertmanager. A matcher is compiled once, when rules load.
 */

export type MatchOp = "=" | "!=" | "=~" | "!~";

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
  /** The source text, for messages. */
  text: string;
  matches(labels: Readonly<Record<string, string>>): boolean;
}

const MATCHER_RE = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/s;

function unquote(raw: string): string {
  if (!raw.startsWith('"')) {
    if (raw.includes('"')) throw new Error("unbalanced quotes");
    return raw;
  }
  if (raw.length < 2 || !raw.endsWith('"')) throw new Error("unbalanced quotes");
  const inner = raw.slice(1, -1);
  let out = "";
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i] as string;
    if (c === "\\") {
      const next = inner[++i];
      if (next === undefined) throw new Error("trailing backslash in quoted value");
      out += next === "n" ? "\n" : next === "t" ? "\t" : next;
    } else if (c === '"') {
      throw new Error("unescaped quote inside quoted value");
    } else {
      out += c;
    }
  }
  return out;
}

/** Parses one matcher string; throws an Error whose message says what is wrong. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER_RE.exec(text);
  if (!m) throw new Error(`bad matcher ${JSON.stringify(text)}: want name="value" with one of = != =~ !~`);
  const name = m[1] as string;
  const op = m[2] as MatchOp;
  let value: string;
  try {
    value = unquote(m[3] as string);
  } catch (err) {
    throw new Error(`bad matcher ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
  let test: (v: string) => boolean;
  if (op === "=" || op === "!=") {
    test = (v) => v === value;
  } else {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`, "s");
    } catch (err) {
      throw new Error(`bad matcher ${JSON.stringify(text)}: invalid regex: ${(err as Error).message}`);
    }
    test = (v) => re.test(v);
  }
  const negate = op === "!=" || op === "!~";
  // A missing label matches as the empty string, as in Alertmanager.
  return { name, op, value, text, matches: (labels) => test(labels[name] ?? "") !== negate };
}
