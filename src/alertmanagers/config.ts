import { z } from "zod";
import { basicAuth, resolveSecret, timeoutSchema } from "../drivers/config.js";

/**
 * One Alertmanager (or Grafana's Alertmanager-compatible API) that alertdesk talks to: where it is,
 * which API path it serves, and the credentials, spelled as in Alertmanager's own `http_config`
 * (prometheus.io/docs/alerting/latest/configuration/#http_config): `basic_auth` with `password` or
 * `password_file`, `authorization` with `credentials` or `credentials_file`.
 */

/** API v2's base path on each kind of server. Grafana: grafana.com/docs/grafana/latest/developers/http_api/alerting_provisioning/ (its Alertmanager-compatible API). */
export const API_BASE_PATHS = {
  alertmanager: "/api/v2",
  grafana: "/api/alertmanager/grafana/api/v2",
} as const;

/** A secret given inline: after `${ENV}` substitution it must still say something. */
const inlineSecret = z
  .string()
  .refine((s) => s.trim() !== "", { message: "set but empty; an empty secret would send no credential (remove the setting instead)" });

/** Exactly one of `key` and `key_file`, the way Alertmanager's http_config refuses both. */
function oneSecret(key: string) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const inline = value[key] !== undefined;
    const file = value[`${key}_file`] !== undefined;
    if (inline && file) ctx.addIssue({ code: "custom", path: [`${key}_file`], message: `give ${key} or ${key}_file, not both` });
    if (!inline && !file) ctx.addIssue({ code: "custom", path: [], message: `${key} or ${key}_file is required` });
  };
}

const basicAuthSchema = z
  .object({
    username: z.string().min(1, "must not be empty"),
    password: inlineSecret.optional(),
    password_file: z.string().min(1).optional().describe("A file holding the password (trailing newline ignored)."),
  })
  .strict()
  .superRefine(oneSecret("password"));

const authorizationSchema = z
  .object({
    type: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*$/, "must be an HTTP auth scheme like Bearer")
      .refine((t) => t.toLowerCase() !== "basic", { message: "Basic is not an authorization type here; use basic_auth" })
      .default("Bearer")
      .describe("The scheme of the Authorization header (default Bearer), as in Alertmanager's http_config."),
    credentials: inlineSecret.optional(),
    credentials_file: z.string().min(1).optional().describe("A file holding the credentials, e.g. a Grafana service account token."),
  })
  .strict()
  .superRefine(oneSecret("credentials"));

export const alertmanagerConfigSchema = z
  .object({
    name: z
      .string({ error: (issue) => (issue.input === undefined ? "is required: the name logs, metrics and errors use" : "must be a string") })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be a name of letters, digits, '_', '.' and '-' (it appears in logs and metrics)"),
    url: z
      .url({ protocol: /^https?$/, error: "must be an http or https URL like http://alertmanager:9093" })
      .refine(
        (u) => {
          const parsed = new URL(u);
          return parsed.username === "" && parsed.password === "";
        },
        { message: "must not carry user:password; use basic_auth (with password_file) instead" },
      )
      .refine((u) => !/[?#]/.test(u), { message: "must not have a query or fragment (the API path is appended to it)" })
      .describe("Where Alertmanager (or Grafana) answers, with its route prefix if it has one: http://alertmanager:9093."),
    api: z
      .enum(["alertmanager", "grafana"])
      .default("alertmanager")
      .describe("alertmanager: /api/v2; grafana: Grafana's built-in Alertmanager at /api/alertmanager/grafana/api/v2."),
    basic_auth: basicAuthSchema.optional(),
    authorization: authorizationSchema.optional(),
    timeout: timeoutSchema.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.basic_auth && v.authorization) {
      ctx.addIssue({
        code: "custom",
        path: ["authorization"],
        message: "give basic_auth or authorization, not both (Alertmanager's http_config refuses both too)",
      });
    }
  });

export type AlertmanagerConfig = z.infer<typeof alertmanagerConfigSchema>;

/** The `alertmanagers:` list: every name once, since silences and verification name their Alertmanager. */
export const alertmanagersSchema = z.array(alertmanagerConfigSchema).superRefine((list, ctx) => {
  const first = new Map<string, number>();
  list.forEach((am, i) => {
    const seen = first.get(am.name);
    if (seen === undefined) first.set(am.name, i);
    else ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate name "${am.name}": alertmanagers[${seen}] has it too` });
  });
});

/** The request path prefix of the configured API: the URL (with any route prefix) and the API's base path. */
export function apiBaseUrl(config: Pick<AlertmanagerConfig, "url" | "api">): string {
  return `${config.url.replace(/\/+$/, "")}${API_BASE_PATHS[config.api]}`;
}

/** The Authorization header an Alertmanager entry sends, and every secret it carries (for redaction). */
export interface AlertmanagerAuth {
  headers: Record<string, string>;
  secrets: string[];
}

/** Reads the entry's secrets (inline or from their files); throws an Error naming the key when one is missing or empty. */
export function resolveAuth(config: AlertmanagerConfig): AlertmanagerAuth {
  if (config.basic_auth) {
    const b = config.basic_auth;
    const password = resolveSecret(b.password, b.password_file, "basic_auth.password");
    const credentials = basicAuth(b.username, password);
    return { headers: { Authorization: credentials.authorization }, secrets: credentials.secrets };
  }
  if (config.authorization) {
    const a = config.authorization;
    const credentials = resolveSecret(a.credentials, a.credentials_file, "authorization.credentials");
    return { headers: { Authorization: `${a.type} ${credentials}` }, secrets: [credentials] };
  }
  return { headers: {}, secrets: [] };
}

/**
 * What is wrong with each entry once its secret files are read, the way the client will read them:
 * config loading and `check` report a missing or empty file before the first silence needs it.
 */
export function alertmanagerProblems(list: readonly AlertmanagerConfig[]): { index: number; name: string; message: string }[] {
  const problems: { index: number; name: string; message: string }[] = [];
  list.forEach((config, index) => {
    try {
      resolveAuth(config);
    } catch (err) {
      problems.push({ index, name: config.name, message: (err as Error).message });
    }
  });
  return problems;
}
