import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAlertmanagerClient, matchersFor } from "../../src/alertmanagers/client.js";
import { ConfigError, loadServiceConfig } from "../../src/config/service.js";

/**
 * The `alertmanagers:` list of the config file: every entry validated at start with `file:line:col`,
 * secrets from inline values or `*_file` (empty is an error, never "no credential"), and the API path
 * and Authorization header each entry makes the client send.
 */

const tmp = mkdtempSync(join(tmpdir(), "alertdesk-am-config-"));
let n = 0;
function file(text: string): string {
  const path = join(tmp, `f${++n}`);
  writeFileSync(path, text);
  return path;
}
const load = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
  const path = file(yaml);
  return { path, config: () => loadServiceConfig({ ...env, ALERTDESK_CONFIG: path }) };
};

/** A server that records what the client sends and answers like API v2's GET /alerts. */
let server: Server;
let serverUrl = "";
const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    res.writeHead(200, { "content-type": "application/json" }).end("[]");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(tmp, { recursive: true, force: true });
});

describe("valid entries", () => {
  it("plain, basic auth, bearer from a file and Grafana load as written, with their defaults", () => {
    const token = file("glsa_service_account_token\n");
    const { config } = load(
      [
        "alertmanagers:",
        "  - name: plain",
        "    url: http://alertmanager:9093",
        "  - name: with-basic",
        "    url: https://am.example.com/prefix/",
        "    basic_auth: { username: alertdesk, password: '${AM_PASSWORD}' }",
        "    timeout: 5s",
        "  - name: bearer-file",
        "    url: https://am2.example.com",
        `    authorization: { credentials_file: ${token} }`,
        "  - name: grafana",
        "    url: https://grafana.example.com",
        "    api: grafana",
        "    authorization: { type: Bearer, credentials: glsa_inline }",
        "",
      ].join("\n"),
      { AM_PASSWORD: "s3cret-pass" },
    );
    const ams = config().alertmanagers;
    expect(ams).toEqual([
      { name: "plain", url: "http://alertmanager:9093", api: "alertmanager" },
      {
        name: "with-basic",
        url: "https://am.example.com/prefix/",
        api: "alertmanager",
        basic_auth: { username: "alertdesk", password: "s3cret-pass" },
        timeout: 5000,
      },
      { name: "bearer-file", url: "https://am2.example.com", api: "alertmanager", authorization: { type: "Bearer", credentials_file: token } },
      { name: "grafana", url: "https://grafana.example.com", api: "grafana", authorization: { type: "Bearer", credentials: "glsa_inline" } },
    ]);
  });

  it("no alertmanagers: key, or an empty list, leaves the setting absent", () => {
    expect(loadServiceConfig({}).alertmanagers).toBeUndefined();
    expect(load("alertmanagers: []\n").config().alertmanagers).toBeUndefined();
  });
});

describe("what each entry makes the client send", () => {
  it.each([
    [
      "api: grafana puts every call under /api/alertmanager/grafana/api/v2, with the bearer token from its file",
      () => `{ name: g, url: '${serverUrl}/grafana/', api: grafana, authorization: { credentials_file: ${file("glsa_from_file\n")} } }`,
      /^\/grafana\/api\/alertmanager\/grafana\/api\/v2\/alerts\?filter=alertname%3D%22HostDown%22&/,
      "Bearer glsa_from_file",
    ],
    [
      "api: alertmanager (the default) uses /api/v2 under the URL's route prefix; basic auth is the Basic header",
      () => `{ name: a, url: '${serverUrl}/am', basic_auth: { username: u, password: p4ss } }`,
      /^\/am\/api\/v2\/alerts\?filter=/,
      `Basic ${Buffer.from("u:p4ss").toString("base64")}`,
    ],
    [
      "a non-Bearer scheme is sent as written",
      () => `{ name: a, url: '${serverUrl}', authorization: { type: Token, credentials: t0ken } }`,
      /^\/api\/v2\/alerts\?/,
      "Token t0ken",
    ],
    ["no auth sends no Authorization header", () => `{ name: a, url: '${serverUrl}' }`, /^\/api\/v2\/alerts\?/, undefined],
  ])("%s", async (_why, entry, path, authorization) => {
    const [am] = load(`alertmanagers:\n  - ${entry()}\n`).config().alertmanagers ?? [];
    if (!am) throw new Error("no alertmanager loaded");
    seen.length = 0;
    await createAlertmanagerClient(am.name, am).alerts(matchersFor({ alertname: "HostDown" }));
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toMatch(path);
    expect(seen[0]?.headers.authorization).toBe(authorization);
  });
});

describe("an empty secret is an error, never a request without a credential", () => {
  it.each([
    [
      "an empty password_file",
      () => `basic_auth: { username: u, password_file: ${file("\n")} }`,
      {},
      /alertmanagers\[0\] \(a\): basic_auth\.password_file: .* is empty/,
    ],
    [
      "an empty credentials_file",
      () => `authorization: { credentials_file: ${file("  \n")} }`,
      {},
      /alertmanagers\[0\] \(a\): authorization\.credentials_file: .* is empty/,
    ],
    [
      "a missing credentials_file",
      () => `authorization: { credentials_file: ${join(tmp, "nope")} }`,
      {},
      /authorization\.credentials_file: cannot read .*: ENOENT/,
    ],
    [
      "a password from an empty variable",
      () => "basic_auth: { username: u, password: '${P}' }",
      { P: "" },
      /alertmanagers\[0\]\.basic_auth\.password: set but empty/,
    ],
    ["blank inline credentials", () => "authorization: { credentials: '  ' }", {}, /alertmanagers\[0\]\.authorization\.credentials: set but empty/],
    ["basic_auth without a password", () => "basic_auth: { username: u }", {}, /alertmanagers\[0\]\.basic_auth: password or password_file is required/],
    [
      "authorization without credentials",
      () => "authorization: { type: Bearer }",
      {},
      /alertmanagers\[0\]\.authorization: credentials or credentials_file is required/,
    ],
  ])("%s", (_why, auth, env, message) => {
    const { path, config } = load(`alertmanagers:\n  - name: a\n    url: http://am:9093\n    ${auth()}\n`, env);
    expect(config).toThrow(ConfigError);
    expect(config).toThrow(message);
    // Every one of them says where in the file.
    expect(config).toThrow(new RegExp(`^${path}:\\d+:\\d+: `));
  });
});

describe("entries that cannot work are refused with file:line:col", () => {
  it.each([
    ["a URL that is not one", "    url: alertmanager:9093\n", /:3:10: alertmanagers\[0\]\.url: must be an http or https URL/],
    ["a URL of another scheme", "    url: ftp://am:21\n", /:3:10: alertmanagers\[0\]\.url: must be an http or https URL/],
    ["credentials in the URL", "    url: http://user:pw@am:9093\n", /:3:10: alertmanagers\[0\]\.url: must not carry user:password; use basic_auth/],
    ["a URL with a query", "    url: http://am:9093/?x=1\n", /:3:10: alertmanagers\[0\]\.url: must not have a query/],
    ["an unknown api", "    url: http://am:9093\n    api: mimir\n", /:4:10: alertmanagers\[0\]\.api: /],
    ["a bad timeout", "    url: http://am:9093\n    timeout: 5 seconds\n", /:4:14: alertmanagers\[0\]\.timeout: must be a duration/],
    [
      "a misspelt key",
      "    url: http://am:9093\n    basic_auht: { username: u, password: p }\n",
      /alertmanagers\[0\]: unknown key "basic_auht" \(did you mean "basic_auth"\?\)/,
    ],
    [
      "a misspelt key inside basic_auth",
      "    url: http://am:9093\n    basic_auth: { username: u, pasword: p }\n",
      /alertmanagers\[0\]\.basic_auth: unknown key "pasword" \(did you mean "password"\?\)/,
    ],
    [
      "both basic_auth and authorization",
      "    url: http://am:9093\n    basic_auth: { username: u, password: p }\n    authorization: { credentials: t }\n",
      /:5:20: alertmanagers\[0\]\.authorization: give basic_auth or authorization, not both/,
    ],
    [
      "both password and password_file",
      "    url: http://am:9093\n    basic_auth: { username: u, password: p, password_file: /etc/pw }\n",
      /alertmanagers\[0\]\.basic_auth\.password_file: give password or password_file, not both/,
    ],
    [
      "authorization type Basic",
      "    url: http://am:9093\n    authorization: { type: Basic, credentials: dTpw }\n",
      /authorization\.type: Basic is not an authorization type here; use basic_auth/,
    ],
  ])("%s", (_why, rest, message) => {
    const { path, config } = load(`alertmanagers:\n  - name: a\n${rest}`);
    expect(config).toThrow(ConfigError);
    expect(config).toThrow(message);
    expect(config).toThrow(new RegExp(`^${path}:\\d+:\\d+: `));
  });

  it("a missing name or url says which", () => {
    const { config } = load("alertmanagers:\n  - url: http://am:9093\n  - name: b\n");
    expect(config).toThrow(/:2:5: alertmanagers\[0\]\.name: is required/);
    expect(config).toThrow(/:3:5: alertmanagers\[1\]\.url: /);
  });

  it("a duplicate name names both positions", () => {
    const { path, config } = load(
      "alertmanagers:\n  - name: prod\n    url: http://am1:9093\n  - name: staging\n    url: http://am2:9093\n  - name: prod\n    url: http://am3:9093\n",
    );
    expect(config).toThrow(`${path}:6:11: alertmanagers[2].name: duplicate name "prod": alertmanagers[0] has it too`);
  });

  it("alertmanagers: must be a list", () => {
    const { config } = load("alertmanagers:\n  prod: { url: http://am:9093 }\n");
    expect(config).toThrow(/:2:3: alertmanagers: /);
  });
});
