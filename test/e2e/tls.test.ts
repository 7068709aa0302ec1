import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { createTestPki, httpsRequest, type TestPki } from "../kit/certs.js";
import { type Lab, startLab } from "../kit/lab.js";
import { type ServiceProcess, spawnService } from "../kit/process.js";

/**
 * The real Alertmanager 0.25 of the lab sends to alertdesk over HTTPS: alertdesk (its own process)
 * serves tls_cert_file / tls_key_file and requires client certificates (tls_client_ca_file);
 * Alertmanager's webhook has `http_config.tls_config` with `ca_file` and its client certificate.
 * The tickets are read back over HTTPS with the read token. Everything on loopback, stopped at the end.
 */

const WEBHOOK_TOKEN = "e2e-tls-webhook-token";
const READ_TOKEN = "e2e-tls-read-token";
const PORT = 24095;
const BASE = 24090; // Prometheus 24090, Alertmanager 24093, node exporter 24100: clear of the other e2e files
const BASE_URL = `https://127.0.0.1:${PORT}`;
const root = mkdtempSync(join(tmpdir(), "alertdesk-e2e-tls-"));
let pki: TestPki;
let alertdesk: ServiceProcess | undefined;
let lab: Lab | undefined;

beforeAll(async () => {
  pki = await createTestPki(join(root, "pki"));
  const rulesDir = join(root, "rules");
  mkdirSync(rulesDir);
  copyFileSync(new URL("../../rules/00-defaults.yaml", import.meta.url), join(rulesDir, "00-defaults.yaml"));
  const configFile = join(root, "alertdesk.yml");
  writeFileSync(
    configFile,
    [`tls_cert_file: ${pki.certFile}`, `tls_key_file: ${pki.keyFile}`, `tls_client_ca_file: ${pki.caFile}`, "delivery:", "  poll_interval: 100ms", ""].join(
      "\n",
    ),
  );
  alertdesk = await spawnService({
    PORT: String(PORT),
    ALERTDESK_DATA_DIR: join(root, "data"),
    ALERTDESK_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    ALERTDESK_READ_TOKEN: READ_TOKEN,
    ALERTDESK_CONFIG: configFile,
    ALERTDESK_RULES: rulesDir,
  });
  lab = await startLab({
    webhookUrl: `${BASE_URL}/webhooks/alertmanager`,
    token: WEBHOOK_TOKEN,
    portBase: BASE,
    labDir: join(root, "lab"),
    webhookTls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile },
  });
  // A first run installs the lab's packages; on a slow, busy machine every daemon starts slowly.
}, 1_200_000);

afterAll(async () => {
  await lab?.stop();
  await alertdesk?.kill();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

/** A GET over HTTPS as a client with the CA and the client certificate. */
function get(path: string, headers: Record<string, string> = { authorization: `Bearer ${READ_TOKEN}` }) {
  return httpsRequest(`${BASE_URL}${path}`, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, headers });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function serviceDownTicket(check: (t: BuiltinTicket) => boolean): Promise<BuiltinTicket | undefined> {
  const res = await get("/api/tickets");
  if (res.status !== 200) return undefined;
  const list = (JSON.parse(res.body) as { tickets: BuiltinTicket[] }).tickets.filter((t) => t.subject.startsWith("LabServiceDown"));
  expect(list.length).toBeLessThanOrEqual(1);
  return list[0] && check(list[0]) ? list[0] : undefined;
}

describe("Alertmanager → alertdesk over HTTPS (tls_config.ca_file, client certificate)", () => {
  it("alertdesk answers only TLS clients with a certificate of its CA, and reads need the read token", async () => {
    await expect(fetch(`http://127.0.0.1:${PORT}/healthz`)).rejects.toThrow();
    await expect(httpsRequest(`${BASE_URL}/healthz`, { ca: pki.ca })).rejects.toThrow();
    expect((await get("/healthz", {})).status).toBe(200);
    expect((await get("/api/tickets", {})).status).toBe(401);
    expect((await get("/api/tickets")).status).toBe(200);
  });

  it("LabServiceDown fires → a P1 ticket; the service recovers → solved", async () => {
    const l = lab as Lab;
    l.setServicesDown(["api"]);
    const opened = await until("the P1 ticket", () => serviceDownTicket(() => true));
    expect(opened).toMatchObject({ priority: "P1", status: "open", category: "function" });
    expect(opened.body).toContain("service=api");
    l.setServicesDown([]);
    const solved = await until("the resolve", () => serviceDownTicket((t) => t.status === "solved"));
    expect(solved.id).toBe(opened.id);
  });
});
