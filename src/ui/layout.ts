import type { Request } from "express";
import { type HtmlValue, html, type SafeHtml } from "./html.js";

/** Where the console's pages are, in the navigation's order. */
export const NAV = [
  ["now", "/ui/", "Now"],
  ["tickets", "/ui/tickets", "Helpdesk"],
  ["deliveries", "/ui/deliveries", "Deliveries"],
  ["rules", "/ui/rules", "Rules"],
  ["reports", "/ui/reports", "Reports"],
  ["kb", "/ui/kb", "Knowledge base"],
] as const;
export type Section = (typeof NAV)[number][0] | "login";

/** What every page needs from the request: who is logged in, the CSRF token its forms carry. */
export interface PageContext {
  user: string | undefined;
  /** Whether logging in is possible at all (a credential is configured). */
  loginEnabled: boolean;
  csrf: string;
  now: Date;
}

/** The security headers of every console answer: no inline script, no framing, no sniffing. */
export const CONSOLE_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the console's own
  // form posts, and the CSRF check compares the origin.
  "Referrer-Policy": "same-origin",
  "Cache-Control": "no-store",
};

/** A hidden field with the CSRF token, for every changing form. */
export function csrfField(ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;
}

/** The page shell: header, navigation, main (the part live updates replace), and the script. */
export function page(ctx: PageContext, section: Section, title: string, main: HtmlValue, options: { live?: boolean } = {}): string {
  const nav = NAV.map(([id, href, label]) => html`<li><a href="${href}"${id === section ? html` aria-current="page"` : ""}>${label}</a></li>`);
  const who = ctx.user
    ? html`<form method="post" action="/ui/logout" class="logout">${csrfField(ctx)}<span>${ctx.user}</span> <button type="submit">Log out</button></form>`
    : "";
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · alertdesk</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/assets/console.css">
<script type="module" src="/ui/assets/console.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header><span class="brand">alertdesk</span><nav aria-label="Console"><ul>${nav}</ul></nav>${who}</header>
<main id="main" tabindex="-1"${options.live ? html` data-live="5000"` : ""}>
${main}
</main>
</body>
</html>`.value;
}

/** The page context of a request. */
export function contextOf(
  req: Request,
  sessions: { sessionOf(req: Request): { user: string } | undefined; csrfToken(req: Request): string; required: boolean },
  now: Date,
): PageContext {
  return { user: sessions.sessionOf(req)?.user, loginEnabled: sessions.required, csrf: sessions.csrfToken(req), now };
}

/** `in 12m`, `4m overdue`. */
export function clockText(dueMs: number, nowMs: number): string {
  const left = dueMs - nowMs;
  const abs = Math.abs(left);
  const text =
    abs < 60_000
      ? `${Math.round(abs / 1000)}s`
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)}m`
        : `${Math.floor(abs / 3_600_000)}h ${Math.round((abs % 3_600_000) / 60_000)}m`;
  return left >= 0 ? `${text} left` : `${text} overdue`;
}

/** `2026-12-01 10:04 UTC`. */
export function utc(iso: string | null | undefined): string {
  return iso ? `${iso.slice(0, 16).replace("T", " ")} UTC` : "—";
}
