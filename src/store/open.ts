import { join } from "node:path";
import { createPostgresStore } from "./postgres/store.js";
import { createSqliteStore } from "./sqlite/store.js";
import type { WriteLock } from "./sqlite/write-lock.js";
import type { Store } from "./types.js";

/** The embedded store's file in the data directory. */
export function sqlitePath(dataDir: string): string {
  return join(dataDir, "alertdesk.db");
}

/** Opens the configured store: PostgreSQL when a database URL is set, else SQLite in the data directory. */
export async function openStore(
  config: { dataDir: string; databaseUrl?: string; databasePoolMax?: number },
  options: { owner?: boolean; writeLock?: WriteLock } = {},
): Promise<Store> {
  if (config.databaseUrl) {
    return createPostgresStore({ url: config.databaseUrl, ...(config.databasePoolMax ? { poolMax: config.databasePoolMax } : {}) });
  }
  return createSqliteStore({
    path: sqlitePath(config.dataDir),
    ...(options.owner ? { owner: true } : {}),
    ...(options.writeLock ? { writeLock: options.writeLock } : {}),
  });
}
