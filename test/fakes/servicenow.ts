import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";

/**
 * A stateful fake of ServiceNow's Table API for incidents (docs/helpdesk-apis.md §3):
 * Basic auth, `{"result": …}` and `{"error": {message, detail}, "status": "failure"}` bodies, priority
 * computed from impact × urgency by the base-system lookup, the state model (resolve needs close_code
 * and close_notes, closed is read-only), journals, and `sysparm_query` on correlation_id.
 */

export interface FakeSnIncident {
  sys_id: string;
  number: string;
  short_description: string;
  description: string;
  impact: string;
  urgency: string;
  priority: string;
  state: string;
  correlation_id: string;
  correlation_display: string;
  close_code: string;
  close_notes: string;
  parent_incident: string;
  assignment_group: string;
  work_notes: string[];
  created: number;
}

export interface FakeServicenow {
  url: string;
  username: string;
  password: string;
  incidents: FakeSnIncident[];
  /** Closes an incident, as ServiceNow does a day after it was resolved. */
  close(sysId: string): void;
  stop(): Promise<void>;
}

const LOOKUP: Record<string, string> = { "11": "1", "12": "2", "21": "2", "13": "3", "22": "3", "31": "3", "23": "4", "32": "4", "33": "5" };

export async function startFakeServicenow(options: { username?: string; password?: string } = {}): Promise<FakeServicenow> {
  const username = options.username ?? "alertdesk.integration";
  const password = options.password ?? "sn-secret-password-77";
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  const incidents: FakeSnIncident[] = [];
  let clock = 0;
  const app = express();
  app.use(express.json());
  const fail = (res: Response, code: number, message: string, detail = "") => res.status(code).json({ error: { message, detail }, status: "failure" });
  app.use((req: Request, res: Response, next) => {
    if (req.headers.authorization !== expected) return void fail(res, 401, "User Not Authenticated", "Required to provide Auth information");
    next();
  });
  const prio = (i: FakeSnIncident) => {
    i.priority = LOOKUP[`${i.impact}${i.urgency}`] ?? "5";
  };
  const str = (v: unknown, fallback = "") => (v === undefined || v === null ? fallback : String(v));

  app.post("/api/now/table/incident", (req: Request, res: Response) => {
    const b = req.body as Record<string, unknown>;
    if (!b.short_description) return void fail(res, 400, "Data Policy Exception: Short description is mandatory");
    const i: FakeSnIncident = {
      sys_id: randomBytes(16).toString("hex"),
      number: `INC${String(10_000 + incidents.length + 1).padStart(7, "0")}`,
      short_description: str(b.short_description),
      description: str(b.description),
      impact: str(b.impact, "3"),
      urgency: str(b.urgency, "3"),
      priority: "5",
      state: "1",
      correlation_id: str(b.correlation_id),
      correlation_display: str(b.correlation_display),
      close_code: "",
      close_notes: "",
      parent_incident: str(b.parent_incident),
      assignment_group: str(b.assignment_group),
      work_notes: b.work_notes ? [str(b.work_notes)] : [],
      created: ++clock,
    };
    prio(i);
    incidents.push(i);
    res.status(201).json({ result: i });
  });

  app.patch("/api/now/table/incident/:id", (req: Request, res: Response) => {
    const i = incidents.find((x) => x.sys_id === req.params.id);
    if (!i) return void fail(res, 404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval");
    if (i.state === "7" || i.state === "8") return void fail(res, 403, "Operation Failed", "ACL Exception Update Failed due to security constraints");
    const b = req.body as Record<string, unknown>;
    if (str(b.state) === "6" && (!b.close_code || !b.close_notes)) {
      return void fail(res, 403, "Operation Failed", "Data Policy Exception: Resolution code, Resolution notes are mandatory");
    }
    if (b.work_notes) i.work_notes.push(str(b.work_notes));
    for (const k of ["state", "impact", "urgency", "close_code", "close_notes"] as const) if (b[k] !== undefined) i[k] = str(b[k]);
    prio(i);
    res.json({ result: i });
  });

  app.get("/api/now/table/incident/:id", (req: Request, res: Response) => {
    const i = incidents.find((x) => x.sys_id === req.params.id);
    if (!i) return void fail(res, 404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval");
    res.json({ result: i });
  });

  app.get("/api/now/table/incident", (req: Request, res: Response) => {
    const query = str(req.query.sysparm_query);
    let list = [...incidents];
    for (const clause of query.split("^").filter(Boolean)) {
      const eq = /^([a-z_]+)=(.*)$/.exec(clause);
      if (eq) list = list.filter((i) => String((i as unknown as Record<string, unknown>)[eq[1] as string]) === eq[2]);
      else if (clause === "ORDERBYDESCsys_created_on") list.sort((a, b) => b.created - a.created);
      else if (clause === "ORDERBYsys_created_on") list.sort((a, b) => a.created - b.created);
      else return void fail(res, 400, `Invalid query clause ${clause}`);
    }
    const limit = Number(req.query.sysparm_limit ?? 10_000);
    res.json({ result: list.slice(0, limit) });
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    username,
    password,
    incidents,
    close(sysId) {
      const i = incidents.find((x) => x.sys_id === sysId);
      if (i) i.state = "7";
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
