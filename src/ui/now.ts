import type { Router } from "express";
import { incidentView } from "../api/incidents.js";
import type { UiDeps } from "./deps.js";
import { type HtmlValue, html, link } from "./html.js";
import { clockText, contextOf, page, utc } from "./layout.js";

/** Firing incidents the Now page shows at most (a page, not the whole store). */
const SHOWN = 500;
/** Less than this much of the target left: the clock turns amber. */
const SOON_SHARE = 0.25;

type View = ReturnType<typeof incidentView>;

/** Where a ticket is: the built-in helpdesk's in the console, the others in their helpdesk. */
export function ticketHref(helpdesk: string, ticket: { id: string; url?: string | undefined }): string | undefined {
  return helpdesk === "builtin" ? `/ui/tickets/${encodeURIComponent(ticket.id)}` : ticket.url;
}

/** Whose clock runs, nearest to its target first; then those an agent answered, highest priority first. */
export function byUrgency(a: View, b: View): number {
  const running = (v: View) => v.sla.firstResponseAt === null && !v.cancelled && v.deferredUntil === null;
  if (running(a) !== running(b)) return running(a) ? -1 : 1;
  if (running(a)) return Date.parse(a.sla.responseDueAt) - Date.parse(b.sla.responseDueAt);
  return a.priority.localeCompare(b.priority) || Date.parse(a.openedAt) - Date.parse(b.openedAt);
}

/** The clock cell: time left (green, amber under a quarter of the target), overdue (red), or stopped by the first response. */
export function clockCell(v: View, now: Date): HtmlValue {
  if (v.sla.firstResponseAt !== null) return html`<span class="clock stopped">answered ${utc(v.sla.firstResponseAt)}</span>`;
  if (v.deferredUntil !== null) return html`<span class="clock stopped">opens ${utc(v.deferredUntil)}</span>`;
  const due = Date.parse(v.sla.responseDueAt);
  const target = v.sla.targetMs;
  const left = due - now.getTime();
  const state = left < 0 ? "late" : left < target * SOON_SHARE ? "soon" : "ok";
  return html`<span class="clock ${state}" data-due="${v.sla.responseDueAt}">${clockText(due, now.getTime())}</span>`;
}

function row(v: View, now: Date): HtmlValue {
  const instances = new Set(v.firingAlerts.map((a) => a.labels.instance).filter(Boolean)).size;
  const wide = `${v.firingAlertCount} alert${v.firingAlertCount === 1 ? "" : "s"}${instances > 1 ? `, ${instances} instances` : ""}`;
  const ticket = v.ticket ? link(ticketHref(v.helpdesk, v.ticket), v.ticket.id) : html`<span class="muted">pending</span>`;
  return html`<tr>
<td><span class="prio ${v.priority}">${v.priority}</span></td>
<td><a href="/ui/incidents/${v.id ?? ""}">${v.title}</a><div class="muted">${v.category}${v.rule ? ` · ${v.rule}` : ""}</div></td>
<td>${wide}</td>
<td>${clockCell(v, now)}</td>
<td>${ticket} <span class="muted hide-narrow">${v.helpdesk}</span></td>
<td class="hide-narrow">${v.helpdeskState.assignee ?? html`<span class="muted">—</span>`}</td>
<td class="hide-narrow">${v.sla.escalations.length > 0 ? String(v.sla.escalations.length) : html`<span class="muted">0</span>`}</td>
</tr>`;
}

/** `GET /ui/`: firing incidents by how close they are to their response target, updated live. */
export function addNowPage(router: Router, deps: UiDeps): void {
  router.get("/ui/", async (req, res) => {
    const now = deps.clock();
    const ctx = contextOf(req, deps.sessions, now);
    const firing = (await deps.store.pageIncidents({ state: "firing", limit: SHOWN })).items;
    const views = firing.map((i) => incidentView(i, now)).sort(byUrgency);
    const overdue = views.filter((v) => v.sla.firstResponseAt === null && !v.cancelled && Date.parse(v.sla.responseDueAt) < now.getTime()).length;
    const outbox = await deps.store.countOutbox();
    const byPriority = ["P1", "P2", "P3", "P4"].map(
      (p) =>
        html`<div class="card"><div class="muted">${p} firing</div><div class="figure">${String(views.filter((v) => v.priority === p).length)}</div></div>`,
    );
    const main = html`<h1>Now</h1>
<div class="cards" aria-label="Summary">
${byPriority}
<div class="card"><div class="muted">overdue, no response</div><div class="figure">${String(overdue)}</div></div>
<div class="card"><div class="muted">deliveries pending / dead</div><div class="figure"><a href="/ui/deliveries">${String(outbox.pending ?? 0)} / ${String(outbox.dead ?? 0)}</a></div></div>
</div>
<h2>Firing incidents</h2>
${
  views.length === 0
    ? html`<p class="empty">Nothing fires.</p>`
    : html`<div class="table"><table>
<caption class="muted">Nearest to its response target first; updated every few seconds. As of ${utc(now.toISOString())}.</caption>
<thead><tr><th scope="col">Priority</th><th scope="col">Incident</th><th scope="col">How wide</th><th scope="col">Response clock</th><th scope="col">Ticket</th><th scope="col" class="hide-narrow">Assignee</th><th scope="col" class="hide-narrow">Escalations</th></tr></thead>
<tbody>${views.map((v) => row(v, now))}</tbody></table></div>`
}`;
    res.type("html").send(page(ctx, "now", "Now", main, { live: true }));
  });
}
