import type { Doc } from "../../model/doc.js";

/**
 * Confluence's storage format: XHTML that Confluence parses as XML before it keeps it, so a body
 * that is not well-formed is a 400 that no retry fixes. Every element is closed (`<br/>`, never
 * `<br>`), every value escaped (the five XML characters; `]]>` cannot open or end anything once `<`
 * and `>` are escaped), and characters XML 1.0 forbids are dropped rather than sent. Only http(s)
 * links become anchors, so a `javascript:` URL in a value stays text.
 */

/** Whether XML 1.0 allows the code point at all (no control characters but tab and line breaks, no lone surrogates, no U+FFFE/U+FFFF). */
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000;
}

/** The text without the characters XML forbids: Confluence would refuse the whole body for one of them. */
function xmlChars(text: string): string {
  let out = "";
  // for…of walks code points, so a valid surrogate pair arrives whole and a lone half alone.
  for (const ch of text) if (isXmlChar(ch.codePointAt(0) as number)) out += ch;
  return out;
}

const ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text for XML element content and (double- or single-quoted) attribute values. */
export function escapeXml(text: string): string {
  return xmlChars(text).replace(/[&<>"']/g, (c) => ENTITY[c] as string);
}

/** Escaped text whose line breaks stay line breaks. */
function lines(text: string): string {
  return escapeXml(text).replace(/\r\n?|\n/g, "<br/>");
}

function safeUrl(url: string): string | undefined {
  return /^https?:\/\/[^\s]+$/i.test(url.trim()) ? url.trim() : undefined;
}

/** The Doc as a storage-format body. */
export function toStorage(doc: Doc): string {
  const out: string[] = [];
  for (const block of doc) {
    switch (block.kind) {
      case "heading":
        out.push(`<h3>${escapeXml(block.text.replace(/\s+/g, " "))}</h3>`);
        break;
      case "paragraph":
        out.push(`<p>${lines(block.text)}</p>`);
        break;
      case "fields":
        out.push(`<table><tbody>${block.rows.map(([name, value]) => `<tr><th>${lines(name)}</th><td>${lines(value)}</td></tr>`).join("")}</tbody></table>`);
        break;
      case "list":
        out.push(`<ul>${block.items.map((item) => `<li>${lines(item)}</li>`).join("")}</ul>`);
        break;
      case "links":
        out.push(
          `<ul>${block.links
            .map((link) => {
              const url = safeUrl(link.url);
              return url ? `<li><a href="${escapeXml(url)}">${lines(link.label)}</a></li>` : `<li>${lines(link.label)}: ${lines(link.url)}</li>`;
            })
            .join("")}</ul>`,
        );
        break;
    }
  }
  return out.join("");
}
