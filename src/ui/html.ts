import { escapeHtml } from "../model/doc.js";

/**
 * HTML built with a tagged template that escapes every interpolated value unless it is already
 * `SafeHtml` (made by this template): alert labels come from whoever can send an alert, so no page
 * of the console ever puts a value into markup without escaping it.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return "";
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? "");
  });
  return new SafeHtml(out);
}

/** Markup that is already safe (rendered by a renderer that escapes, like model/doc.ts's toHtml). */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** Only http(s) URLs become links; anything else (javascript:, data:) is not a link. */
export function safeHref(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  return /^https?:\/\//i.test(url) ? url : undefined;
}

/** A link when the URL is safe, else the text alone. */
export function link(url: string | null | undefined, text: HtmlValue): SafeHtml {
  const href = safeHref(url);
  return href ? html`<a href="${href}">${text}</a>` : html`${text}`;
}
