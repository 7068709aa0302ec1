import type { Request, Response, Router } from "express";
import { z } from "zod";
import { badRequest } from "../http/respond.js";
import type { ArchiveEntry } from "../model/archive.js";
import { escapeHtml, toHtml } from "../model/doc.js";
import { formatDuration } from "../model/duration.js";
import type { KnowledgeStore } from "../store/types.js";

/**
 * The built-in knowledge base: `GET /api/kb?q=TEXT&limit=N` (entries ranked by relevance; no `q`:
 * the newest), `GET /api/kb/{id}`, and the pages `/kb` (search) and `/kb/{id}` (one entry). Every
 * value on the pages is escaped: alert labels come from anyone who can send an alert.
 */

export const KB_LIMIT = { default: 20, max: 100 } as const;

/** `GET /api/kb`'s query (the console's search uses it too). */
export const kbSearchQuery = z
  .object({
    q: z.string().max(500, "must be at most 500 characters").optional(),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .default(KB_LIMIT.default)
      .transform((n) => Math.min(n, KB_LIMIT.max)),
  })
  .strict();
const entryId = z.coerce.number().int().positive();

/** The entry as the API answers it (the pinned fields first, then the rest). */
export function entryView(e: ArchiveEntry) {
  return {
    id: e.id,
    title: e.title,
    incidentId: e.incidentId,
    ticketKey: e.ticketKey,
    labels: e.labels,
    keywords: e.keywords,
    resolution: e.resolution,
    body: e.body,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    resolutionLine: e.resolutionLine,
    outcome: e.outcome,
    alertname: e.alertname,
    priority: e.priority,
    category: e.category,
    helpdesk: e.helpdesk,
    ticketId: e.ticketId,
    ticketUrl: e.ticketUrl,
    startedAt: e.startedAt,
    endedAt: e.endedAt,
    durationMs: e.durationMs,
    externalUrl: e.externalUrl,
  };
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:70em;color:#222}input[type=search]{width:30em;font-size:1em;padding:.3em}
li{margin:.5em 0}.meta{color:#555;font-size:.9em}table{border-collapse:collapse}th,td{text-align:left;padding:.2em .6em;vertical-align:top}
.P1{color:#fff;background:#c00}.P2{background:#f80}.P3{background:#fd4}.P4{background:#ddd}.prio{padding:0 .4em;border-radius:3px;font-weight:600}`;
const HEADERS = {
  "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
};

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function searchPage(q: string | undefined, entries: ArchiveEntry[], total: number): string {
  const form = `<form method="get" action="kb" role="search"><label for="q">Search the archive</label> <input type="search" id="q" name="q" value="${escapeHtml(q ?? "")}" placeholder="disk full"> <button type="submit">Search</button></form>`;
  const items = entries
    .map(
      (e) => `<li><a href="kb/${e.id}"><strong>${escapeHtml(e.title)}</strong></a> <span class="prio ${escapeHtml(e.priority)}">${escapeHtml(e.priority)}</span>
<div class="meta">${escapeHtml(e.startedAt.slice(0, 10))}, lasted ${escapeHtml(formatDuration(e.durationMs))}, ${escapeHtml(e.category)}, ticket ${escapeHtml(e.ticketId ?? e.ticketKey)}</div>
<div>${escapeHtml(e.resolutionLine)}</div></li>`,
    )
    .join("\n");
  const said = q ? `${entries.length} entr${entries.length === 1 ? "y" : "ies"} for “${escapeHtml(q)}”` : `The newest entries (${total} in all)`;
  return page(
    "alertdesk knowledge base",
    `<h1>alertdesk: knowledge base</h1>${form}<p>${said}. JSON: <a href="api/kb${q ? `?q=${encodeURIComponent(q)}` : ""}">api/kb</a>.</p><ol>${items}</ol>`,
  );
}

function entryPage(e: ArchiveEntry): string {
  const external =
    e.externalUrl && /^https?:\/\//i.test(e.externalUrl)
      ? `<p>Also in the knowledge base: <a href="${escapeHtml(e.externalUrl)}">${escapeHtml(e.externalUrl)}</a></p>`
      : "";
  return page(
    e.title,
    `<p><a href="../kb">← knowledge base</a></p><h1>${escapeHtml(e.title)}</h1><p class="meta">Archived ${escapeHtml(e.createdAt)}; incident ${e.incidentId}, ${escapeHtml(e.ticketKey)}. JSON: <a href="../api/kb/${e.id}">api/kb/${e.id}</a>.</p>${external}${toHtml(e.doc)}`,
  );
}

export function addKnowledgeRoutes(router: Router, deps: { archive: KnowledgeStore }): void {
  const { archive } = deps;
  /** The entry the path names; undefined once it answered 400 (not an id) or 404 (no such entry). */
  const entryOf = async (req: Request, res: Response, notFound: (text: string) => void): Promise<ArchiveEntry | undefined> => {
    const id = entryId.safeParse(req.params.id);
    if (!id.success) {
      badRequest(
        res,
        "invalid entry id",
        id.error.issues.map((i) => ({ ...i, path: ["id"] })),
      );
      return undefined;
    }
    const entry = await archive.archiveEntry(id.data);
    if (!entry) notFound(`no knowledge-base entry ${id.data}`);
    return entry;
  };
  router.get("/api/kb", async (req, res) => {
    const q = kbSearchQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const entries = await archive.searchArchive({ limit: q.data.limit, ...(q.data.q?.trim() ? { q: q.data.q } : {}) });
    res.json({ entries: entries.map(entryView) });
  });
  router.get("/api/kb/:id", async (req, res) => {
    const entry = await entryOf(req, res, (error) => res.status(404).json({ error }));
    if (entry) res.json(entryView(entry));
  });
  router.get("/kb", async (req, res) => {
    const q = kbSearchQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const text = q.data.q?.trim() ? q.data.q : undefined;
    const entries = await archive.searchArchive({ limit: q.data.limit, ...(text ? { q: text } : {}) });
    res
      .set(HEADERS)
      .type("html")
      .send(searchPage(text, entries, await archive.countArchive()));
  });
  router.get("/kb/:id", async (req, res) => {
    const entry = await entryOf(req, res, (text) => res.status(404).type("text").send(text));
    if (entry) res.set(HEADERS).type("html").send(entryPage(entry));
  });
}
