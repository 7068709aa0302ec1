import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";

/** A long-running helper process (Prometheus, RT, …) that a test kit started and must stop. */
export interface Daemon {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** True once the process has exited. */
  exited(): boolean;
  /** The end of its log, for error messages. */
  logTail(lines?: number): string;
  /** TERM, then KILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Daemon>();
let exitHook = false;

/**
 * Starts `command` with stdout and stderr appended to `logFile`. It stays in the test's process
 * group (a Ctrl-C stops it too), and is killed when the test process exits without stopping it.
 */
export function startDaemon(name: string, command: string, args: string[], options: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv }): Daemon {
  const fd = openSync(options.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
  let failed = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    // A binary that cannot be started surfaces as an 'error' event, not as a thrown error.
    child.once("error", () => {
      failed = true;
      resolve();
    });
  });
  const daemon: Daemon = {
    name,
    pid: child.pid ?? -1,
    child,
    logFile: options.logFile,
    exited: () => failed || child.exitCode !== null || child.signalCode !== null || child.pid === undefined,
    logTail(lines = 30) {
      try {
        return readFileSync(options.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    },
    async stop(graceMs = 10_000) {
      running.delete(daemon);
      if (daemon.exited()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
  running.add(daemon);
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const d of running) if (!d.exited()) d.child.kill("SIGKILL");
    });
  }
  return daemon;
}

/** Polls `probe` every 500 ms until it returns true; fails at the deadline or when `daemon` exits. */
export async function waitFor(what: string, probe: () => Promise<boolean>, options: { timeoutMs: number; daemon?: Daemon }): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (options.daemon?.exited()) throw new Error(`${options.daemon.name} exited while waiting for ${what}:\n${options.daemon.logTail()}`);
    if (Date.now() - started > options.timeoutMs) {
      throw new Error(
        `${what}: not ready after ${Math.round(options.timeoutMs / 1000)} s${options.daemon ? `; ${options.daemon.name}'s log:\n${options.daemon.logTail()}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** GET `url`; true when the answer is 200 (and its body contains `text`, when given). */
export async function httpOk(url: string, options: { headers?: Record<string, string>; contains?: string } = {}): Promise<boolean> {
  const res = await fetch(url, { headers: options.headers ?? {}, signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  return res.ok && (options.contains === undefined || body.includes(options.contains));
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Linux process state of `pid` (R, S, Z, …), undefined when there is no such process. */
export function processState(pid: number): string | undefined {
  try {
    // /proc/PID/stat: "pid (comm) state ppid …"; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/** Alive: it exists and is not a zombie (a dead process nobody has reaped yet). */
export function alive(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== "Z" && state !== "X";
}

/** The PIDs whose parent is `pid`. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The command line of `pid`, "" when it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}
