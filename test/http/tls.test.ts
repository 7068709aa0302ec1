import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ServiceConfig } from "../../src/config/service.js";
import { createTestPki, httpsRequest, type TestPki } from "../kit/certs.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * HTTPS with tls_cert_file / tls_key_file, and client certificates with tls_client_ca_file, on the
 * in-process service with a throwaway CA made by openssl (server certificate for IP 127.0.0.1).
 */

const tmp = mkdtempSync(join(tmpdir(), "alertdesk-tls-"));
let pki: TestPki;
let other: TestPki;
beforeAll(async () => {
  pki = await createTestPki(join(tmp, "pki"));
  other = await createTestPki(join(tmp, "other")); // a CA alertdesk does not trust
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});
async function start(config: Partial<ServiceConfig>): Promise<TestService> {
  svc = await startTestService({ config: { watchRules: false, ...config } });
  return svc;
}

describe("tls_cert_file and tls_key_file", () => {
  it("serve HTTPS with that certificate; the service's URL says https", async () => {
    const s = await start({ tls: { certFile: pki.certFile, keyFile: pki.keyFile } });
    expect(s.url).toBe(`https://127.0.0.1:${s.port}`);
    const res = await httpsRequest(`${s.url}/healthz`, { ca: pki.ca });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: "ok" });
    expect(res.peer.subject.CN).toBe("alertdesk");
  });

  it("plain HTTP on the port gets no answer", async () => {
    const s = await start({ tls: { certFile: pki.certFile, keyFile: pki.keyFile } });
    await expect(fetch(`http://127.0.0.1:${s.port}/healthz`)).rejects.toThrow();
  });

  it("a client that does not trust the CA refuses the connection", async () => {
    const s = await start({ tls: { certFile: pki.certFile, keyFile: pki.keyFile } });
    await expect(httpsRequest(`${s.url}/healthz`, { ca: other.ca })).rejects.toThrow(/self.signed|unable to verify|certificate/i);
  });

  it("reads over HTTPS need the read credential as over HTTP", async () => {
    const s = await start({ tls: { certFile: pki.certFile, keyFile: pki.keyFile }, readToken: "read-token" });
    expect((await httpsRequest(`${s.url}/api/tickets`, { ca: pki.ca })).status).toBe(401);
    const res = await httpsRequest(`${s.url}/api/tickets`, { ca: pki.ca, headers: { authorization: "Bearer read-token" } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ tickets: [] });
  });

  it("a renewed certificate is served after a reload (SIGHUP, POST /-/reload); one that does not read keeps the old", async () => {
    const certFile = join(tmp, "renew.crt");
    const keyFile = join(tmp, "renew.key");
    copyFileSync(pki.certFile, certFile);
    copyFileSync(pki.keyFile, keyFile);
    const s = await start({ tls: { certFile, keyFile } });
    expect((await httpsRequest(`${s.url}/healthz`, { ca: pki.ca })).peer.subject.CN).toBe("alertdesk");
    await pki.issueServer("alertdesk-renewed", certFile, keyFile);
    s.reload("SIGHUP"); // what `alertdesk serve` does on SIGHUP
    expect((await httpsRequest(`${s.url}/healthz`, { ca: pki.ca })).peer.subject.CN).toBe("alertdesk-renewed");
    await pki.issueServer("alertdesk-third", certFile, keyFile);
    expect((await httpsRequest(`${s.url}/-/reload`, { ca: pki.ca, method: "POST" })).status).toBe(200);
    expect((await httpsRequest(`${s.url}/healthz`, { ca: pki.ca })).peer.subject.CN).toBe("alertdesk-third");
    writeFileSync(keyFile, "not a key");
    s.reload("SIGHUP");
    expect(s.logs.join("")).toMatch(/TLS certificates not reloaded; the previous ones stay in use/);
    expect((await httpsRequest(`${s.url}/healthz`, { ca: pki.ca })).peer.subject.CN).toBe("alertdesk-third");
  });

  it("keeps the request timeouts: a slow-loris client over TLS is cut off", async () => {
    const s = await start({ tls: { certFile: pki.certFile, keyFile: pki.keyFile }, requestTimeoutMs: 2000, headersTimeoutMs: 1000 });
    const socket = connect({ host: "127.0.0.1", port: s.port, ca: pki.ca });
    socket.on("error", () => {});
    const closed = new Promise<string>((resolve) => {
      let answer = "";
      socket.on("data", (c: Buffer) => (answer += c.toString()));
      socket.on("close", () => resolve(answer));
    });
    socket.once("secureConnect", () => socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    const drip = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 200);
    try {
      // Closed by the server (at the headers timeout, checked every second), never answered 200.
      expect(await closed).not.toMatch(/^HTTP\/1\.1 200/);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });
});

describe("tls_client_ca_file", () => {
  it("requires a client certificate: none → refused", async () => {
    const s = await start({ tls: { certFile: pki.certFile, keyFile: pki.keyFile, clientCaFile: pki.caFile } });
    await expect(httpsRequest(`${s.url}/healthz`, { ca: pki.ca })).rejects.toThrow();
  });

  it("a certificate of that CA → served", async () => {
    const s = await start({ tls: { certFile: pki.certFile, keyFile: pki.keyFile, clientCaFile: pki.caFile } });
    const res = await httpsRequest(`${s.url}/healthz`, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
    expect(res.status).toBe(200);
  });

  it("a certificate of another CA → refused", async () => {
    const s = await start({ tls: { certFile: pki.certFile, keyFile: pki.keyFile, clientCaFile: pki.caFile } });
    await expect(httpsRequest(`${s.url}/healthz`, { ca: pki.ca, cert: other.clientCert, key: other.clientKey })).rejects.toThrow();
  });
});
