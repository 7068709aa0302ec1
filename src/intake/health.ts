import { type RequestHandler, Router } from "express";
import type { Metrics } from "../observability/metrics.js";

export interface HealthDeps {
  metrics: Metrics;
  /** Undefined when ready, else why not. */
  notReady: () => Promise<string | undefined>;
  /** Guards /metrics: the read guard, or a pass-through with `metrics_auth: none`. */
  metricsAuth: RequestHandler;
}

/**
 * `/healthz` (the process answers), `/readyz` (the store answers), both open to every prober, and
 * `/metrics` for Prometheus behind `metricsAuth`.
 */
export function createHealthRouter(deps: HealthDeps): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const why = await deps.notReady().catch((err: Error) => err.message);
    if (why) res.status(503).json({ status: "not ready", reason: why });
    else res.json({ status: "ready" });
  });
  router.get("/metrics", deps.metricsAuth, async (_req, res) => {
    res.set("Content-Type", deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}
