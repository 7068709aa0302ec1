import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { isNode, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { type AlertmanagerConfig, alertmanagerProblems, alertmanagersSchema } from "../alertmanagers/config.js";
import { resolveSecret } from "../drivers/config.js";
import { type HelpdeskConfig, helpdeskConfigSchema, helpdeskProblems } from "../drivers/registry.js";
import { type KnowledgeBaseConfig, knowledgeBaseConfigSchema, knowledgeBaseProblem } from "../knowledge/registry.js";
import { keysAt, unknownKeysMessage } from "../model/did-you-mean.js";
import { duration } from "../model/duration.js";
import { formatPath } from "../model/field-path.js";
import { DEFAULT_RETRY } from "../outbox/worker.js";

/**
 * Service configuration: environment variables (pinned: PORT, ALERTDESK_DATA_DIR, ALERTDESK_RULES,
 * ALERTDESK_WEBHOOK_TOKEN, ALERTDESK_READ_TOKEN, ALERTDESK_CONFIG) over an optional YAML file. Secrets come from `${ENV}`
 * substitution or `*_file` keys, so the file itself can be committed.
 */

/** A bcrypt hash as htpasswd -B and bcryptjs write it: $2a$, $2b$ or $2y$, a two-digit cost 04–31, 53 characters of salt and hash. */
const bcryptHash = z
  .string()
  .regex(
    /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/,
    "must be a bcrypt hash ($2a$, $2b$ or $2y$, cost 04-31, 60 characters), e.g. from htpasswd -nbBC 10 \"\" PASSWORD | tr -d ':\\n'",
  );

const byteSize = z.union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb)?$/i, "must be a size like 512kb or 10mb")]);

export const configFileSchema = z
  .object({
    listen_address: z.string().optional().describe("Address to bind; default 0.0.0.0."),
    port: z.number().int().min(0).max(65535).optional(),
    data_dir: z.string().optional(),
    database_url: z.string().optional().describe("postgres://user@host:5432/db: several replicas share this PostgreSQL. Unset: SQLite in data_dir."),
    database_pool_max: z.number().int().positive().optional().describe("Connections per replica (default 10)."),
    rules: z.string().optional().describe("A rules file or a directory of *.yaml / *.yml."),
    rules_watch: z.boolean().optional().describe("Reload the rules when their files change (default true)."),
    admin_token: z.string().optional().describe("Bearer token for admin endpoints (/-/reload). Without it they answer only on loopback."),
    admin_token_file: z.string().optional(),
    read_token: z
      .string()
      .optional()
      .describe("Bearer token for the read endpoints (/api/*, /tickets, /metrics); it never grants admin. Prefer read_token_file."),
    read_token_file: z.string().optional(),
    read_users: z
      .record(z.string(), bcryptHash)
      .superRefine((users, ctx) => {
        for (const name of Object.keys(users)) {
          if (name === "" || name.includes(":")) {
            ctx.addIssue({ code: "custom", path: [name], message: "a user name must be non-empty without ':' (HTTP basic auth splits at the first colon)" });
          }
        }
      })
      .optional()
      .describe("HTTP basic auth users for the read endpoints: name → bcrypt hash, like Alertmanager's basic_auth_users."),
    console_session_secret: z
      .string()
      .optional()
      .describe(
        "Signs the console's session cookies; set it (or _file) the same on every replica so they share sessions, and sessions survive restarts. Unset: a random key per process.",
      ),
    console_session_secret_file: z.string().optional(),
    console_users: z
      .record(z.string(), bcryptHash)
      .superRefine((users, ctx) => {
        for (const name of Object.keys(users)) {
          if (name === "" || name.includes(":")) {
            ctx.addIssue({ code: "custom", path: [name], message: "a user name must be non-empty without ':' (HTTP basic auth splits at the first colon)" });
          }
        }
      })
      .optional()
      .describe(
        "Users of the web console (/ui/): name → bcrypt hash; they log in with a form and may act there (the built-in helpdesk, replays). Also the admin token logs in, as user admin.",
      ),
    reads_open: z
      .boolean()
      .optional()
      .describe("true: the read endpoints answer everybody without a credential. Default: a configured credential, else loopback only."),
    metrics_auth: z
      .enum(["read", "none"])
      .optional()
      .describe("read (default): /metrics needs what the read endpoints need; none: /metrics answers everybody (a Prometheus without credentials)."),
    tls_cert_file: z.string().optional().describe("PEM certificate (chain) to serve HTTPS with; needs tls_key_file."),
    tls_key_file: z.string().optional().describe("PEM private key of tls_cert_file."),
    tls_client_ca_file: z
      .string()
      .optional()
      .describe("PEM CA certificates: when set, every client must present a certificate they signed (RequireAndVerifyClientCert)."),
    webhook_token: z.string().optional().describe("Bearer token webhooks must send. Prefer webhook_token_file."),
    webhook_token_file: z.string().optional(),
    webhook_basic_auth: z
      .object({ username: z.string().min(1), password: z.string().optional(), password_file: z.string().optional() })
      .strict()
      .optional()
      .describe("HTTP basic auth webhooks may use instead of (or besides) the bearer token."),
    request_timeout: duration.optional().describe("Longest a request (headers and body) may take (default 30s)."),
    headers_timeout: duration.optional().describe("Longest the request headers may take to arrive (default 10s)."),
    body_limit: byteSize.optional().describe("Largest webhook body accepted (413 above); default 10mb."),
    default_helpdesk: z.string().optional().describe("The helpdesk of alerts whose rule names none (default builtin)."),
    helpdesks: z.record(z.string(), helpdeskConfigSchema).optional().describe("Named helpdesks; rules pick one with helpdesk:."),
    alertmanagers: alertmanagersSchema
      .optional()
      .describe("Alertmanagers (or Grafana) that agents' decisions become silences in, and that verification asks for firing alerts."),
    knowledge_base: knowledgeBaseConfigSchema
      .optional()
      .describe("Where archive entries of incidents that are over also go (default: only the built-in archive); docs/knowledge-base.md."),
    ingest_thread: z
      .boolean()
      .optional()
      .describe(
        "SQLite only: run the rules, the lifecycle step and the store's writes of webhooks on a second thread (default true; ALERTDESK_INGEST_THREAD).",
      ),
    delivery: z
      .object({
        max_attempts: z.number().int().positive().optional(),
        max_age: duration.optional(),
        backoff_base: duration.optional(),
        backoff_max: duration.optional(),
        poll_interval: duration.optional(),
        lease: duration.optional(),
        retention: duration
          .optional()
          .describe("How long delivered (and coalesced, withdrawn) outbox rows are kept (default 7d). Dead letters stay until replayed."),
        order: z
          .enum(["priority", "oldest"])
          .optional()
          .describe("Which due deliveries go first: priority (default: P1 opens first, then resolves, escalations, comments) or oldest (oldest first)."),
      })
      .strict()
      .optional(),
  })
  .strict();

export type ConfigFile = z.infer<typeof configFileSchema>;

export interface ServiceConfig {
  host: string;
  port: number;
  dataDir: string;
  /** PostgreSQL instead of the embedded SQLite (ALERTDESK_DATABASE_URL or database_url). */
  databaseUrl?: string;
  databasePoolMax?: number;
  rulesPath: string;
  webhookToken?: string;
  webhookBasicAuth?: { username: string; password: string };
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** Bearer token for admin endpoints; without it they accept loopback callers only. */
  adminToken?: string;
  /** Bearer token for the read endpoints (ALERTDESK_READ_TOKEN, read_token, read_token_file); never admin. */
  readToken?: string;
  /** HTTP basic auth users of the read endpoints: name → bcrypt hash. */
  readUsers?: Record<string, string>;
  /** The web console's users: name → bcrypt hash (`console_users`). */
  consoleUsers?: Record<string, string>;
  /** Signs the console's session cookies (`console_session_secret`, `_file`); unset: a random key per process. */
  consoleSessionSecret?: string;
  /** reads_open: the read endpoints answer everybody without a credential. */
  readsOpen?: boolean;
  /** Who may scrape /metrics: "read" (default, the same as the read endpoints) or "none" (everybody). */
  metricsAuth?: "read" | "none";
  /** Serve HTTPS with these PEM files (checked at load); a client CA makes client certificates required. */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /** ALERTDESK_LOG_LEVEL, checked against pino's levels. */
  logLevel?: string;
  /** Reload rules on file change (default true). */
  watchRules?: boolean;
  /** SQLite file stores: ingest on a thread of its own (default true); ingest-thread/client.ts. */
  ingestThread?: boolean;
  bodyLimitBytes: number;
  defaultHelpdesk: string;
  helpdesks: Record<string, HelpdeskConfig>;
  /** The `alertmanagers:` list, validated at load (secret files read there too, so a missing one fails at start); absent when none is configured. */
  alertmanagers?: AlertmanagerConfig[];
  /** The external knowledge base (`knowledge_base:`), validated at load; absent: the built-in archive only. */
  knowledgeBase?: KnowledgeBaseConfig;
  configPath?: string;
  delivery: {
    maxAttempts?: number;
    maxAgeMs?: number;
    baseMs?: number;
    maxMs?: number;
    pollIntervalMs?: number;
    leaseMs?: number;
    retentionMs?: number;
    order?: "priority" | "oldest";
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parses "10mb", "512kb", 1048576 into bytes. */
export function parseByteSize(v: string | number): number {
  if (typeof v === "number") return v;
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(v.trim());
  if (!m) throw new ConfigError(`bad size ${JSON.stringify(v)}`);
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? "b").toLowerCase() as "b"];
  return Math.round(Number(m[1]) * unit);
}

/** Replaces ${NAME} in every string value with the environment variable; a missing one is an error. */
function substitute(value: unknown, env: NodeJS.ProcessEnv, path: string, missing: string[]): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) missing.push(`${path}: environment variable ${name} is not set`);
      return v ?? "";
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, env, `${path}[${i}]`, missing));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, env, path ? `${path}.${k}` : k, missing)]));
  }
  return value;
}

/** A validated config file, and where each of its keys is written (`file:line:col`). */
interface ParsedConfigFile {
  file: ConfigFile;
  at(keyPath: readonly PropertyKey[]): string;
}

/** Reads and validates a config file; errors name the file, line, column and key. */
export function readConfigFile(path: string, env: NodeJS.ProcessEnv): ConfigFile {
  return parseConfigFile(path, env).file;
}

function parseConfigFile(path: string, env: NodeJS.ProcessEnv): ParsedConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`${path}: cannot read config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${path}:${line}:${col}`;
  };
  const atKey = (keyPath: readonly PropertyKey[]) => {
    const node = doc.getIn(keyPath as unknown[], true);
    if (isNode(node) && node.range) return at(node.range[0]);
    // A key left out (a required `name:`) has no node: say where the entry that lacks it is written.
    for (let n = keyPath.length - 1; n > 0; n--) {
      const parent = doc.getIn(keyPath.slice(0, n) as unknown[], true);
      if (isNode(parent) && parent.range) return at(parent.range[0]);
    }
    return path;
  };
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `${at(e.pos[0])}: ${e.message.split("\n")[0]}`).join("\n"));
  const missing: string[] = [];
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(`${path}:1:1: ${(err as Error).message.split("\n")[0]}`);
  }
  const raw = substitute(js, env, "", missing);
  if (missing.length > 0) throw new ConfigError(missing.map((m) => `${path}: ${m}`).join("\n"));
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues
        .map((i) => {
          const where = atKey(i.path);
          const keys = i.code === "unrecognized_keys" ? unknownKeysMessage(i.keys, keysAt(configFileSchema, i.path)) : i.message;
          return `${where}: ${formatPath(i.path)}: ${keys}`;
        })
        .join("\n"),
    );
  }
  return { file: parsed.data, at: atKey };
}

/** A `*_file` secret, read as the drivers read theirs (trimmed; unreadable or empty is an error), as a ConfigError. */
function readSecretFile(path: string, fileKey: string): string {
  try {
    return resolveSecret(undefined, path, fileKey.replace(/_file$/, ""));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/**
 * A credential from an environment variable, the file's inline key (after ${ENV} substitution) or
 * its *_file, in that order; undefined when none is given. Given but empty is an error, never "no
 * authentication": `webhook_token: ${WT}` with WT set to "" used to start an open service silently.
 */
function credential(sources: {
  env?: [string, string | undefined];
  inline?: [string, string | undefined];
  file?: [string, string | undefined];
}): string | undefined {
  const empty = (where: string) => new ConfigError(`${where}: set but empty; an empty secret would turn authentication off (remove the setting instead)`);
  const [envName, envValue] = sources.env ?? ["", undefined];
  if (envValue !== undefined) {
    if (envValue.trim() === "") throw empty(envName);
    return envValue;
  }
  const [key, inline] = sources.inline ?? ["", undefined];
  if (inline !== undefined) {
    if (inline.trim() === "") throw empty(key);
    return inline;
  }
  const [fileKey, path] = sources.file ?? ["", undefined];
  return path === undefined ? undefined : readSecretFile(path, fileKey);
}

/**
 * Who may read, and TLS: the read token (ALERTDESK_READ_TOKEN over read_token over read_token_file),
 * the basic-auth users, reads_open, metrics_auth, and the certificate files, each read and checked
 * here so that a missing file or a key that does not fit its certificate fails at start, naming the key.
 */
function readAccess(
  file: ConfigFile,
  env: NodeJS.ProcessEnv,
  adminToken: string | undefined,
  at: (keyPath: readonly PropertyKey[]) => string,
): Pick<ServiceConfig, "readToken" | "readUsers" | "consoleUsers" | "consoleSessionSecret" | "readsOpen" | "metricsAuth" | "tls"> {
  const out: Pick<ServiceConfig, "readToken" | "readUsers" | "consoleUsers" | "consoleSessionSecret" | "readsOpen" | "metricsAuth" | "tls"> = {};
  const readToken = credential({
    env: ["ALERTDESK_READ_TOKEN", env.ALERTDESK_READ_TOKEN],
    inline: ["read_token", file.read_token],
    file: ["read_token_file", file.read_token_file],
  });
  if (readToken !== undefined && readToken === adminToken) {
    throw new ConfigError("read token: equals the admin token, so every reader would be admin; use two different tokens");
  }
  if (readToken) out.readToken = readToken;
  const users = file.read_users ?? {};
  if (Object.keys(users).length > 0) out.readUsers = { ...users };
  const consoleUsers = file.console_users ?? {};
  if (Object.keys(consoleUsers).length > 0) out.consoleUsers = { ...consoleUsers };
  const sessionSecret = credential({
    env: ["ALERTDESK_CONSOLE_SESSION_SECRET", env.ALERTDESK_CONSOLE_SESSION_SECRET],
    inline: ["console_session_secret", file.console_session_secret],
    file: ["console_session_secret_file", file.console_session_secret_file],
  });
  if (sessionSecret) out.consoleSessionSecret = sessionSecret;
  if (file.reads_open === true) {
    if (out.readToken || out.readUsers) {
      throw new ConfigError(
        `${at(["reads_open"])}: reads_open: true lets everybody read without a credential, yet ${out.readToken ? "a read token" : "read_users"} is configured; remove one of them`,
      );
    }
    out.readsOpen = true;
  }
  if (file.metrics_auth) out.metricsAuth = file.metrics_auth;
  const { tls_cert_file: certFile, tls_key_file: keyFile, tls_client_ca_file: caFile } = file;
  if (certFile !== undefined || keyFile !== undefined || caFile !== undefined) {
    if (certFile === undefined && keyFile === undefined) {
      throw new ConfigError(
        `${at(["tls_client_ca_file"])}: tls_client_ca_file: needs tls_cert_file and tls_key_file (client certificates only exist with TLS)`,
      );
    }
    if (certFile === undefined) throw new ConfigError(`${at(["tls_key_file"])}: tls_key_file: needs tls_cert_file as well`);
    if (keyFile === undefined) throw new ConfigError(`${at(["tls_cert_file"])}: tls_cert_file: needs tls_key_file as well`);
    const pem = (key: string, path: string) => {
      try {
        return readFileSync(path, "utf8");
      } catch (err) {
        throw new ConfigError(`${at([key])}: ${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    const certificate = (key: string, path: string) => {
      try {
        return new X509Certificate(pem(key, path));
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new ConfigError(`${at([key])}: ${key}: ${path} is not a PEM certificate (${(err as Error).message})`);
      }
    };
    const cert = certificate("tls_cert_file", certFile);
    const keyText = pem("tls_key_file", keyFile);
    let key: KeyObject;
    try {
      key = createPrivateKey(keyText);
    } catch (err) {
      throw new ConfigError(`${at(["tls_key_file"])}: tls_key_file: ${keyFile} is not a PEM private key (${(err as Error).message})`);
    }
    if (!cert.checkPrivateKey(key)) throw new ConfigError(`${at(["tls_key_file"])}: tls_key_file: ${keyFile} is not the key of tls_cert_file ${certFile}`);
    out.tls = { certFile, keyFile };
    if (caFile !== undefined) {
      certificate("tls_client_ca_file", caFile);
      out.tls.clientCaFile = caFile;
    }
  }
  return out;
}

/** pino's levels: ALERTDESK_LOG_LEVEL must be one (pino would throw a stack trace at the first log line). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** The smallest body limit that lets a one-alert Alertmanager notification through. */
const MIN_BODY_LIMIT = 1024;

/** Builds the service configuration from the environment and the optional config file. */
export function loadServiceConfig(env: NodeJS.ProcessEnv = process.env, overrides: { configPath?: string } = {}): ServiceConfig {
  const configPath = overrides.configPath ?? env.ALERTDESK_CONFIG;
  const parsedFile = configPath ? parseConfigFile(configPath, env) : undefined;
  const file: ConfigFile = parsedFile?.file ?? {};
  // Every helpdesk is built once here, as serve builds it, so a missing secret is a positioned config error.
  const broken = helpdeskProblems(file.helpdesks ?? {});
  if (broken.length > 0) {
    throw new ConfigError(broken.map((p) => `${parsedFile?.at(["helpdesks", p.helpdesk]) ?? configPath}: helpdesks.${p.helpdesk}: ${p.message}`).join("\n"));
  }
  // Each Alertmanager's secret files are read now, as its client will read them.
  const brokenAlertmanagers = alertmanagerProblems(file.alertmanagers ?? []);
  if (brokenAlertmanagers.length > 0) {
    throw new ConfigError(
      brokenAlertmanagers
        .map((p) => `${parsedFile?.at(["alertmanagers", p.index]) ?? configPath}: alertmanagers[${p.index}] (${p.name}): ${p.message}`)
        .join("\n"),
    );
  }
  const kbProblem = knowledgeBaseProblem(file.knowledge_base);
  if (kbProblem) throw new ConfigError(`${parsedFile?.at(["knowledge_base"]) ?? configPath}: knowledge_base: ${kbProblem}`);
  const portText = env.PORT;
  let port = file.port ?? 9095;
  if (portText !== undefined && portText !== "") {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT: must be a port number, got ${JSON.stringify(portText)}`);
  }
  const webhookToken = credential({
    env: ["ALERTDESK_WEBHOOK_TOKEN", env.ALERTDESK_WEBHOOK_TOKEN],
    inline: ["webhook_token", file.webhook_token],
    file: ["webhook_token_file", file.webhook_token_file],
  });
  const d = file.delivery ?? {};
  const delivery: ServiceConfig["delivery"] = {};
  const set = <K extends Exclude<keyof ServiceConfig["delivery"], "order">>(k: K, v: number | undefined) => {
    if (v !== undefined) delivery[k] = v;
  };
  set("maxAttempts", d.max_attempts);
  set("maxAgeMs", d.max_age);
  set("baseMs", d.backoff_base);
  set("maxMs", d.backoff_max);
  set("pollIntervalMs", d.poll_interval);
  set("leaseMs", d.lease);
  set("retentionMs", d.retention);
  if (d.order) delivery.order = d.order;
  const config: ServiceConfig = {
    host: env.ALERTDESK_LISTEN_ADDRESS || file.listen_address || "0.0.0.0",
    port,
    dataDir: resolve(env.ALERTDESK_DATA_DIR || file.data_dir || "./data"),
    rulesPath: resolve(env.ALERTDESK_RULES || file.rules || "./rules"),
    bodyLimitBytes: parseByteSize(env.ALERTDESK_BODY_LIMIT || file.body_limit || "10mb"),
    defaultHelpdesk: file.default_helpdesk ?? "builtin",
    helpdesks: file.helpdesks ?? {},
    delivery,
  };
  const ingestThread = env.ALERTDESK_INGEST_THREAD;
  if (ingestThread !== undefined && ingestThread !== "") {
    if (!["true", "false", "1", "0"].includes(ingestThread)) {
      throw new ConfigError(`ALERTDESK_INGEST_THREAD: must be true or false, got ${JSON.stringify(ingestThread)}`);
    }
    config.ingestThread = ingestThread === "true" || ingestThread === "1";
  } else if (file.ingest_thread !== undefined) config.ingestThread = file.ingest_thread;
  if (file.alertmanagers && file.alertmanagers.length > 0) config.alertmanagers = file.alertmanagers;
  if (file.knowledge_base && file.knowledge_base.type !== "builtin") config.knowledgeBase = file.knowledge_base;
  if (webhookToken) config.webhookToken = webhookToken;
  if (file.webhook_basic_auth) {
    const b = file.webhook_basic_auth;
    const password = b.password || (b.password_file ? readSecretFile(b.password_file, "webhook_basic_auth.password_file") : undefined);
    if (!password) throw new ConfigError("webhook_basic_auth: password or password_file is required");
    config.webhookBasicAuth = { username: b.username, password };
  }
  const requestTimeout = file.request_timeout;
  if (requestTimeout) config.requestTimeoutMs = requestTimeout;
  const headersTimeout = file.headers_timeout;
  if (headersTimeout) config.headersTimeoutMs = headersTimeout;
  const adminToken = credential({
    env: ["ALERTDESK_ADMIN_TOKEN", env.ALERTDESK_ADMIN_TOKEN],
    inline: ["admin_token", file.admin_token],
    file: ["admin_token_file", file.admin_token_file],
  });
  if (adminToken) config.adminToken = adminToken;
  Object.assign(config, readAccess(file, env, adminToken, parsedFile?.at ?? (() => configPath ?? "config")));
  const logLevel = env.ALERTDESK_LOG_LEVEL;
  if (logLevel !== undefined && logLevel !== "") {
    if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
      throw new ConfigError(`ALERTDESK_LOG_LEVEL: must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`);
    }
    config.logLevel = logLevel;
  }
  if (config.bodyLimitBytes < MIN_BODY_LIMIT) {
    throw new ConfigError(
      `${env.ALERTDESK_BODY_LIMIT ? "ALERTDESK_BODY_LIMIT" : "body_limit"}: must be at least 1kb, got ${config.bodyLimitBytes} bytes (every webhook would be refused)`,
    );
  }
  const base = delivery.baseMs ?? DEFAULT_RETRY.baseMs;
  const max = delivery.maxMs ?? DEFAULT_RETRY.maxMs;
  if (base > max) throw new ConfigError(`delivery.backoff_base (${base} ms) is above delivery.backoff_max (${max} ms)`);
  if (file.rules_watch !== undefined) config.watchRules = file.rules_watch;
  const databaseUrl = env.ALERTDESK_DATABASE_URL || file.database_url;
  if (databaseUrl) config.databaseUrl = databaseUrl;
  if (file.database_pool_max) config.databasePoolMax = file.database_pool_max;
  if (configPath) config.configPath = configPath;
  return config;
}
