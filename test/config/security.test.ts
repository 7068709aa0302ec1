import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service.js";
import { createTestPki, type TestPki } from "../kit/certs.js";

/**
 * The read-access and TLS settings: what they load to, and every setting that cannot work (an empty
 * read token, a hash that is no bcrypt hash, a certificate that does not read or fit its key) as an
 * error at start that names the key, never a service that starts open or without TLS.
 */

const tmp = mkdtempSync(join(tmpdir(), "alertdesk-config-security-"));
let pki: TestPki;
let other: TestPki;
beforeAll(async () => {
  pki = await createTestPki(join(tmp, "pki"));
  other = await createTestPki(join(tmp, "other"));
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const path = join(tmp, `f${++n}.yml`);
  writeFileSync(path, text);
  return path;
}
const HASH = bcrypt.hashSync("pass", 4);

describe("read access settings", () => {
  it("load the read token from each source, the users, reads_open and metrics_auth", () => {
    expect(loadServiceConfig({ ALERTDESK_READ_TOKEN: "from-env" }).readToken).toBe("from-env");
    expect(loadServiceConfig({ ALERTDESK_CONFIG: file("read_token: ${RT}\n"), RT: "from-subst" }).readToken).toBe("from-subst");
    expect(loadServiceConfig({ ALERTDESK_CONFIG: file(`read_token_file: ${file("from-file\n")}\n`) }).readToken).toBe("from-file");
    const c = loadServiceConfig({ ALERTDESK_CONFIG: file(`read_users:\n  prometheus: "${HASH}"\nmetrics_auth: none\n`) });
    expect(c.readUsers).toEqual({ prometheus: HASH });
    expect(c.metricsAuth).toBe("none");
    expect(loadServiceConfig({ ALERTDESK_CONFIG: file("reads_open: true\n") }).readsOpen).toBe(true);
    const none = loadServiceConfig({});
    expect([none.readToken, none.readUsers, none.readsOpen, none.metricsAuth, none.tls]).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it.each([
    ["ALERTDESK_READ_TOKEN set but empty", () => ({ ALERTDESK_READ_TOKEN: " " }), /ALERTDESK_READ_TOKEN: set but empty/],
    ["read_token: ${RT} with RT empty", () => ({ ALERTDESK_CONFIG: file("read_token: ${RT}\n"), RT: "" }), /read_token: set but empty/],
    ["an empty read_token_file", () => ({ ALERTDESK_CONFIG: file(`read_token_file: ${file("\n")}\n`) }), /read_token_file: .* is empty/],
    ["a read token equal to the admin token", () => ({ ALERTDESK_READ_TOKEN: "same", ALERTDESK_ADMIN_TOKEN: "same" }), /equals the admin token/],
    [
      "a read user whose hash is a plain password",
      () => ({ ALERTDESK_CONFIG: file("read_users:\n  prometheus: secret\n") }),
      /f\d+\.yml:2:15: read_users\.prometheus: must be a bcrypt hash/,
    ],
    [
      "a bcrypt hash of an impossible cost",
      () => ({ ALERTDESK_CONFIG: file(`read_users:\n  prometheus: "${HASH.replace("$04$", "$99$")}"\n`) }),
      /read_users\.prometheus: must be a bcrypt hash/,
    ],
    [
      "a user name with a colon",
      () => ({ ALERTDESK_CONFIG: file(`read_users:\n  "a:b": "${HASH}"\n`) }),
      /f\d+\.yml:2:\d+: read_users\.a:b: a user name must be non-empty without ':'/,
    ],
    [
      "reads_open with a read token",
      () => ({ ALERTDESK_CONFIG: file("reads_open: true\n"), ALERTDESK_READ_TOKEN: "t" }),
      /f\d+\.yml:1:\d+: reads_open: true lets everybody read without a credential, yet a read token is configured/,
    ],
    ["reads_open with read users", () => ({ ALERTDESK_CONFIG: file(`reads_open: true\nread_users: { p: "${HASH}" }\n`) }), /yet read_users is configured/],
    ["an unknown metrics_auth", () => ({ ALERTDESK_CONFIG: file("metrics_auth: basic\n") }), /metrics_auth: Invalid option: expected one of "read"\|"none"/],
  ])("%s is refused", (_why, env, message) => {
    expect(() => loadServiceConfig(env())).toThrow(message);
  });
});

describe("TLS settings", () => {
  const tls = (lines: string) => ({ ALERTDESK_CONFIG: file(lines) });

  it("load the three files", () => {
    const c = loadServiceConfig(tls(`tls_cert_file: ${pki.certFile}\ntls_key_file: ${pki.keyFile}\ntls_client_ca_file: ${pki.caFile}\n`));
    expect(c.tls).toEqual({ certFile: pki.certFile, keyFile: pki.keyFile, clientCaFile: pki.caFile });
  });

  it.each([
    [
      "a missing certificate file",
      () => tls(`tls_cert_file: ${tmp}/nope.crt\ntls_key_file: ${pki.keyFile}\n`),
      /f\d+\.yml:1:16: tls_cert_file: cannot read .*nope\.crt: ENOENT/,
    ],
    [
      "a missing key file",
      () => tls(`tls_cert_file: ${pki.certFile}\ntls_key_file: ${tmp}/nope.key\n`),
      /f\d+\.yml:2:15: tls_key_file: cannot read .*nope\.key: ENOENT/,
    ],
    ["a certificate without its key", () => tls(`tls_cert_file: ${pki.certFile}\n`), /tls_cert_file: needs tls_key_file as well/],
    ["a key without its certificate", () => tls(`tls_key_file: ${pki.keyFile}\n`), /tls_key_file: needs tls_cert_file as well/],
    ["a client CA without TLS", () => tls(`tls_client_ca_file: ${pki.caFile}\n`), /tls_client_ca_file: needs tls_cert_file and tls_key_file/],
    [
      "a certificate that is not PEM",
      () => tls(`tls_cert_file: ${file("hello")}\ntls_key_file: ${pki.keyFile}\n`),
      /tls_cert_file: .* is not a PEM certificate/,
    ],
    ["a key that is not PEM", () => tls(`tls_cert_file: ${pki.certFile}\ntls_key_file: ${file("hello")}\n`), /tls_key_file: .* is not a PEM private key/],
    [
      "the key of another certificate",
      () => tls(`tls_cert_file: ${pki.certFile}\ntls_key_file: ${other.keyFile}\n`),
      /tls_key_file: .*other\/server\.key is not the key of tls_cert_file .*pki\/server\.crt/,
    ],
    [
      "a client CA file that is not PEM",
      () => tls(`tls_cert_file: ${pki.certFile}\ntls_key_file: ${pki.keyFile}\ntls_client_ca_file: ${file("x")}\n`),
      /tls_client_ca_file: .* is not a PEM certificate/,
    ],
  ])("%s is refused, naming the key", (_why, env, message) => {
    expect(() => loadServiceConfig(env())).toThrow(message);
  });
});
