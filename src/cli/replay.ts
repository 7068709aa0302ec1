import { loadServiceConfig } from "../config/service.js";
import { openStore } from "../store/open.js";

export interface ReplayOptions {
  all?: boolean;
  config?: string;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

/**
 * `alertdesk replay [ids...] [--all]`: puts dead letters back in the outbox (attempts reset), on the
 * store of ALERTDESK_DATA_DIR; a running alertdesk delivers them. Same as POST /api/deliveries/replay.
 */
export async function replay(ids: string[], options: ReplayOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  if (!options.all && ids.length === 0) {
    err.write("alertdesk replay: name dead letters by id (GET /api/deliveries?state=dead), or --all\n");
    return 1;
  }
  const numbers = ids.map(Number);
  const bad = ids.filter((_, i) => !Number.isSafeInteger(numbers[i]));
  if (bad.length > 0) {
    err.write(`alertdesk replay: not a delivery id: ${bad.join(", ")}\n`);
    return 1;
  }
  const config = loadServiceConfig(process.env, options.config ? { configPath: options.config } : {});
  const store = await openStore(config);
  try {
    const n = await store.requeueDead(options.all ? "all" : numbers, new Date());
    out.write(`${n} dead letter${n === 1 ? "" : "s"} queued again\n`);
    return 0;
  } finally {
    await store.close();
  }
}
