/**
 * `npx tsx scripts/measure-bounds.ts [case…]`: what large and hostile webhooks cost alertdesk
 * (docs/reliability.md, "Memory and disk per webhook"). Each case starts `alertdesk serve` in a
 * process of its own on a fresh SQLite data directory and prints its peak RSS (VmHWM), the size of
 * the database and WAL, and how long things took. A measurement, not a test: nothing is asserted.
 * Cases: one, five, nested, reads, bounded, reads-bounded (default: all).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServiceProcess, spawnService } from "../test/kit/process.js";

const MiB = 1024 * 1024;
const status = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
const mib = (n: number) => Math.round(n);
const dirMiB = (dir: string) => Math.round((readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0) / MiB) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = Date.now();
  const value = await f();
  return { value, ms: Date.now() - t };
}

/** One group, one alert with the given labels and annotations. */
function notification(group: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): string {
  return JSON.stringify({
    version: "4",
    status: "firing",
    receiver: "r",
    groupKey: `{}:{alertname="${group}"}`,
    groupLabels: { alertname: group },
    externalURL: "http://am.example",
    alerts: [
      {
        status: "firing",
        labels: { alertname: group, ...labels },
        annotations: { summary: "s", ...annotations },
        startsAt: "2026-11-25T05:46:52.832573478Z",
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "http://prom.example/graph",
      },
    ],
  });
}
const hugeLabel = (group: string) => notification(group, { instance: "x".repeat(9 * MiB) });
/** At the bounds: `labels` labels of 15 KiB and `annotations` annotations of 60 KiB. */
function atTheBounds(group: string, labels: number, annotations: number): string {
  const l = Object.fromEntries(Array.from({ length: labels }, (_, i) => [`l${i}`, `${group}${i}`.repeat(15 * 1024).slice(0, 15 * 1024)]));
  const a = Object.fromEntries(
    Array.from({ length: annotations }, (_, i) => [
      `a${i}`,
      String(i)
        .repeat(60 * 1024)
        .slice(0, 60 * 1024),
    ]),
  );
  return notification(group, l, a);
}

async function post(svc: ServiceProcess, body: string): Promise<number> {
  const res = await fetch(`${svc.url}/webhooks/alertmanager`, { method: "POST", body, headers: { "content-type": "application/json" } });
  await res.arrayBuffer();
  return res.status;
}
async function get(svc: ServiceProcess, path: string): Promise<{ status: number; bytes: number }> {
  const res = await fetch(`${svc.url}${path}`);
  return { status: res.status, bytes: (await res.arrayBuffer()).byteLength };
}

async function withService(run: (svc: ServiceProcess, dir: string) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "alertdesk-measure-"));
  const svc = await spawnService({ ALERTDESK_DATA_DIR: dir }, 120_000, { outputLimit: 50 });
  try {
    await sleep(1500);
    const baseRssMiB = mib(status(svc.pid, "VmRSS"));
    const figures = await run(svc, dir);
    return { baseRssMiB, ...figures, peakRssMiB: mib(status(svc.pid, "VmHWM")), dbAndWalMiB: dirMiB(dir) };
  } finally {
    await svc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

const CASES: Record<string, () => Promise<Record<string, unknown>>> = {
  /** One webhook carrying one 9 MiB label value. */
  one: () =>
    withService(async (svc) => {
      const r = await timed(() => post(svc, hugeLabel("Big")));
      await sleep(3000);
      return { status: r.value, ms: r.ms };
    }),
  /** Five of them at once. */
  five: () =>
    withService(async (svc) => {
      const r = await timed(() => Promise.all([1, 2, 3, 4, 5].map((i) => post(svc, hugeLabel(`Big${i}`)))));
      await sleep(3000);
      return { statuses: r.value, ms: r.ms };
    }),
  /** Four 8 MB bodies of nested arrays at once, and a small webhook 200 ms later. */
  nested: () =>
    withService(async (svc) => {
      const depth = 4 * MiB - 16;
      const body = `{"alerts":${"[".repeat(depth)}${"]".repeat(depth)}}`;
      const small = (async () => {
        await sleep(200);
        return timed(() => post(svc, notification("Small")));
      })();
      const r = await timed(() => Promise.all([1, 2, 3, 4].map(() => post(svc, body))));
      return { statuses: r.value, ms: r.ms, smallWebhookMs: (await small).ms };
    }),
  /** 32 webhooks with a 9 MiB label value each, then reads of the lists, and a webhook during eight reads. */
  reads: () =>
    withService(async (svc) => {
      const statuses = [];
      for (let i = 0; i < 32; i++) statuses.push(await post(svc, hugeLabel(`Big${i}`)));
      await sleep(8000); // the background worker delivers the tickets
      const one = await timed(() => get(svc, "/api/tickets"));
      const eight = await timed(() => Promise.all(Array.from({ length: 8 }, () => get(svc, "/api/tickets"))));
      const during = timed(() => Promise.all(Array.from({ length: 8 }, () => get(svc, "/api/incidents"))));
      await sleep(100);
      const webhook = await timed(() => post(svc, notification("During")));
      const reads = await during;
      return {
        accepted: statuses.filter((s) => s === 200).length,
        oneTicketsRead: { ...one.value, ms: one.ms },
        eightTicketsReads: { statuses: eight.value.map((v) => v.status), ms: eight.ms },
        eightIncidentsReads: { statuses: reads.value.map((v) => v.status), ms: reads.ms },
        webhookDuringReads: { status: webhook.value, ms: webhook.ms },
      };
    }),
  /** The largest notification the bounds take whole: 200 labels of 15 KiB, 100 annotations of 60 KiB (8.8 MB). */
  bounded: () =>
    withService(async (svc, dir) => {
      const r = await timed(() => post(svc, atTheBounds("Wide", 200, 100)));
      await sleep(3000);
      const tickets = await timed(() => get(svc, "/api/tickets"));
      return {
        status: r.value,
        ms: r.ms,
        files: readdirSync(dir).map((f) => `${f} ${Math.round(statSync(join(dir, f)).size / 1024)} KiB`),
        ticketsRead: { ...tickets.value, ms: tickets.ms },
      };
    }),
  /** 32 notifications of 1.2 MB at the bounds, then 24 list reads at once and a webhook meanwhile. */
  "reads-bounded": () =>
    withService(async (svc) => {
      for (let n = 0; n < 32; n++) await post(svc, atTheBounds(`W${n}`, 50, 8));
      await sleep(8000);
      const paths = ["/api/tickets?limit=1000", "/api/incidents?limit=1000", "/api/deliveries?limit=1000"];
      const reads = timed(() => Promise.all(Array.from({ length: 8 }, () => paths.map((p) => get(svc, p))).flat()));
      await sleep(50);
      const webhook = await timed(() => post(svc, notification("During")));
      const r = await reads;
      return {
        reads: r.value.length,
        statuses: [...new Set(r.value.map((v) => v.status))],
        largestAnswerKiB: Math.round(Math.max(...r.value.map((v) => v.bytes)) / 1024),
        readsMs: r.ms,
        webhookDuringReads: { status: webhook.value, ms: webhook.ms },
      };
    }),
};

const chosen = process.argv.slice(2);
for (const name of chosen.length > 0 ? chosen : Object.keys(CASES)) {
  const run = CASES[name];
  if (!run) throw new Error(`unknown case ${name}; cases: ${Object.keys(CASES).join(", ")}`);
  process.stdout.write(`${JSON.stringify({ case: name, ...(await run()) })}\n`);
}
