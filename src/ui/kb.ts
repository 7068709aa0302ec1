import type { Request, Response, Router } from "express";
import { z } from "zod";
import { entryView, kbSearchQuery } from "../api/kb.js";
import type { ArchiveEntry } from "../model/archive.js";
import { toHtml } from "../model/doc.js";
import { formatDuration } from "../model/duration.js";
import { formatPath } from "../model/field-path.js";
import type { UiDeps } from "./deps.js";
import { type HtmlValue, html, link, type SafeHtml, safeHref, trusted } from "./html.js";
import { contextOf, type PageContext, page, utc } from "./layout.js";

/**
 * The built-in knowledge base in the console: a search of the archive (the same query and ranking
 * as `GET /api/kb`) and one entry in full. Entries are made of alert labels and agents' notes, so
 * every value is escaped; the entry's document goes through toHtml, which escapes too.
 */

/** `GET /api/kb`'s query, with its rules and messages (without `.strict()`: a page's form may carry more). */
const searchQuery = kbSearchQuery.strip();
const entryId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

type EntryView = ReturnType<typeof entryView>;

function sendPage(res: Response, status: number, ctx: PageContext, title: string, main: HtmlValue): void {
  res
    .status(status)
    .type("html")
    .send(page(ctx, "kb", title, main));
}

function errorPage(res: Response, ctx: PageContext, status: number, title: string, problems: readonly { field: string; message: string }[]): void {
  const list = problems.map((p) => html`<li><strong>${p.field}</strong>: ${p.message}</li>`);
  sendPage(res, status, ctx, title, html`<h1>${title}</h1><div class="error" role="alert"><ul>${list}</ul></div><p><a href="/ui/kb">Knowledge base</a></p>`);
}

/** The ticket an entry came from: the console's page for a built-in ticket, else the helpdesk's link. */
function ticketLink(e: EntryView): SafeHtml {
  const text = e.ticketId ?? e.ticketKey;
  if (e.helpdesk === "builtin" && e.ticketId !== null && /^\d+$/.test(e.ticketId)) return html`<a href="/ui/tickets/${e.ticketId}">#${e.ticketId}</a>`;
  return html`${e.helpdesk} ${link(e.ticketUrl, text)}`;
}

function searchForm(q: string | undefined): SafeHtml {
  return html`<form method="get" action="/ui/kb" role="search" class="stack">
<label for="kb-q">Search the archive (words of the alert, its labels, the agents' notes)</label>
<input type="search" id="kb-q" name="q" value="${q ?? ""}" maxlength="500" placeholder="disk full">
<div><button type="submit">Search</button></div>
</form>`;
}

function results(entries: readonly EntryView[]): SafeHtml {
  if (entries.length === 0) return html`<p class="empty">No entry found.</p>`;
  const rows = entries.map(
    (e) => html`<tr>
<td><a href="/ui/kb/${e.id}">${e.title}</a></td>
<td><time datetime="${e.startedAt}">${e.startedAt.slice(0, 10)}</time></td>
<td>${formatDuration(e.durationMs)}</td>
<td><span class="prio ${e.priority}">${e.priority}</span></td>
<td class="hide-narrow">${ticketLink(e)}</td>
<td>${e.resolutionLine || html`<span class="muted">${e.outcome}</span>`}</td>
</tr>`,
  );
  return html`<div class="table"><table>
<thead><tr><th scope="col">Entry</th><th scope="col">Date</th><th scope="col">Lasted</th><th scope="col">Priority</th><th scope="col" class="hide-narrow">Ticket</th><th scope="col">Resolution</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}

async function searchPage(req: Request, res: Response, deps: UiDeps): Promise<void> {
  const ctx = contextOf(req, deps.sessions, deps.clock());
  const q = searchQuery.safeParse(req.query);
  if (!q.success)
    return errorPage(
      res,
      ctx,
      400,
      "Invalid search",
      q.error.issues.map((i) => ({ field: formatPath(i.path), message: i.message })),
    );
  const text = q.data.q?.trim() ? q.data.q : undefined;
  const entries = (await deps.store.searchArchive({ limit: q.data.limit, ...(text ? { q: text } : {}) })).map(entryView);
  const said = text
    ? html`${entries.length} entr${entries.length === 1 ? "y" : "ies"} for “${text}”, the most relevant first.`
    : html`The newest entries (${await deps.store.countArchive()} in all).`;
  const json = `/api/kb${text ? `?q=${encodeURIComponent(text)}` : ""}`;
  const main = html`<h1>Knowledge base</h1>
<p class="muted">One entry per incident that is over: what happened, its timeline and how it was solved.</p>
${searchForm(text)}
<h2>${text ? "Results" : "Newest entries"}</h2>
<p role="status">${said} JSON: <a href="${json}">${json}</a>.</p>
${results(entries)}`;
  sendPage(res, 200, ctx, text ? `${text} · Knowledge base` : "Knowledge base", main);
}

function entryFacts(e: EntryView): SafeHtml {
  const labels = Object.entries(e.labels).map(([k, v]) => html`<li><code>${k}</code>=<code>${v}</code></li>`);
  const external = safeHref(e.externalUrl);
  return html`<dl class="facts">
<dt>Priority</dt><dd><span class="prio ${e.priority}">${e.priority}</span> ${e.category}</dd>
<dt>Outcome</dt><dd>${e.outcome}</dd>
<dt>Started</dt><dd>${utc(e.startedAt)}</dd>
<dt>Over</dt><dd>${utc(e.endedAt)} (lasted ${formatDuration(e.durationMs)})</dd>
<dt>Ticket</dt><dd>${ticketLink(e)} <span class="muted">${e.ticketKey}</span></dd>
<dt>Incident</dt><dd><a href="/ui/incidents/${e.incidentId}">incident ${e.incidentId}</a></dd>
<dt>Archived</dt><dd>${utc(e.createdAt)}${e.updatedAt !== e.createdAt ? html`, updated ${utc(e.updatedAt)}` : ""}</dd>
${external ? html`<dt>External knowledge base</dt><dd><a href="${external}">${external}</a></dd>` : ""}
${labels.length > 0 ? html`<dt>Labels</dt><dd><ul>${labels}</ul></dd>` : ""}
</dl>`;
}

function entryPage(ctx: PageContext, res: Response, entry: ArchiveEntry): void {
  const e = entryView(entry);
  const main = html`<p><a href="/ui/kb">← Knowledge base</a></p>
<h1>${e.title}</h1>
${entryFacts(e)}
<h2>The entry</h2>
${trusted(toHtml(entry.doc))}
<p class="muted">JSON: <a href="/api/kb/${e.id}">/api/kb/${e.id}</a>.</p>`;
  sendPage(res, 200, ctx, e.title, main);
}

export function addKnowledgePages(router: Router, deps: UiDeps): void {
  router.get("/ui/kb", (req, res) => searchPage(req, res, deps));
  router.get("/ui/kb/:id", async (req, res) => {
    const ctx = contextOf(req, deps.sessions, deps.clock());
    const id = entryId.safeParse(req.params.id);
    if (!id.success)
      return errorPage(
        res,
        ctx,
        400,
        "Invalid entry id",
        id.error.issues.map((i) => ({ field: "id", message: i.message })),
      );
    const entry = await deps.store.archiveEntry(id.data);
    if (!entry) return errorPage(res, ctx, 404, "No such entry", [{ field: "id", message: `no knowledge-base entry ${id.data}` }]);
    entryPage(ctx, res, entry);
  });
}
