import type { RequestHandler, Router } from "express";
import type { ReloadStatus, RuleSet } from "../rules/load.js";

export interface RuleRoutesDeps {
  /** The rules in force and how the last reload went. */
  rules: () => { rules: RuleSet; lastReload: ReloadStatus };
  reload: () => ReloadStatus;
  /** Guards the reload (admin): http/auth.ts `adminAuth`. */
  adminAuth: RequestHandler;
}

/** What GET /api/rules shows of the rules in force. */
export function rulesView(rules: RuleSet) {
  return {
    files: rules.files,
    defaults: rules.defaults,
    responseTargetsSeconds: Object.fromEntries(Object.entries(rules.responseTargets).map(([p, ms]) => [p, ms / 1000])),
    rules: rules.rules.map((r) => ({
      name: r.name,
      origin: r.origin,
      matchers: r.matchers.map((m) => m.text),
      annotations: r.annotationMatchers.map((m) => m.text),
      when: r.whenText ?? null,
      valueFrom: r.valueFrom ?? null,
      continue: r.continue,
      ignore: r.ignore,
      priority: r.priority ?? null,
      category: r.category ?? null,
      helpdesk: r.helpdesk ?? null,
      assigneeGroup: r.assigneeGroup ?? null,
      tags: r.tags ?? [],
      title: r.title?.source ?? null,
      description: r.description?.source ?? null,
    })),
  };
}

/** `GET /api/rules` (the rules in force, the last reload) and `POST /-/reload` (admin). */
export function addRuleRoutes(router: Router, deps: RuleRoutesDeps): void {
  router.get("/api/rules", (_req, res) => {
    const { rules, lastReload } = deps.rules();
    res.json({ lastReload, ...rulesView(rules) });
  });
  router.post("/-/reload", deps.adminAuth, (_req, res) => {
    const result = deps.reload();
    if (result.success) res.json({ status: "reloaded", rules: deps.rules().rules.rules.length });
    else
      res.status(400).json({ status: "failed", error: "the rules did not load; the previous rules keep running", problems: result.error?.split("\n") ?? [] });
  });
}
