import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A throwaway CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, as PEM files. */
export interface TestPki {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  ca: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** Issues another server certificate (a new serial, `cn`) from the same CA into `certFile`/`keyFile` paths given. */
  issueServer(cn: string, certFile: string, keyFile: string): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run("/usr/bin/openssl", args, { cwd, timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(" ")}: ${e.stderr ?? e.message}`);
  }
}

/** One key (EC P-256: fast to make) and a certificate signed by the CA with `extensions`. */
async function issue(dir: string, name: string, cn: string, extensions: string, out: { cert: string; key: string }): Promise<void> {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  const csr = join(dir, `${name}.csr`);
  await openssl(
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", out.key, "-out", csr, "-subj", `/CN=${cn}`],
    dir,
  );
  await openssl(
    ["x509", "-req", "-in", csr, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", out.cert],
    dir,
  );
}

/** Makes the PKI in `dir` with /usr/bin/openssl. */
export async function createTestPki(dir: string): Promise<TestPki> {
  mkdirSync(dir, { recursive: true });
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=alertdesk test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  const serverExt = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n";
  const issueServer = (cn: string, cert: string, key: string) => issue(dir, `server-${cn}`, cn, serverExt, { cert, key });
  const pki = {
    dir,
    caFile: join(dir, "ca.crt"),
    certFile: join(dir, "server.crt"),
    keyFile: join(dir, "server.key"),
    clientCertFile: join(dir, "client.crt"),
    clientKeyFile: join(dir, "client.key"),
  };
  await issueServer("alertdesk", pki.certFile, pki.keyFile);
  await issue(dir, "client", "prometheus", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n", {
    cert: pki.clientCertFile,
    key: pki.clientKeyFile,
  });
  return {
    ...pki,
    ca: readFileSync(pki.caFile),
    clientCert: readFileSync(pki.clientCertFile),
    clientKey: readFileSync(pki.clientKeyFile),
    issueServer,
  };
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The certificate the server presented. */
  peer: PeerCertificate;
}

/** One HTTPS request on a new connection (no keep-alive: a reloaded certificate shows at once). */
export function httpsRequest(
  url: string,
  options: { ca?: Buffer; cert?: Buffer; key?: Buffer; method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? "GET",
        agent: false,
        headers: options.headers ?? {},
        timeout: 60_000,
        ...(options.ca ? { ca: options.ca } : {}),
        ...(options.cert ? { cert: options.cert } : {}),
        ...(options.key ? { key: options.key } : {}),
      },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), peer }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(options.body);
  });
}
