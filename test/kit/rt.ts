import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { promisify } from "node:util";
import { ensurePackages } from "./apt.js";
import { alive, childPids, commandLine, httpOk, portInUse, startDaemon, waitFor } from "./daemon.js";
import { parseKeyValues } from "./key-values.js";

const run = promisify(execFile);
const BOOTSTRAP = new URL("../rt/bootstrap.pl", import.meta.url).pathname;
/** The installer of alertdesk's doorbell scrip, the one docs/helpdesks/rt.md gives to operators. */
const DOORBELL_SCRIP = new URL("../../src/drivers/rt/doorbell-scrip.pl", import.meta.url).pathname;
const HOST = "127.0.0.1";
const PACKAGES = ["request-tracker5", "rt5-standalone", "rt5-db-sqlite", "dbconfig-no-thanks", "w3m", "curl"];
const RT_SERVER = "/usr/share/request-tracker5/libexec/rt-server";
const SETUP_DATABASE = "/usr/sbin/rt-setup-database-5";
/** Written into every instance directory this kit creates; only such directories are ever deleted. */
const MARKER = ".alertdesk-rt-instance";
/** Seconds to wait for REST2 to answer: generous, for a loaded machine. */
const START_TIMEOUT_MS = Number(process.env.RT_START_TIMEOUT ?? 300) * 1000;
const WORKERS = Number(process.env.RT_WORKERS ?? 4);

/**
 * Answers to request-tracker5's debconf questions. They only shape the package's own
 * /etc/request-tracker5, which the instances never read (RT_SITE_CONFIG points elsewhere).
 */
const PRESEED = `request-tracker5 request-tracker5/rtname string rt.example.test
request-tracker5 request-tracker5/organization string example.test
request-tracker5 request-tracker5/correspondaddress string rt@example.test
request-tracker5 request-tracker5/commentaddress string rt-comment@example.test
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean false
request-tracker5 request-tracker5/install-cronjobs boolean false
`;

/** An RT user of the instance and an auth token of it (`Authorization: token <token>`). */
export interface RtUser {
  name: string;
  token: string;
}

/** A real Request Tracker 5 (Debian's packages) on loopback, with its own instance directory. */
export interface RtInstance {
  url: string;
  restUrl: string;
  /** root's token (SuperUser). */
  token: string;
  user: string;
  password: string;
  queue: string;
  dedupField: string;
  instanceDir: string;
  /** A second, privileged user acting as an agent on the queue: replies, comments, takes, resolves. */
  agent: RtUser;
  /** A user with only the rights docs/helpdesks/rt.md lists for alertdesk. */
  integration: RtUser;
  stop(): Promise<void>;
}

/** Where RT's doorbell scrip posts (src/drivers/rt/doorbell-scrip.pl), and with which secret. */
export interface RtDoorbellOptions {
  url: string;
  secret: string;
  /** alertdesk's RT user, whose own writes ring no doorbell (default: the integration user). */
  alertdeskUser?: string;
}

/** A Perl string literal for RT_SiteConfig.pm. */
const perl = (s: string) => `'${s.replace(/[\\']/g, "\\$&")}'`;

function siteConfig(dir: string, port: number, doorbell?: RtDoorbellOptions & { alertdeskUser: string; dedupField: string }): string {
  const ring = doorbell
    ? `# Read by the scrip "alertdesk doorbell" (src/drivers/rt/doorbell-scrip.pl).
Set($AlertdeskDoorbellURL, ${perl(doorbell.url)});
Set($AlertdeskDoorbellSecret, ${perl(doorbell.secret)});
Set($AlertdeskUser, ${perl(doorbell.alertdeskUser)});
Set($AlertdeskDedupField, ${perl(doorbell.dedupField)});
`
    : "";
  return `# Written by test/kit/rt.ts for a throwaway test instance; RT_SITE_CONFIG points here.
Set($rtname, 'rt.example.test');
Set($Organization, 'example.test');
Set($Timezone, 'UTC');
Set($WebDomain, '${HOST}');
Set($WebPort, ${port});
Set($WebBaseURL, 'http://${HOST}:${port}');
Set($WebPath, '');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, ${perl(join(dir, "rt.sqlite"))});
Set($CorrespondAddress, 'rt@example.test');
Set($CommentAddress, 'rt-comment@example.test');
# Mail never leaves the machine: it is appended to log/outgoing-mail.mbox.
Set($MailCommand, 'sendmailpipe');
Set($SendmailPath, ${perl(join(dir, "bin", "fake-sendmail"))});
Set($LogToSyslog, undef);
Set($LogToSTDERR, 'error');
Set($LogDir, ${perl(join(dir, "log"))});
Set($LogToFile, 'info');
Set($LogToFileNamed, 'rt.log');
${ring}1;
`;
}

/** Stops the rt-server whose master PID is in `pidFile`: TERM, KILL after `graceMs`, then any worker left. */
async function stopServer(pidFile: string, graceMs: number): Promise<void> {
  if (!existsSync(pidFile)) return;
  const master = Number(readFileSync(pidFile, "utf8").trim());
  rmSync(pidFile, { force: true });
  if (!(master > 0) || !alive(master) || !commandLine(master).includes("rt-server")) return;
  const workers = childPids(master).map((pid) => ({ pid, cmd: commandLine(pid) }));
  const gone = async (pid: number, ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (!alive(pid)) return true;
    return !alive(pid);
  };
  process.kill(master, "SIGTERM");
  if (!(await gone(master, graceMs))) process.kill(master, "SIGKILL");
  await gone(master, 5000);
  // Starlet's workers normally leave with their master; these are the ones that did not.
  for (const w of workers) {
    if (!alive(w.pid) || commandLine(w.pid) !== w.cmd) continue;
    process.kill(w.pid, "SIGTERM");
    if (!(await gone(w.pid, 5000))) process.kill(w.pid, "SIGKILL");
  }
}

/**
 * Installs RT when missing (Debian's request-tracker5 on SQLite with its Starlet server, about 25 s),
 * then creates a fresh instance in `instanceDir` (its own RT_SiteConfig.pm, database, logs, a fake
 * sendmail), bootstraps it with test/rt/bootstrap.pl (queue, dedup custom field, an agent and a
 * least-privileged alertdesk user, auth tokens for them and root), with `doorbell` installs the
 * doorbell scrip, and serves it on 127.0.0.1:`port`. `stop()` stops it and deletes the instance.
 */
export async function startRt(options: { port?: number; instanceDir?: string; doorbell?: RtDoorbellOptions } = {}): Promise<RtInstance> {
  const port = options.port ?? 18180;
  const dir = (options.instanceDir ?? `/tmp/alertdesk-rt-${port}`).replace(/\/+$/, "");
  if (!isAbsolute(dir) || dir === "") throw new Error(`RT instance directory must be an absolute path: ${dir}`);
  const queue = process.env.RT_QUEUE ?? "General";
  const dedupField = process.env.RT_DEDUP_CF ?? "DedupKey";
  const agentName = process.env.RT_AGENT ?? "agent";
  const integrationName = process.env.RT_INTEGRATION ?? "alertdesk";
  const pidFile = join(dir, "rt-server.pid");

  await ensurePackages(PACKAGES, { preseed: PRESEED });
  // Left over from an earlier run: reused only when its server is gone (another run may be using it).
  if (existsSync(dir)) {
    if (!existsSync(join(dir, MARKER))) throw new Error(`${dir} exists and is not an RT test instance; not touching it`);
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : 0;
    if (pid > 0 && alive(pid) && commandLine(pid).includes("rt-server")) {
      throw new Error(`an RT test instance already runs from ${dir} (pid ${pid}); stop it (kill ${pid}) or use another port`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  if (await portInUse(port)) throw new Error(`RT: something already listens on ${HOST}:${port}`);

  for (const d of ["etc/RT_SiteConfig.d", "log", "bin", "var"]) mkdirSync(join(dir, d), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, MARKER), "");
  const mbox = join(dir, "log", "outgoing-mail.mbox");
  writeFileSync(join(dir, "bin", "fake-sendmail"), `#!/bin/sh\n{ echo "From rt@localhost $(date -u)"; cat; echo; } >> '${mbox}'\n`, { mode: 0o755 });
  const doorbell = options.doorbell && { ...options.doorbell, alertdeskUser: options.doorbell.alertdeskUser ?? integrationName, dedupField };
  writeFileSync(join(dir, "etc", "RT_SiteConfig.pm"), siteConfig(dir, port, doorbell), { mode: 0o600 });
  const env = {
    ...process.env,
    RT_SITE_CONFIG: join(dir, "etc", "RT_SiteConfig.pm"),
    RT_SITE_CONFIG_DIR: join(dir, "etc", "RT_SiteConfig.d"),
    RT_QUEUE: queue,
    RT_DEDUP_CF: dedupField,
    RT_AGENT: agentName,
    RT_INTEGRATION: integrationName,
  };
  const step = async (what: string, command: string, args: string[], log: string): Promise<string> => {
    try {
      const { stdout, stderr } = await run(command, args, { env, cwd: dir, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
      writeFileSync(join(dir, "log", log), stderr);
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      const tail = `${e.stdout ?? ""}\n${e.stderr ?? ""}`.trim().split("\n").slice(-30).join("\n");
      throw new Error(`RT ${what} failed: ${e.message}\n${tail}`);
    }
  };

  const password = `rt-${randomBytes(12).toString("hex")}`;
  const passwordFile = join(dir, "var", "root-password");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  try {
    await step("rt-setup-database", SETUP_DATABASE, ["--action", "init", "--root-password-file", passwordFile], "setup-database.log");
  } finally {
    rmSync(passwordFile, { force: true });
  }
  const printed = parseKeyValues(await step("bootstrap", "perl", [BOOTSTRAP], "bootstrap.log"));
  const token = printed.RT_TOKEN;
  if (!token) throw new Error("RT bootstrap printed no RT_TOKEN");
  const agent = { name: printed.RT_AGENT ?? "", token: printed.RT_AGENT_TOKEN ?? "" };
  const integration = { name: printed.RT_INTEGRATION ?? "", token: printed.RT_INTEGRATION_TOKEN ?? "" };
  if (!agent.name || !agent.token || !integration.name || !integration.token) throw new Error("RT bootstrap printed no agent or integration user and token");
  if (doorbell) await step("doorbell scrip", "perl", [DOORBELL_SCRIP], "doorbell-scrip.log");

  const server = startDaemon("rt-server", RT_SERVER, ["--host", HOST, "--port", String(port), "--max-workers", String(WORKERS)], {
    logFile: join(dir, "log", "server.log"),
    cwd: dir,
    env,
  });
  writeFileSync(pidFile, `${server.pid}\n`);
  const url = `http://${HOST}:${port}`;
  const stop = async () => {
    await stopServer(pidFile, 20_000);
    // stopServer found the master by its pid file; the daemon handle also reaps it.
    await server.stop(5000);
    if (existsSync(join(dir, MARKER))) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor("RT's REST2 API", () => httpOk(`${url}/REST/2.0/rt`, { headers: { Authorization: `token ${token}` } }), {
      timeoutMs: START_TIMEOUT_MS,
      daemon: server,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const instance = { url, restUrl: `${url}/REST/2.0`, token, user: "root", password, queue, dedupField, instanceDir: dir, agent, integration };
  // The same as KEY=VALUE lines, for poking at a running instance by hand (`set -a; . rt.env`).
  writeFileSync(
    join(dir, "rt.env"),
    `RT_URL=${instance.url}\nRT_REST_URL=${instance.restUrl}\nRT_TOKEN=${token}\nRT_USER=root\nRT_PASSWORD=${password}\nRT_QUEUE=${queue}\nRT_DEDUP_CF=${dedupField}\nRT_AGENT=${agent.name}\nRT_AGENT_TOKEN=${agent.token}\nRT_INTEGRATION=${integration.name}\nRT_INTEGRATION_TOKEN=${integration.token}\nRT_PID=${server.pid}\nRT_INSTANCE_DIR=${dir}\n`,
    { mode: 0o600 },
  );
  return { ...instance, stop };
}
