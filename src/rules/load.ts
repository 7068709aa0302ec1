import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { LineCounter, type Node, isNode, parseDocument } from "yaml";
import type { z } from "zod";
import { formatPath } from "../intake/notification.js";
import { compileCondition } from "./condition.js";
import { parseDuration } from "./duration.js";
import { type Matcher, parseMatcher } from "./matcher.js";
import type { Category, Priority } from "./priority.js";
import { type OnResolved, type RulesFile, rulesFileSchema } from "./schema.js";

/** A rule ready to evaluate: matchers and condition compiled once per load. */
export interface CompiledRule {
  name: string;
  matchers: Matcher[];
  when?: (value: number | undefined) => boolean;
  whenText?: string;
  priority?: Priority;
  category?: Category;
  ignore: boolean;
  groupBy?: string[];
  reopenWithinMs?: number;
  onResolved?: OnResolved;
  helpdesk?: string;
  /** Where the rule is written, for messages. */
  origin: string;
}

/** What an alert gets when no rule says otherwise. */
export interface RuleDefaults {
  priority: Priority;
  category: Category;
  groupBy?: string[];
  reopenWithinMs: number;
  onResolved: OnResolved;
  helpdesk?: string;
}

export interface RuleSet {
  defaults: RuleDefaults;
  rules: CompiledRule[];
  files: string[];
}

export const BUILTIN_DEFAULTS: RuleDefaults = {
  priority: "P3",
  category: "function",
  reopenWithinMs: 24 * 3_600_000,
  onResolved: "solve",
};

/** A rules file that does not load: every problem, each as `file:line:col: path: message`. */
export class RulesError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "RulesError";
  }
}

/** Lists the rule files of a path: the file itself, or every *.yaml / *.yml of a directory in name order. */
export function ruleFiles(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(path, f))
    .filter((f) => statSync(f).isFile());
}

function issueMessage(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === "invalid_value") {
    const allowed = issue.values.map(String).join(", ");
    return `must be one of ${allowed}, got ${JSON.stringify(input)}`;
  }
  if (issue.code === "unrecognized_keys") {
    return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
  }
  if (issue.code === "invalid_type") {
    return `must be ${issue.expected === "array" ? "a list" : issue.expected === "object" ? "a mapping" : `a ${issue.expected}`}, got ${describe(input)}`;
  }
  return issue.message;
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return JSON.stringify(v);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

interface ParsedFile {
  file: string;
  spec: RulesFile;
  position(path: readonly PropertyKey[]): string;
}

function parseFile(file: string, text: string, problems: string[], displayName: string): ParsedFile | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${displayName}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) problems.push(`${at(e.pos[0])}: ${e.message.split("\n")[0]}`);
    return undefined;
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const position = (path: readonly PropertyKey[]) => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && (node as Node).range) return at((node as Node).range?.[0] ?? 0);
    }
    return `${displayName}:1:1`;
  };
  const result = rulesFileSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      let path = issue.path;
      if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) {
        // Point at the unknown key itself, not at its parent mapping.
        const keyPath = [...path, issue.keys[0]];
        const pair = doc.getIn(path as unknown[], true) as { items?: { key: Node }[] } | undefined;
        const keyNode = pair?.items?.find((it) => isNode(it.key) && (it.key as unknown as { value: unknown }).value === issue.keys[0])?.key;
        const where = keyNode?.range ? at(keyNode.range[0]) : position(keyPath);
        problems.push(`${where}: ${formatPath(path)}: ${issueMessage(issue, undefined)}`);
        continue;
      }
      problems.push(`${position(path)}: ${formatPath(path)}: ${issueMessage(issue, valueAt(raw, path))}`);
    }
    return undefined;
  }
  return { file, spec: result.data, position };
}

function compileDefaults(parsed: ParsedFile[], problems: string[]): RuleDefaults {
  const defaults: RuleDefaults = { ...BUILTIN_DEFAULTS };
  for (const p of parsed) {
    const d = p.spec.defaults;
    if (d.priority) defaults.priority = d.priority;
    if (d.category) defaults.category = d.category;
    if (d.group_by) defaults.groupBy = d.group_by;
    if (d.on_resolved) defaults.onResolved = d.on_resolved;
    if (d.helpdesk) defaults.helpdesk = d.helpdesk;
    if (d.reopen_within) defaults.reopenWithinMs = parseDuration(d.reopen_within) ?? defaults.reopenWithinMs;
  }
  void problems;
  return defaults;
}

/** Parses and compiles rules from text (one file). Throws RulesError listing every problem. */
export function compileRules(sources: { file: string; text: string; displayName?: string }[]): RuleSet {
  const problems: string[] = [];
  const parsed: ParsedFile[] = [];
  for (const s of sources) {
    const p = parseFile(s.file, s.text, problems, s.displayName ?? s.file);
    if (p) parsed.push(p);
  }
  const rules: CompiledRule[] = [];
  const seen = new Map<string, string>();
  for (const p of parsed) {
    p.spec.rules.forEach((r, i) => {
      const where = p.position(["rules", i]);
      const origin = `${where} (rule "${r.name}")`;
      const previous = seen.get(r.name);
      if (previous) problems.push(`${p.position(["rules", i, "name"])}: rules[${i}].name: duplicate rule name "${r.name}", first defined at ${previous}`);
      seen.set(r.name, where);
      const matchers: Matcher[] = [];
      r.matchers.forEach((text, j) => {
        try {
          matchers.push(parseMatcher(text));
        } catch (err) {
          problems.push(`${p.position(["rules", i, "matchers", j])}: rules[${i}].matchers[${j}]: ${(err as Error).message}`);
        }
      });
      const rule: CompiledRule = { name: r.name, matchers, ignore: r.ignore, origin };
      if (r.when !== undefined) {
        try {
          rule.when = compileCondition(r.when);
          rule.whenText = r.when;
        } catch (err) {
          problems.push(`${p.position(["rules", i, "when"])}: rules[${i}].when: ${(err as Error).message}`);
        }
      }
      if (r.priority) rule.priority = r.priority;
      if (r.category) rule.category = r.category;
      if (r.group_by) rule.groupBy = r.group_by;
      if (r.on_resolved) rule.onResolved = r.on_resolved;
      if (r.helpdesk) rule.helpdesk = r.helpdesk;
      if (r.reopen_within) {
        const ms = parseDuration(r.reopen_within);
        if (ms !== undefined) rule.reopenWithinMs = ms;
      }
      rules.push(rule);
    });
  }
  const defaults = compileDefaults(parsed, problems);
  if (problems.length > 0) throw new RulesError(problems);
  return { defaults, rules, files: sources.map((s) => s.file) };
}

/** Loads a rules file or a directory of *.yaml / *.yml files (in name order) as one rule list. */
export function loadRules(path: string): RuleSet {
  let files: string[];
  try {
    files = ruleFiles(path);
  } catch (err) {
    throw new RulesError([`${path}: cannot read rules: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const cwd = process.cwd();
  return compileRules(
    files.map((file) => ({
      file,
      text: readFileSync(file, "utf8"),
      displayName: file.startsWith(cwd) ? relative(cwd, file) : file,
    })),
  );
}
