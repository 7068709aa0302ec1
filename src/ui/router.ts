import { readFileSync } from "node:fs";
import express, { type Request, type Response, Router } from "express";
import { addDeliveryPages } from "./deliveries.js";
import type { UiDeps } from "./deps.js";
import { html } from "./html.js";
import { addIncidentPages } from "./incident.js";
import { addKnowledgePages } from "./kb.js";
import { CONSOLE_HEADERS, contextOf, csrfField, page } from "./layout.js";
import { addNowPage } from "./now.js";
import { addReportPages } from "./reports.js";
import { addRulePages } from "./rules.js";
import { addTicketPages } from "./tickets.js";

/** The console's own files, read once: no CDN, nothing fetched at run time. */
const ASSETS: Record<string, { type: string; body: Buffer }> = {
  "console.css": { type: "text/css; charset=utf-8", body: readFileSync(new URL("./assets/console.css", import.meta.url)) },
  "console.js": { type: "text/javascript; charset=utf-8", body: readFileSync(new URL("./assets/console.js", import.meta.url)) },
};

/** A safe place to go after logging in: a path of the console, never another site. */
function nextPath(value: unknown): string {
  return typeof value === "string" && value.startsWith("/ui/") && !value.startsWith("//") ? value : "/ui/";
}

/**
 * The console at /ui/: server-rendered pages (every value escaped, html.ts) made from the same
 * views the JSON APIs answer with, a little script for live updates, forms for the few things it
 * changes (the built-in helpdesk's tickets, replays, the playground), each with a CSRF token.
 */
export function createConsoleRouter(deps: UiDeps): Router {
  const router = Router();
  const forms = express.urlencoded({ extended: false, limit: "1mb" });
  router.use("/ui", (_req, res, next) => {
    res.set(CONSOLE_HEADERS);
    next();
  });
  router.get("/ui/assets/:name", (req, res) => {
    const asset = Object.hasOwn(ASSETS, req.params.name) ? ASSETS[req.params.name] : undefined;
    if (!asset) return void res.status(404).type("text").send("no such file");
    res.set("Cache-Control", "no-cache").type(asset.type).send(asset.body);
  });

  const loginPage = (req: Request, res: Response, status: number, problem?: string) => {
    const ctx = contextOf(req, deps.sessions, deps.clock());
    const body = deps.sessions.required
      ? html`<h1>Log in</h1>
${problem ? html`<p class="error" role="alert">${problem}</p>` : ""}
<form method="post" action="/ui/login" class="stack">${csrfField(ctx)}
<input type="hidden" name="next" value="${nextPath(req.query.next ?? req.body?.next)}">
<label for="user">User</label><input type="text" id="user" name="user" autocomplete="username" required>
<label for="password">Password (or the admin token, as user admin)</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Log in</button></form>`
      : html`<h1>Log in</h1><p class="notice">No credential is configured: the console answers on loopback only, without a login. Configure <code>console_users</code> or <code>admin_token</code> to open it to the network.</p><p><a href="/ui/">To the console</a></p>`;
    res
      .status(status)
      .type("html")
      .send(page(ctx, "login", "Log in", body));
  };
  router.get("/ui/login", (req, res) => loginPage(req, res, 200));
  router.post("/ui/login", forms, async (req, res) => {
    if (!deps.sessions.csrfValid(req)) return loginPage(req, res, 403, "The form expired; please try again.");
    const body = req.body as Record<string, unknown>;
    const user = typeof body.user === "string" ? body.user.trim() : "";
    const password = typeof body.password === "string" ? body.password : "";
    if (!deps.sessions.required || !(await deps.sessions.login(res, user, password))) {
      return loginPage(req, res, 401, "Wrong user or password.");
    }
    res.redirect(303, nextPath(body.next));
  });
  router.post("/ui/logout", forms, (req, res) => {
    if (!deps.sessions.csrfValid(req)) return void res.status(403).type("text").send("CSRF token missing or wrong");
    deps.sessions.logout(res);
    res.redirect(303, "/ui/login");
  });

  // Every other page needs a session (or loopback, without credentials); every form its CSRF token.
  router.use("/ui", deps.sessions.guard({ loginPath: "/ui/login" }));
  router.post("/ui/*path", forms, (req, res, next) => {
    if (deps.sessions.csrfValid(req)) return next();
    res.status(403).type("text").send("CSRF token missing or wrong: reload the page and try again");
  });
  addNowPage(router, deps);
  addIncidentPages(router, deps);
  addTicketPages(router, deps);
  addDeliveryPages(router, deps);
  addRulePages(router, deps);
  addReportPages(router, deps);
  addKnowledgePages(router, deps);
  return router;
}
