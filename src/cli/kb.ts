import { loadServiceConfig } from "../config/service.js";
import { formatDuration } from "../model/duration.js";
import { openStore } from "../store/open.js";

export interface KbSearchOptions {
  limit?: string;
  json?: boolean;
  config?: string;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

/**
 * `alertdesk kb search TEXT…`: the built-in knowledge base of ALERTDESK_DATA_DIR (or the config's
 * database), searched as GET /api/kb?q= searches it: every word first, else any, best first.
 */
export async function kbSearch(words: string[], options: KbSearchOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const text = words.join(" ").trim();
  const limit = options.limit === undefined ? 10 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    err.write(`alertdesk kb search: --limit must be a whole number from 1 to 100, got ${JSON.stringify(options.limit)}\n`);
    return 1;
  }
  const config = loadServiceConfig(process.env, options.config ? { configPath: options.config } : {});
  const store = await openStore(config);
  try {
    const entries = await store.searchArchive({ limit, ...(text !== "" ? { q: text } : {}) });
    if (options.json) {
      out.write(`${JSON.stringify({ entries }, null, 2)}\n`);
      return 0;
    }
    if (entries.length === 0) {
      out.write(text === "" ? "the knowledge base is empty\n" : `nothing found for "${text}"\n`);
      return 0;
    }
    for (const e of entries) {
      out.write(`#${e.id}  ${e.title}\n`);
      out.write(
        `    ${e.startedAt.slice(0, 10)}, lasted ${formatDuration(e.durationMs)}, ${e.priority} ${e.category}, ticket ${e.ticketUrl ?? e.ticketId ?? e.ticketKey}\n`,
      );
      out.write(`    ${e.resolutionLine}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}
