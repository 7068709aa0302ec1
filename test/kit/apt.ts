import { execFile } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Where Debian's invoke-rc.d asks whether a package may start its daemon (exit 101: no). */
const POLICY_RC_D = "/usr/sbin/policy-rc.d";
/** How long apt-get waits for another apt or dpkg to let go of its lock, in seconds. */
const LOCK_TIMEOUT = "600";
const ATTEMPTS = 3;

export interface EnsurePackagesOptions {
  /** Package → a command it provides: the package counts as present when that command is on PATH. */
  commands?: Record<string, string>;
  /** debconf-set-selections lines, set before installing. */
  preseed?: string;
  /** Progress messages (default: stderr). */
  log?: (message: string) => void;
}

/** Whether `command` is an executable file in one of PATH's directories. */
export function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** The packages of `names` that dpkg does not list as "install ok installed". */
async function notInstalled(names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  // dpkg-query exits 1 when it knows some name not at all, yet still prints the others.
  const out = await run("dpkg-query", ["-W", "-f=${Package} ${Status}\\n", ...names]).then(
    (r) => r.stdout,
    (e: { stdout?: string }) => e.stdout ?? "",
  );
  const installed = new Set(
    out
      .split("\n")
      .map((l) => /^(\S+) install ok installed$/.exec(l.trim())?.[1]?.replace(/:.*$/, ""))
      .filter((p): p is string => p !== undefined),
  );
  return names.filter((n) => !installed.has(n));
}

/** Root runs apt itself; anyone else goes through a password-less sudo. */
function asRoot(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? [command, args] : ["sudo", ["-n", command, ...args]];
}

async function rootRun(command: string, args: string[], input?: string, timeout = 900_000): Promise<void> {
  const [cmd, argv] = asRoot(command, args);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await new Promise<void>((resolve, reject) => {
    const child = execFile(cmd, argv, { env, timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve();
      const tail = `${stdout}\n${stderr}`.trim().split("\n").slice(-25).join("\n");
      reject(new Error(`${command} ${args.join(" ")} failed: ${err.message}\n${tail}`));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Installs the Debian packages of `packages` that are missing, without starting their daemons:
 * `apt-get update` and `apt-get install --no-install-recommends`, non-interactive, waiting for the
 * dpkg lock, three attempts. A policy-rc.d that forbids starting services is put in place for the
 * install when the machine has none, and removed afterwards.
 */
export async function ensurePackages(packages: string[], options: EnsurePackagesOptions = {}): Promise<void> {
  const log = options.log ?? ((m: string) => process.stderr.write(`[apt] ${m}\n`));
  const byCommand = packages.filter((p) => options.commands?.[p] !== undefined);
  const missing = [
    ...byCommand.filter((p) => !onPath(options.commands?.[p] as string)),
    ...(await notInstalled(packages.filter((p) => !byCommand.includes(p)))),
  ];
  if (missing.length === 0) return;
  log(`installing ${missing.join(" ")}`);
  const started = Date.now();
  if (options.preseed) await rootRun("debconf-set-selections", [], options.preseed);
  const addedPolicy = !existsSync(POLICY_RC_D);
  if (addedPolicy) await rootRun("sh", ["-c", `printf '#!/bin/sh\\nexit 101\\n' > ${POLICY_RC_D} && chmod 755 ${POLICY_RC_D}`]);
  try {
    const lock = ["-o", `DPkg::Lock::Timeout=${LOCK_TIMEOUT}`];
    for (let attempt = 1; ; attempt++) {
      try {
        await rootRun("apt-get", [...lock, "-q", "update"]);
        await rootRun("apt-get", [
          ...lock,
          "-o",
          "Dpkg::Options::=--force-confdef",
          "-o",
          "Dpkg::Options::=--force-confold",
          "install",
          "-y",
          "-q",
          "--no-install-recommends",
          ...missing,
        ]);
        break;
      } catch (err) {
        if (attempt >= ATTEMPTS) throw err;
        log(`attempt ${attempt} failed (another apt running? a mirror hiccup?); again in 15 s: ${(err as Error).message.split("\n")[0]}`);
        await new Promise((r) => setTimeout(r, 15_000));
      }
    }
  } finally {
    if (addedPolicy) await rootRun("rm", ["-f", POLICY_RC_D]).catch(() => undefined);
  }
  const still = [...byCommand.filter((p) => !onPath(options.commands?.[p] as string)), ...(await notInstalled(missing.filter((p) => !byCommand.includes(p))))];
  if (still.length > 0) throw new Error(`still missing after apt-get install: ${still.join(" ")}`);
  log(`installed in ${Math.round((Date.now() - started) / 1000)} s`);
}
