import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseKeyValues } from "./key-values.js";

const run = promisify(execFile);
const RT_DIR = new URL("../../../shared/helpdesks/rt/", import.meta.url).pathname;

/** A real Request Tracker 5 (Debian's packages) on loopback, from ../shared/helpdesks/rt. */
export interface RtInstance {
  url: string;
  restUrl: string;
  token: string;
  user: string;
  password: string;
  queue: string;
  dedupField: string;
  instanceDir: string;
  stop(): Promise<void>;
}

/**
 * Installs (when missing, about 25 s) and starts RT with start-rt.sh, on its own port and instance
 * directory; `stop()` stops it and removes the instance.
 */
export async function startRt(options: { port?: number; instanceDir?: string } = {}): Promise<RtInstance> {
  const port = options.port ?? 18180;
  const instanceDir = options.instanceDir ?? `/tmp/alertdesk-rt-${port}`;
  const env = { ...process.env, RT_PORT: String(port), RT_INSTANCE_DIR: instanceDir, DEBIAN_FRONTEND: "noninteractive" };
  const { stdout } = await run("bash", [`${RT_DIR}start-rt.sh`], { env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });
  const vars = parseKeyValues(stdout);
  for (const k of ["RT_URL", "RT_REST_URL", "RT_TOKEN"]) if (!vars[k]) throw new Error(`start-rt.sh printed no ${k}:\n${stdout}`);
  return {
    url: vars.RT_URL as string,
    restUrl: vars.RT_REST_URL as string,
    token: vars.RT_TOKEN as string,
    user: vars.RT_USER ?? "root",
    password: vars.RT_PASSWORD ?? "",
    queue: vars.RT_QUEUE ?? "General",
    dedupField: vars.RT_DEDUP_CF ?? "DedupKey",
    instanceDir,
    async stop() {
      await run("bash", [`${RT_DIR}stop-rt.sh`, "--purge"], { env, timeout: 60_000 }).catch(() => undefined);
    },
  };
}
