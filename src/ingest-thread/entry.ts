import { parentPort, workerData } from "node:worker_threads";
import { readBody, summarize } from "../intake/read-body.js";
import { createGroupCommitter } from "../pipeline/group-commit.js";
import { ingestNotification } from "../pipeline/ingest.js";
import { compileRules, type RuleSet } from "../rules/load.js";
import { createSqliteStore } from "../store/sqlite/store.js";
import { joinWriteLock } from "../store/sqlite/write-lock.js";
import type { FromIngestThread, IngestThreadData, ToIngestThread } from "./messages.js";

/**
 * The ingest thread's composition root (client.ts says what runs here and why): its own connection
 * to the SQLite store, writing in turn with the main thread's through the shared lock, and the same
 * readBody → ingestNotification (plan → apply → group commit) as the single-threaded service.
 */
const port = parentPort;
if (!port) throw new Error("ingest-thread/entry.ts runs as a worker thread (ingest-thread/client.ts starts it)");
const data = workerData as IngestThreadData;
const store = createSqliteStore({ path: data.dbPath, writeLock: joinWriteLock(data.lock) });
const reply = (m: FromIngestThread) => port.postMessage(m);
const committer = createGroupCommitter(store, { onBatch: (size) => reply({ kind: "batch", size }) });
let rules: { version: number; set: RuleSet } | undefined;

function rulesFor(version: number): RuleSet {
  if (rules?.version !== version) throw new Error(`the ingest thread has no rule set ${version}`);
  return rules.set;
}

async function handle(m: Extract<ToIngestThread, { kind: "ingest" | "body" }>): Promise<void> {
  try {
    // Read before the first await: the rule set and the order are those of the message's arrival.
    const current = rulesFor(m.version);
    const receivedAt = new Date(m.receivedAt);
    if (m.kind === "ingest") {
      reply({ kind: "done", id: m.id, result: await ingestNotification(committer, m.notification, receivedAt, current, data.defaultHelpdesk) });
      return;
    }
    const read = readBody(m.source, m.body);
    if (m.tellRead) reply({ kind: "parsed", id: m.id });
    if (!read.ok) {
      reply({ kind: "read", id: m.id, result: read });
      return;
    }
    const result = await ingestNotification(committer, read.notification, receivedAt, current, data.defaultHelpdesk);
    reply({
      kind: "read",
      id: m.id,
      result: {
        ok: true,
        summary: summarize(read.notification),
        ...(read.truncated ? { truncated: read.truncated } : {}),
        result,
      },
    });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply({ kind: "failed", id: m.id, error: { name: e.name, message: e.message } });
    // A writer that stopped for good (a failed fsync) fails every notification from now on: say so,
    // so the main thread stops taking webhooks and is no longer ready.
    await store.ping().catch((broken: Error) => reply({ kind: "fatal", error: { name: broken.name, message: broken.message } }));
  }
}

port.on("message", (m: ToIngestThread) => {
  switch (m.kind) {
    case "rules":
      // The main thread loaded and checked these texts already; they compile the same here.
      rules = { version: m.version, set: compileRules(m.sources) };
      return;
    case "ingest":
    case "body":
      void handle(m);
      return;
    case "close":
      void (async () => {
        await committer.drain();
        await store.close();
        reply({ kind: "closed" });
      })();
      return;
  }
});
reply({ kind: "ready" });
