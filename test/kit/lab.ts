import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensurePackages } from "./apt.js";
import { type Daemon, httpOk, portInUse, startDaemon, waitFor } from "./daemon.js";

const run = promisify(execFile);
/** The lab's configs as kept in the repository (test/lab/), written for the default ports below. */
const TEMPLATES = new URL("../lab/", import.meta.url).pathname;
const HOST = "127.0.0.1";
/** Seconds to wait for each daemon to be ready: generous, for a slow, busy machine. */
const READY_TIMEOUT_MS = Number(process.env.LAB_START_TIMEOUT ?? 180) * 1000;

/** Prometheus 2.42 + Alertmanager 0.25 + node exporter from Debian's packages, on loopback. */
export interface Lab {
  promUrl: string;
  amUrl: string;
  labDir: string;
  /** The node exporter textfile: lab_service_down{service=…} lines make LabServiceDown fire. */
  setServicesDown(services: string[]): void;
  /** The lab's CPU gauge (lab_cpu_usage_percent, which HostHighCpu reads); undefined removes it. */
  setCpuUsage(percent: number | undefined): void;
  /** Reloads Prometheus after its config file changed. */
  reloadPrometheus(): Promise<void>;
  prometheusConfig(): string;
  writePrometheusConfig(text: string): void;
  stop(): Promise<void>;
}

export interface LabOptions {
  /** Every Alertmanager receiver posts here. */
  webhookUrl: string;
  token: string;
  /** Base of the three ports (Prometheus +0, Alertmanager +3, node exporter +10). */
  portBase: number;
  labDir: string;
  /** Prometheus --rules.alert.resend-delay; short, so resolved alerts reach Alertmanager quickly. */
  resendDelay?: string;
  /**
   * For an https webhookUrl: every receiver's `http_config.tls_config` gets `ca_file` (the CA that
   * signed alertdesk's certificate) and, when given, the client certificate and key Alertmanager presents.
   */
  webhookTls?: { caFile: string; certFile?: string; keyFile?: string };
}

/** Debian packages of the lab, and a command each one provides. */
const PACKAGES: Record<string, string> = {
  prometheus: "prometheus",
  "prometheus-alertmanager": "prometheus-alertmanager",
  "prometheus-node-exporter": "prometheus-node-exporter",
  curl: "curl",
};

/** Replaces every match of `pattern` (`group`: its first group), failing when there is none: the template changed. */
function substitute(file: string, text: string, pattern: RegExp, replace: (group: string) => string): string {
  let hits = 0;
  const out = text.replace(pattern, (_match: string, group: unknown) => {
    hits++;
    return replace(String(group));
  });
  if (hits === 0) throw new Error(`test/lab/${file}: nothing matches ${pattern}; update test/kit/lab.ts`);
  return out;
}

/** Writes the lab's three configs into `configDir`, with this lab's ports, webhook URL and token. */
function renderConfigs(configDir: string, options: LabOptions, ports: { prom: number; am: number; node: number }): void {
  const template = (name: string) => readFileSync(join(TEMPLATES, name), "utf8");
  // The templates use the lab's default ports: Prometheus 19090, Alertmanager 19093, node exporter 19100.
  const byDefault: Record<string, number> = { "19090": ports.prom, "19093": ports.am, "19100": ports.node };
  // Written single-quoted: the HA scenario of test/e2e/lab.test.ts rewrites `targets: ['…']`.
  const prometheus = substitute("prometheus.yml", template("prometheus.yml"), /"127\.0\.0\.1:(19090|19093|19100)"/g, (p) => `'${HOST}:${byDefault[p]}'`);
  let alertmanager = substitute(
    "alertmanager.yml",
    template("alertmanager.yml"),
    /url: http:\/\/127\.0\.0\.1:19095\/[a-z-]*/g,
    () => `url: ${JSON.stringify(options.webhookUrl)}`,
  );
  alertmanager = substitute("alertmanager.yml", alertmanager, /credentials: lab-secret-token/g, () => `credentials: ${JSON.stringify(options.token)}`);
  const tls = options.webhookTls;
  if (tls) {
    const keys = [
      ["ca_file", tls.caFile],
      ["cert_file", tls.certFile],
      ["key_file", tls.keyFile],
    ].filter((k): k is [string, string] => k[1] !== undefined);
    alertmanager = substitute(
      "alertmanager.yml",
      alertmanager,
      /( +)http_config:\n/g,
      (indent) => `${indent}http_config:\n${indent}  tls_config:\n${keys.map(([k, v]) => `${indent}    ${k}: ${JSON.stringify(v)}\n`).join("")}`,
    );
  }
  writeFileSync(join(configDir, "prometheus.yml"), prometheus);
  writeFileSync(join(configDir, "rules.yml"), template("rules.yml"));
  writeFileSync(join(configDir, "alertmanager.yml"), alertmanager, { mode: 0o600 });
}

/** Runs a config checker; its output is the error when it rejects the file. */
async function check(command: string, args: string[]): Promise<void> {
  try {
    await run(command, args, { timeout: 120_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} rejected the lab's config:\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
  }
}

/**
 * Starts the lab: installs the Debian packages when missing, renders test/lab/*.yml into
 * `labDir/config` (checked with promtool and amtool), then starts the node exporter, Alertmanager and
 * Prometheus bound to 127.0.0.1, and waits until Prometheus has found its Alertmanager (alerts it
 * evaluates before that are dropped). On failure everything it started is stopped again.
 */
export async function startLab(options: LabOptions): Promise<Lab> {
  const ports = { prom: options.portBase, am: options.portBase + 3, node: options.portBase + 10 };
  await ensurePackages(Object.keys(PACKAGES), { commands: PACKAGES });
  for (const port of Object.values(ports)) if (await portInUse(port)) throw new Error(`lab: 127.0.0.1:${port} is already in use`);

  const dir = (name: string) => join(options.labDir, name);
  for (const d of ["config", "prometheus-data", "alertmanager-data", "textfile", "logs"]) mkdirSync(dir(d), { recursive: true });
  /** Writes one of the node exporter's textfiles aside and renames it, so it never reads half a file. */
  const writeTextfile = (name: string, text: string) => {
    const path = join(dir("textfile"), name);
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
  };
  writeTextfile("lab.prom", "");
  writeTextfile("cpu.prom", "");
  renderConfigs(dir("config"), options, ports);
  const promConfig = join(dir("config"), "prometheus.yml");
  await check("promtool", ["check", "config", promConfig]);
  await check("amtool", ["check-config", join(dir("config"), "alertmanager.yml")]);

  const daemons: Daemon[] = [];
  const launch = (name: string, command: string, args: string[]) => {
    const d = startDaemon(name, command, args, { logFile: join(dir("logs"), `${name}.log`), cwd: options.labDir });
    daemons.push(d);
    writeFileSync(dir("lab.pids"), daemons.map((x) => `${x.name} ${x.pid}\n`).join(""));
    return d;
  };
  const stopAll = async () => {
    // Prometheus first, so it does not log every failed send to a stopped Alertmanager.
    for (const d of [...daemons].reverse()) await d.stop();
  };
  const promUrl = `http://${HOST}:${ports.prom}`;
  const amUrl = `http://${HOST}:${ports.am}`;
  let prometheus: Daemon;
  try {
    const node = launch("node_exporter", "prometheus-node-exporter", [
      `--web.listen-address=${HOST}:${ports.node}`,
      `--collector.textfile.directory=${dir("textfile")}`,
      "--no-collector.systemd",
    ]);
    const am = launch("alertmanager", "prometheus-alertmanager", [
      `--config.file=${join(dir("config"), "alertmanager.yml")}`,
      `--storage.path=${dir("alertmanager-data")}`,
      `--web.listen-address=${HOST}:${ports.am}`,
      // Empty: no gossip, so nothing listens on 0.0.0.0:9094.
      "--cluster.listen-address=",
    ]);
    await waitFor("node exporter", () => httpOk(`http://${HOST}:${ports.node}/metrics`, { contains: "node_cpu_seconds_total" }), {
      timeoutMs: READY_TIMEOUT_MS,
      daemon: node,
    });
    await waitFor("alertmanager", () => httpOk(`${amUrl}/-/ready`), { timeoutMs: READY_TIMEOUT_MS, daemon: am });
    prometheus = launch("prometheus", "prometheus", [
      `--config.file=${promConfig}`,
      `--storage.tsdb.path=${dir("prometheus-data")}`,
      `--web.listen-address=${HOST}:${ports.prom}`,
      `--rules.alert.resend-delay=${options.resendDelay ?? "2s"}`,
      "--web.enable-lifecycle",
    ]);
    await waitFor("prometheus", () => httpOk(`${promUrl}/-/ready`), { timeoutMs: READY_TIMEOUT_MS, daemon: prometheus });
    await waitFor("prometheus to discover its alertmanager", () => httpOk(`${promUrl}/api/v1/alertmanagers`, { contains: `${HOST}:${ports.am}` }), {
      timeoutMs: READY_TIMEOUT_MS,
      daemon: prometheus,
    });
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    promUrl,
    amUrl,
    labDir: options.labDir,
    setServicesDown(services) {
      writeTextfile("lab.prom", services.map((s) => `lab_service_down{service="${s}"} 1\n`).join(""));
    },
    setCpuUsage(percent) {
      writeTextfile("cpu.prom", percent === undefined ? "" : `lab_cpu_usage_percent ${percent}\n`);
    },
    prometheusConfig: () => readFileSync(promConfig, "utf8"),
    writePrometheusConfig: (text) => writeFileSync(promConfig, text),
    async reloadPrometheus() {
      // --web.enable-lifecycle: the reload answers once done, 500 with the reason when the config is bad.
      const res = await fetch(`${promUrl}/-/reload`, { method: "POST" }).catch(() => undefined);
      if (res === undefined) prometheus.child.kill("SIGHUP");
      else if (!res.ok) throw new Error(`prometheus reload: ${res.status} ${await res.text()}`);
    },
    stop: stopAll,
  };
}

/** One more Alertmanager with the lab's rendered config, optionally gossiping with peers. */
export interface ExtraAlertmanager {
  url: string;
  stop(): Promise<void>;
}

export async function startAlertmanager(options: {
  labDir: string;
  name: string;
  port: number;
  /** Gossip listen port; undefined = no cluster. */
  clusterPort?: number;
  peers?: number[];
}): Promise<ExtraAlertmanager> {
  const dir = join(options.labDir, `am-${options.name}`);
  mkdirSync(dir, { recursive: true });
  const cluster = options.clusterPort
    ? [
        `--cluster.listen-address=${HOST}:${options.clusterPort}`,
        `--cluster.advertise-address=${HOST}:${options.clusterPort}`,
        "--cluster.peer-timeout=3s",
        "--cluster.gossip-interval=100ms",
        "--cluster.pushpull-interval=2s",
        ...(options.peers ?? []).map((p) => `--cluster.peer=${HOST}:${p}`),
      ]
    : ["--cluster.listen-address="];
  const url = `http://${HOST}:${options.port}`;
  const daemon = startDaemon(
    `alertmanager ${options.name}`,
    "prometheus-alertmanager",
    [
      `--config.file=${join(options.labDir, "config", "alertmanager.yml")}`,
      `--storage.path=${dir}`,
      `--web.listen-address=${HOST}:${options.port}`,
      `--web.external-url=${url}`,
      ...cluster,
    ],
    { logFile: join(dir, "alertmanager.log") },
  );
  try {
    await waitFor(`alertmanager ${options.name}`, () => httpOk(`${url}/-/ready`), { timeoutMs: READY_TIMEOUT_MS, daemon });
  } catch (err) {
    await daemon.stop(2000);
    throw err;
  }
  return { url, stop: () => daemon.stop(5000) };
}
