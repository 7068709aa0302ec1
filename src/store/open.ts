import { join } from "node:path";
import { createPostgresStore } from "./postgres/store.js";
import { createSqliteStore } from "./sqlite/store.js";
import type { Store } from "./types.js";

/** Opens the configured store: PostgreSQL when a database URL is set, else SQLite in the data directory. */
export async function openStore(
  config: { dataDir: string; databaseUrl?: string; databasePoolMax?: number },
  options: { owner?: boolean } = {},
): Promise<Store> {
  if (config.databaseUrl) {
    return createPostgresStore({ url: config.databaseUrl, ...(config.databasePoolMax ? { poolMax: config.databasePoolMax } : {}) });
  }
  return createSqliteStore({ path: join(config.dataDir, "alertdesk.db"), ...(options.owner ? { owner: true } : {}) });
}
