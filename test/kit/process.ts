import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

/** alertdesk running as its own OS process (`alertdesk serve`), so a test can kill -9 it. */
export interface ServiceProcess {
  url: string;
  pid: number;
  output: string[];
  /** Sends the signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `alertdesk serve` from the sources (one node process: `node --import tsx`, so a kill
 * reaches the service itself, not a wrapper) on a free loopback port, and waits for it to listen.
 */
export async function spawnService(
  env: Record<string, string>,
  // Starting takes a second or two; on a slow, busy machine (tsx compiling the sources) far longer.
  timeoutMs = 120_000,
  options: { compiled?: boolean /** Keep only the last lines of output (a benchmark's millions of log lines). */; outputLimit?: number } = {},
): Promise<ServiceProcess> {
  // compiled: what `npm start` runs (dist/, built by npm ci); else the sources through tsx.
  const args = options.compiled ? [join(ROOT, "bin/alertdesk.js"), "serve"] : ["--import", "tsx", join(ROOT, "src/cli/index.ts"), "serve"];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", ALERTDESK_LISTEN_ADDRESS: "127.0.0.1", ALERTDESK_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = once(child, "exit");
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL"); // never leave a half-started service behind
      reject(new Error(`alertdesk did not start within ${timeoutMs} ms:\n${output.join("")}`));
    }, timeoutMs);
    // Only until it has started: searching a buffer that grows with every log line would cost the
    // test (or the benchmark's load generator) more and more CPU.
    let buffered: string | undefined = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output.push(chunk.toString());
      if (options.outputLimit !== undefined && output.length > options.outputLimit) output.splice(0, output.length - options.outputLimit);
      if (buffered === undefined) return;
      buffered += chunk.toString();
      const m = /"port":(\d+)[^\n]*"msg":"alertdesk started"/.exec(buffered);
      if (m) {
        buffered = undefined;
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`alertdesk exited with ${code} before listening:\n${output.join("")}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    output,
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
