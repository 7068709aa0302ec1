import { readFileSync } from "node:fs";
import { createServer as createPlainServer, type RequestListener, type Server } from "node:http";
import { createServer as createTlsServer, type Server as HttpsServer } from "node:https";
import type { SecureContextOptions } from "node:tls";

/** The PEM files of `tls_cert_file`, `tls_key_file` and `tls_client_ca_file`. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** When set, every client must present a certificate these CAs signed. */
  clientCaFile?: string;
}

export interface ServerOptions {
  /** Longest a request (headers and body) may take. */
  requestTimeoutMs: number;
  /** Longest the headers may take. */
  headersTimeoutMs: number;
  tls?: TlsFiles;
}

export interface HttpServer {
  server: Server;
  scheme: "http" | "https";
  /**
   * Reads the certificate files again for the next connections (a renewed certificate without a
   * restart); a file that does not read keeps the previous ones and throws why.
   */
  reloadCertificates(): void;
}

/** Reads the PEM files; errors name the config key. */
function secureContext(files: TlsFiles): SecureContextOptions {
  const read = (key: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return {
    cert: read("tls_cert_file", files.certFile),
    key: read("tls_key_file", files.keyFile),
    ...(files.clientCaFile ? { ca: read("tls_client_ca_file", files.clientCaFile) } : {}),
  };
}

/**
 * The service's server: HTTP, or HTTPS when TLS files are configured (with a client CA: a client
 * certificate is required and verified, like Alertmanager's `client_auth_type:
 * RequireAndVerifyClientCert`). Node's defaults apply otherwise: TLS 1.2 and 1.3, its cipher list.
 * Timeouts are checked every second, so a slow client (slow-loris headers or body) is cut off soon
 * after its timeout instead of holding a socket for the default 30 s check interval.
 */
export function createHttpServer(app: RequestListener, options: ServerOptions): HttpServer {
  const timeouts = {
    requestTimeout: options.requestTimeoutMs,
    headersTimeout: Math.min(options.headersTimeoutMs, options.requestTimeoutMs),
    connectionsCheckingInterval: 1000,
  };
  const files = options.tls;
  if (!files) return { server: createPlainServer(timeouts, app), scheme: "http", reloadCertificates() {} };
  const clientCerts = files.clientCaFile ? { requestCert: true, rejectUnauthorized: true } : {};
  const server: HttpsServer = createTlsServer({ ...timeouts, ...secureContext(files), ...clientCerts }, app);
  return {
    server,
    scheme: "https",
    reloadCertificates() {
      server.setSecureContext(secureContext(files));
    },
  };
}
