import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service.js";
import { startService } from "../../src/main.js";
import { createLogger } from "../../src/observability/logger.js";

/**
 * Settings that used to start a service that silently did something else (no authentication, every
 * webhook refused, a hang, a stack trace) are clear errors at start, naming the setting.
 */

const tmp = mkdtempSync(join(tmpdir(), "alertdesk-config-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const path = join(tmp, `f${++n}`);
  writeFileSync(path, text);
  return path;
}
const config = (yaml: string) => ({ ALERTDESK_CONFIG: file(yaml) });

describe("an empty credential is an error, never authentication turned off", () => {
  it.each([
    ["a webhook_token_file holding only a newline", () => config(`webhook_token_file: ${file("\n")}`), /webhook_token_file: .* is empty/],
    ["webhook_token: ${WT} with WT set but empty", () => ({ ...config("webhook_token: ${WT}\n"), WT: "" }), /webhook_token: set but empty/],
    ["ALERTDESK_WEBHOOK_TOKEN set but empty", () => ({ ALERTDESK_WEBHOOK_TOKEN: "" }), /ALERTDESK_WEBHOOK_TOKEN: set but empty/],
    ["an empty admin_token_file", () => config(`admin_token_file: ${file("  \n")}`), /admin_token_file: .* is empty/],
    ["ALERTDESK_ADMIN_TOKEN of blanks", () => ({ ALERTDESK_ADMIN_TOKEN: "   " }), /ALERTDESK_ADMIN_TOKEN: set but empty/],
    [
      "an empty basic-auth password_file",
      () => config(`webhook_basic_auth: { username: am, password_file: ${file("\n")} }`),
      /webhook_basic_auth.password_file: .* is empty/,
    ],
    [
      "a helpdesk's empty token_file",
      () => config(`helpdesks:\n  desk: { type: zendesk, url: 'https://acme.zendesk.com', email: a@b.c, token_file: ${file("\n")} }\n`),
      /helpdesks\.desk: token_file: .* is empty/,
    ],
    [
      "a helpdesk's token from an empty variable",
      () => ({ ...config("helpdesks:\n  desk: { type: zendesk, url: 'https://acme.zendesk.com', email: a@b.c, token: '${ZD}' }\n"), ZD: "" }),
      /helpdesks\.desk: token or token_file is required/,
    ],
  ])("%s", (_why, env, message) => {
    expect(() => loadServiceConfig(env())).toThrow(message);
  });

  it("a real token still works, from each source", () => {
    expect(loadServiceConfig({ ALERTDESK_WEBHOOK_TOKEN: "t0ken" }).webhookToken).toBe("t0ken");
    expect(loadServiceConfig({ ...config("webhook_token: ${WT}\n"), WT: "from-env" }).webhookToken).toBe("from-env");
    expect(loadServiceConfig(config(`webhook_token_file: ${file("from-file\n")}`)).webhookToken).toBe("from-file");
    expect(loadServiceConfig({}).webhookToken).toBeUndefined();
  });
});

describe("the ingest thread switch", () => {
  it.each([
    ["unset", {}, undefined],
    ["ALERTDESK_INGEST_THREAD=false", { ALERTDESK_INGEST_THREAD: "false" }, false],
    ["ALERTDESK_INGEST_THREAD=0", { ALERTDESK_INGEST_THREAD: "0" }, false],
    ["ALERTDESK_INGEST_THREAD=true", { ALERTDESK_INGEST_THREAD: "true" }, true],
    ["ingest_thread: false in the file", () => config("ingest_thread: false\n"), false],
    ["the environment over the file", () => ({ ...config("ingest_thread: false\n"), ALERTDESK_INGEST_THREAD: "1" }), true],
  ] as const)("%s", (_name, env, expected) => {
    expect(loadServiceConfig(typeof env === "function" ? env() : env).ingestThread).toBe(expected);
  });
});

describe("settings that cannot work are refused at start", () => {
  it.each([
    ["a body limit of 0", { ALERTDESK_BODY_LIMIT: "0" }, /ALERTDESK_BODY_LIMIT: must be at least 1kb, got 0 bytes/],
    ["an ingest thread switch that is not a boolean", { ALERTDESK_INGEST_THREAD: "maybe" }, /ALERTDESK_INGEST_THREAD: must be true or false, got "maybe"/],
    ["ingest_thread given as text", () => config("ingest_thread: sometimes\n"), /ingest_thread/],
    ["a body limit below one notification", () => config("body_limit: 100b\n"), /body_limit: must be at least 1kb/],
    [
      "a backoff base above its maximum",
      () => config("delivery: { backoff_base: 10m, backoff_max: 1m }\n"),
      /delivery.backoff_base \(600000 ms\) is above delivery.backoff_max \(60000 ms\)/,
    ],
    ["a backoff base above the default maximum (5m)", () => config("delivery: { backoff_base: 1h }\n"), /is above delivery.backoff_max \(300000 ms\)/],
    [
      "an unknown log level",
      { ALERTDESK_LOG_LEVEL: "verbose" },
      /ALERTDESK_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/,
    ],
  ])("%s", (_why, env, message) => {
    expect(() => loadServiceConfig(typeof env === "function" ? env() : env)).toThrow(message);
  });

  it("a data directory on a kernel filesystem fails at once with the reason (it used to hang)", async () => {
    const base = loadServiceConfig({ ALERTDESK_DATA_DIR: "/proc/alertdesk-test/data", PORT: "0", ALERTDESK_LISTEN_ADDRESS: "127.0.0.1" });
    await expect(startService({ config: { ...base, watchRules: false }, log: createLogger({ level: "silent" }) })).rejects.toThrow(
      "cannot create the data directory /proc/alertdesk-test: ENOENT",
    );
  });
});
