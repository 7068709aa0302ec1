import { randomUUID } from "node:crypto";
import express, { type ErrorRequestHandler, type Router } from "express";
import type { Logger } from "../observability/logger.js";

/**
 * The express app both HTTP sides share: request ids, no caching headers, the routers of the write
 * path (intake/) and the read path (api/), then 404 and the last-resort error answer. Routes live in
 * their routers; this file only puts them together in order.
 */
export function createHttpApp(routers: readonly Router[], log: Logger): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // Answers to webhooks and API reads are not cached: no hash of every response body.
  app.set("etag", false);
  // Every request has an id (the caller's X-Request-Id when it is sane), echoed and logged.
  app.use((req, res, next) => {
    const given = req.header("x-request-id");
    req.alertdeskRequestId = given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    res.set("X-Request-Id", req.alertdeskRequestId);
    next();
  });
  for (const router of routers) app.use(router);
  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });
  const onError: ErrorRequestHandler = (err: { type?: string; status?: number; message?: string; limit?: number }, req, res, _next) => {
    if (err.type === "entity.too.large") {
      res.status(413).json({ error: `body larger than the limit of ${err.limit ?? "?"} bytes` });
      return;
    }
    if (err.type === "entity.parse.failed") {
      res.status(400).json({ error: "body is not valid JSON", detail: err.message });
      return;
    }
    if (err.status && err.status >= 400 && err.status < 500) {
      res.status(err.status).json({ error: err.message ?? "bad request" });
      return;
    }
    log.error({ err: err.message, path: req.path, requestId: req.alertdeskRequestId }, "request failed");
    res.status(500).json({ error: "internal error" });
  };
  app.use(onError);
  return app;
}

declare global {
  namespace Express {
    interface Request {
      alertdeskRequestId?: string;
    }
  }
}
