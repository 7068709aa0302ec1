import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { parseNotification } from "../intake/payloads.js";
import { formatPath } from "../model/field-path.js";
import { formatLabelSet } from "../model/labels.js";
import { dryRun, type NotificationPlan } from "../pipeline/dry-run.js";
import { loadRuleFiles, RulesError } from "../rules/load.js";
import { type Expectation, ruleTestFileSchema, type TestCase } from "../rules/test-schema.js";
import { readPayloads } from "./simulate.js";

/**
 * `alertdesk test <files or directories...>`: rule unit tests in YAML, like `promtool test rules`.
 * Each file names the rules it tests (`rule_files`, relative to the test file) and lists cases: input
 * alerts or a payload file, and what the rules must decide.
 */

/** Lists test files: the files named, and every *.yaml / *.yml under the directories named. */
function testFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) {
        const full = join(p, f);
        if (statSync(full).isDirectory()) out.push(...testFiles([full]));
        else if (/\.ya?ml$/.test(f)) out.push(full);
      }
    } else {
      out.push(p);
    }
  }
  return out;
}

/** Builds the notification a case describes, as Alertmanager (or Grafana, with `values`) would send it. */
function notificationOf(c: TestCase & { alerts: NonNullable<TestCase["alerts"]> }) {
  const startsAt = "2026-01-01T00:00:00.000Z";
  const grafana = c.alerts.some((a) => a.values);
  const alerts = c.alerts.map((a) => {
    const annotations = { ...a.annotations };
    if (a.value !== undefined && annotations.value === undefined) annotations.value = String(a.value);
    return {
      status: a.status,
      labels: a.labels,
      annotations,
      startsAt,
      endsAt: a.status === "resolved" ? "2026-01-01T00:05:00.000Z" : "0001-01-01T00:00:00Z",
      generatorURL: "",
      ...(a.values ? { values: a.values } : {}),
    };
  });
  const first = c.alerts[0]?.labels.alertname;
  const groupLabels = c.group_labels ?? (first ? { alertname: first } : {});
  // As a root route of receiver "test" sends it: the group key is the route ({}) and the group labels.
  const parsed = parseNotification(grafana ? "grafana" : "alertmanager", {
    receiver: "test",
    status: alerts.some((a) => a.status === "firing") ? "firing" : "resolved",
    alerts,
    groupLabels,
    groupKey: `{}:${formatLabelSet(groupLabels)}`,
  });
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join("; "));
  return { notification: parsed.notification, receivedAt: new Date("2026-01-01T00:01:00.000Z") };
}

/** What the rules decided, in the terms of an expectation. */
function actualOf(plan: NotificationPlan): Required<Expectation> {
  const incident = plan.incidents[0];
  const open = incident?.operations.find((o) => o.op === "open");
  const alert = plan.alerts[0];
  const ignore = plan.alerts.length > 0 && plan.alerts.every((a) => a.ignore);
  return {
    rule: incident?.rule ?? alert?.rule ?? null,
    priority: incident?.priority ?? alert?.priority ?? "P3",
    category: (open?.op === "open" ? open.category : alert?.category) as Required<Expectation>["category"],
    dedup_key: incident?.dedupKey ?? "",
    title: open?.op === "open" ? open.title : "",
    ignore,
    ticket: open !== undefined,
    helpdesk: open?.helpdesk ?? "",
    tags: open?.op === "open" ? open.tags : [],
    assignee_group: open?.op === "open" ? (open.assigneeGroup ?? null) : null,
  };
}

/** `key: want X, got Y` for every expectation that does not hold. */
export function differences(want: Expectation, got: Required<Expectation>): string[] {
  const out: string[] = [];
  for (const key of Object.keys(want) as (keyof Expectation)[]) {
    const w = JSON.stringify(want[key]);
    const g = JSON.stringify(got[key]);
    if (w !== g) out.push(`${key}: want ${w}, got ${g}`);
  }
  return out;
}

export interface TestOptions {
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

/** Runs rule test files; returns the exit code (1 if any case fails or a file does not load). */
export async function testRules(paths: string[], options: TestOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  let passed = 0;
  let failed = 0;
  let files: string[];
  try {
    files = testFiles(paths);
  } catch (e) {
    err.write(`${(e as NodeJS.ErrnoException).path ?? paths.join(" ")}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  for (const file of files) {
    out.write(`${file}\n`);
    const base = dirname(resolve(file));
    let spec: z.infer<typeof ruleTestFileSchema>;
    try {
      const parsed = ruleTestFileSchema.safeParse(parseDocument(readFileSync(file, "utf8")).toJS({ maxAliasCount: 100 }));
      if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${file}: ${formatPath(i.path)}: ${i.message}`).join("\n"));
      spec = parsed.data;
    } catch (e) {
      err.write(`${(e as Error).message}\n`);
      failed++;
      continue;
    }
    let rules: ReturnType<typeof loadRuleFiles>;
    try {
      rules = loadRuleFiles(spec.rule_files.map((f) => resolve(base, f)));
    } catch (e) {
      err.write(`${e instanceof RulesError ? e.message : (e as Error).message}\n`);
      failed++;
      continue;
    }
    for (const c of spec.tests) {
      let problems: string[];
      try {
        const input = c.payload ? readPayloads([resolve(base, c.payload)]) : [notificationOf({ ...c, alerts: c.alerts ?? [] })];
        const [plan] = await dryRun(rules, input);
        problems = differences(c.expect, actualOf(plan as NotificationPlan));
      } catch (e) {
        problems = [(e as Error).message];
      }
      if (problems.length === 0) {
        passed++;
        out.write(`  ok    ${c.name}\n`);
      } else {
        failed++;
        out.write(`  FAIL  ${c.name}\n${problems.map((p) => `        ${p}\n`).join("")}`);
      }
    }
  }
  out.write(`${passed + failed} rule tests, ${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}
