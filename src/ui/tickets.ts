import type { Request, Response, Router } from "express";
import { z } from "zod";
import { PAGE, pageParams } from "../api/paging.js";
import { agentName } from "../api/tickets.js";
import { type AgentAct, BUILTIN_STATUSES, type BuiltinStatus, type BuiltinTicket } from "../model/builtin-tickets.js";
import { formatPath } from "../model/field-path.js";
import { RESOLUTIONS } from "../model/helpdesk-event.js";
import { RESPONSE_TARGET_MS } from "../model/priority.js";
import type { UiDeps } from "./deps.js";
import { type HtmlValue, html, link, type SafeHtml } from "./html.js";
import { clockText, contextOf, csrfField, type PageContext, page, utc } from "./layout.js";

/**
 * The built-in helpdesk's agent view: the tickets (open and pending ones first), one ticket with its
 * comments, and the agent's three acts on it (comment, assign, status). Every act goes through the
 * same ticket book call as the JSON agent API (`agentAct`), so the way back sees a console act like
 * an API one; the validation rules and messages are the agent API's (src/api/tickets.ts).
 */

/** The overview shows these, each its own list, before the finished ones (a link away). */
const WORKING: readonly BuiltinStatus[] = ["open", "pending"];
const FINISHED: readonly BuiltinStatus[] = ["solved", "closed"];

const listQuery = z.object({ status: z.enum(BUILTIN_STATUSES).optional(), before: pageParams.before });
const ticketId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** The comment form: a checkbox is absent when unticked, so absent means an internal note. */
const commentForm = z.object({
  body: z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(64 * 1024),
  public: z.string().optional(),
});

/**
 * The assign form (`assignee`, empty unassigns) and the status form (`status`, optional
 * `resolution`) both post here; which fields the body has says which form it was.
 */
const updateForm = z
  .object({
    assignee: z.string().trim().max(200).optional(),
    status: z.enum(BUILTIN_STATUSES).optional(),
    resolution: z.preprocess((v) => (v === "" ? undefined : v), z.enum(RESOLUTIONS).optional()),
  })
  .refine((b) => b.status !== undefined || b.assignee !== undefined || b.resolution !== undefined, {
    message: "nothing to change: give status, assignee, priority or resolution",
  })
  .refine((b) => b.resolution === undefined || b.status === undefined || b.status === "solved" || b.status === "closed", {
    message: "a resolution goes with status solved or closed",
    path: ["resolution"],
  });

/** What a `?done=` after an act says (only these; the parameter is never shown as it is). */
const DONE = new Map([
  ["commented", "Comment added."],
  ["assigned", "Ticket assigned."],
  ["unassigned", "Ticket unassigned."],
  ["status", "Status changed."],
]);

interface Problem {
  field: string;
  message: string;
}

/** What a form sent back after a problem, so the agent does not type it again. */
type Sent = Record<string, string>;

function problemsOf(issues: readonly z.core.$ZodIssue[], prefix?: string): Problem[] {
  return issues.map((i) => ({ field: prefix ?? formatPath(i.path), message: i.message }));
}

function problemList(problems: readonly Problem[]): SafeHtml {
  if (problems.length === 0) return html``;
  return html`<div class="error" role="alert"><p>The change was not made:</p><ul>${problems.map((p) => html`<li><strong>${p.field}</strong>: ${p.message}</li>`)}</ul></div>`;
}

/** The response clock of a ticket: stopped once somebody responded or the ticket is finished. */
function dueClock(t: BuiltinTicket, now: Date): SafeHtml {
  const due = Date.parse(t.dueAt);
  const when = html`<time datetime="${t.dueAt}">${utc(t.dueAt)}</time>`;
  if (t.firstResponseAt !== null) return html`${when} <span class="clock stopped">responded</span>`;
  if (FINISHED.includes(t.status)) return html`${when} <span class="clock stopped">stopped</span>`;
  const left = due - now.getTime();
  const state = left < 0 ? "late" : left < RESPONSE_TARGET_MS[t.priority] / 4 ? "soon" : "ok";
  return html`${when} <span class="clock ${state}">${clockText(due, now.getTime())}</span>`;
}

function capitalized(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function prio(t: Pick<BuiltinTicket, "priority">): SafeHtml {
  return html`<span class="prio ${t.priority}">${t.priority}</span>`;
}

function assigneeText(t: BuiltinTicket): HtmlValue {
  return t.assignee ?? html`<span class="muted">unassigned</span>`;
}

function ticketTable(tickets: readonly BuiltinTicket[], now: Date, what: string): SafeHtml {
  if (tickets.length === 0) return html`<p class="empty">No ${what.toLowerCase()}.</p>`;
  const rows = tickets.map(
    (t) => html`<tr>
<td>${prio(t)}</td>
<td><a href="/ui/tickets/${t.id}">${t.subject}</a> <span class="muted">#${t.id}</span></td>
<td>${t.status}</td>
<td>${assigneeText(t)}</td>
<td class="hide-narrow">${t.category}</td>
<td>${dueClock(t, now)}</td>
<td class="hide-narrow">${utc(t.createdAt)}</td>
<td class="hide-narrow">${utc(t.updatedAt)}</td>
</tr>`,
  );
  return html`<div class="table"><table>
<thead><tr><th scope="col">Priority</th><th scope="col">Subject</th><th scope="col">Status</th><th scope="col">Assignee</th><th scope="col" class="hide-narrow">Category</th><th scope="col">Response due</th><th scope="col" class="hide-narrow">Created</th><th scope="col" class="hide-narrow">Updated</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}

function statusNav(current: BuiltinStatus | undefined): SafeHtml {
  const links: [string, string, BuiltinStatus | undefined][] = [
    ["Open and pending", "/ui/tickets", undefined],
    ...BUILTIN_STATUSES.map((s): [string, string, BuiltinStatus] => [capitalized(s), `/ui/tickets?status=${s}`, s]),
  ];
  return html`<nav aria-label="Tickets by status"><ul>${links.map(
    ([label, href, status]) => html`<li><a href="${href}"${status === current ? html` aria-current="page"` : ""}>${label}</a></li>`,
  )}</ul></nav>`;
}

async function pageOf(deps: UiDeps, status: BuiltinStatus, before?: number) {
  return deps.store.pageTickets({ status, limit: PAGE.defaultLimit, maxBytes: PAGE.maxBytes, comments: 0, ...(before !== undefined ? { before } : {}) });
}

function moreLink(status: BuiltinStatus, next: number | null, text: string): HtmlValue {
  return next === null ? "" : html`<p><a href="/ui/tickets?status=${status}&amp;before=${next}">${text}</a></p>`;
}

function sendPage(res: Response, status: number, ctx: PageContext, title: string, main: HtmlValue, live = false): void {
  res
    .status(status)
    .type("html")
    .send(page(ctx, "tickets", title, main, { live }));
}

function errorPage(res: Response, ctx: PageContext, status: number, title: string, problems: readonly Problem[]): void {
  sendPage(res, status, ctx, title, html`<h1>${title}</h1>${problemList(problems)}<p><a href="/ui/tickets">All tickets</a></p>`);
}

async function listPage(req: Request, res: Response, deps: UiDeps): Promise<void> {
  const ctx = contextOf(req, deps.sessions, deps.clock());
  const q = listQuery.safeParse(req.query);
  if (!q.success) return errorPage(res, ctx, 400, "Invalid ticket query", problemsOf(q.error.issues));
  const intro = html`<h1>Helpdesk</h1>
<p class="muted">The built-in helpdesk's tickets, newest first. JSON: <a href="/api/tickets">/api/tickets</a>.</p>
${statusNav(q.data.status)}`;
  const { status, before } = q.data;
  if (status !== undefined) {
    const found = await pageOf(deps, status, before);
    const title = `${capitalized(status)} tickets`;
    const body = html`${intro}<h2>${title}</h2>${ticketTable(found.items, ctx.now, title)}${moreLink(status, found.next, "Older tickets")}`;
    return sendPage(res, 200, ctx, title, body, true);
  }
  const sections = await Promise.all(
    WORKING.map(async (s) => {
      const found = await pageOf(deps, s);
      const title = `${capitalized(s)} tickets`;
      return html`<h2>${title}</h2>${ticketTable(found.items, ctx.now, title)}${moreLink(s, found.next, `More ${s} tickets`)}`;
    }),
  );
  const finished = FINISHED.map((s, i) => html`${i > 0 ? " and " : ""}<a href="/ui/tickets?status=${s}">${s}</a>`);
  sendPage(res, 200, ctx, "Helpdesk", html`${intro}${sections}<p class="muted">Finished tickets: ${finished}.</p>`, true);
}

function commentList(t: BuiltinTicket): SafeHtml {
  if (t.comments.length === 0) return html`<p class="empty">No comments yet.</p>`;
  return html`<ol class="timeline">${t.comments.map(
    (c) =>
      html`<li><time datetime="${c.createdAt}">${utc(c.createdAt)}</time> <strong>${c.author}</strong> <span class="muted">${c.public ? "public reply" : "internal note"}</span><pre>${c.body}</pre></li>`,
  )}</ol>`;
}

/** The `author` field, when nobody is logged in (loopback without credentials): an act needs a name. */
function authorField(ctx: PageContext, form: string, sent: Sent, invalid: boolean): HtmlValue {
  if (ctx.user) return "";
  return html`<label for="${form}-author">Your name</label><input type="text" id="${form}-author" name="author" autocomplete="name" required maxlength="200" value="${sent.author ?? ""}"${invalid ? html` aria-invalid="true"` : ""}>`;
}

function options(values: readonly string[], selected: string | null | undefined, empty?: string): SafeHtml[] {
  const list = values.map((v) => html`<option value="${v}"${v === selected ? html` selected` : ""}>${v}</option>`);
  return empty === undefined ? list : [html`<option value=""${selected ? "" : html` selected`}>${empty}</option>`, ...list];
}

function forms(ctx: PageContext, t: BuiltinTicket, sent: Sent, problems: readonly Problem[]): SafeHtml {
  const bad = (field: string) => problems.some((p) => p.field === field);
  const invalid = (field: string) => (bad(field) ? html` aria-invalid="true"` : "");
  const action = `/ui/tickets/${t.id}`;
  const publicChecked = sent.form === "comment" ? sent.public !== undefined : true;
  const comment = html`<h2 id="comment">Comment</h2>
<form method="post" action="${action}/comment" class="stack">${csrfField(ctx)}
${authorField(ctx, "comment", sent, sent.form === "comment" && bad("author"))}
<label for="comment-body">Comment</label><textarea id="comment-body" name="body" required${invalid("body")}>${sent.form === "comment" ? (sent.body ?? "") : ""}</textarea>
<div><input type="checkbox" id="comment-public" name="public" value="on"${publicChecked ? html` checked` : ""}> <label for="comment-public">Public (the requester sees it; untick for an internal note)</label></div>
<div><button type="submit">Add comment</button></div>
</form>`;
  if (t.status === "closed") {
    return html`${comment}<p class="notice">This ticket is closed, and a closed ticket is final: it can take comments, but its assignee and status stay as they are. A re-fire of its alert opens a follow-up ticket.</p>`;
  }
  const assignee = sent.form === "assign" ? (sent.assignee ?? "") : (t.assignee ?? "");
  const status = sent.form === "status" ? sent.status : t.status;
  const resolution = sent.form === "status" ? sent.resolution : t.resolution;
  return html`${comment}
<h2 id="assign">Assignee</h2>
<form method="post" action="${action}/update" class="stack">${csrfField(ctx)}
${authorField(ctx, "assign", sent, sent.form === "assign" && bad("author"))}
<label for="assign-assignee">Assignee (empty unassigns)</label><input type="text" id="assign-assignee" name="assignee" maxlength="200" value="${assignee}"${sent.form === "assign" ? invalid("assignee") : ""}>
<div><button type="submit">Assign</button></div>
</form>
<h2 id="status">Status</h2>
<form method="post" action="${action}/update" class="stack">${csrfField(ctx)}
${authorField(ctx, "status", sent, sent.form === "status" && bad("author"))}
<label for="status-status">Status</label><select id="status-status" name="status"${invalid("status")}>${options(BUILTIN_STATUSES, status)}</select>
<label for="status-resolution">Resolution (for solved or closed; solved without one is fixed)</label><select id="status-resolution" name="resolution"${invalid("resolution")}>${options(RESOLUTIONS, resolution, "—")}</select>
<div><button type="submit">Change status</button></div>
</form>`;
}

function facts(t: BuiltinTicket, now: Date): SafeHtml {
  const row = (term: string, value: HtmlValue) => html`<dt>${term}</dt><dd>${value}</dd>`;
  const labels = Object.entries(t.labels).map(([k, v]) => html`<li><code>${k}</code>=<code>${v}</code></li>`);
  const fields = Object.entries(t.fields).map(([k, v]) => html`<li>${k}: ${String(v)}</li>`);
  return html`<dl class="facts">
${row("Priority", prio(t))}
${row("Status", t.resolution ? `${t.status} (${t.resolution})` : t.status)}
${row("Assignee", assigneeText(t))}
${row("Group", t.assigneeGroup ?? html`<span class="muted">none</span>`)}
${row("Category", t.category)}
${row("Response due", html`${dueClock(t, now)}${t.firstResponseAt ? html` <span class="muted">(first response ${utc(t.firstResponseAt)})</span>` : ""}`)}
${row("Key", html`<code>${t.key}</code>`)}
${t.followUpOf !== undefined ? row("Follows up", link(`/ui/tickets/${t.followUpOf}`, `ticket #${t.followUpOf}`)) : ""}
${row("Created", utc(t.createdAt))}
${row("Updated", utc(t.updatedAt))}
${t.tags.length > 0 ? row("Tags", t.tags.join(", ")) : ""}
${labels.length > 0 ? row("Labels", html`<ul>${labels}</ul>`) : ""}
${fields.length > 0 ? row("Fields", html`<ul>${fields}</ul>`) : ""}
</dl>`;
}

/** How the ticket page answers: 200 (with a confirmation after an act), or 400/409 with the problems and what the form sent. */
interface TicketAnswer {
  status: 200 | 400 | 409;
  done?: string | undefined;
  sent?: Sent;
  problems?: readonly Problem[];
}

function ticketPage(res: Response, ctx: PageContext, t: BuiltinTicket, answer: TicketAnswer): void {
  const { status, done, sent = {}, problems = [] } = answer;
  const confirmation = done ? html`<p class="notice" role="status">${done}</p>` : "";
  const main = html`<p><a href="/ui/tickets">← Helpdesk</a></p>
<h1>${prio(t)} ${t.subject} <span class="muted">#${t.id}</span></h1>
${confirmation}${problemList(problems)}
${facts(t, ctx.now)}
<h2>Description</h2>
<pre>${t.body}</pre>
<h2>Comments</h2>
${commentList(t)}
${forms(ctx, t, sent, problems)}`;
  sendPage(res, status, ctx, `#${t.id} ${t.subject}`, main);
}

/** The ticket the path names; undefined once it answered 400 (not an id) or 404 (no such ticket). */
async function ticketOf(req: Request, res: Response, deps: UiDeps, ctx: PageContext): Promise<BuiltinTicket | undefined> {
  const id = ticketId.safeParse(req.params.id);
  if (!id.success) {
    errorPage(res, ctx, 400, "Invalid ticket id", problemsOf(id.error.issues, "id"));
    return undefined;
  }
  const ticket = await deps.store.getTicket(id.data);
  if (!ticket) errorPage(res, ctx, 404, "No such ticket", [{ field: "id", message: `no ticket ${id.data}` }]);
  return ticket;
}

/** The form's fields as strings (urlencoded bodies are; anything else is dropped). */
function sentOf(req: Request, form: string): Sent {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const sent: Sent = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string" && k !== "_csrf") sent[k] = v;
  sent.form = form;
  return sent;
}

/** The author of an act: the logged-in user, else the name the form gives. */
function authorOf(ctx: PageContext, sent: Sent): { author: string } | { problems: Problem[] } {
  const name = agentName.safeParse(ctx.user ?? sent.author ?? "");
  return name.success ? { author: name.data } : { problems: problemsOf(name.error.issues, "author") };
}

/** The change an update form asks for (without its author), or its problems. */
function updateOf(sent: Sent): { change: Omit<AgentAct, "author">; done: string } | { problems: Problem[] } {
  const form = updateForm.safeParse(sent);
  if (!form.success) return { problems: problemsOf(form.error.issues) };
  const act: Omit<AgentAct, "author"> = {};
  if (form.data.assignee !== undefined) act.assignee = form.data.assignee === "" ? null : form.data.assignee;
  if (form.data.status !== undefined) act.status = form.data.status;
  if (form.data.resolution !== undefined) act.resolution = form.data.resolution;
  const done = act.status !== undefined || act.resolution !== undefined ? "status" : act.assignee === null ? "unassigned" : "assigned";
  return { change: act, done };
}

/** Runs an agent's act like the agent API does; answers 303 to the ticket, or the page with why not. */
async function act(res: Response, deps: UiDeps, ctx: PageContext, t: BuiltinTicket, agentAct: AgentAct, done: string, sent: Sent): Promise<void> {
  const result = await deps.store.agentAct(t.id, agentAct, deps.clock());
  if (result === undefined) return errorPage(res, ctx, 404, "No such ticket", [{ field: "id", message: `no ticket ${t.id}` }]);
  if ("refused" in result) return ticketPage(res, ctx, t, { status: 409, sent, problems: [{ field: "status", message: result.refused }] });
  deps.onAgentAct();
  res.redirect(303, `/ui/tickets/${t.id}?done=${done}`);
}

export function addTicketPages(router: Router, deps: UiDeps): void {
  router.get("/ui/tickets", (req, res) => listPage(req, res, deps));
  router.get("/ui/tickets/:id", async (req, res) => {
    const ctx = contextOf(req, deps.sessions, deps.clock());
    const t = await ticketOf(req, res, deps, ctx);
    if (t) ticketPage(res, ctx, t, { status: 200, done: typeof req.query.done === "string" ? DONE.get(req.query.done) : undefined });
  });
  router.post("/ui/tickets/:id/comment", async (req, res) => {
    const ctx = contextOf(req, deps.sessions, deps.clock());
    const t = await ticketOf(req, res, deps, ctx);
    if (!t) return;
    const sent = sentOf(req, "comment");
    const who = authorOf(ctx, sent);
    const form = commentForm.safeParse(sent);
    const problems = [...("problems" in who ? who.problems : []), ...(form.success ? [] : problemsOf(form.error.issues))];
    if ("problems" in who || !form.success) return ticketPage(res, ctx, t, { status: 400, sent, problems });
    await act(res, deps, ctx, t, { author: who.author, comment: { body: form.data.body, public: form.data.public !== undefined } }, "commented", sent);
  });
  router.post("/ui/tickets/:id/update", async (req, res) => {
    const ctx = contextOf(req, deps.sessions, deps.clock());
    const t = await ticketOf(req, res, deps, ctx);
    if (!t) return;
    const sent = sentOf(req, "assignee" in (req.body ?? {}) ? "assign" : "status");
    const who = authorOf(ctx, sent);
    const update = updateOf(sent);
    if ("problems" in who || "problems" in update) {
      const problems = [...("problems" in who ? who.problems : []), ...("problems" in update ? update.problems : [])];
      return ticketPage(res, ctx, t, { status: 400, sent, problems });
    }
    await act(res, deps, ctx, t, { author: who.author, ...update.change }, update.done, sent);
  });
}
