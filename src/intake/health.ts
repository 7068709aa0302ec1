import { Router } from "express";
import type { Metrics } from "../observability/metrics.js";

export interface HealthDeps {
  metrics: Metrics;
  /** Undefined when ready, else why not. */
  notReady: () => Promise<string | undefined>;
}

/** `/healthz` (the process answers), `/readyz` (the store answers) and `/metrics` for Prometheus. */
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
  router.get("/metrics", async (_req, res) => {
    res.set("Content-Type", deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}
