import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseKeyValues } from "./key-values.js";

const run = promisify(execFile);
const LAB = new URL("../../../shared/fixtures/alertmanager/lab/", import.meta.url).pathname;

/** Prometheus 2.42 + Alertmanager 0.25 + node exporter from Debian's packages, on loopback. */
export interface Lab {
  promUrl: string;
  amUrl: string;
  labDir: string;
  /** The node exporter textfile: lab_service_down{service=…} lines make LabServiceDown fire. */
  setServicesDown(services: string[]): void;
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
}

/** Starts the lab with ../shared/fixtures/alertmanager/lab/start-lab.sh (installs the packages when missing). */
export async function startLab(options: LabOptions): Promise<Lab> {
  const env = {
    ...process.env,
    LAB_DIR: options.labDir,
    PROM_PORT: String(options.portBase),
    AM_PORT: String(options.portBase + 3),
    NODE_EXPORTER_PORT: String(options.portBase + 10),
    WEBHOOK_URL: options.webhookUrl,
    WEBHOOK_BEARER_TOKEN: options.token,
    PROM_RESEND_DELAY: options.resendDelay ?? "2s",
    DEBIAN_FRONTEND: "noninteractive",
  };
  let stdout: string;
  try {
    ({ stdout } = await run("bash", [`${LAB}start-lab.sh`], { env, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 }));
  } catch (err) {
    await run("bash", [`${LAB}stop-lab.sh`, "--purge"], { env, timeout: 60_000 }).catch(() => undefined);
    throw err;
  }
  const vars = parseKeyValues(stdout);
  const textfile = vars.LAB_TEXTFILE as string;
  const promConfig = join(options.labDir, "config", "prometheus.yml");
  return {
    promUrl: vars.PROM_URL as string,
    amUrl: vars.AM_URL as string,
    labDir: options.labDir,
    setServicesDown(services) {
      // Written aside and renamed, so the node exporter never reads half a file.
      writeFileSync(`${textfile}.tmp`, services.map((s) => `lab_service_down{service="${s}"} 1\n`).join(""));
      renameSync(`${textfile}.tmp`, textfile);
    },
    prometheusConfig: () => readFileSync(promConfig, "utf8"),
    writePrometheusConfig: (text) => writeFileSync(promConfig, text),
    async reloadPrometheus() {
      const res = await fetch(`${vars.PROM_URL}/-/reload`, { method: "POST" });
      if (!res.ok) process.kill(Number(vars.PROM_PID), "SIGHUP");
    },
    async stop() {
      await run("bash", [`${LAB}stop-lab.sh`, "--purge"], { env, timeout: 60_000 }).catch(() => undefined);
    },
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
  const args = [
    `--config.file=${join(options.labDir, "config", "alertmanager.yml")}`,
    `--storage.path=${dir}`,
    `--web.listen-address=127.0.0.1:${options.port}`,
    `--web.external-url=http://127.0.0.1:${options.port}`,
    options.clusterPort ? `--cluster.listen-address=127.0.0.1:${options.clusterPort}` : "--cluster.listen-address=",
    ...(options.clusterPort
      ? [
          `--cluster.advertise-address=127.0.0.1:${options.clusterPort}`,
          "--cluster.peer-timeout=3s",
          "--cluster.gossip-interval=100ms",
          "--cluster.pushpull-interval=2s",
        ]
      : []),
    ...(options.peers ?? []).map((p) => `--cluster.peer=127.0.0.1:${p}`),
  ];
  const child: ChildProcess = spawn("prometheus-alertmanager", args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (c: Buffer) => {
    log += c.toString();
    if (log.length > 100_000) log = log.slice(-50_000);
  });
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/-/ready`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`alertmanager ${options.name} did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
