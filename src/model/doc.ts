import { z } from "zod";

/**
 * A small, format-neutral document: what a ticket body or comment says, before any markup.
 * Templates produce it; each driver formats it for its helpdesk (HTML, markdown, plain text …),
 * escaping every value for that format, so label values can never inject markup.
 */
export const blockSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("heading"), text: z.string() }),
  z.object({ kind: z.literal("paragraph"), text: z.string() }),
  z.object({ kind: z.literal("fields"), rows: z.array(z.tuple([z.string(), z.string()])) }),
  z.object({ kind: z.literal("list"), items: z.array(z.string()) }),
  z.object({ kind: z.literal("links"), links: z.array(z.object({ label: z.string(), url: z.string() })) }),
]);
export const docSchema = z.array(blockSchema);

export type Block = z.infer<typeof blockSchema>;
export type Doc = z.infer<typeof docSchema>;

/** Plain text, for helpdesks (and the built-in store) that show text as it is. */
export function toText(doc: Doc): string {
  const out: string[] = [];
  for (const b of doc) {
    switch (b.kind) {
      case "heading":
        out.push(`## ${b.text}`);
        break;
      case "paragraph":
        out.push(b.text);
        break;
      case "fields": {
        const width = Math.max(0, ...b.rows.map(([k]) => k.length));
        out.push(b.rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join("\n"));
        break;
      }
      case "list":
        out.push(b.items.map((i) => `- ${i}`).join("\n"));
        break;
      case "links":
        out.push(b.links.map((l) => `- ${l.label}: ${l.url}`).join("\n"));
        break;
    }
  }
  return out.join("\n\n");
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function safeUrl(url: string): string | undefined {
  return /^https?:\/\//i.test(url) ? url : undefined;
}

/** HTML, every value escaped; only http(s) links become anchors. */
export function toHtml(doc: Doc): string {
  const out: string[] = [];
  for (const b of doc) {
    switch (b.kind) {
      case "heading":
        out.push(`<h3>${escapeHtml(b.text)}</h3>`);
        break;
      case "paragraph":
        out.push(`<p>${escapeHtml(b.text).replace(/\n/g, "<br>")}</p>`);
        break;
      case "fields":
        out.push(`<table>${b.rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</table>`);
        break;
      case "list":
        out.push(`<ul>${b.items.map((i) => `<li>${escapeHtml(i)}</li>`).join("")}</ul>`);
        break;
      case "links":
        out.push(
          `<ul>${b.links
            .map((l) => {
              const url = safeUrl(l.url);
              return url ? `<li><a href="${escapeHtml(url)}">${escapeHtml(l.label)}</a></li>` : `<li>${escapeHtml(l.label)}: ${escapeHtml(l.url)}</li>`;
            })
            .join("")}</ul>`,
        );
        break;
    }
  }
  return out.join("\n");
}

/** An Atlassian Document Format node (Jira Cloud v3). */
export interface AdfNode {
  type: string;
  version?: number;
  text?: string;
  attrs?: Record<string, unknown>;
  marks?: { type: string; attrs?: Record<string, unknown> }[];
  content?: AdfNode[];
}

/** ADF for Jira Cloud: values go into text nodes (ADF has no markup to inject); only http(s) links get a link mark. */
export function toAdf(doc: Doc): AdfNode {
  const text = (t: string, marks?: AdfNode["marks"]): AdfNode[] => (t === "" ? [] : [marks ? { type: "text", text: t, marks } : { type: "text", text: t }]);
  const paragraph = (content: AdfNode[]): AdfNode => ({ type: "paragraph", content });
  const lines = (t: string): AdfNode[] => t.split("\n").flatMap((line, i) => (i === 0 ? text(line) : [{ type: "hardBreak" }, ...text(line)]));
  const bullets = (items: AdfNode[][]): AdfNode => ({ type: "bulletList", content: items.map((c) => ({ type: "listItem", content: [paragraph(c)] })) });
  const content: AdfNode[] = [];
  for (const b of doc) {
    switch (b.kind) {
      case "heading":
        content.push({ type: "heading", attrs: { level: 3 }, content: text(b.text) });
        break;
      case "paragraph":
        content.push(paragraph(lines(b.text)));
        break;
      case "fields":
        content.push(bullets(b.rows.map(([k, v]) => [...text(`${k}: `, [{ type: "strong" }]), ...text(v)])));
        break;
      case "list":
        content.push(bullets(b.items.map((i) => lines(i))));
        break;
      case "links":
        content.push(bullets(b.links.map((l) => (safeUrl(l.url) ? text(l.label, [{ type: "link", attrs: { href: l.url } }]) : text(`${l.label}: ${l.url}`)))));
        break;
    }
  }
  return { type: "doc", version: 1, content };
}

/** Escapes text for Jira wiki markup (Data Center, API v2): every markup character gets a backslash. */
export function escapeWiki(s: string): string {
  // Block markers at a line start (h1. … h6. headings, bq. quotes) are not characters to escape: a
  // backslash before their dot keeps the text as it is.
  return s.replace(/[\\{}[\]*_|!^~+?#-]/g, (c) => `\\${c}`).replace(/^(\s*)(h[1-6]|bq)\./gim, "$1$2\\.");
}

/** Jira wiki markup, every value escaped; only http(s) links become links. */
export function toWiki(doc: Doc): string {
  const out: string[] = [];
  for (const b of doc) {
    switch (b.kind) {
      case "heading":
        out.push(`h3. ${escapeWiki(b.text)}`);
        break;
      case "paragraph":
        out.push(escapeWiki(b.text));
        break;
      case "fields":
        out.push(b.rows.map(([k, v]) => `*${escapeWiki(k)}:* ${escapeWiki(v)}`).join("\n"));
        break;
      case "list":
        out.push(b.items.map((i) => `* ${escapeWiki(i).replace(/\n/g, " ")}`).join("\n"));
        break;
      case "links":
        out.push(
          b.links
            .map((l) =>
              safeUrl(l.url) ? `* [${escapeWiki(l.label)}|${l.url.replace(/[|\]\s]/g, encodeURIComponent)}]` : `* ${escapeWiki(`${l.label}: ${l.url}`)}`,
            )
            .join("\n"),
        );
        break;
    }
  }
  return out.join("\n\n");
}
