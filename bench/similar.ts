/**
 * The similar-incidents look-up a new incident's ticket costs on the webhook path, at 1,000 and at
 * 100,000 archived entries, on SQLite and PostgreSQL: the store's bounded index reads plus the
 * ranking, timed inside the ingest transaction, beside the read every notification makes anyway
 * (the latest incident of its key) as the baseline of the same run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { NewArchiveEntry, SimilarQuery } from "../src/model/archive.js";
import { type Incident, ticketKeyFor } from "../src/model/incident.js";
import { createPostgresStore } from "../src/store/postgres/store.js";
import { createSqliteStore } from "../src/store/sqlite/store.js";
import type { Store } from "../src/store/types.js";
import { createTestDatabase } from "../test/kit/postgres.js";

const ALERTNAMES = 300;
const INSTANCES = 2_000;
const JOBS = 20;
const SERVICES = 60;

function labelsOf(n: number): Record<string, string> {
  return {
    alertname: `Alert${n % ALERTNAMES}`,
    instance: `host-${(n * 7) % INSTANCES}:9100`,
    job: `job-${n % JOBS}`,
    service: `svc-${(n * 13) % SERVICES}`,
    severity: ["warning", "critical", "page"][n % 3] as string,
    env: n % 5 === 0 ? "staging" : "production",
  };
}

function incidentOf(n: number): Incident {
  const at = new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString();
  const key = `{}:{bench="${n}"}`;
  return {
    dedupKey: key,
    seq: 1,
    ticketKey: ticketKeyFor(key, 1),
    state: "resolved",
    priority: "P3",
    category: "performance",
    rule: null,
    helpdesk: "builtin",
    onResolved: "solve",
    reopenWithinMs: 86_400_000,
    source: "alertmanager",
    receiver: "alertdesk",
    groupLabels: {},
    externalURL: "",
    truncatedAlerts: 0,
    alerts: [],
    openedAt: at,
    updatedAt: at,
    resolvedAt: at,
    dueAt: at,
    recurrences: 0,
  };
}

function entryOf(n: number, incidentId: number): NewArchiveEntry {
  const labels = labelsOf(n);
  const at = new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString();
  const resolution = n % 2 === 0 ? `Restarted ${labels.service} on ${labels.instance} after the ${labels.alertname} alert.` : "";
  return {
    incidentId,
    ticketKey: `ad-bench-${n}`,
    title: `${labels.alertname} on ${labels.instance} — 2026-01-01 (ad-bench-${n})`,
    labels,
    keywords: [labels.alertname as string, labels.job as string, labels.service as string, "performance", "P3"],
    resolution,
    resolutionLine: resolution || "Resolved by itself",
    outcome: n % 2 === 0 ? "fixed" : "resolved by itself",
    body: `## Summary\n\n${labels.alertname} fired on ${labels.instance} (${labels.service}). ${resolution}`.repeat(3),
    doc: [{ kind: "paragraph", text: `${labels.alertname} on ${labels.instance}` }],
    alertname: labels.alertname as string,
    priority: "P3",
    category: "performance",
    helpdesk: "builtin",
    ticketId: String(n),
    ticketUrl: null,
    startedAt: at,
    endedAt: at,
    durationMs: 600_000,
  };
}

export async function fill(store: Store, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 5_000) {
    const end = Math.min(to, start + 5_000);
    const ids = await store.transaction(async (tx) => {
      const out: number[] = [];
      for (let n = start; n < end; n++) out.push(await tx.insertIncident(incidentOf(n)));
      return out;
    });
    await store.syncTransaction(async (tx) => {
      for (let n = start; n < end; n++) await tx.saveArchiveEntry(entryOf(n, ids[n - start] as number), new Date());
    });
  }
}

const quantile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Times `samples` look-ups and baseline reads inside ingest transactions (the transaction's own cost left out). */
async function measure(store: Store, samples: number) {
  const lookup: number[] = [];
  const baseline: number[] = [];
  let found = 0;
  for (let k = 0; k < samples; k++) {
    const labels = labelsOf(k * 31 + 5);
    const query: SimilarQuery = { alertname: labels.alertname as string, labels, limit: 3 };
    await store.transaction(async (tx) => {
      const t0 = performance.now();
      await tx.latestIncidents([`{}:{bench="${k}"}`]);
      const t1 = performance.now();
      const ranked = await tx.similarIncidents(query);
      const t2 = performance.now();
      baseline.push(t1 - t0);
      lookup.push(t2 - t1);
      found += ranked.length;
    });
  }
  return {
    lookupP50ms: round(quantile(lookup, 0.5)),
    lookupP99ms: round(quantile(lookup, 0.99)),
    baselineP50ms: round(quantile(baseline, 0.5)),
    ratioP50: round(quantile(lookup, 0.5) / Math.max(0.001, quantile(baseline, 0.5))),
    similarPerTicket: round(found / samples),
  };
}

async function oneStore(name: string, store: Store, log: (s: string) => void, analyze?: () => Promise<void>) {
  const rows: Record<string, unknown>[] = [];
  let filled = 0;
  for (const size of [1_000, 100_000]) {
    const t = performance.now();
    await fill(store, filled, size);
    filled = size;
    await analyze?.();
    const m = await measure(store, 500);
    rows.push({ entries: size, fillSeconds: Math.round((performance.now() - t) / 100) / 10, ...m });
    log(
      `   ${name}, ${size.toLocaleString("en")} entries: look-up p50 ${m.lookupP50ms} ms, p99 ${m.lookupP99ms} ms (the key's latest-incident read: p50 ${m.baselineP50ms} ms; ratio ${m.ratioP50}); ${m.similarPerTicket} similar per ticket`,
    );
  }
  return rows;
}

export async function similarLookup(log: (s: string) => void): Promise<Record<string, unknown>> {
  log("7. similar past incidents: the look-up per new incident at 1,000 and 100,000 archived entries (target: at most 1 ms)");
  const dir = mkdtempSync(join(tmpdir(), "alertdesk-bench-similar-"));
  const out: Record<string, unknown> = {};
  try {
    const sqlite = createSqliteStore({ path: join(dir, "alertdesk.db") });
    try {
      out.sqlite = await oneStore("sqlite", sqlite, log);
    } finally {
      await sqlite.close();
    }
    const db = await createTestDatabase();
    try {
      const store = await createPostgresStore({ url: db.url });
      try {
        // A table loaded in one go has no statistics until autovacuum's next round; a production archive
        // grows a few entries at a time and is analysed as it grows (ANALYZE now stands in for that).
        const analyze = async () => {
          const client = new pg.Client({ connectionString: db.url });
          await client.connect();
          await client.query("ANALYZE kb_entries, kb_labels");
          await client.end();
        };
        out.postgres = await oneStore("postgres", store, log, analyze);
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
