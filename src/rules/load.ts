import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { isNode, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { keysAt, unknownKeysMessage } from "../model/did-you-mean.js";
import { formatPath } from "../model/field-path.js";
import { type Acknowledging, type AgentPolicy, DEFAULT_AGENT_POLICY } from "../model/helpdesk-event.js";
import type { FieldValue, OnResolved, TestNotifications } from "../model/incident.js";
import { type Category, DEFAULT_ESCALATION, type EscalationStep, ITIL_MATRIX, type Level, type Priority, RESPONSE_TARGET_MS } from "../model/priority.js";
import { type Condition, compileCondition } from "./condition.js";
import { type CompiledTemplate, compileTemplate, templateErrorPosition } from "./liquid.js";
import { type Matcher, parseMatcher } from "./matcher.js";
import { type MatrixSpec, type RulesFile, rulesFileSchema } from "./schema.js";

/** Routing a rule or the defaults hand to the helpdesk driver. */
export interface Routing {
  helpdesk?: string;
  assigneeGroup?: string;
  tags?: string[];
  fields?: Record<string, FieldValue>;
}

/** A rule ready to evaluate: matchers, conditions and templates compiled once per load. */
export interface CompiledRule extends Routing {
  name: string;
  matchers: Matcher[];
  annotationMatchers: Matcher[];
  when?: Condition;
  whenText?: string;
  valueFrom?: string;
  continue: boolean;
  priority?: Priority | "matrix";
  impact?: Level;
  urgency?: Level;
  category?: Category;
  ignore: boolean;
  title?: CompiledTemplate;
  description?: CompiledTemplate;
  groupBy?: string[];
  reopenWithinMs?: number;
  onResolved?: OnResolved;
  openAfterMs?: number;
  flapThreshold?: number;
  flapWindowMs?: number;
  testNotifications?: TestNotifications;
  escalation?: EscalationStep[];
  similarIncidents?: number;
  archiveAfterMs?: number;
  /** The agent-facing keys the rule sets; the defaults' fill the rest. */
  agentPolicy?: Partial<AgentPolicy>;
  /** Where the rule is written, for messages. */
  origin: string;
  /** `file:line:col` of the rule. */
  at: string;
}

/** What an alert gets when no rule says otherwise. */
export interface RuleDefaults extends Routing {
  priority: Priority | "matrix";
  category: Category;
  groupBy?: string[];
  reopenWithinMs: number;
  onResolved: OnResolved;
  openAfterMs: number;
  flapThreshold: number;
  flapWindowMs: number;
  testNotifications: TestNotifications;
  escalation: readonly EscalationStep[];
  agentPolicy: AgentPolicy;
  /** How many similar archived incidents a new ticket lists (`similar_incidents`). */
  similarIncidents: number;
  /** How long after the end the archive entry is written (`archive_after`). */
  archiveAfterMs: number;
}

/** The agent-facing keys of a rules entry (defaults or a rule). */
function agentPolicyOf(r: {
  on_agent_solved?: AgentPolicy["onAgentSolved"] | undefined;
  verify_after?: number | undefined;
  max_auto_reopens?: number | undefined;
  on_wont_fix?: AgentPolicy["onWontFix"] | undefined;
  mute_for?: number | undefined;
  first_response?: Acknowledging[] | undefined;
  silence_on_ack?: number | undefined;
  silence_on_wont_fix?: number | undefined;
}): Partial<AgentPolicy> {
  const policy: Partial<AgentPolicy> = {};
  if (r.on_agent_solved) policy.onAgentSolved = r.on_agent_solved;
  if (r.verify_after !== undefined) policy.verifyAfterMs = r.verify_after;
  if (r.max_auto_reopens !== undefined) policy.maxAutoReopens = r.max_auto_reopens;
  if (r.on_wont_fix) policy.onWontFix = r.on_wont_fix;
  if (r.mute_for !== undefined) policy.muteForMs = r.mute_for;
  if (r.first_response) policy.acknowledging = [...new Set(r.first_response)];
  if (r.silence_on_ack !== undefined) policy.silenceOnAckMs = r.silence_on_ack;
  if (r.silence_on_wont_fix !== undefined) policy.silenceOnWontFixMs = r.silence_on_wont_fix;
  return policy;
}

/** A level taken from a label (through an optional map), else a default. */
export interface LevelSource {
  label?: string;
  map?: Record<string, Level>;
  default: Level;
}

/** The impact × urgency matrix, compiled. */
export interface CompiledMatrix {
  impact: LevelSource & { width: { when: Condition; text: string; level: Level }[] };
  urgency: LevelSource;
  priorities: Record<Level, Record<Level, Priority>>;
}

export interface RuleSet {
  defaults: RuleDefaults;
  rules: CompiledRule[];
  files: string[];
  /** Response target per priority, in ms. */
  responseTargets: Record<Priority, number>;
  matrix: CompiledMatrix;
  /** The texts compiled, so that another thread can compile the very same rules (compileRules). */
  sources?: readonly RuleSource[];
}

/** One rules file's text, as compileRules takes it. */
export interface RuleSource {
  file: string;
  text: string;
  displayName?: string;
}

export const BUILTIN_DEFAULTS: RuleDefaults = {
  priority: "P3",
  category: "function",
  reopenWithinMs: 24 * 3_600_000,
  onResolved: "solve",
  openAfterMs: 0,
  flapThreshold: 3,
  flapWindowMs: 3_600_000,
  testNotifications: "record",
  escalation: DEFAULT_ESCALATION,
  agentPolicy: DEFAULT_AGENT_POLICY,
  similarIncidents: 3,
  archiveAfterMs: 2 * 60_000,
};

/** A parsed escalation step as the lifecycle uses it. */
function compileStep(s: { after: EscalationStep["after"]; raise: boolean; notify?: string | undefined }): EscalationStep {
  return s.notify ? { after: s.after, raise: s.raise, notify: s.notify } : { after: s.after, raise: s.raise };
}

/** Variables a matrix `width` condition may read. */
export const WIDTH_VARIABLES = ["affected", "instances"] as const;

/** The matrix when a file does not define one: urgency from severity, impact from how wide. */
export const DEFAULT_MATRIX: MatrixSpec = {
  urgency: { label: "severity", map: { critical: "high", error: "high", page: "high", warning: "medium", info: "low", none: "low" }, default: "medium" },
  impact: {
    label: "impact",
    width: [
      { when: "affected >= 10 or instances >= 5", level: "high" },
      { when: "affected >= 3 or instances >= 2", level: "medium" },
    ],
    default: "low",
  },
};

/** The outcome of the last rules (re)load, as GET /api/rules shows it. */
export interface ReloadStatus {
  success: boolean;
  at: string;
  /** Every problem, one per line, when the reload failed. */
  error?: string;
}

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
    // `priority: matrix` is documented beside P1..P4; the message lists the priorities themselves.
    const allowed = issue.values
      .map(String)
      .filter((v) => v !== "matrix")
      .join(", ");
    return `must be one of ${allowed}, got ${JSON.stringify(input)}`;
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
  if (doc.contents === null) {
    // An emptied file (or one read while an editor was writing it) would reload as "success, fewer
    // rules": an error instead, so the previous rules keep running and the reload-failed alert fires.
    problems.push(`${displayName}:1:1: the file is empty (no defaults and no rules); a rules file says at least rules: []`);
    return undefined;
  }
  let raw: unknown;
  try {
    // maxAliasCount bounds alias expansion: a billion-laughs file is an error, not an out-of-memory.
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    problems.push(`${displayName}:1:1: ${(err as Error).message.split("\n")[0]}`);
    return undefined;
  }
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
      const path = issue.path;
      if (issue.code === "unrecognized_keys") {
        // One problem per unknown key, each pointing at the key itself, not at its parent mapping.
        const known = keysAt(rulesFileSchema, path);
        for (const key of issue.keys) {
          const pair = doc.getIn(path as unknown[], true) as { items?: { key: Node }[] } | undefined;
          const keyNode = pair?.items?.find((it) => isNode(it.key) && (it.key as unknown as { value: unknown }).value === key)?.key;
          const where = keyNode?.range ? at(keyNode.range[0]) : position([...path, key]);
          problems.push(`${where}: ${formatPath(path)}: ${unknownKeysMessage([key], known)}`);
        }
        continue;
      }
      problems.push(`${position(path)}: ${formatPath(path)}: ${issueMessage(issue, valueAt(raw, path))}`);
    }
    return undefined;
  }
  return { file, spec: result.data, position };
}

function routingOf(spec: {
  helpdesk?: string | undefined;
  assignee_group?: string | undefined;
  tags?: string[] | undefined;
  fields?: Record<string, FieldValue> | undefined;
}): Routing {
  const r: Routing = {};
  if (spec.helpdesk) r.helpdesk = spec.helpdesk;
  if (spec.assignee_group) r.assigneeGroup = spec.assignee_group;
  if (spec.tags) r.tags = spec.tags;
  if (spec.fields) r.fields = spec.fields;
  return r;
}

function compileDefaults(parsed: ParsedFile[]): RuleDefaults {
  const defaults: RuleDefaults = { ...BUILTIN_DEFAULTS };
  for (const p of parsed) {
    const d = p.spec.defaults;
    if (d.priority) defaults.priority = d.priority;
    if (d.category) defaults.category = d.category;
    if (d.group_by) defaults.groupBy = d.group_by;
    if (d.on_resolved) defaults.onResolved = d.on_resolved;
    if (d.reopen_within !== undefined) defaults.reopenWithinMs = d.reopen_within;
    if (d.open_after !== undefined) defaults.openAfterMs = d.open_after;
    if (d.flap_threshold !== undefined) defaults.flapThreshold = d.flap_threshold;
    if (d.flap_window !== undefined) defaults.flapWindowMs = d.flap_window;
    if (d.test_notifications) defaults.testNotifications = d.test_notifications;
    if (d.escalation) defaults.escalation = d.escalation.map(compileStep);
    if (d.similar_incidents !== undefined) defaults.similarIncidents = d.similar_incidents;
    if (d.archive_after !== undefined) defaults.archiveAfterMs = d.archive_after;
    defaults.agentPolicy = { ...defaults.agentPolicy, ...agentPolicyOf(d) };
    Object.assign(defaults, routingOf(d));
  }
  return defaults;
}

function compileResponseTargets(parsed: ParsedFile[]): Record<Priority, number> {
  const targets = { ...RESPONSE_TARGET_MS };
  for (const p of parsed) {
    for (const [priority, d] of Object.entries(p.spec.response_targets ?? {})) {
      if (d !== undefined) targets[priority as Priority] = d;
    }
  }
  return targets;
}

/** The last file that defines `matrix` wins; its missing parts come from the default matrix. */
function compileMatrix(parsed: ParsedFile[], problems: string[]): CompiledMatrix {
  let spec: MatrixSpec = DEFAULT_MATRIX;
  let owner: ParsedFile | undefined;
  for (const p of parsed) {
    if (p.spec.matrix) {
      spec = p.spec.matrix;
      owner = p;
    }
  }
  const impact = { ...DEFAULT_MATRIX.impact, ...spec.impact };
  const urgency = { ...DEFAULT_MATRIX.urgency, ...spec.urgency };
  const width: CompiledMatrix["impact"]["width"] = [];
  (impact.width ?? []).forEach((w, i) => {
    try {
      width.push({ when: compileCondition(w.when, WIDTH_VARIABLES), text: w.when, level: w.level });
    } catch (err) {
      const where = owner ? owner.position(["matrix", "impact", "width", i, "when"]) : "(default matrix)";
      problems.push(`${where}: matrix.impact.width[${i}].when: ${(err as Error).message}`);
    }
  });
  const source = (s: { label?: string | undefined; map?: Record<string, Level> | undefined; default?: Level | undefined }, fallback: Level): LevelSource => {
    const out: LevelSource = { default: s.default ?? fallback };
    if (s.label) out.label = s.label;
    if (s.map) out.map = s.map;
    return out;
  };
  return {
    impact: { ...source(impact, "low"), width },
    urgency: source(urgency, "medium"),
    priorities: spec.priorities ?? ITIL_MATRIX,
  };
}

/** Compiles a rule's template; a parse error names the rule, the file position and the template position. */
function compileRuleTemplate(
  p: ParsedFile,
  i: number,
  key: "title" | "description",
  rule: { name: string },
  source: string,
  problems: string[],
): CompiledTemplate | undefined {
  try {
    return compileTemplate(source);
  } catch (err) {
    const pos = templateErrorPosition(err);
    const message = (err as Error).message.replace(/,? line:\d+, col:\d+/, "");
    const at = pos ? ` at line ${pos.line}, column ${pos.col}` : "";
    problems.push(`${p.position(["rules", i, key])}: rules[${i}].${key}: template error in rule "${rule.name}"${at}: ${message}`);
    return undefined;
  }
}

/** Parses and compiles rules from text (one entry per file). Throws RulesError listing every problem. */
export function compileRules(sources: readonly RuleSource[]): RuleSet {
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
      const compileMatchers = (key: "matchers" | "annotations") => {
        const out: Matcher[] = [];
        r[key].forEach((text, j) => {
          try {
            out.push(parseMatcher(text));
          } catch (err) {
            problems.push(`${p.position(["rules", i, key, j])}: rules[${i}].${key}[${j}]: ${(err as Error).message}`);
          }
        });
        return out;
      };
      const rule: CompiledRule = {
        name: r.name,
        matchers: compileMatchers("matchers"),
        annotationMatchers: compileMatchers("annotations"),
        continue: r.continue,
        ignore: r.ignore,
        origin,
        at: where,
        ...routingOf(r),
      };
      if (r.when !== undefined) {
        try {
          rule.when = compileCondition(r.when);
          rule.whenText = r.when;
        } catch (err) {
          problems.push(`${p.position(["rules", i, "when"])}: rules[${i}].when: ${(err as Error).message}`);
        }
      }
      if (r.value_from) rule.valueFrom = r.value_from;
      if (r.priority) rule.priority = r.priority;
      if (r.impact) rule.impact = r.impact;
      if (r.urgency) rule.urgency = r.urgency;
      if (r.category) rule.category = r.category;
      if (r.group_by) rule.groupBy = r.group_by;
      if (r.on_resolved) rule.onResolved = r.on_resolved;
      if (r.reopen_within !== undefined) rule.reopenWithinMs = r.reopen_within;
      if (r.open_after !== undefined) rule.openAfterMs = r.open_after;
      if (r.flap_threshold !== undefined) rule.flapThreshold = r.flap_threshold;
      if (r.flap_window !== undefined) rule.flapWindowMs = r.flap_window;
      if (r.test_notifications) rule.testNotifications = r.test_notifications;
      if (r.escalation) rule.escalation = r.escalation.map(compileStep);
      if (r.similar_incidents !== undefined) rule.similarIncidents = r.similar_incidents;
      if (r.archive_after !== undefined) rule.archiveAfterMs = r.archive_after;
      const policy = agentPolicyOf(r);
      if (Object.keys(policy).length > 0) rule.agentPolicy = policy;
      for (const key of ["title", "description"] as const) {
        const source = r[key];
        if (source === undefined) continue;
        const t = compileRuleTemplate(p, i, key, r, source, problems);
        if (t) rule[key] = t;
      }
      rules.push(rule);
    });
  }
  const defaults = compileDefaults(parsed);
  const responseTargets = compileResponseTargets(parsed);
  const matrix = compileMatrix(parsed, problems);
  if (problems.length > 0) throw new RulesError(problems);
  return { defaults, rules, files: sources.map((s) => s.file), responseTargets, matrix, sources };
}

/** Loads a rules file or a directory of *.yaml / *.yml files (in name order) as one rule list. */
export function loadRules(path: string): RuleSet {
  return loadRuleFiles([path]);
}

/** Loads several rules files or directories, in the order given, as one rule list. */
export function loadRuleFiles(paths: readonly string[]): RuleSet {
  const files: string[] = [];
  for (const path of paths) {
    let found: string[];
    try {
      found = ruleFiles(path);
    } catch (err) {
      throw new RulesError([`${path}: cannot read rules: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
    if (found.length === 0) throw new RulesError([`${path}: no rules files (*.yaml, *.yml) in the directory`]);
    files.push(...found);
  }
  const cwd = process.cwd();
  return compileRules(
    files.map((file) => ({
      file,
      text: readFileSync(file, "utf8"),
      displayName: file.startsWith(`${cwd}/`) ? relative(cwd, file) : file,
    })),
  );
}

/** Names every helpdesk a rule uses that is not configured. */
export function checkHelpdesks(rules: RuleSet, defaultHelpdesk: string, known: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (!known.has(defaultHelpdesk)) problems.push(`undefined helpdesk "${defaultHelpdesk}" used as default_helpdesk`);
  if (rules.defaults.helpdesk && !known.has(rules.defaults.helpdesk)) problems.push(`undefined helpdesk "${rules.defaults.helpdesk}" used in defaults`);
  for (const r of rules.rules) if (r.helpdesk && !known.has(r.helpdesk)) problems.push(`${r.at}: undefined helpdesk "${r.helpdesk}" used in rule "${r.name}"`);
  for (const s of rules.defaults.escalation) {
    if (s.notify && !known.has(s.notify)) problems.push(`undefined helpdesk "${s.notify}" used in defaults.escalation`);
  }
  for (const r of rules.rules) {
    for (const s of r.escalation ?? [])
      if (s.notify && !known.has(s.notify)) problems.push(`${r.at}: undefined helpdesk "${s.notify}" used in the escalation of rule "${r.name}"`);
  }
  return problems;
}
