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
        out.push(
          `<table>${b.rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</table>`,
        );
        break;
      case "list":
        out.push(`<ul>${b.items.map((i) => `<li>${escapeHtml(i)}</li>`).join("")}</ul>`);
        break;
      case "links":
        out.push(
          `<ul>${b.links
            .map((l) => {
              const url = safeUrl(l.url);
              return url
                ? `<li><a href="${escapeHtml(url)}">${escapeHtml(l.label)}</a></li>`
                : `<li>${escapeHtml(l.label)}: ${escapeHtml(l.url)}</li>`;
            })
            .join("")}</ul>`,
        );
        break;
    }
  }
  return out.join("\n");
}
