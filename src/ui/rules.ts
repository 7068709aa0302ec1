import { type Dirent, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Request, Response, Router } from "express";
import { rulesView } from "../api/rules.js";
import { toHtml } from "../model/doc.js";
import { formatDuration } from "../model/duration.js";
import { PRIORITIES } from "../model/priority.js";
import type { ReloadStatus } from "../rules/load.js";
import type { PlaygroundAnswer, PlaygroundPlan, UiDeps } from "./deps.js";
import { type HtmlValue, html, type SafeHtml, trusted } from "./html.js";
import { contextOf, csrfField, type PageContext, page, utc } from "./layout.js";

type RulesView = ReturnType<typeof rulesView>;
type RuleView = RulesView["rules"][number];
type Operation = PlaygroundPlan["incidents"][number]["operations"][number];

/** What the playground form held: the answer page shows it again, so one edit and a second try are one step. */
interface PlaygroundInput {
  example: string;
  payload: string;
}

/** What the playground has to show: a problem with the input, or the simulation's answer. */
type PlaygroundOutcome = { problem: { field: string; message: string } } | { answer: PlaygroundAnswer };

function priorityBadge(p: string | null | undefined): HtmlValue {
  if (!p) return html`<span class="muted">—</span>`;
  return (PRIORITIES as readonly string[]).includes(p) ? html`<span class="${`prio ${p}`}">${p}</span>` : p;
}

function codeList(items: readonly string[]): HtmlValue {
  return items.length === 0 ? html`<span class="muted">—</span>` : items.map((m, i) => html`${i > 0 ? html`<br>` : ""}<code>${m}</code>`);
}

// ---- the rules in force -------------------------------------------------------------------------

function reloadSection(status: ReloadStatus): SafeHtml {
  const problems = status.error ? status.error.split("\n").filter((l) => l !== "") : [];
  const result = status.success
    ? html`<p class="notice" role="status">Loaded at <time datetime="${status.at}">${utc(status.at)}</time>.</p>`
    : html`<div class="error" role="alert"><p>The reload at <time datetime="${status.at}">${utc(status.at)}</time> failed; the previous rules keep running.</p>${
        problems.length > 0 ? html`<ul>${problems.map((p) => html`<li><code>${p}</code></li>`)}</ul>` : ""
      }</div>`;
  return html`<section aria-labelledby="reload"><h2 id="reload">Last reload</h2>${result}</section>`;
}

function filesSection(files: readonly string[]): SafeHtml {
  const body = files.length === 0 ? html`<p class="empty">No rules file is loaded.</p>` : html`<ul>${files.map((f) => html`<li><code>${f}</code></li>`)}</ul>`;
  return html`<section aria-labelledby="files"><h2 id="files">Files loaded</h2>${body}</section>`;
}

function fact(term: string, value: HtmlValue): SafeHtml {
  return html`<dt>${term}</dt><dd>${value}</dd>`;
}

function defaultsSection(view: RulesView): SafeHtml {
  const d = view.defaults;
  const targets = PRIORITIES.map(
    (p) => html`<tr><th scope="row">${priorityBadge(p)}</th><td>${formatDuration((view.responseTargetsSeconds[p] ?? 0) * 1000)}</td></tr>`,
  );
  return html`<section aria-labelledby="defaults"><h2 id="defaults">Defaults</h2>
<p class="muted">What an alert gets when no rule says otherwise.</p>
<dl class="facts">
${fact("Priority", d.priority === "matrix" ? "impact × urgency matrix" : priorityBadge(d.priority))}
${fact("Category", d.category)}
${fact("Helpdesk", d.helpdesk ?? html`<span class="muted">the default helpdesk</span>`)}
${fact("Assignee group", d.assigneeGroup ?? "—")}
${fact("Tags", d.tags && d.tags.length > 0 ? d.tags.join(", ") : "—")}
${fact("Group by", d.groupBy ? d.groupBy.join(", ") : "every label (one incident per alert)")}
${fact("Reopen within", formatDuration(d.reopenWithinMs))}
${fact("On resolved", d.onResolved)}
${fact("Open after", d.openAfterMs > 0 ? formatDuration(d.openAfterMs) : "at once")}
${fact("Flapping", `${d.flapThreshold} changes within ${formatDuration(d.flapWindowMs)}`)}
${fact("Test notifications", d.testNotifications)}
${fact("Similar incidents listed", d.similarIncidents)}
${fact("Archive after", formatDuration(d.archiveAfterMs))}
</dl>
<h3>Response targets</h3>
<div class="table"><table><thead><tr><th scope="col">Priority</th><th scope="col">First response within</th></tr></thead><tbody>${targets}</tbody></table></div>
</section>`;
}

function ruleRow(r: RuleView, index: number): SafeHtml {
  const flags = [r.ignore ? "ignore" : "", r.continue ? "continue" : ""].filter((f) => f !== "").join(", ");
  const matchers = [...r.matchers, ...r.annotations.map((a) => `annotation ${a}`)];
  return html`<tr><td>${index + 1}</td><th scope="row">${r.name}<br><span class="muted hide-narrow">${r.origin}</span></th><td>${codeList(matchers)}</td><td>${
    r.when ? html`<code>${r.when}</code>` : "—"
  }</td><td>${r.priority === "matrix" ? "matrix" : priorityBadge(r.priority)}</td><td>${r.category ?? "—"}</td><td>${r.helpdesk ?? "—"}</td><td>${flags || "—"}</td></tr>`;
}

function rulesSection(view: RulesView): SafeHtml {
  const body =
    view.rules.length === 0
      ? html`<p class="empty">No rules: every alert gets the defaults.</p>`
      : html`<div class="table"><table><thead><tr><th scope="col">#</th><th scope="col">Name</th><th scope="col">Matchers</th><th scope="col">When</th><th scope="col">Priority</th><th scope="col">Category</th><th scope="col">Helpdesk</th><th scope="col">Flags</th></tr></thead><tbody>${view.rules.map(
          ruleRow,
        )}</tbody></table></div>`;
  return html`<section aria-labelledby="in-force"><h2 id="in-force">Rules in force</h2><p class="muted">First match wins; a rule with <code>continue</code> lets the next ones match too; <code>ignore</code> makes no ticket. A dash: the defaults.</p>${body}</section>`;
}

// ---- the playground -----------------------------------------------------------------------------

/** The example notifications offered: `*.json` (not `*.headers.json`) in the folder and its sub-folders, by relative path. */
export function listExamples(dir: string): string[] {
  const isExample = (name: string) => name.endsWith(".json") && !name.endsWith(".headers.json");
  const found: string[] = [];
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  for (const e of entries) {
    if (e.isFile() && isExample(e.name)) found.push(e.name);
    if (!e.isDirectory()) continue;
    try {
      for (const f of readdirSync(join(dir, e.name), { withFileTypes: true })) {
        if (f.isFile() && isExample(f.name)) found.push(`${e.name}/${f.name}`);
      }
    } catch {
      // A folder that cannot be read offers nothing.
    }
  }
  return found.sort();
}

/**
 * Where JSON.parse stops, as an offset: V8 names a position for some mistakes only ("Unexpected
 * token '}', … is not valid JSON" has none), so find the shortest prefix that already fails for a
 * reason other than ending early; its last character is the mistake. Text that only ends too early
 * fails at its end. Undefined: the text is JSON.
 */
export function jsonErrorOffset(text: string): number | undefined {
  const failsBeforeEnd = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return false;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message.includes("Unexpected end of JSON input")) return false;
      const position = /at position (\d+)/.exec(message);
      return !(position && Number(position[1]) >= length);
    }
  };
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    // Find where, below.
  }
  if (!failsBeforeEnd(text.length)) return text.length;
  let viable = 0;
  let failing = text.length;
  while (failing - viable > 1) {
    const mid = Math.floor((viable + failing) / 2);
    if (failsBeforeEnd(mid)) failing = mid;
    else viable = mid;
  }
  return failing - 1;
}

/** `not JSON at line L, column C: <what JSON.parse said>`. */
function jsonProblem(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const offset = jsonErrorOffset(text);
  if (offset === undefined) return `not JSON: ${message}`;
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `not JSON at line ${line}, column ${column}: ${message}`;
}

/** The notification to simulate: the chosen example (only one listed), else the pasted text. */
function notificationText(input: PlaygroundInput, examplesDir: string): { text: string } | { field: string; message: string } {
  if (input.example !== "") {
    if (!listExamples(examplesDir).includes(input.example)) return { field: "example", message: `no such example: "${input.example}"` };
    return { text: readFileSync(join(examplesDir, input.example), "utf8") };
  }
  if (input.payload.trim() === "") return { field: "payload", message: "paste a notification, or choose an example" };
  return { text: input.payload };
}

async function runPlayground(deps: UiDeps, input: PlaygroundInput): Promise<PlaygroundOutcome> {
  const chosen = notificationText(input, deps.examplesDir);
  if ("field" in chosen) return { problem: chosen };
  let payload: unknown;
  try {
    payload = JSON.parse(chosen.text);
  } catch (err) {
    return { problem: { field: input.example !== "" ? "example" : "payload", message: jsonProblem(chosen.text, err) } };
  }
  return { answer: await deps.simulate(payload) };
}

function playgroundForm(ctx: PageContext, examples: readonly string[], input: PlaygroundInput): SafeHtml {
  const options = examples.map((e) => html`<option value="${e}"${e === input.example ? html` selected` : ""}>${e}</option>`);
  return html`<form method="post" action="/ui/rules/playground" class="stack">${csrfField(ctx)}
<label for="example">Example notification</label>
<select id="example" name="example" aria-describedby="example-hint"><option value=""${input.example === "" ? html` selected` : ""}>— the notification pasted below —</option>${options}</select>
<span id="example-hint" class="muted">A chosen example is used as it is; choose the first entry to use the text below.</span>
<label for="payload">Notification (Alertmanager or Grafana webhook JSON)</label>
<textarea id="payload" name="payload" spellcheck="false">${input.payload}</textarea>
<button type="submit">Simulate</button>
</form>`;
}

function operationFacts(op: Operation): SafeHtml {
  const title = "title" in op ? op.title : undefined;
  const priority = "priority" in op ? op.priority : undefined;
  const due = op.op === "open" ? op.dueAt : undefined;
  return html`<dl class="facts">
${fact("Operation", op.op)}
${fact("Helpdesk", op.helpdesk)}
${title !== undefined ? fact("Title", title) : ""}
${priority !== undefined ? fact("Priority", priorityBadge(priority)) : ""}
${op.op === "open" ? fact("Category", op.category) : ""}
${due !== undefined ? fact("Due", html`<time datetime="${due}">${utc(due)}</time>`) : ""}
${op.notBefore ? fact("Not before", html`<time datetime="${op.notBefore}">${utc(op.notBefore)}</time>`) : ""}
</dl>`;
}

function alertsTable(plan: PlaygroundPlan): SafeHtml {
  if (plan.alerts.length === 0) return html`<p class="empty">The notification has no alerts.</p>`;
  const rows = plan.alerts.map((a) => {
    const others = a.matched.filter((m) => m !== a.rule);
    return html`<tr><th scope="row">${a.alertname || "—"}<br><span class="muted hide-narrow">${a.fingerprint}</span></th><td>${a.status}</td><td>${
      a.rule ?? html`<span class="muted">defaults</span>`
    }${others.length > 0 ? html`<br><span class="muted">also matched: ${others.join(", ")}</span>` : ""}</td><td>${priorityBadge(a.priority)}</td><td>${
      a.category
    }</td><td>${a.value ?? "—"}</td><td>${a.ignore || a.dedupKey === null ? html`<strong>ignored</strong>` : html`<code>${a.dedupKey}</code>`}</td></tr>`;
  });
  return html`<div class="table"><table><thead><tr><th scope="col">Alert</th><th scope="col">Status</th><th scope="col">Rule</th><th scope="col">Priority</th><th scope="col">Category</th><th scope="col">Value</th><th scope="col">Dedup key</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function incidentsPart(plan: PlaygroundPlan): SafeHtml {
  if (plan.incidents.length === 0) return html`<p class="empty">No incident is touched.</p>`;
  return html`${plan.incidents.map(
    (i) => html`<article><h5><code>${i.dedupKey}</code></h5>
<dl class="facts">${fact("Reason", i.reason)}${fact("Priority", priorityBadge(i.priority))}${fact("Rule", i.rule ?? "defaults")}</dl>
${
  i.operations.length === 0
    ? html`<p class="empty">No helpdesk operation.</p>`
    : html`<ol>${i.operations.map((op) => html`<li>${operationFacts(op)}<div>${trusted(toHtml(op.body))}</div></li>`)}</ol>`
}
</article>`,
  )}`;
}

function failuresPart(plan: PlaygroundPlan): HtmlValue {
  if (plan.templateFailures.length === 0) return "";
  return html`<h3>Template failures</h3><div class="error" role="alert"><ul>${plan.templateFailures.map(
    (f) => html`<li><strong>${f.rule}</strong> (${f.template}): ${f.error}</li>`,
  )}</ul></div>`;
}

function answerSection(outcome: PlaygroundOutcome): SafeHtml {
  if ("problem" in outcome) {
    return html`<section aria-labelledby="answer"><h3 id="answer">The notification cannot be read</h3><p class="error" role="alert"><strong>${outcome.problem.field}</strong>: ${outcome.problem.message}</p></section>`;
  }
  const { answer } = outcome;
  if (!answer.ok) {
    return html`<section aria-labelledby="answer"><h3 id="answer">The notification does not parse</h3><div class="error" role="alert"><ul>${answer.problems.map(
      (p) => html`<li><strong>${p.field || "(the whole notification)"}</strong>: ${p.message}</li>`,
    )}</ul></div></section>`;
  }
  return html`<section aria-labelledby="answer"><h3 id="answer">What the rules in force would do</h3>
<p class="muted">Read as ${answer.source}, received at <time datetime="${answer.receivedAt}">${utc(answer.receivedAt)}</time>, on an empty state: nothing is stored or delivered.</p>
${failuresPart(answer.plan)}
<h4>Alerts</h4>
${alertsTable(answer.plan)}
<h4>Incidents</h4>
${incidentsPart(answer.plan)}
</section>`;
}

function playgroundSection(ctx: PageContext, examples: readonly string[], input: PlaygroundInput, outcome?: PlaygroundOutcome): SafeHtml {
  return html`<section aria-labelledby="playground"><h2 id="playground">Playground</h2>
<p class="muted">Try a notification against the rules in force: the same code as <code>alertdesk simulate</code>.</p>
${playgroundForm(ctx, examples, input)}
${outcome ? answerSection(outcome) : ""}
</section>`;
}

function rulesPage(deps: UiDeps, req: Request, res: Response, status: number, input: PlaygroundInput, outcome?: PlaygroundOutcome): void {
  const ctx = contextOf(req, deps.sessions, deps.clock());
  const { rules, lastReload } = deps.rules();
  const view = rulesView(rules);
  // The answer comes first after a simulation: it is what was asked for.
  const playground = playgroundSection(ctx, listExamples(deps.examplesDir), input, outcome);
  const main = html`<h1>Rules</h1>
${outcome ? playground : ""}
${reloadSection(lastReload)}
${rulesSection(view)}
${defaultsSection(view)}
${filesSection(view.files)}
${outcome ? "" : playground}`;
  res
    .status(status)
    .type("html")
    .send(page(ctx, "rules", outcome ? "Rules playground" : "Rules", main));
}

function field(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  return typeof v === "string" ? v : "";
}

/** `GET /ui/rules` (the rules in force, defaults, files, last reload, the playground) and `POST /ui/rules/playground`. */
export function addRulePages(router: Router, deps: UiDeps): void {
  router.get("/ui/rules", (req, res) => rulesPage(deps, req, res, 200, { example: "", payload: "" }));
  router.get("/ui/rules/playground", (_req, res) => res.redirect(303, "/ui/rules#playground"));
  router.post("/ui/rules/playground", async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const input = { example: field(body, "example"), payload: field(body, "payload") };
    const outcome = await runPlayground(deps, input);
    rulesPage(deps, req, res, "problem" in outcome || !outcome.answer.ok ? 400 : 200, input, outcome);
  });
}
