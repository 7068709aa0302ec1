/**
 * A real Zabbix 6.0 on loopback, from Debian's packages: server, agent and the frontend's JSON-RPC API.
 *
 * Facts (Debian 12 bookworm, checked with apt-cache policy):
 * - zabbix-server-pgsql, zabbix-agent, zabbix-agent2 and zabbix-frontend-php are 1:6.0.14+dfsg-1
 *   (API version 6.0.14); PHP is 8.2 (php-cli, php-pgsql, php-cgi). There is no zabbix-sender
 *   package: zabbix_sender comes with zabbix-agent, zabbix_get and zabbix_js with the server. psql is
 *   from postgresql-client. zabbix-agent2 is not used: the classic agent is enough for system.cpu.util.
 * - php-cgi is listed first on purpose. It satisfies php8.2's "libapache2-mod-php8.2 | php8.2-fpm |
 *   php8.2-cgi", so apt does not pull in Apache. The packages' postinst start nothing: apt.ts keeps
 *   policy-rc.d saying no. Installing takes about 3 min on a slow machine.
 * - The database is `zabbix_test_<random>` (a role of the same name owns it) on the machine's
 *   PostgreSQL. It is loaded from /usr/share/zabbix-server-pgsql/{schema,images,data}.sql.gz with psql
 *   (about 15 s), and stop() drops it.
 * - Ports: zabbix_server on 127.0.0.1:portBase (trapper, for zabbix_sender and the agent's active
 *   checks), zabbix_agentd on portBase+1 (passive checks), `php -S` on portBase+2 (frontendUrl,
 *   apiUrl = frontendUrl/api_jsonrpc.php). Zabbix takes a ListenPort only in 1024-32767, so
 *   portBase+1 must be at most 32767. 41000 is refused, and 32768-60999 is Linux's ephemeral range anyway.
 * - Each daemon runs in the foreground (`-f`, LogType=console) as a child of the test. The kit owns
 *   its PID and its output goes to dir/logs/*.log. As root both run with AllowRoot=1 and do not switch
 *   to the zabbix user. Their configs (dir/zabbix_server.conf, dir/zabbix_agentd.conf) include
 *   nothing from /etc/zabbix. Server sockets and temporary files go to dir/run.
 * - The frontend reads its config from CConfigFile::CONFIG_FILE_PATH. Debian patched that class
 *   constant to /etc/zabbix/zabbix.conf.php, and no environment variable overrides it. So php runs
 *   with auto_prepend_file=dir/frontend/prepend.php, which defines CConfigFile before the autoloader
 *   does: the package's own class with only the constant changed, pointing at
 *   dir/frontend/zabbix.conf.php. Nothing under /etc is written.
 * - Before the server starts, the kit uses the API to delete the 325 stock templates and the stock
 *   "Zabbix server" host (22-43 s here). With them in place, each configuration sync takes about 1 s of
 *   PostgreSQL CPU. Without them a sync takes about 20 ms, so CacheUpdateFrequency can be 2 s: the
 *   server sees API changes within about 2 s, with no manual reload.
 * - Order matters when a test configures Zabbix. The server's configuration sync reads items before
 *   triggers, functions and actions. So a trapper value that the server accepts (see send()) proves
 *   the server also knows every trigger and action created before that item was created or enabled.
 * - Also there: the frontend URL setting and the global macro {$ZABBIX.URL}, both frontendUrl, for
 *   links in media types; user Admin/zabbix.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { createGunzip } from "node:zlib";
import pg from "pg";
import { ensurePackages } from "./apt.js";
import { alive, childPids, commandLine, type Daemon, portInUse, startDaemon, waitFor } from "./daemon.js";
import { PG_ADMIN_URL } from "./postgres.js";

const run = promisify(execFile);
const HOST = "127.0.0.1";
/** The order is deliberate: php-cgi first keeps Apache out (see above). */
const PACKAGES = ["php-cgi", "php-cli", "php-pgsql", "postgresql-client", "zabbix-server-pgsql", "zabbix-agent", "zabbix-frontend-php"];
/** Packages recognised by a command they provide (psql may come from postgresql-client-15 alone). */
const COMMANDS: Record<string, string> = { "postgresql-client": "psql" };
const SERVER = "/usr/sbin/zabbix_server";
const AGENT = "/usr/sbin/zabbix_agentd";
const SENDER = "/usr/bin/zabbix_sender";
const FRONTEND = "/usr/share/zabbix";
const SCHEMA_DIR = "/usr/share/zabbix-server-pgsql";
const SCHEMA_FILES = ["schema.sql.gz", "images.sql.gz", "data.sql.gz"];
const CONFIG_CLASS = join(FRONTEND, "include/classes/core/CConfigFile.php");
/** Written into the kit's dir; a leftover state file is only acted on where this marker is. */
const MARKER = ".alertdesk-zabbix-kit";
const STATE = "zabbix-kit.json";
/** The agent's Hostname: the host a test creates must carry this name for active checks and zabbix_sender. */
export const ZABBIX_AGENT_HOST = "alertdesk-test-host";
/** Seconds each step may take to be ready: generous, for a slow, busy machine. */
const READY_TIMEOUT_MS = Number(process.env.ZABBIX_START_TIMEOUT ?? 300) * 1000;
/** Per API request; deleting the stock templates is the slowest (up to about 45 s here). */
const API_TIMEOUT_MS = 600_000;

export interface ZabbixOptions {
  /** zabbix_server +0, zabbix_agentd +1, the frontend (php -S) +2; Zabbix needs portBase+1 <= 32767. */
  portBase: number;
  /** Absolute directory for the configs, logs and sockets; created when missing, left in place by stop(). */
  dir: string;
  /** Progress messages (default: stderr). */
  log?: (message: string) => void;
}

export interface Zabbix {
  /** The JSON-RPC endpoint (frontendUrl/api_jsonrpc.php). */
  apiUrl: string;
  /** The frontend, without a trailing slash; also the "Frontend URL" setting and {$ZABBIX.URL}. */
  frontendUrl: string;
  serverPort: number;
  agentPort: number;
  /** The agent's Hostname (ZABBIX_AGENT_HOST). */
  agentHost: string;
  /** The API's version, e.g. "6.0.14". */
  version: string;
  database: string;
  dir: string;
  serverPid: number;
  agentPid: number;
  frontendPid: number;
  /** A JSON-RPC call as Admin (the session token goes in `auth`, as 6.0 wants); throws on an API error. */
  api<T = unknown>(method: string, params?: unknown): Promise<T>;
  /** configuration.import of a YAML export (`zabbix_export:` …); the rules default to media types, created or updated. */
  importYaml(source: string, rules?: Record<string, unknown>): Promise<void>;
  /**
   * Sends one value for a trapper item with zabbix_sender (host: the agent's by default). Retries until
   * the server accepts it: the server refuses values for an item that its configuration cache does
   * not know yet, which is up to CacheUpdateFrequency (2 s) after the item is created.
   */
  send(key: string, value: string | number, options?: { host?: string; timeoutMs?: number }): Promise<void>;
  /** Stops the agent, the server and the frontend (by PID), then drops the database and its role. */
  stop(): Promise<void>;
}

interface KitState {
  database: string;
  pids: number[];
}

/** A single-quoted PHP string literal. */
const php = (s: string) => `'${s.replace(/[\\']/g, "\\$&")}'`;

function adminClient(): pg.Client {
  return new pg.Client({ connectionString: PG_ADMIN_URL });
}

async function dropDatabase(name: string): Promise<void> {
  if (!/^zabbix_test_[0-9a-f]+$/.test(name)) throw new Error(`not a zabbix kit database: ${name}`);
  const c = adminClient();
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${name}`);
  } finally {
    await c.end();
  }
}

/** A previous run that used `dir` and died without stop(): refuse if its processes live, else drop its database. */
async function cleanUpAfterEarlierRun(dir: string): Promise<void> {
  const stateFile = join(dir, STATE);
  if (!existsSync(stateFile)) return;
  if (!existsSync(join(dir, MARKER))) throw new Error(`${dir} has ${STATE} but no ${MARKER}; not touching it`);
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as KitState;
  for (const pid of state.pids) {
    if (alive(pid) && /zabbix_|php/.test(commandLine(pid))) {
      throw new Error(`a Zabbix kit already runs from ${dir} (pid ${pid}: ${commandLine(pid)}); stop it or use another dir`);
    }
  }
  await dropDatabase(state.database);
  rmSync(stateFile, { force: true });
}

/** Loads the package's schema, images and data into `database` as its owner, with psql. */
async function loadSchema(database: string, pgHost: string, pgPort: string): Promise<void> {
  const missing = SCHEMA_FILES.filter((f) => !existsSync(join(SCHEMA_DIR, f)));
  if (missing.length > 0) throw new Error(`zabbix-server-pgsql ships no ${missing.join(", ")} in ${SCHEMA_DIR}; update test/kit/zabbix.ts`);
  for (const file of SCHEMA_FILES) {
    const child = spawn("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pgHost, "-p", pgPort, "-U", database, "-d", database, "-f", "-"], {
      // Throwaway data: no need to wait for the disk at every commit.
      env: { ...process.env, PGOPTIONS: "-c synchronous_commit=off -c client_min_messages=warning" },
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => resolve(code));
    });
    const fed = child.stdin ? pipeline(createReadStream(join(SCHEMA_DIR, file)), createGunzip(), child.stdin) : Promise.resolve();
    const [code] = await Promise.all([exited, fed.catch(() => undefined)]);
    if (code !== 0) throw new Error(`psql ${file} into ${database} failed (exit ${code}):\n${stderr.trim()}`);
  }
}

function serverConfig(o: { port: number; dir: string; runDir: string; database: string; pgHost: string; pgPort: string }): string {
  return `# Written by test/kit/zabbix.ts for a throwaway test server.
ListenIP=${HOST}
ListenPort=${o.port}
LogType=console
DebugLevel=3
PidFile=${join(o.runDir, "zabbix_server.pid")}
SocketDir=${o.runDir}
TmpDir=${o.runDir}
DBHost=${o.pgHost}
DBPort=${o.pgPort}
DBName=${o.database}
DBUser=${o.database}
AllowRoot=1
# Few processes: this server watches one host.
StartPollers=2
StartPollersUnreachable=1
StartPreprocessors=1
StartHistoryPollers=1
StartTrappers=2
StartPingers=0
StartDiscoverers=0
StartHTTPPollers=0
StartTimers=1
StartEscalators=1
StartAlerters=1
StartDBSyncers=1
StartLLDProcessors=1
StartODBCPollers=0
StartProxyPollers=0
StartSNMPTrapper=0
StartVMwareCollectors=0
StartJavaPollers=0
StartIPMIPollers=0
StartReportWriters=0
# API changes reach the server within 2 s (cheap without the stock templates).
CacheUpdateFrequency=2
CacheSize=16M
HousekeepingFrequency=0
Timeout=10
AlertScriptsPath=${join(o.dir, "alertscripts")}
ExternalScripts=${join(o.dir, "externalscripts")}
FpingLocation=/usr/bin/fping
`;
}

function agentConfig(o: { port: number; serverPort: number; runDir: string }): string {
  return `# Written by test/kit/zabbix.ts for a throwaway test agent.
ListenIP=${HOST}
ListenPort=${o.port}
LogType=console
PidFile=${join(o.runDir, "zabbix_agentd.pid")}
Server=${HOST}
ServerActive=${HOST}:${o.serverPort}
Hostname=${ZABBIX_AGENT_HOST}
AllowRoot=1
StartAgents=2
Timeout=10
`;
}

function frontendConfig(o: { database: string; pgHost: string; pgPort: string; serverPort: number }): string {
  return `<?php
// Written by test/kit/zabbix.ts; dir/frontend/prepend.php makes the frontend read this file.
$DB['TYPE'] = 'POSTGRESQL';
$DB['SERVER'] = ${php(o.pgHost)};
$DB['PORT'] = ${php(o.pgPort)};
$DB['DATABASE'] = ${php(o.database)};
$DB['USER'] = ${php(o.database)};
$DB['PASSWORD'] = '';
$DB['SCHEMA'] = '';
$DB['ENCRYPTION'] = false;
$DB['KEY_FILE'] = '';
$DB['CERT_FILE'] = '';
$DB['CA_FILE'] = '';
$DB['VERIFY_HOST'] = false;
$DB['CIPHER_LIST'] = '';
$DB['VAULT_URL'] = '';
$DB['VAULT_DB_PATH'] = '';
$DB['VAULT_TOKEN'] = '';
$DB['DOUBLE_IEEE754'] = true;
$ZBX_SERVER = '${HOST}';
$ZBX_SERVER_PORT = '${o.serverPort}';
$ZBX_SERVER_NAME = 'alertdesk-test';
$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
`;
}

/** The package's CConfigFile with CONFIG_FILE_PATH pointing at `configFile`; fails when the class changed. */
function patchedConfigClass(configFile: string): string {
  const source = readFileSync(CONFIG_CLASS, "utf8");
  const pattern = /const CONFIG_FILE_PATH = '[^']*';/;
  if (!pattern.test(source)) throw new Error(`${CONFIG_CLASS} has no "const CONFIG_FILE_PATH = '…';"; update test/kit/zabbix.ts`);
  return source.replace(pattern, `const CONFIG_FILE_PATH = ${php(configFile)};`);
}

interface RpcAnswer<T> {
  result?: T;
  error?: { code: number; message: string; data?: string };
}

async function rpc<T>(url: string, method: string, params: unknown, auth?: string): Promise<T> {
  const body: Record<string, unknown> = { jsonrpc: "2.0", method, params: params ?? {}, id: 1 };
  if (auth !== undefined) body.auth = auth;
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json-rpc" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(API_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`zabbix API ${method}: HTTP ${res.status} ${text.slice(0, 500)}`);
  let answer: RpcAnswer<T>;
  try {
    answer = JSON.parse(text) as RpcAnswer<T>;
  } catch {
    throw new Error(`zabbix API ${method}: not JSON: ${text.slice(0, 500)}`);
  }
  if (answer.error) throw new Error(`zabbix API ${method}: ${answer.error.message} ${answer.error.data ?? ""} (code ${answer.error.code})`);
  return answer.result as T;
}

/** Stops `daemon` and then any of the children it had that outlived it (by PID, checking each is still the same process). */
async function stopWithChildren(daemon: Daemon | undefined, graceMs: number): Promise<void> {
  if (!daemon) return;
  const children = daemon.exited() ? [] : childPids(daemon.pid).map((pid) => ({ pid, cmd: commandLine(pid) }));
  await daemon.stop(graceMs);
  for (const c of children) {
    if (!alive(c.pid) || commandLine(c.pid) !== c.cmd) continue;
    process.kill(c.pid, "SIGKILL");
  }
}

/**
 * Starts Zabbix 6.0 on 127.0.0.1: installs Debian's packages when missing, creates and loads its own
 * database, serves the frontend with `php -S`, logs in to the API as Admin, removes the stock
 * templates and host, then starts zabbix_server and zabbix_agentd in the foreground. On failure
 * everything it started is stopped and the database dropped.
 */
export async function startZabbix(options: ZabbixOptions): Promise<Zabbix> {
  const log = options.log ?? ((m: string) => process.stderr.write(`[zabbix] ${m}\n`));
  const dir = options.dir.replace(/\/+$/, "");
  if (!isAbsolute(dir) || dir === "") throw new Error(`zabbix kit: dir must be an absolute path: ${options.dir}`);
  const ports = { server: options.portBase, agent: options.portBase + 1, frontend: options.portBase + 2 };
  if (!(ports.server >= 1024 && ports.agent <= 32767)) {
    throw new Error(`zabbix kit: portBase ${options.portBase}: Zabbix accepts ListenPort 1024-32767 only (server portBase, agent portBase+1)`);
  }
  const started = Date.now();
  const seconds = (since: number) => `${Math.round((Date.now() - since) / 1000)} s`;
  await ensurePackages(PACKAGES, { commands: COMMANDS });
  for (const port of Object.values(ports)) if (await portInUse(port)) throw new Error(`zabbix kit: ${HOST}:${port} is already in use`);

  mkdirSync(dir, { recursive: true });
  await cleanUpAfterEarlierRun(dir);
  writeFileSync(join(dir, MARKER), "");
  for (const d of ["logs", "frontend", "alertscripts", "externalscripts"]) mkdirSync(join(dir, d), { recursive: true });
  // Unix sockets take at most 107 bytes of path; zabbix_server_preprocessing.sock is the longest name.
  const ownRunDir = dir.length > 60;
  const runDir = ownRunDir ? mkdtempSync(join(tmpdir(), "zbx-")) : join(dir, "run");
  mkdirSync(runDir, { recursive: true });

  const pgUrl = new URL(PG_ADMIN_URL);
  const pgHost = pgUrl.hostname || HOST;
  const pgPort = pgUrl.port || "5432";
  const database = `zabbix_test_${randomBytes(6).toString("hex")}`;
  const daemons: Daemon[] = [];
  const state = (): KitState => ({ database, pids: daemons.map((d) => d.pid) });
  const saveState = () => writeFileSync(join(dir, STATE), `${JSON.stringify(state())}\n`);
  let server: Daemon | undefined;
  let agent: Daemon | undefined;
  let frontend: Daemon | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await stopWithChildren(agent, 10_000);
      // TERM makes the server flush its history cache and stop its children; give it time.
      await stopWithChildren(server, 60_000);
      await stopWithChildren(frontend, 10_000);
      await dropDatabase(database);
      rmSync(join(dir, STATE), { force: true });
      if (ownRunDir) rmSync(runDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    let t = Date.now();
    const admin = adminClient();
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${database} LOGIN`);
      saveState();
      await admin.query(`CREATE DATABASE ${database} OWNER ${database} ENCODING 'UTF8' TEMPLATE template0`);
    } finally {
      await admin.end();
    }
    await loadSchema(database, pgHost, pgPort);
    log(`database ${database} loaded in ${seconds(t)}`);

    t = Date.now();
    const confPhp = join(dir, "frontend", "zabbix.conf.php");
    writeFileSync(confPhp, frontendConfig({ database, pgHost, pgPort, serverPort: ports.server }), { mode: 0o600 });
    writeFileSync(join(dir, "frontend", "CConfigFile.php"), patchedConfigClass(confPhp));
    const prepend = join(dir, "frontend", "prepend.php");
    writeFileSync(prepend, `<?php\n// Before the frontend's autoloader: its CConfigFile, reading ${confPhp}.\nrequire_once __DIR__.'/CConfigFile.php';\n`);
    const frontendUrl = `http://${HOST}:${ports.frontend}`;
    const apiUrl = `${frontendUrl}/api_jsonrpc.php`;
    frontend = startDaemon(
      "zabbix frontend (php -S)",
      "php",
      [
        "-d",
        `auto_prepend_file=${prepend}`,
        // The whole frontend is compiled on every request otherwise.
        "-d",
        "opcache.enable_cli=1",
        "-d",
        "memory_limit=1G",
        "-d",
        "max_execution_time=0",
        "-d",
        "date.timezone=UTC",
        "-d",
        "display_errors=stderr",
        "-S",
        `${HOST}:${ports.frontend}`,
        "-t",
        FRONTEND,
      ],
      { logFile: join(dir, "logs", "frontend.log"), cwd: FRONTEND },
    );
    daemons.push(frontend);
    saveState();
    let version = "";
    await waitFor(
      "the Zabbix API",
      async () => {
        version = await rpc<string>(apiUrl, "apiinfo.version", []);
        return true;
      },
      { timeoutMs: READY_TIMEOUT_MS, daemon: frontend },
    );
    const token = await rpc<string>(apiUrl, "user.login", { username: "Admin", password: "zabbix" });
    const api = <T = unknown>(method: string, params?: unknown) => rpc<T>(apiUrl, method, params, token);
    log(`API ${version} up in ${seconds(t)}`);

    t = Date.now();
    const templates = await api<{ templateid: string }[]>("template.get", { output: ["templateid"] });
    if (templates.length > 0)
      await api(
        "template.delete",
        templates.map((x) => x.templateid),
      );
    const stock = await api<{ hostid: string }[]>("host.get", { output: ["hostid"], filter: { host: ["Zabbix server"] } });
    if (stock.length > 0)
      await api(
        "host.delete",
        stock.map((h) => h.hostid),
      );
    await api("settings.update", { url: `${frontendUrl}/` });
    await api("usermacro.createglobal", { macro: "{$ZABBIX.URL}", value: frontendUrl });
    log(`removed ${templates.length} stock templates and the stock host in ${seconds(t)}`);

    t = Date.now();
    const serverConf = join(dir, "zabbix_server.conf");
    writeFileSync(serverConf, serverConfig({ port: ports.server, dir, runDir, database, pgHost, pgPort }));
    server = startDaemon("zabbix_server", SERVER, ["-f", "-c", serverConf], { logFile: join(dir, "logs", "zabbix_server.log"), cwd: dir });
    daemons.push(server);
    saveState();
    await waitFor("zabbix_server's trapper port", () => portInUse(ports.server), { timeoutMs: READY_TIMEOUT_MS, daemon: server });
    const agentConf = join(dir, "zabbix_agentd.conf");
    writeFileSync(agentConf, agentConfig({ port: ports.agent, serverPort: ports.server, runDir }));
    agent = startDaemon("zabbix_agentd", AGENT, ["-f", "-c", agentConf], { logFile: join(dir, "logs", "zabbix_agentd.log"), cwd: dir });
    daemons.push(agent);
    saveState();
    await waitFor("zabbix_agentd's port", () => portInUse(ports.agent), { timeoutMs: READY_TIMEOUT_MS, daemon: agent });
    log(`server and agent up in ${seconds(t)}; ready ${seconds(started)} after start`);

    const serverDaemon = server;
    const send = async (key: string, value: string | number, sendOptions: { host?: string; timeoutMs?: number } = {}) => {
      const host = sendOptions.host ?? ZABBIX_AGENT_HOST;
      const args = ["-z", HOST, "-p", String(ports.server), "-s", host, "-k", key, "-o", String(value), "-vv"];
      let last = "";
      await waitFor(
        `zabbix_server to accept ${key}=${value} for ${host}`,
        async () => {
          // zabbix_sender exits 2 when the server refused the value; its answer is on stdout either way.
          const out = await run(SENDER, args, { timeout: 60_000 }).then(
            (r) => `${r.stdout}${r.stderr}`,
            (e: { stdout?: string; stderr?: string; message: string }) => `${e.stdout ?? ""}${e.stderr ?? ""}` || e.message,
          );
          last = out.trim().split("\n").slice(-3).join(" | ");
          return /processed: 1;/.test(out);
        },
        { timeoutMs: sendOptions.timeoutMs ?? READY_TIMEOUT_MS, daemon: serverDaemon },
      ).catch((err: Error) => {
        throw new Error(`${err.message.split("\n")[0]}; zabbix_sender said: ${last}`);
      });
    };
    return {
      apiUrl,
      frontendUrl,
      serverPort: ports.server,
      agentPort: ports.agent,
      agentHost: ZABBIX_AGENT_HOST,
      version,
      database,
      dir,
      serverPid: serverDaemon.pid,
      agentPid: agent.pid,
      frontendPid: frontend.pid,
      api,
      async importYaml(source, rules = { mediaTypes: { createMissing: true, updateExisting: true } }) {
        await api("configuration.import", { format: "yaml", source, rules });
      },
      send,
      stop,
    };
  } catch (err) {
    await stop().catch((e: Error) => log(`cleaning up after a failed start: ${e.message}`));
    throw err;
  }
}
