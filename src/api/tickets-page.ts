import type { BuiltinTicket } from "../model/builtin-tickets.js";
import { escapeHtml } from "../model/doc.js";

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4em .6em;border-bottom:1px solid #ddd;vertical-align:top}pre{white-space:pre-wrap;margin:.3em 0;font:13px ui-monospace,monospace}
.P1{color:#fff;background:#c00}.P2{background:#f80}.P3{background:#fd4}.P4{background:#ddd}.prio{padding:0 .4em;border-radius:3px;font-weight:600}
.solved{color:#080}.open{color:#c00}details{margin:.2em 0}`;

/**
 * The built-in helpdesk's page: one page of tickets with their bodies and latest comments, newest
 * first, and a link to the older ones (`next`). All values escaped.
 */
export function renderTicketsPage(tickets: BuiltinTicket[], now: Date, next: number | null = null): string {
  const rows = tickets
    .map((t) => {
      const older = t.commentsOmitted ? `<p><small>${t.commentsOmitted} older comment(s) not shown</small></p>` : "";
      const comments = older + t.comments.map((c) => `<div><small>${escapeHtml(c.createdAt)}</small><pre>${escapeHtml(c.body)}</pre></div>`).join("");
      return `<tr id="ticket-${t.id}"><td>#${t.id}</td><td><span class="prio ${escapeHtml(t.priority)}">${escapeHtml(t.priority)}</span></td>
<td class="${escapeHtml(t.status)}">${escapeHtml(t.status)}</td><td>${escapeHtml(t.category)}</td>
<td><strong>${escapeHtml(t.subject)}</strong><details><summary>details and ${t.comments.length + (t.commentsOmitted ?? 0)} comment(s)</summary><pre>${escapeHtml(t.body)}</pre>${comments}</details></td>
<td>${escapeHtml(t.createdAt)}</td><td>${escapeHtml(t.updatedAt)}</td></tr>`;
    })
    .join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>alertdesk tickets</title><style>${STYLE}</style></head>
<body><h1>alertdesk: built-in helpdesk</h1><p>${tickets.length} ticket(s)${next === null ? "" : " (the newest; older ones below)"}, as of ${escapeHtml(now.toISOString())}. JSON: <a href="api/tickets">api/tickets</a>.</p>
<table><thead><tr><th>id</th><th>priority</th><th>status</th><th>category</th><th>subject</th><th>created</th><th>updated</th></tr></thead>
<tbody>${rows}</tbody></table>${next === null ? "" : `<p><a href="tickets?before=${next}">Older tickets</a></p>`}</body></html>`;
}
