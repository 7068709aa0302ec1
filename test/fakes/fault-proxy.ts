import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A loopback HTTP proxy in front of a helpdesk (a fake or the real Request Tracker) that injects the
 * failures delivery must survive: error statuses with headers, refused requests, and the unknown
 * outcome (the request reaches the helpdesk, the answer never comes back). It records every request.
 */

export interface ProxiedRequest {
  at: number;
  method: string;
  path: string;
  status: number | "dropped" | "refused";
}

type Fault =
  | { kind: "status"; status: number; headers: Record<string, string>; body: string }
  | { kind: "refuse" }
  | { kind: "drop-after-forward" }
  | { kind: "hang" };

export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  /** The next `count` requests (matching `method`, if given) get this fault instead of a normal answer. */
  arm(fault: Fault, options?: { count?: number; method?: string; path?: RegExp }): void;
  /** Every request gets the fault until `disarm()`. */
  armAll(fault: Fault): void;
  disarm(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  let armed: { fault: Fault; count: number; method?: string; path?: RegExp }[] = [];
  let always: Fault | undefined;
  const sockets = new Set<Socket>();

  function take(req: IncomingMessage): Fault | undefined {
    if (always) return always;
    const i = armed.findIndex((a) => (!a.method || a.method === req.method) && (!a.path || a.path.test(req.url ?? "")));
    if (i < 0) return undefined;
    const a = armed[i] as (typeof armed)[number];
    if (--a.count <= 0) armed.splice(i, 1);
    return a.fault;
  }

  function forward(
    req: IncomingMessage,
    body: Buffer,
    onResponse: (status: number, headers: IncomingMessage["headers"], data: Buffer) => void,
    onError: () => void,
  ) {
    const out = request(
      { hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => onResponse(res.statusCode ?? 502, res.headers, Buffer.concat(chunks)));
      },
    );
    out.on("error", onError);
    out.end(body);
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const entry: ProxiedRequest = { at: Date.now(), method: req.method ?? "", path: req.url ?? "", status: 0 };
      requests.push(entry);
      const fault = take(req);
      if (fault?.kind === "refuse") {
        entry.status = "refused";
        req.socket.destroy();
        return;
      }
      if (fault?.kind === "hang") {
        entry.status = "dropped";
        return; // never answers; the client's timeout ends it
      }
      if (fault?.kind === "status") {
        entry.status = fault.status;
        res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers }).end(fault.body);
        return;
      }
      forward(
        req,
        body,
        (status, headers, data) => {
          if (fault?.kind === "drop-after-forward") {
            entry.status = "dropped";
            req.socket.destroy();
            return;
          }
          entry.status = status;
          const h = { ...headers };
          delete h["transfer-encoding"];
          delete h.connection;
          res.writeHead(status, h as Record<string, string>).end(data);
        },
        () => {
          entry.status = 502;
          res.writeHead(502).end();
        },
      );
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    arm(fault, options = {}) {
      armed.push({ fault, count: options.count ?? 1, ...(options.method ? { method: options.method } : {}), ...(options.path ? { path: options.path } : {}) });
    },
    armAll(fault) {
      always = fault;
    },
    disarm() {
      armed = [];
      always = undefined;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A status fault with a JSON body. */
export function status(code: number, headers: Record<string, string> = {}, body: unknown = { error: `injected ${code}` }): Fault {
  return { kind: "status", status: code, headers, body: JSON.stringify(body) };
}
