import type { Doc } from "../../model/doc.js";

/**
 * An archive entry's Doc as TiddlyWiki wikitext (type text/vnd.tiddlywiki). Wikitext, rather than
 * text/plain, so that the entry reads like any other tiddler: headings, a table of fields, bullet
 * lists and links that open, in the wiki's own theme. The structure is alertdesk's; every value (alert
 * labels are attacker-controlled) goes through escapeWikitext and can only ever become text.
 *
 * Why escapeWikitext is enough (checked against the parse rules of tiddlywiki 5.4.1,
 * core/modules/parsers/wikiparser/rules/, and by test/knowledge/tiddlywiki.test.ts, which renders
 * hostile values through the real server's own renderer):
 * - Every wikitext construct starts with ASCII punctuation, except CamelCase links (the wikilink
 *   rule, off by default; the `\rules except wikilink` pragma keeps it off here too).
 * - A numeric character reference (`&#60;`) is wikitext's own literal: the entity rule turns it into
 *   that one character as text, and nothing else reads it. So a character that could start something
 *   is written as its reference, and shows as itself.
 * - Always written as a reference: `< > [ ] { } | \ \` ~ ^ $ &`. They open (or, in tables, shape)
 *   HTML, widgets, macros, transclusions, links, code, filtered transclusions, typed blocks, system
 *   links, strikethrough, superscript, `~` escapes, entities, table cells, and `<% if %>`.
 * - Only where doubled, as the whole run: `' / _ , - " ( @` (`''` bold, `//` italic, `__`, `,,`,
 *   `--` dashes, `"""` line breaks, `((var))`, `@@` styles). One of them alone is plain text.
 * - `:` after a letter and before a non-space (`http:…` and the other link schemes).
 * - The first character that is not white space, when it is punctuation: block syntax (`!`, `*`,
 *   `#`, `;`, `:`, `>`, `---`, `.class`) only counts at the start of a line or a table cell, and the
 *   start of a value is the only place where a value begins a line or a cell (TiddlyWiki skips
 *   white space first, as `\s` does).
 * - Line breaks in a value become `<br>` (ours), so a value never starts a line of its own; other
 *   control characters become `&#x…;`. White space stays as it is: a character TiddlyWiki's
 *   patterns stop at must reach it unchanged.
 * Links: only http(s) URLs become `<a href="…">`; the URL is parsed and every character that could
 * end a double-quoted attribute or mean something to wikitext is percent-encoded. Other URLs are text.
 */

/** Off by default in TiddlyWiki, but a wiki may turn CamelCase links on; a value must not become one. */
const PRAGMA = "\\rules except wikilink";

const ASCII_PUNCTUATION = /^[!-/:-@[-`{-~]$/;
const ALWAYS = new Set(["<", ">", "[", "]", "{", "}", "|", "\\", "`", "~", "^", "$", "&"]);
const WHEN_DOUBLED = new Set(["'", "/", "_", ",", "-", '"', "(", "@"]);
const WHITESPACE = /^\s$/;
const LETTER = /^[A-Za-z]$/;

function reference(code: number): string {
  return `&#${code};`;
}

/** A value as wikitext that TiddlyWiki shows exactly as the value (line breaks as `<br>`). */
export function escapeWikitext(value: string): string {
  // Code points, so that a surrogate pair stays one character.
  const chars = Array.from(value.replace(/\r\n?/g, "\n"));
  const first = chars.findIndex((c) => !WHITESPACE.test(c));
  let out = "";
  chars.forEach((c, i) => {
    if (c === "\n") {
      out += "<br>";
      return;
    }
    const code = c.codePointAt(0) as number;
    if ((code < 0x20 && !WHITESPACE.test(c)) || code === 0x7f) {
      // The entity rule wants 2 to 8 characters after `&#`: hex says even NUL in two (`x0`).
      out += `&#x${code.toString(16)};`;
      return;
    }
    const prev = chars[i - 1];
    const next = chars[i + 1];
    const encode =
      ALWAYS.has(c) ||
      (i === first && ASCII_PUNCTUATION.test(c)) ||
      (WHEN_DOUBLED.has(c) && (prev === c || next === c)) ||
      (c === ":" && prev !== undefined && LETTER.test(prev) && next !== undefined && !WHITESPACE.test(next));
    out += encode ? reference(code) : c;
  });
  return out;
}

/** An http(s) URL fit for a double-quoted attribute, or undefined for anything else (javascript:, data:, …). */
export function safeHref(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
  // href is ASCII already (punycode, percent-encoding); these could still end the attribute or be read as markup.
  return parsed.href.replace(/["'<>`{}|\\^\s]/g, (c) => `%${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(2, "0")}`);
}

/** The Doc as a tiddler's text: a pragma, then one block per Doc block, blank lines between. */
export function toWikitext(doc: Doc): string {
  const blocks: string[] = [PRAGMA];
  for (const block of doc) {
    switch (block.kind) {
      case "heading": {
        // A heading is one line; TiddlyWiki shows the tiddler's title as h2, so entry headings are h3.
        const text = block.text.replace(/\s+/g, " ").trim();
        if (text !== "") blocks.push(`!!! ${escapeWikitext(text)}`);
        break;
      }
      case "paragraph":
        // A blank paragraph would be no paragraph at all; leave it out rather than write an empty line.
        if (block.text.trim() !== "") blocks.push(escapeWikitext(block.text));
        break;
      case "fields":
        if (block.rows.length > 0) blocks.push(block.rows.map(([name, value]) => `|!${escapeWikitext(name)}|${escapeWikitext(value)}|`).join("\n"));
        break;
      case "list":
        if (block.items.length > 0) blocks.push(block.items.map((item) => `* ${escapeWikitext(item)}`).join("\n"));
        break;
      case "links":
        if (block.links.length > 0) {
          blocks.push(
            block.links
              .map((link) => {
                const href = safeHref(link.url);
                if (href === undefined) return `* ${escapeWikitext(`${link.label}: ${link.url}`)}`;
                const label = link.label.trim() === "" ? link.url : link.label;
                return `* <a class="tc-tiddlylink-external" href="${href}" rel="noopener noreferrer" target="_blank">${escapeWikitext(label)}</a>`;
              })
              .join("\n"),
          );
        }
        break;
    }
  }
  return `${blocks.join("\n\n")}\n`;
}
