// @ts-check
/**
 * One row of the benchmark's "scale of state": loads N active alerts (groups of 100) into a fresh
 * SQLite store through the real ingest path, then times 1,000 realistic notifications, and reports
 * the RSS of this process (nothing else lives in it). Plain JavaScript on the compiled service
 * (dist/, what `npm start` runs), so the RSS is the service's, not a TypeScript loader's.
 * Usage: node bench/scale.mjs N DIR (after npm run build)
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseNotification } from "../dist/intake/payloads.js";
import { startService } from "../dist/main.js";
import { createLogger } from "../dist/observability/logger.js";

const active = Number(process.argv[2]);
const dir = String(process.argv[3]);
mkdirSync(dir, { recursive: true });

/** @param {string} group @param {number[]} instances */
function notification(group, instances) {
  const r = parseNotification("alertmanager", {
    status: "firing",
    alerts: instances.map((i) => ({
      status: "firing",
      labels: { alertname: group, instance: `host-${i}:9100`, job: "node", severity: "warning" },
      annotations: { summary: `${group} on host-${i}`, value: String(80 + (i % 20)) },
      startsAt: "2026-11-25T06:00:00.000Z",
    })),
    groupLabels: { alertname: group },
  });
  if (!r.ok) throw new Error("bad payload");
  return r.notification;
}

const service = await startService({
  config: {
    host: "127.0.0.1",
    port: 0,
    dataDir: dir,
    rulesPath: join(new URL("../", import.meta.url).pathname, "rules"),
    bodyLimitBytes: 10_485_760,
    defaultHelpdesk: "builtin",
    helpdesks: {},
    delivery: {},
    watchRules: false,
    // As `alertdesk serve` reads it: the bench runs both.
    ingestThread: process.env.ALERTDESK_INGEST_THREAD !== "false",
  },
  log: createLogger({ level: "warn" }),
  deliver: false,
});
for (let g = 0; g < active / 100; g++)
  await service.ingest(
    notification(
      `Load${g}`,
      Array.from({ length: 100 }, (_, i) => i),
    ),
    new Date(),
  );
const bodies = Array.from({ length: 1000 }, (_, k) => notification(`Scale${Math.floor(k / 5)}`, k % 5 === 3 ? [1, 2, 3, 4, 6] : [1, 2, 3, 4, 5]));
const t0 = process.hrtime.bigint();
for (const b of bodies) await service.ingest(b, new Date());
const ms = Number(process.hrtime.bigint() - t0) / 1e6 / bodies.length;
const rssMB = Math.round(process.memoryUsage().rss / 1024 / 1024);
// What the state really keeps alive (after RSS is read, so RSS is as the service would show it).
globalThis.gc?.();
const retainedHeapMB = Math.round(process.memoryUsage().heapUsed / 1024 / 1024);
await service.stop();
process.stdout.write(`${JSON.stringify({ activeAlerts: active, msPerNotification: +ms.toFixed(3), rssMB, retainedHeapMB })}\n`);
