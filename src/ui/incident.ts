import type { Router } from "express";
import { z } from "zod";
import { incidentDetail } from "../api/incidents.js";
import { toHtml } from "../model/doc.js";
import { formatDuration } from "../model/duration.js";
import { lineChart } from "./charts.js";
import type { UiDeps } from "./deps.js";
import { type HtmlValue, html, link, trusted } from "./html.js";
import { contextOf, page, utc } from "./layout.js";
import { clockCell, ticketHref } from "./now.js";

const incidentId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** Alerts whose values the chart draws at most: more lines than this say nothing. */
const CHARTED_ALERTS = 10;

type Detail = NonNullable<Awaited<ReturnType<typeof incidentDetail>>>;

function facts(d: Detail, now: Date): HtmlValue {
  const v = d.incident;
  const hs = v.helpdeskState;
  const rows: [string, HtmlValue][] = [
    ["State", v.state === "firing" ? "firing" : `resolved ${utc(v.resolvedAt)}`],
    ["Opened", utc(v.openedAt)],
    ["Response clock", v.state === "firing" ? clockCell(v, now) : html`<span class="clock stopped">stopped</span>`],
    ["Respond by", utc(v.sla.responseDueAt)],
    ["First response", v.sla.firstResponseAt ? utc(v.sla.firstResponseAt) : "none yet"],
    ["Ticket", v.ticket ? html`${link(ticketHref(v.helpdesk, v.ticket), v.ticket.id)} in ${v.helpdesk}` : html`not confirmed yet, in ${v.helpdesk}`],
    ["Helpdesk status", hs.status ?? "unknown"],
    ["Assignee", hs.assignee ?? "—"],
    ["Resolution", hs.resolution ?? "—"],
    ["Escalations", v.sla.escalations.length > 0 ? v.sla.escalations.map((e) => `step ${e.step} at ${utc(e.at)}`).join("; ") : "none"],
    ["Fired again", String(v.recurrences)],
    ["Dedup key", v.dedupKey],
    ["Ticket key", v.ticketKey],
  ];
  if (v.verifyAt) rows.push(["Verification", `due ${utc(v.verifyAt)}`]);
  if (v.mutedUntil) rows.push(["Muted (won't fix)", `until ${utc(v.mutedUntil)}`]);
  if (d.archivedAt) rows.push(["Archived", utc(d.archivedAt)]);
  return html`<dl class="facts">${rows.map(([k, val]) => html`<dt>${k}</dt><dd>${val}</dd>`)}</dl>`;
}

function why(d: Detail): HtmlValue {
  const r = d.rule;
  if (r.name === null) return html`<p>No rule matched: the defaults gave <strong>${String(r.priority)}</strong>, ${String(r.category)}.</p>`;
  if (!r.inForce) return html`<p>Rule <strong>${r.name}</strong> matched; it is no longer in the rules in force.</p>`;
  const values = d.alerts.filter((a) => a.value !== null).map((a) => `${a.labels.instance ?? a.fingerprint}: ${a.value}`);
  return html`<p>Rule <strong>${r.name}</strong> matched${r.priority ? html`, giving <strong>${String(r.priority)}</strong>` : ""}${r.category ? `, ${r.category}` : ""}:</p>
<ul>${r.matchers.map((m) => html`<li><code>${m}</code></li>`)}${r.when ? html`<li><code>when: ${r.when}</code>${values.length > 0 ? html` (value ${values.join(", ")})` : ""}</li>` : ""}</ul>`;
}

function chart(d: Detail): HtmlValue {
  const series = d.alerts
    .filter((a) => a.samples.length > 0)
    .slice(0, CHARTED_ALERTS)
    .map((a) => ({ name: a.labels.instance ?? a.labels.alertname ?? a.fingerprint, points: a.samples.map(([t, v]) => ({ t: Date.parse(t), v })) }));
  if (series.length === 0) return html`<p class="empty">Its alerts carry no values.</p>`;
  return lineChart({ series, title: "Alert values over the incident", yLabel: "value", id: "values" });
}

/** `GET /ui/incidents/{id}`: one incident, from `GET /api/incidents/{id}`'s detail: facts, timeline, values, ticket text, why. */
export function addIncidentPages(router: Router, deps: UiDeps): void {
  router.get("/ui/incidents/:id", async (req, res) => {
    const now = deps.clock();
    const ctx = contextOf(req, deps.sessions, now);
    const id = incidentId.safeParse(req.params.id);
    if (!id.success)
      return void res
        .status(400)
        .type("html")
        .send(page(ctx, "now", "Bad incident id", html`<h1>Bad incident id</h1><p class="error">id: ${id.error.issues[0]?.message ?? "invalid"}</p>`));
    const d = await incidentDetail(deps.store, deps.rules().rules, id.data, now);
    if (!d)
      return void res
        .status(404)
        .type("html")
        .send(page(ctx, "now", "No such incident", html`<h1>No incident ${String(id.data)}</h1><p><a href="/ui/">Back to Now</a></p>`));
    const v = d.incident;
    const lasted = Math.max(0, Date.parse(v.resolvedAt ?? now.toISOString()) - Date.parse(v.openedAt));
    const main = html`<p><a href="/ui/">← Now</a></p>
<h1><span class="prio ${v.priority}">${v.priority}</span> ${v.title}</h1>
<p class="muted">${v.category}, ${v.state}, ${v.firingAlertCount} firing of ${String(v.firingAlertCount + v.resolvedAlerts)} alert(s), ${formatDuration(lasted)} so far.</p>
${facts(d, now)}
<h2>Timeline</h2>
${
  d.timeline.length === 0
    ? html`<p class="empty">Nothing yet.</p>`
    : html`<ol class="timeline">${d.timeline.map((t) => html`<li class="${t.kind}"><time datetime="${t.at}">${utc(t.at)}</time>${t.text}</li>`)}</ol>`
}
<h2>Values</h2>
${chart(d)}
<h2>Why this priority</h2>
${why(d)}
<h2>The ticket as the helpdesk got it</h2>
${
  d.ticketText
    ? html`<p><strong>${d.ticketText.title}</strong> <span class="muted">(${d.ticketText.helpdesk}, ${d.ticketText.state}, queued ${utc(d.ticketText.createdAt)})</span></p><div class="ticket-body">${trusted(toHtml(d.ticketText.body))}</div>`
    : html`<p class="empty">Its open delivery is no longer kept (delivery.retention).</p>`
}
<h2>Alerts</h2>
<div class="table"><table><thead><tr><th scope="col">Alert</th><th scope="col">Status</th><th scope="col">Since</th><th scope="col">Value (first / peak / last)</th><th scope="col">Rule</th></tr></thead>
<tbody>${d.alerts.map(
      (a) =>
        html`<tr><td>${Object.entries(a.labels)
          .map(([k, val]) => `${k}=${val}`)
          .join(", ")}</td><td>${a.status}</td><td>${utc(a.startsAt)}${a.endsAt ? html`<div class="muted">to ${utc(a.endsAt)}</div>` : ""}</td><td>${
          a.value === null ? "—" : `${a.firstValue} / ${a.peakValue} / ${a.value}`
        }</td><td>${a.rule ?? "(defaults)"} → ${a.priority}</td></tr>`,
    )}</tbody></table></div>
<p class="muted">JSON: <a href="/api/incidents/${String(id.data)}">/api/incidents/${String(id.data)}</a></p>`;
    res.type("html").send(page(ctx, "now", v.title, main, { live: v.state === "firing" }));
  });
}
