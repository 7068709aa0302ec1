import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { detectSource, parseNotification } from "../intake/payloads.js";
import type { Notification, Source } from "../model/alert.js";
import { toText } from "../model/doc.js";
import { formatPath } from "../model/field-path.js";
import { dryRun, type NotificationPlan } from "../pipeline/dry-run.js";
import { loadRules, RulesError } from "../rules/load.js";

export interface SimulateOptions {
  rules?: string;
  json?: boolean;
  source?: Source;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

/** When the payload arrived: its captured `.headers.json` if any, else its latest timestamp. */
function receivedAt(file: string, notification: Notification): Date {
  const headers = file.replace(/\.json$/, ".headers.json");
  if (headers !== file && existsSync(headers)) {
    const at = Date.parse((JSON.parse(readFileSync(headers, "utf8")) as { receivedAt?: string }).receivedAt ?? "");
    if (!Number.isNaN(at)) return new Date(at);
  }
  const times = notification.alerts.flatMap((a) => [a.startsAt, a.endsAt ?? a.startsAt]).map((t) => Date.parse(t));
  return times.length > 0 ? new Date(Math.max(...times) + 1000) : new Date();
}

/** Reads and validates webhook payload files; throws an Error naming the file and field. */
export function readPayloads(files: string[], source?: Source): { file: string; notification: Notification; receivedAt: Date }[] {
  return files.map((file) => {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const parsed = parseNotification(source ?? detectSource(data), data);
    if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${file}: ${formatPath(i.path)}: ${i.message}`).join("\n"));
    return { file, notification: parsed.notification, receivedAt: receivedAt(file, parsed.notification) };
  });
}

function indent(text: string, by: string): string {
  return text
    .split("\n")
    .map((l) => (l === "" ? l : by + l))
    .join("\n");
}

function printPlan(out: NodeJS.WritableStream, file: string, n: Notification, at: Date, plan: NotificationPlan): void {
  out.write(`${basename(file)}: ${n.source}, ${n.alerts.length} alert${n.alerts.length === 1 ? "" : "s"}, at ${at.toISOString()}\n`);
  for (const a of plan.alerts) {
    const value = a.value === null ? "" : ` value=${a.value}`;
    const decided = a.ignore
      ? `ignored by rule "${a.rule}"`
      : `${a.rule ? `rule "${a.rule}"` : "defaults"}${a.matched.length > 1 ? ` (+ ${a.matched.slice(1).join(", ")})` : ""}: ${a.priority} ${a.category} → incident ${a.dedupKey}`;
    out.write(`  alert ${a.alertname || "?"} ${a.fingerprint} ${a.status}${value}: ${decided}\n`);
  }
  for (const i of plan.incidents) {
    out.write(`  incident ${i.dedupKey}: ${i.reason}${i.operations.length === 0 ? ", no helpdesk call" : ""}\n`);
    for (const op of i.operations) {
      if (op.op === "open") {
        const deferred = op.notBefore ? `, not before ${op.notBefore}` : "";
        out.write(`    → ${op.helpdesk}: open "${op.title}" (${op.priority}, ${op.category}, due ${op.dueAt}${deferred})\n`);
      } else {
        const extra = op.op === "resolve" ? (op.solve ? " and solve" : " (comment only)") : "priority" in op && op.priority ? ` (priority ${op.priority})` : "";
        out.write(`    → ${op.helpdesk}: ${op.op}${extra}\n`);
      }
      out.write(`${indent(toText(op.body), "      ")}\n`);
    }
  }
  for (const f of plan.templateFailures) out.write(`  template ${f.template} of rule "${f.rule}" failed, default used: ${f.error}\n`);
}

/**
 * `alertdesk simulate <payload.json...>`: feeds the payloads, in order, through the server's own
 * pipeline on a fresh in-memory state and prints the plan. Returns the exit code.
 */
export async function simulate(files: string[], options: SimulateOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const rulesPath = options.rules ?? process.env.ALERTDESK_RULES ?? "./rules";
  try {
    const rules = loadRules(rulesPath);
    const payloads = readPayloads(files, options.source);
    const plans = await dryRun(rules, payloads);
    if (options.json) {
      out.write(
        `${JSON.stringify(
          payloads.map((p, i) => ({ file: p.file, receivedAt: p.receivedAt.toISOString(), ...plans[i] })),
          null,
          2,
        )}\n`,
      );
    } else {
      for (const [i, p] of payloads.entries()) printPlan(out, p.file, p.notification, p.receivedAt, plans[i] as NotificationPlan);
    }
    return 0;
  } catch (e) {
    err.write(`${e instanceof RulesError ? e.message : (e as Error).message}\n`);
    return 1;
  }
}
