import type { Request, Response, Router } from "express";
import { PAGE } from "../api/paging.js";
import type { DeliveryView } from "../store/types.js";
import type { UiDeps } from "./deps.js";
import { type HtmlValue, html, type SafeHtml } from "./html.js";
import { contextOf, csrfField, type PageContext, page, utc } from "./layout.js";

/** Rows shown per state: the page stays one bounded read; the rest is in GET /api/deliveries. */
const ROWS_PER_STATE = 200;

/** The labels that name an alert best, shown first in a row's summary. */
const LEADING_LABELS = ["alertname", "instance", "service", "job"];
const SUMMARY_LABELS = 4;

/** `alertname=HostHighCpu, instance=db-1, … (+3)`: enough to recognise the alert in a row. */
function labelsSummary(labels: Record<string, string>): string {
  const names = Object.keys(labels).sort((a, b) => {
    const ia = LEADING_LABELS.indexOf(a);
    const ib = LEADING_LABELS.indexOf(b);
    return (ia < 0 ? LEADING_LABELS.length : ia) - (ib < 0 ? LEADING_LABELS.length : ib) || a.localeCompare(b);
  });
  const shown = names.slice(0, SUMMARY_LABELS).map((n) => `${n}=${labels[n]}`);
  const more = names.length - shown.length;
  return shown.length === 0 ? "—" : `${shown.join(", ")}${more > 0 ? ` (+${more})` : ""}`;
}

function time(iso: string): SafeHtml {
  return html`<time datetime="${iso}">${utc(iso)}</time>`;
}

/** The cells every section starts with: which operation, for which incident. */
function identityCells(d: DeliveryView): SafeHtml {
  return html`<td>${d.id}</td><td>${d.op}</td><td>${d.helpdesk}</td><td><a href="${`/ui/incidents/${d.incidentId}`}">#${d.incidentId}</a></td><td>${labelsSummary(d.labels)}</td>`;
}

const IDENTITY_HEADINGS = html`<th scope="col">Id</th><th scope="col">Operation</th><th scope="col">Helpdesk</th><th scope="col">Incident</th><th scope="col">Labels</th>`;

function table(caption: string, headings: SafeHtml, rows: HtmlValue[]): SafeHtml {
  return html`<div class="table"><table><caption class="hide-narrow muted">${caption}</caption><thead><tr>${IDENTITY_HEADINGS}${headings}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

function moreNote(more: boolean, state: string): HtmlValue {
  return more
    ? html`<p class="muted">Showing the newest ${ROWS_PER_STATE}; the rest: <a href="${`/api/deliveries?state=${state}`}">/api/deliveries?state=${state}</a>.</p>`
    : "";
}

function pendingSection(rows: DeliveryView[]): SafeHtml {
  const body =
    rows.length === 0
      ? html`<p class="empty">Nothing waits for its first attempt.</p>`
      : table(
          "Operations waiting for their first attempt",
          html`<th scope="col">Created</th><th scope="col">Due</th>`,
          rows.map((d) => html`<tr>${identityCells(d)}<td>${time(d.createdAt)}</td><td>${time(d.nextAttemptAt)}</td></tr>`),
        );
  return html`<section aria-labelledby="pending"><h2 id="pending">Pending</h2>${body}</section>`;
}

function retryingSection(rows: DeliveryView[]): SafeHtml {
  const body =
    rows.length === 0
      ? html`<p class="empty">Nothing is being retried.</p>`
      : table(
          "Operations that failed and will be tried again",
          html`<th scope="col">Attempts</th><th scope="col">Next attempt</th><th scope="col">Last error</th><th scope="col">Created</th>`,
          rows.map(
            (d) =>
              html`<tr>${identityCells(d)}<td>${d.attempts}</td><td>${time(d.nextAttemptAt)}</td><td>${d.lastError ?? "—"}</td><td>${time(d.createdAt)}</td></tr>`,
          ),
        );
  return html`<section aria-labelledby="retrying"><h2 id="retrying">Retrying</h2>${body}</section>`;
}

function replayForm(ctx: PageContext, field: SafeHtml, label: string, text: string, secondary: boolean): SafeHtml {
  return html`<form method="post" action="/ui/deliveries/replay" class="inline">${csrfField(ctx)}${field}<button type="submit"${secondary ? html` class="secondary"` : ""} aria-label="${label}">${text}</button></form>`;
}

function deadSection(ctx: PageContext, rows: DeliveryView[], more: boolean): SafeHtml {
  if (rows.length === 0) {
    return html`<section aria-labelledby="dead"><h2 id="dead">Dead letters</h2><p class="empty">No dead letters.</p></section>`;
  }
  const all = replayForm(ctx, html`<input type="hidden" name="all" value="1">`, "Replay all dead letters", "Replay all", false);
  const body = table(
    "Operations given up on; a replay puts them back in the queue",
    html`<th scope="col">Last error</th><th scope="col">Attempts</th><th scope="col">Created</th><th scope="col">Replay</th>`,
    rows.map(
      (d) =>
        html`<tr>${identityCells(d)}<td>${d.lastError ?? "—"}</td><td>${d.attempts}</td><td>${time(d.createdAt)}</td><td>${replayForm(
          ctx,
          html`<input type="hidden" name="ids" value="${d.id}">`,
          `Replay delivery ${d.id}`,
          "Replay",
          true,
        )}</td></tr>`,
    ),
  );
  return html`<section aria-labelledby="dead"><h2 id="dead">Dead letters</h2><div>${all}</div>${body}${moreNote(more, "dead")}</section>`;
}

/** `?done=replayed-3` after a replay (Post/Redirect/Get). */
function doneNotice(done: unknown): HtmlValue {
  const m = typeof done === "string" ? /^replayed-(\d+)$/.exec(done) : null;
  if (!m) return "";
  const n = Number(m[1]);
  return html`<p class="notice" role="status">${n === 0 ? "Nothing to replay: no such dead letter." : `Replayed ${n} dead letter${n === 1 ? "" : "s"}: back in the queue.`}</p>`;
}

async function deliveriesPage(deps: UiDeps, req: Request, res: Response): Promise<void> {
  const ctx = contextOf(req, deps.sessions, deps.clock());
  // One read of pending rows serves two sections: the first attempt, and the retries.
  const [pending, dead] = await Promise.all([
    deps.store.pageDeliveries({ state: "pending", limit: ROWS_PER_STATE, maxBytes: PAGE.maxBytes }),
    deps.store.pageDeliveries({ state: "dead", limit: ROWS_PER_STATE, maxBytes: PAGE.maxBytes }),
  ]);
  const fresh = pending.items.filter((d) => d.attempts === 0);
  const retrying = pending.items.filter((d) => d.attempts > 0);
  const main = html`<h1>Deliveries</h1>
${doneNotice(req.query.done)}
<p class="muted">The outbox: every helpdesk operation waits here until its helpdesk confirms it.</p>
${pendingSection(fresh)}
${retryingSection(retrying)}
${moreNote(pending.next !== null, "pending")}
${deadSection(ctx, dead.items, dead.next !== null)}`;
  res.type("html").send(page(ctx, "deliveries", "Deliveries", main, { live: true }));
}

/** Which dead letters the form names: `all=1`, or one or more positive integer `ids`; else what is wrong. */
export function replayTarget(body: Record<string, unknown>): { target: number[] | "all" } | { field: string; message: string } {
  if (body.all === "1") return { target: "all" };
  const raw = body.ids;
  const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === "string").flatMap((v) => v.split(/[\s,]+/).filter((s) => s !== ""));
  if (values.length === 0) return { field: "ids", message: "name a dead letter to replay (ids), or replay all (all=1)" };
  const bad = values.find((v) => !/^[1-9]\d{0,15}$/.test(v));
  if (bad !== undefined) return { field: "ids", message: `"${bad}" is not a delivery id (a positive whole number)` };
  return { target: [...new Set(values.map(Number))] };
}

async function replay(deps: UiDeps, req: Request, res: Response): Promise<void> {
  const parsed = replayTarget((req.body ?? {}) as Record<string, unknown>);
  if ("field" in parsed) {
    const ctx = contextOf(req, deps.sessions, deps.clock());
    const main = html`<h1>Replay</h1><p class="error" role="alert"><strong>${parsed.field}</strong>: ${parsed.message}</p><p><a href="/ui/deliveries">Back to the deliveries</a></p>`;
    return void res
      .status(400)
      .type("html")
      .send(page(ctx, "deliveries", "Replay", main));
  }
  const n = await deps.store.requeueDead(parsed.target, deps.clock());
  deps.kick();
  res.redirect(303, `/ui/deliveries?done=replayed-${n}`);
}

/** `GET /ui/deliveries` (the outbox: pending, retrying, dead letters; live) and `POST /ui/deliveries/replay`. */
export function addDeliveryPages(router: Router, deps: UiDeps): void {
  router.get("/ui/deliveries", (req, res) => deliveriesPage(deps, req, res));
  router.post("/ui/deliveries/replay", (req, res) => replay(deps, req, res));
}
