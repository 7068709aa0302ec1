import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";

/**
 * A stateful fake of ServiceNow's Table API (docs/helpdesk-apis.md §3, docs/helpdesks/servicenow.md):
 * Basic auth for several users (alertdesk's integration user and a service desk agent), `{"result": …}`
 * and `{"error": {message, detail}, "status": "failure"}` bodies, priority computed from impact ×
 * urgency by the base-system lookup, the state model (resolve needs close_code and close_notes, On
 * Hold needs hold_reason, closed is read-only), the journal (`sys_journal_field`) and the audit trail
 * (`sys_audit`, every change, inserts and alertdesk's own included), `sys_user`, encoded queries
 * (`=`, `!=`, `IN`, `>=`, `>`, `<=`, `<`, `^OR`, `ORDERBY`, `ORDERBYDESC`), paging with
 * `sysparm_limit` / `sysparm_offset`, `X-Total-Count` and `Link`, `sysparm_fields`, and per-user
 * hourly rate limit rules answering 429 with Retry-After and the X-RateLimit-* headers.
 *
 * Dates are `yyyy-MM-dd HH:mm:ss` in UTC, to the second, from `options.now` (the real clock by
 * default): several changes within one second share a timestamp, as on a real instance.
 */

export interface FakeSnUser {
  sys_id: string;
  user_name: string;
  name: string;
  password: string;
}

export interface FakeSnIncident {
  sys_id: string;
  number: string;
  short_description: string;
  description: string;
  impact: string;
  urgency: string;
  priority: string;
  state: string;
  hold_reason: string;
  correlation_id: string;
  correlation_display: string;
  close_code: string;
  close_notes: string;
  parent_incident: string;
  assignment_group: string;
  assigned_to: string;
  caller_id: string;
  category: string;
  /** Every work note's text (alertdesk's and agents'), oldest first. */
  work_notes: string[];
  /** Every additional comment's text, oldest first. */
  comments: string[];
  sys_created_on: string;
  sys_created_by: string;
  sys_updated_on: string;
  sys_updated_by: string;
  sys_mod_count: number;
  /** Creation order, finer than the second `sys_created_on` holds (the lookup by key wants the newest). */
  created: number;
}

export interface FakeSnJournalEntry {
  sys_id: string;
  name: string;
  element: "comments" | "work_notes";
  element_id: string;
  value: string;
  sys_created_on: string;
  sys_created_by: string;
}

export interface FakeSnAudit {
  sys_id: string;
  tablename: string;
  documentkey: string;
  fieldname: string;
  oldvalue: string;
  newvalue: string;
  user: string;
  sys_created_on: string;
}

export interface FakeSnRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  user: string;
}

export interface FakeServicenow {
  url: string;
  /** alertdesk's integration user. */
  username: string;
  password: string;
  integration: FakeSnUser;
  /** A service desk agent (itil), who acts through `act`. */
  agent: FakeSnUser;
  users: FakeSnUser[];
  incidents: FakeSnIncident[];
  journal: FakeSnJournalEntry[];
  audits: FakeSnAudit[];
  /** Every authenticated request, oldest first. */
  requests: FakeSnRequest[];
  /** Closes an incident as the system user, as ServiceNow's auto-close does a day after it was resolved. */
  close(sysId: string): void;
  /**
   * An update made by `user` (a user_name), exactly as a PATCH by that user would make it: journal
   * entries, audit records, sys_updated_on. Throws where ServiceNow would refuse the update.
   */
  act(user: string, sysId: string, changes: Record<string, string>): void;
  /** An incident somebody else created (not alertdesk's: no correlation_display unless given). */
  insert(user: string, fields: Record<string, string>): FakeSnIncident;
  /** A rate limit rule for one user (sys_rate_limit_rules): at most `perHour` requests per clock hour. */
  limit(user: string, perHour: number): void;
  stop(): Promise<void>;
}

export interface FakeServicenowOptions {
  username?: string;
  password?: string;
  /** The instance's clock (ms since the epoch). */
  now?: () => number;
  /** New sys_ids (default random, as ServiceNow's are: their order says nothing of time). */
  sysId?: () => string;
}

const LOOKUP: Record<string, string> = { "11": "1", "12": "2", "21": "2", "13": "3", "22": "3", "31": "3", "23": "4", "32": "4", "33": "5" };

/** Columns each table answers for (in queries and `sysparm_fields`). */
const COLUMNS: Record<string, readonly string[]> = {
  incident: [
    "sys_id",
    "number",
    "short_description",
    "description",
    "impact",
    "urgency",
    "priority",
    "state",
    "hold_reason",
    "correlation_id",
    "correlation_display",
    "close_code",
    "close_notes",
    "parent_incident",
    "assignment_group",
    "assigned_to",
    "caller_id",
    "category",
    "work_notes",
    "comments",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
  ],
  sys_journal_field: ["sys_id", "name", "element", "element_id", "value", "sys_created_on", "sys_created_by"],
  sys_audit: ["sys_id", "tablename", "documentkey", "fieldname", "oldvalue", "newvalue", "user", "sys_created_on"],
  sys_user: ["sys_id", "user_name", "name"],
};

/** Incident fields a write may set (the rest are the system's). */
const WRITABLE = [
  "short_description",
  "description",
  "impact",
  "urgency",
  "state",
  "hold_reason",
  "correlation_id",
  "correlation_display",
  "close_code",
  "close_notes",
  "parent_incident",
  "assignment_group",
  "assigned_to",
  "caller_id",
  "category",
] as const;

type Row = Record<string, string>;

/** An encoded query: AND of terms, each an OR of conditions; then the sort keys. */
interface Query {
  terms: ((row: Row) => boolean)[][];
  order: { field: string; desc: boolean }[];
}

function parseQuery(query: string, columns: readonly string[]): Query | string {
  const q: Query = { terms: [], order: [] };
  for (const clause of query.split("^").filter(Boolean)) {
    const order = /^ORDERBY(DESC)?([a-z_]+)$/.exec(clause);
    if (order) {
      if (!columns.includes(order[2] as string)) return clause;
      q.order.push({ field: order[2] as string, desc: order[1] === "DESC" });
      continue;
    }
    const or = clause.startsWith("OR");
    const m = /^([a-z_]+)(!=|>=|<=|NOTIN|IN|=|>|<)(.*)$/.exec(or ? clause.slice(2) : clause);
    if (!m || !columns.includes(m[1] as string)) return clause;
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const list = value.split(",");
    const test = (row: Row): boolean => {
      const v = row[field] ?? "";
      switch (op) {
        case "=":
          return v === value;
        case "!=":
          return v !== value;
        case "IN":
          return list.includes(v);
        case "NOTIN":
          return !list.includes(v);
        case ">=":
          return v >= value;
        case ">":
          return v > value;
        case "<=":
          return v <= value;
        default:
          return v < value;
      }
    };
    const last = q.terms.at(-1);
    if (or && last) last.push(test);
    else q.terms.push([test]);
  }
  return q;
}

export async function startFakeServicenow(options: FakeServicenowOptions = {}): Promise<FakeServicenow> {
  const now = options.now ?? Date.now;
  const newId = options.sysId ?? (() => randomBytes(16).toString("hex"));
  const stamp = () => new Date(now()).toISOString().slice(0, 19).replace("T", " ");
  const user = (user_name: string, name: string, password: string): FakeSnUser => ({ sys_id: newId(), user_name, name, password });
  const integration = user(options.username ?? "alertdesk.integration", "alertdesk Integration", options.password ?? "sn-secret-password-77");
  const agent = user("beth.anglin", "Beth Anglin", "agent-password-31");
  const users = [integration, agent];
  const incidents: FakeSnIncident[] = [];
  const journal: FakeSnJournalEntry[] = [];
  const audits: FakeSnAudit[] = [];
  const requests: FakeSnRequest[] = [];
  const limits = new Map<string, number>();
  const used = new Map<string, number>();
  let sequence = 0;

  const app = express();
  app.use(express.json());
  const fail = (res: Response, code: number, message: string, detail = "") => res.status(code).json({ error: { message, detail }, status: "failure" });
  const str = (v: unknown, fallback = "") => (v === undefined || v === null ? fallback : String(v));

  app.use((req: Request, res: Response, next) => {
    const [scheme, encoded] = (req.headers.authorization ?? "").split(" ");
    const [name, ...rest] = Buffer.from(encoded ?? "", "base64")
      .toString("utf8")
      .split(":");
    const who = scheme === "Basic" ? users.find((u) => u.user_name === name && u.password === rest.join(":")) : undefined;
    if (!who) return void fail(res, 401, "User Not Authenticated", "Required to provide Auth information");
    const perHour = limits.get(who.user_name);
    if (perHour !== undefined) {
      const hour = Math.floor(now() / 3_600_000);
      const key = `${who.user_name}|${hour}`;
      const count = (used.get(key) ?? 0) + 1;
      used.set(key, count);
      if (count > perHour) {
        const reset = (hour + 1) * 3600;
        res.set({
          "Retry-After": String(Math.max(1, Math.ceil(reset - now() / 1000))),
          "X-RateLimit-Limit": String(perHour),
          "X-RateLimit-Reset": String(reset),
          "X-RateLimit-Rule": "b2a8c5e1d3f04a6b9c7d8e9f0a1b2c3d",
        });
        return void fail(res, 429, "Rate limit exceeded", `Too many requests by ${who.user_name} in this hour`);
      }
    }
    res.locals.user = who.user_name;
    requests.push({
      method: req.method,
      path: req.path,
      query: Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, str(v)])),
      user: who.user_name,
    });
    next();
  });

  const findUser = (ref: string) => users.find((u) => u.sys_id === ref || u.user_name === ref || u.name === ref);
  const audit = (i: FakeSnIncident, fieldname: string, oldvalue: string, newvalue: string, by: string, at: string) =>
    audits.push({ sys_id: newId(), tablename: "incident", documentkey: i.sys_id, fieldname, oldvalue, newvalue, user: by, sys_created_on: at });
  const note = (i: FakeSnIncident, element: "comments" | "work_notes", value: string, by: string, at: string) => {
    journal.push({ sys_id: newId(), name: "incident", element, element_id: i.sys_id, value, sys_created_on: at, sys_created_by: by });
    audit(i, element, "", value, by, at);
    i[element].push(value);
  };

  /** Applies a write by `by`; the refusal ServiceNow would answer, or undefined when it is done. */
  function update(i: FakeSnIncident, b: Record<string, unknown>, by: string): { code: number; message: string; detail: string } | undefined {
    if (i.state === "7" || i.state === "8")
      return { code: 403, message: "Operation Failed", detail: "ACL Exception Update Failed due to security constraints" };
    const next: Record<string, string> = {};
    for (const k of WRITABLE) if (b[k] !== undefined) next[k] = str(b[k]);
    if (next.assigned_to) {
      const who = findUser(next.assigned_to);
      if (!who) return { code: 400, message: "Invalid reference", detail: `assigned_to: no user ${next.assigned_to}` };
      next.assigned_to = who.sys_id;
    }
    const state = next.state ?? i.state;
    if (next.state === "6" && (!(next.close_code ?? i.close_code) || !(next.close_notes ?? i.close_notes))) {
      return { code: 403, message: "Operation Failed", detail: "Data Policy Exception: Resolution code, Resolution notes are mandatory" };
    }
    if (next.state === "3" && !(next.hold_reason ?? i.hold_reason)) {
      return { code: 403, message: "Operation Failed", detail: "Data Policy Exception: On hold reason is mandatory" };
    }
    const at = stamp();
    let changed = false;
    for (const [k, v] of Object.entries(next)) {
      const key = k as (typeof WRITABLE)[number];
      if (i[key] === v) continue;
      audit(i, key, i[key], v, by, at);
      i[key] = v;
      changed = true;
    }
    if (state !== "3" && i.hold_reason !== "") {
      audit(i, "hold_reason", i.hold_reason, "", by, at);
      i.hold_reason = "";
    }
    const priority = LOOKUP[`${i.impact}${i.urgency}`] ?? "5";
    if (priority !== i.priority) {
      audit(i, "priority", i.priority, priority, by, at);
      i.priority = priority;
      changed = true;
    }
    for (const element of ["work_notes", "comments"] as const) {
      if (b[element]) {
        note(i, element, str(b[element]), by, at);
        changed = true;
      }
    }
    if (changed) {
      i.sys_updated_on = at;
      i.sys_updated_by = by;
      i.sys_mod_count++;
    }
    return undefined;
  }

  function create(b: Record<string, unknown>, by: string): FakeSnIncident {
    const at = stamp();
    const i: FakeSnIncident = {
      sys_id: newId(),
      number: `INC${String(10_000 + incidents.length + 1).padStart(7, "0")}`,
      short_description: "",
      description: "",
      impact: "3",
      urgency: "3",
      priority: "5",
      state: "1",
      hold_reason: "",
      correlation_id: "",
      correlation_display: "",
      close_code: "",
      close_notes: "",
      parent_incident: "",
      assignment_group: "",
      assigned_to: "",
      caller_id: "",
      category: "",
      work_notes: [],
      comments: [],
      sys_created_on: at,
      sys_created_by: by,
      sys_updated_on: at,
      sys_updated_by: by,
      sys_mod_count: 0,
      created: ++sequence,
    };
    for (const k of WRITABLE) if (b[k] !== undefined && k !== "state" && k !== "assigned_to") i[k] = str(b[k]);
    i.priority = LOOKUP[`${i.impact}${i.urgency}`] ?? "5";
    incidents.push(i);
    // The insert is audited field by field, alertdesk's own too: echo suppression has to leave it out.
    for (const k of [...WRITABLE, "priority"] as const) if (i[k] !== "") audit(i, k, "", i[k], by, at);
    for (const element of ["work_notes", "comments"] as const) if (b[element]) note(i, element, str(b[element]), by, at);
    return i;
  }

  /** An incident as the Table API returns it: every field a string, journal fields empty. */
  const view = (i: FakeSnIncident): Row => {
    const { created: _created, work_notes: _notes, comments: _comments, sys_mod_count, ...rest } = i;
    return { ...rest, work_notes: "", comments: "", sys_mod_count: String(sys_mod_count) };
  };
  const rowsOf = (table: string): Row[] | undefined => {
    switch (table) {
      case "incident":
        return incidents.map(view);
      case "sys_journal_field":
        return journal.map((j) => ({ ...j }));
      case "sys_audit":
        return audits.map((a) => ({ ...a }));
      case "sys_user":
        return users.map(({ password: _password, ...u }) => u);
      default:
        return undefined;
    }
  };
  const pick = (row: Row, fields: string): Row => {
    if (!fields) return row;
    return Object.fromEntries(
      fields
        .split(",")
        .filter((f) => f in row)
        .map((f) => [f, row[f] as string]),
    );
  };

  app.post("/api/now/table/incident", (req: Request, res: Response) => {
    const b = req.body as Record<string, unknown>;
    if (!b.short_description) return void fail(res, 400, "Data Policy Exception: Short description is mandatory");
    res.status(201).json({ result: view(create(b, res.locals.user as string)) });
  });

  app.patch("/api/now/table/incident/:id", (req: Request, res: Response) => {
    const i = incidents.find((x) => x.sys_id === req.params.id);
    if (!i) return void fail(res, 404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval");
    const refused = update(i, req.body as Record<string, unknown>, res.locals.user as string);
    if (refused) return void fail(res, refused.code, refused.message, refused.detail);
    res.json({ result: view(i) });
  });

  app.get("/api/now/table/:table/:id", (req: Request, res: Response) => {
    const rows = rowsOf(String(req.params.table));
    if (!rows) return void fail(res, 400, `Invalid table ${req.params.table}`);
    const row = rows.find((r) => r.sys_id === req.params.id);
    if (!row) return void fail(res, 404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval");
    res.json({ result: pick(row, str(req.query.sysparm_fields)) });
  });

  app.get("/api/now/table/:table", (req: Request, res: Response) => {
    const table = String(req.params.table);
    const all = rowsOf(table);
    if (!all) return void fail(res, 400, `Invalid table ${table}`);
    // Stricter than ServiceNow, which drops an invalid part of a query and answers the rest: here it
    // is an error, so a driver's typo shows.
    const q = parseQuery(str(req.query.sysparm_query), COLUMNS[table] ?? []);
    if (typeof q === "string") return void fail(res, 400, `Invalid query clause ${q}`);
    const seq = new Map(incidents.map((i) => [i.sys_id, i.created]));
    const list = all
      .filter((row) => q.terms.every((any) => any.some((test) => test(row))))
      .sort((a, b) => {
        for (const { field, desc } of q.order) {
          let c = (a[field] ?? "") < (b[field] ?? "") ? -1 : (a[field] ?? "") > (b[field] ?? "") ? 1 : 0;
          // Incidents created within one second still sort by creation (the lookup by key wants the newest).
          if (c === 0 && table === "incident" && field === "sys_created_on") c = (seq.get(a.sys_id as string) ?? 0) - (seq.get(b.sys_id as string) ?? 0);
          if (c !== 0) return desc ? -c : c;
        }
        return 0;
      });
    const limit = Number(req.query.sysparm_limit ?? 10_000);
    const offset = Number(req.query.sysparm_offset ?? 0);
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) return void fail(res, 400, "Invalid sysparm_limit or sysparm_offset");
    const link = (at: number, rel: string) => {
      const params = new URLSearchParams({ ...(req.query as Record<string, string>), sysparm_offset: String(at), sysparm_limit: String(limit) });
      return `<${req.protocol}://${req.get("host")}${req.path}?${params}>;rel="${rel}"`;
    };
    const lastPage = Math.max(0, Math.floor((list.length - 1) / limit) * limit);
    const links = [
      link(0, "first"),
      ...(offset > 0 ? [link(Math.max(0, offset - limit), "prev")] : []),
      ...(offset + limit < list.length ? [link(offset + limit, "next")] : []),
      link(lastPage, "last"),
    ];
    res.set({ "X-Total-Count": String(list.length), Link: links.join(",") });
    res.json({ result: list.slice(offset, offset + limit).map((r) => pick(r, str(req.query.sysparm_fields))) });
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const incident = (sysId: string) => {
    const i = incidents.find((x) => x.sys_id === sysId);
    if (!i) throw new Error(`fake servicenow: no incident ${sysId}`);
    return i;
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    username: integration.user_name,
    password: integration.password,
    integration,
    agent,
    users,
    incidents,
    journal,
    audits,
    requests,
    close(sysId) {
      const i = incidents.find((x) => x.sys_id === sysId);
      if (!i || i.state === "7") return;
      const at = stamp();
      audit(i, "state", i.state, "7", "system", at);
      i.state = "7";
      i.sys_updated_on = at;
      i.sys_updated_by = "system";
      i.sys_mod_count++;
    },
    act(by, sysId, changes) {
      const refused = update(incident(sysId), changes, by);
      if (refused) throw new Error(`fake servicenow: ${refused.code} ${refused.message}: ${refused.detail}`);
    },
    insert: (by, fields) => create({ short_description: "Printer on fire", ...fields }, by),
    limit(name, perHour) {
      limits.set(name, perHour);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
