import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";

/**
 * A stateful fake of Jira's REST API, Cloud (v3, ADF) or Data Center (v2, wiki), following
 * docs/helpdesk-apis.md §2 and docs/helpdesks/jira.md: auth, 400 `{errorMessages, errors}` on bad
 * fields (labels with spaces, a string description on v3), a To Do → In Progress / Waiting for
 * customer → Done workflow driven by transitions (Done sets a resolution, leaving Done clears it),
 * `/search/jql` that only sees an issue some time after it was created (eventual consistency) unless
 * it is named in `reconcileIssues`, 410 on Cloud's removed `/search`, and 404 for a missing issue.
 *
 * For the way back: two users (alertdesk's account and an agent, each with its own credentials),
 * `/myself`, `/status`, a changelog history for every change whoever made it, comments with Service
 * Management's internal flag (the `sd.public.comment` property; `jsdPublic` on Cloud), Cloud's paged
 * `/issue/{key}/changelog`, Data Center's `expand=changelog`, and search that honours
 * `project`, `labels` and `updated >= "yyyy/MM/dd HH:mm"` (in the searching user's time zone) with
 * `nextPageToken` (Cloud) or `startAt` (Data Center). `agent` acts through that same API.
 */

export type FakeJiraStatus = "To Do" | "In Progress" | "Waiting for customer" | "Done";

export interface FakeJiraUser {
  /** Cloud's id of a user. */
  accountId: string;
  /** Data Center's username and user key. */
  name: string;
  key: string;
  displayName: string;
  emailAddress: string;
  timeZone: string;
  /** The Authorization header this user sends. */
  authorization: string;
}

export interface FakeJiraComment {
  id: string;
  author: FakeJiraUser;
  /** ADF on Cloud, a wiki string on Data Center. */
  body: unknown;
  created: number;
  /** A Service Management internal comment (not shown to customers). */
  internal: boolean;
  visibility?: { type: string; value: string };
}

export interface FakeJiraChange {
  field: string;
  fieldtype: "jira";
  fieldId: string;
  from: string | null;
  fromString: string | null;
  to: string | null;
  toString: string | null;
}

export interface FakeJiraHistory {
  id: string;
  author: FakeJiraUser;
  created: number;
  items: FakeJiraChange[];
}

export interface FakeJiraIssue {
  id: string;
  key: string;
  summary: string;
  description: unknown;
  labels: string[];
  priority: string;
  status: FakeJiraStatus;
  resolution: string | null;
  assignee: FakeJiraUser | null;
  fields: Record<string, unknown>;
  comments: FakeJiraComment[];
  changelog: FakeJiraHistory[];
  createdAt: number;
  updatedAt: number;
}

/** One search the fake answered, as it was asked. */
export interface FakeJiraSearch {
  method: string;
  path: string;
  jql: string;
  startAt?: number;
  nextPageToken?: string;
  maxResults?: number;
  reconcileIssues?: number[];
  returned: string[];
}

export interface FakeJira {
  url: string;
  api: "cloud" | "datacenter";
  email: string;
  token: string;
  users: { bot: FakeJiraUser; agent: FakeJiraUser };
  issues: FakeJiraIssue[];
  searches: FakeJiraSearch[];
  /** How long a new issue stays invisible to search. */
  consistencyDelayMs: number;
  /** The most results any page holds, whatever maxResults asked (Jira caps it server-side). */
  pageCap: number;
  /** The agent, acting through the fake's own REST API with its own credentials. */
  agent: {
    comment(key: string, text: string, options?: { internal?: boolean }): Promise<void>;
    /** Assigns the issue to the agent (or to nobody). */
    assign(key: string, to?: "agent" | null): Promise<void>;
    /** Runs the transition to `to`, setting the resolution by name when given. */
    transition(key: string, to: FakeJiraStatus, resolution?: string): Promise<void>;
    setPriority(key: string, name: string): Promise<void>;
  };
  stop(): Promise<void>;
}

const STATUSES: Record<FakeJiraStatus, { id: string; category: { id: number; key: string; name: string } }> = {
  "To Do": { id: "10000", category: { id: 2, key: "new", name: "To Do" } },
  "In Progress": { id: "3", category: { id: 4, key: "indeterminate", name: "In Progress" } },
  "Waiting for customer": { id: "10010", category: { id: 4, key: "indeterminate", name: "In Progress" } },
  Done: { id: "10001", category: { id: 3, key: "done", name: "Done" } },
};
const TRANSITIONS: readonly { id: string; name: string; to: FakeJiraStatus }[] = [
  { id: "11", name: "To Do", to: "To Do" },
  { id: "21", name: "In Progress", to: "In Progress" },
  { id: "31", name: "Done", to: "Done" },
  { id: "41", name: "Wait for customer", to: "Waiting for customer" },
];
const PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"];
const RESOLUTIONS = ["Done", "Won't Do", "Duplicate", "Cannot Reproduce", "Declined", "Obsolete"];
const resolutionId = (name: string) => String(10_000 + RESOLUTIONS.indexOf(name));

/** Jira's own timestamp format: milliseconds and an offset without a colon. */
const jiraTime = (ms: number) => new Date(ms).toISOString().replace("Z", "+0000");

/** The instant a JQL date (`yyyy/MM/dd HH:mm` or `yyyy-MM-dd HH:mm`) means in a time zone; undefined when malformed. */
function jqlInstant(text: string, timeZone: string): number | undefined {
  const m = /^(\d{4})[/-](\d{2})[/-](\d{2})(?: (\d{2}):(\d{2}))?$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00"] = m;
  const asUtc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi));
  // The zone's offset at that time, read as "GMT+05:30"; a second pass settles a DST boundary.
  const offset = (at: number) => {
    const name =
      new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" }).formatToParts(at).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
    const o = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
    return o ? (o[1] === "-" ? -1 : 1) * (Number(o[2]) * 60 + Number(o[3])) * 60_000 : 0;
  };
  const first = asUtc - offset(asUtc);
  return asUtc - offset(first);
}

export async function startFakeJira(
  options: { api?: "cloud" | "datacenter"; consistencyDelayMs?: number; pageCap?: number; timeZone?: string } = {},
): Promise<FakeJira> {
  const api = options.api ?? "cloud";
  const cloud = api === "cloud";
  const v = cloud ? "3" : "2";
  const email = "bot@acme.example";
  const token = cloud ? "jira-cloud-api-token-9f8e" : "jira-dc-personal-access-token-5d4c";
  const agentToken = cloud ? "jira-cloud-agent-token-1a2b" : "jira-dc-agent-access-token-3c4d";
  const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;
  const timeZone = options.timeZone ?? (cloud ? "UTC" : "America/New_York");
  const users = {
    bot: {
      accountId: "712020:5f1c8b2e-alertdesk-bot",
      name: "alertdesk",
      key: "JIRAUSER10100",
      displayName: "alertdesk",
      emailAddress: email,
      timeZone,
      authorization: cloud ? basic(email, token) : `Bearer ${token}`,
    },
    agent: {
      accountId: "5d53f3cbc6b9320d9ea5bdc2",
      name: "ada",
      key: "JIRAUSER10200",
      displayName: "Ada Agent",
      emailAddress: "ada@acme.example",
      timeZone: "Europe/Berlin",
      authorization: cloud ? basic("ada@acme.example", agentToken) : `Bearer ${agentToken}`,
    },
  } satisfies Record<string, FakeJiraUser>;
  const issues: FakeJiraIssue[] = [];
  const searches: FakeJiraSearch[] = [];
  let nextComment = 10_000;
  let nextHistory = 10_000;
  const state: FakeJira = {
    url: "",
    api,
    email,
    token,
    users,
    issues,
    searches,
    consistencyDelayMs: options.consistencyDelayMs ?? (cloud ? 300 : 0),
    pageCap: options.pageCap ?? 100,
    agent: undefined as unknown as FakeJira["agent"],
    stop: async () => {},
  };
  const app = express();
  app.use(express.json({ limit: "5mb" }));
  const bad = (res: Response, errors: Record<string, string>, messages: string[] = []) => res.status(400).json({ errorMessages: messages, errors });
  const notFound = (res: Response) => res.status(404).json({ errorMessages: ["Issue does not exist or you do not have permission to see it."], errors: {} });
  const isAdf = (d: unknown) => typeof d === "object" && d !== null && (d as { type?: string }).type === "doc" && (d as { version?: number }).version === 1;
  const userOf = (res: Response) => res.locals.user as FakeJiraUser;
  app.use((req: Request, res: Response, next) => {
    const user = Object.values(users).find((u) => u.authorization === req.headers.authorization);
    if (!user) return void res.status(401).json({ errorMessages: ["You are not authenticated."], errors: {} });
    res.locals.user = user;
    next();
  });
  const find = (id: string) => issues.find((i) => i.key === id || i.id === id);

  /** A user as Jira shows one: Cloud by accountId (no e-mail), Data Center by name and key. */
  const userJson = (u: FakeJiraUser, withTimeZone = false) =>
    cloud
      ? {
          self: `${state.url}/rest/api/3/user?accountId=${u.accountId}`,
          accountId: u.accountId,
          accountType: "atlassian",
          displayName: u.displayName,
          active: true,
          ...(withTimeZone ? { timeZone: u.timeZone } : {}),
        }
      : {
          self: `${state.url}/rest/api/2/user?username=${u.name}`,
          name: u.name,
          key: u.key,
          emailAddress: u.emailAddress,
          displayName: u.displayName,
          active: true,
          ...(withTimeZone ? { timeZone: u.timeZone } : {}),
        };
  const userRef = (u: FakeJiraUser | null) => (u === null ? null : cloud ? u.accountId : u.key);
  const statusJson = (s: FakeJiraStatus) => ({ id: STATUSES[s].id, name: s, statusCategory: STATUSES[s].category });

  /** Records one change, whoever made it: Jira keeps a history for every edit, its API user's too. */
  function record(i: FakeJiraIssue, author: FakeJiraUser, items: Omit<FakeJiraChange, "fieldtype">[]) {
    if (items.length === 0) return;
    const now = Date.now();
    i.changelog.push({ id: String(++nextHistory), author, created: now, items: items.map((x) => ({ ...x, fieldtype: "jira" })) });
    i.updatedAt = now;
  }

  function issueFields(i: FakeJiraIssue): Record<string, unknown> {
    return {
      ...Object.fromEntries(Object.entries(i.fields).filter(([k]) => k.startsWith("customfield_"))),
      summary: i.summary,
      labels: i.labels,
      priority: { id: String(PRIORITIES.indexOf(i.priority) + 1), name: i.priority },
      status: statusJson(i.status),
      resolution: i.resolution === null ? null : { id: resolutionId(i.resolution), name: i.resolution },
      assignee: i.assignee === null ? null : userJson(i.assignee),
      created: jiraTime(i.createdAt),
      updated: jiraTime(i.updatedAt),
    };
  }
  const pick = (i: FakeJiraIssue, fields: string[] | undefined) => {
    const all = issueFields(i);
    if (fields === undefined || fields.includes("*all") || fields.includes("*navigable")) return all;
    return Object.fromEntries(fields.filter((f) => f in all).map((f) => [f, all[f]]));
  };
  const historyJson = (h: FakeJiraHistory) => ({ id: h.id, author: userJson(h.author), created: jiraTime(h.created), items: h.items });
  const maxResultsOf = (asked: unknown, fallback: number) => {
    const n = Number(asked);
    return Math.min(Number.isInteger(n) && n > 0 ? n : fallback, state.pageCap);
  };

  app.get(`/rest/api/${v}/myself`, (_req: Request, res: Response) => {
    res.json(userJson(userOf(res), true));
  });

  app.get(`/rest/api/${v}/status`, (_req: Request, res: Response) => {
    res.json(
      Object.keys(STATUSES).map((s) => ({ self: `${state.url}/rest/api/${v}/status/${STATUSES[s as FakeJiraStatus].id}`, ...statusJson(s as FakeJiraStatus) })),
    );
  });

  app.post(`/rest/api/${v}/issue`, (req: Request, res: Response) => {
    const f = ((req.body as { fields?: Record<string, unknown> }).fields ?? {}) as Record<string, unknown>;
    if ((f.project as { key?: string } | undefined)?.key !== "OPS") return void bad(res, { project: "valid project is required" });
    if (!["Task", "Incident", "Bug"].includes((f.issuetype as { name?: string } | undefined)?.name ?? ""))
      return void bad(res, { issuetype: "valid issue type is required" });
    const summary = f.summary;
    if (typeof summary !== "string" || summary === "") return void bad(res, { summary: "You must specify a summary of the issue." });
    if (summary.length > 255) return void bad(res, { summary: "Summary must be less than 255 characters." });
    const labels = (f.labels as string[] | undefined) ?? [];
    const spaced = labels.find((l) => /\s/.test(l));
    if (spaced) return void bad(res, { labels: `The label '${spaced}' contains spaces which is invalid.` });
    if (v === "3" && f.description !== undefined && !isAdf(f.description))
      return void bad(res, { description: "Operation value must be an Atlassian Document (see the Atlassian Document Format)" });
    if (v === "2" && f.description !== undefined && typeof f.description !== "string")
      return void bad(res, { description: "Operation value must be a string" });
    const priority = (f.priority as { name?: string } | undefined)?.name ?? "Medium";
    if (!PRIORITIES.includes(priority)) return void bad(res, { priority: `Priority name '${priority}' is not valid` });
    const n = issues.length + 1;
    const now = Date.now();
    const issue: FakeJiraIssue = {
      id: String(10_000 + n),
      key: `OPS-${n}`,
      summary,
      description: f.description,
      labels,
      priority,
      status: "To Do",
      resolution: null,
      assignee: null,
      fields: f,
      comments: [],
      changelog: [],
      createdAt: now,
      updatedAt: now,
    };
    issues.push(issue);
    res.status(201).json({ id: issue.id, key: issue.key, self: `${state.url}/rest/api/${v}/issue/${issue.id}` });
  });

  app.get(`/rest/api/${v}/issue/:id`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    const fields = typeof req.query.fields === "string" ? req.query.fields.split(",") : undefined;
    const expand = String(req.query.expand ?? "").split(",");
    res.json({
      id: i.id,
      key: i.key,
      self: `${state.url}/rest/api/${v}/issue/${i.id}`,
      fields: pick(i, fields),
      // Data Center returns every history; Cloud at most the 100 latest (the rest through /changelog).
      ...(expand.includes("changelog")
        ? {
            changelog: {
              startAt: 0,
              maxResults: i.changelog.length,
              total: i.changelog.length,
              histories: (cloud ? i.changelog.slice(-100) : i.changelog).map(historyJson),
            },
          }
        : {}),
    });
  });

  if (cloud) {
    app.get("/rest/api/3/issue/:id/changelog", (req: Request, res: Response) => {
      const i = find(req.params.id as string);
      if (!i) return void notFound(res);
      const startAt = Math.max(0, Number(req.query.startAt ?? 0) || 0);
      const maxResults = maxResultsOf(req.query.maxResults, 100);
      const values = i.changelog.slice(startAt, startAt + maxResults).map(historyJson);
      res.json({ maxResults, startAt, total: i.changelog.length, isLast: startAt + values.length >= i.changelog.length, values });
    });
  }

  app.put(`/rest/api/${v}/issue/:id`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    const p = (req.body as { fields?: { priority?: { name?: string } } }).fields?.priority?.name;
    if (p !== undefined && !PRIORITIES.includes(p)) return void bad(res, { priority: `Priority name '${p}' is not valid` });
    if (p && p !== i.priority) {
      record(i, userOf(res), [
        {
          field: "priority",
          fieldId: "priority",
          from: String(PRIORITIES.indexOf(i.priority) + 1),
          fromString: i.priority,
          to: String(PRIORITIES.indexOf(p) + 1),
          toString: p,
        },
      ]);
      i.priority = p;
    }
    res.status(204).end();
  });

  app.put(`/rest/api/${v}/issue/:id/assignee`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    const body = req.body as { accountId?: string | null; name?: string | null };
    const wanted = cloud ? body.accountId : body.name;
    const to = wanted === null || wanted === undefined ? null : (Object.values(users).find((u) => (cloud ? u.accountId : u.name) === wanted) ?? undefined);
    if (to === undefined) return void bad(res, { assignee: `User '${wanted}' cannot be assigned issues.` });
    if (to !== i.assignee) {
      record(i, userOf(res), [
        {
          field: "assignee",
          fieldId: "assignee",
          from: userRef(i.assignee),
          fromString: i.assignee?.displayName ?? null,
          to: userRef(to),
          toString: to?.displayName ?? null,
        },
      ]);
      i.assignee = to;
    }
    res.status(204).end();
  });

  const commentJson = (c: FakeJiraComment, withProperties: boolean) => ({
    self: `${state.url}/rest/api/${v}/comment/${c.id}`,
    id: c.id,
    author: userJson(c.author),
    body: c.body,
    updateAuthor: userJson(c.author),
    created: jiraTime(c.created),
    updated: jiraTime(c.created),
    ...(c.visibility ? { visibility: c.visibility } : {}),
    // Cloud tells Service Management's flag on every comment; Data Center only through the property.
    ...(cloud ? { jsdPublic: !c.internal } : {}),
    ...(withProperties ? { properties: c.internal ? [{ key: "sd.public.comment", value: { internal: true } }] : [] } : {}),
  });

  app.post(`/rest/api/${v}/issue/:id/comment`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    const { body, properties, visibility } = req.body as {
      body?: unknown;
      properties?: { key?: string; value?: { internal?: unknown } }[];
      visibility?: { type: string; value: string };
    };
    if (v === "3" ? !isAdf(body) : typeof body !== "string" || body === "") return void bad(res, { comment: "Comment body can not be empty!" });
    const internal = properties?.some((p) => p.key === "sd.public.comment" && p.value?.internal === true) ?? false;
    const now = Date.now();
    const c: FakeJiraComment = { id: String(++nextComment), author: userOf(res), body, created: now, internal, ...(visibility ? { visibility } : {}) };
    i.comments.push(c);
    i.updatedAt = now; // a comment updates the issue, though it is no changelog entry
    res.status(201).json(commentJson(c, true));
  });

  app.get(`/rest/api/${v}/issue/:id/comment`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    const startAt = Math.max(0, Number(req.query.startAt ?? 0) || 0);
    const maxResults = maxResultsOf(req.query.maxResults, 5000);
    const sorted = req.query.orderBy === "-created" ? [...i.comments].reverse() : i.comments;
    const withProperties = String(req.query.expand ?? "")
      .split(",")
      .includes("properties");
    res.json({
      startAt,
      maxResults,
      total: i.comments.length,
      comments: sorted.slice(startAt, startAt + maxResults).map((c) => commentJson(c, withProperties)),
    });
  });

  app.get(`/rest/api/${v}/issue/:id/transitions`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    res.json({
      transitions: TRANSITIONS.filter((t) => t.to !== i.status).map((t) => ({ id: t.id, name: t.name, to: statusJson(t.to) })),
    });
  });

  app.post(`/rest/api/${v}/issue/:id/transitions`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    const body = req.body as { transition?: { id?: string }; fields?: { resolution?: { name?: string } } };
    const id = body.transition?.id;
    const t = TRANSITIONS.find((x) => x.id === id && x.to !== i.status);
    if (!t) return void bad(res, {}, [`Transition id '${id}' is not valid for this issue.`]);
    const asked = body.fields?.resolution;
    if (asked !== undefined && t.to !== "Done")
      return void bad(res, { resolution: "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown." });
    if (asked !== undefined && !RESOLUTIONS.includes(asked.name ?? ""))
      return void bad(res, { resolution: "Could not find valid 'id' or 'name' in resolution object." });
    // The stock workflows' post-functions: Done sets a resolution, leaving Done clears it.
    const resolution = t.to === "Done" ? (asked?.name ?? "Done") : null;
    const items: Omit<FakeJiraChange, "fieldtype">[] = [];
    if (resolution !== i.resolution) {
      items.push({
        field: "resolution",
        fieldId: "resolution",
        from: i.resolution === null ? null : resolutionId(i.resolution),
        fromString: i.resolution,
        to: resolution === null ? null : resolutionId(resolution),
        toString: resolution,
      });
    }
    items.push({ field: "status", fieldId: "status", from: STATUSES[i.status].id, fromString: i.status, to: STATUSES[t.to].id, toString: t.to });
    record(i, userOf(res), items);
    i.status = t.to;
    i.resolution = resolution;
    res.status(204).end();
  });

  /** Filters by the clauses alertdesk writes: `project`, every `labels =`, and `updated >=`. */
  function search(
    req: Request,
    res: Response,
    shape: "jql" | "classic",
    q: { jql: string; startAt?: number; nextPageToken?: string; maxResults?: unknown; fields?: string[]; reconcileIssues?: number[] },
  ) {
    const user = userOf(res);
    const project = /project\s*=\s*"?([A-Z][A-Z0-9_]*)"?/.exec(q.jql)?.[1];
    const labels = [...q.jql.matchAll(/labels = "((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] as string).replace(/\\(.)/g, "$1"));
    const updatedClause = /updated\s*>=\s*"([^"]*)"/.exec(q.jql)?.[1];
    let updatedFrom: number | undefined;
    if (updatedClause !== undefined) {
      updatedFrom = jqlInstant(updatedClause, user.timeZone);
      if (updatedFrom === undefined)
        return void bad(res, {}, [
          `Date value '${updatedClause}' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.`,
        ]);
    }
    const reconcile = new Set((q.reconcileIssues ?? []).map(String));
    // reconcileIssues: "all issues must exist" (the exact error text is not documented (?)).
    const missing = [...reconcile].find((id) => !issues.some((i) => i.id === id));
    if (missing) return void bad(res, {}, [`Issue ${missing} passed in reconcileIssues does not exist.`]);
    const visible = issues.filter((i) => reconcile.has(i.id) || Date.now() - i.createdAt >= state.consistencyDelayMs);
    const found = visible.filter(
      (i) =>
        (project === undefined || i.key.startsWith(`${project}-`)) &&
        labels.every((l) => i.labels.includes(l)) &&
        (updatedFrom === undefined || i.updatedAt >= updatedFrom),
    );
    const order = /ORDER BY (\w+)(?: (ASC|DESC))?/i.exec(q.jql);
    if (order?.[1] === "updated") found.sort((a, b) => a.updatedAt - b.updatedAt || Number(a.id) - Number(b.id));
    if (order?.[2]?.toUpperCase() === "DESC") found.reverse();
    const maxResults = maxResultsOf(q.maxResults, 50);
    const startAt = shape === "jql" ? (q.nextPageToken ? Number(Buffer.from(q.nextPageToken, "base64url").toString()) : 0) : (q.startAt ?? 0);
    if (!Number.isInteger(startAt) || startAt < 0) return void bad(res, {}, ["The provided next page token is invalid or expired."]);
    const page = found.slice(startAt, startAt + maxResults);
    // Cloud's enhanced search returns only ids unless `fields` names more; Data Center all navigable fields.
    const fields = q.fields ?? (shape === "jql" ? [] : undefined);
    const items = page.map((i) => ({ id: i.id, key: i.key, self: `${state.url}/rest/api/${v}/issue/${i.id}`, fields: pick(i, fields) }));
    searches.push({
      method: req.method,
      path: req.path,
      jql: q.jql,
      ...(q.startAt !== undefined ? { startAt: q.startAt } : {}),
      ...(q.nextPageToken !== undefined ? { nextPageToken: q.nextPageToken } : {}),
      maxResults,
      ...(q.reconcileIssues ? { reconcileIssues: q.reconcileIssues } : {}),
      returned: page.map((i) => i.key),
    });
    const end = startAt + page.length;
    if (shape === "classic") return void res.json({ expand: "schema,names", startAt, maxResults, total: found.length, issues: items });
    // The last page leaves nextPageToken out rather than sending null (JRACLOUD-92184).
    res.json(
      end < found.length ? { issues: items, nextPageToken: Buffer.from(String(end)).toString("base64url"), isLast: false } : { issues: items, isLast: true },
    );
  }
  const queryFields = (f: unknown) => (typeof f === "string" ? f.split(",") : undefined);
  if (cloud) {
    app.get("/rest/api/3/search/jql", (req: Request, res: Response) =>
      search(req, res, "jql", {
        jql: String(req.query.jql ?? ""),
        maxResults: req.query.maxResults,
        ...(typeof req.query.nextPageToken === "string" ? { nextPageToken: req.query.nextPageToken } : {}),
        ...(queryFields(req.query.fields) ? { fields: queryFields(req.query.fields) as string[] } : {}),
      }),
    );
    app.post("/rest/api/3/search/jql", (req: Request, res: Response) => {
      const b = req.body as { jql?: string; nextPageToken?: string; maxResults?: number; fields?: string[]; reconcileIssues?: number[] };
      search(req, res, "jql", {
        jql: b.jql ?? "",
        maxResults: b.maxResults,
        ...(b.nextPageToken ? { nextPageToken: b.nextPageToken } : {}),
        ...(b.fields ? { fields: b.fields } : {}),
        ...(b.reconcileIssues ? { reconcileIssues: b.reconcileIssues } : {}),
      });
    });
    app.all(["/rest/api/3/search", "/rest/api/2/search"], (_req: Request, res: Response) => {
      res.status(410).json({ errorMessages: ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."], errors: {} });
    });
  } else {
    app.get("/rest/api/2/search", (req: Request, res: Response) =>
      search(req, res, "classic", {
        jql: String(req.query.jql ?? ""),
        startAt: Number(req.query.startAt ?? 0),
        maxResults: req.query.maxResults,
        ...(queryFields(req.query.fields) ? { fields: queryFields(req.query.fields) as string[] } : {}),
      }),
    );
    app.post("/rest/api/2/search", (req: Request, res: Response) => {
      const b = req.body as { jql?: string; startAt?: number; maxResults?: number; fields?: string[] };
      search(req, res, "classic", { jql: b.jql ?? "", startAt: b.startAt ?? 0, maxResults: b.maxResults, ...(b.fields ? { fields: b.fields } : {}) });
    });
  }

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function asAgent(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${state.url}/rest/api/${v}${path}`, {
      method,
      headers: { Authorization: users.agent.authorization, "Content-Type": "application/json", Accept: "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`fake jira agent: ${method} ${path}: ${res.status} ${text}`);
    return text === "" ? undefined : JSON.parse(text);
  }
  const issuePath = (key: string) => `/issue/${encodeURIComponent(key)}`;
  state.agent = {
    async comment(key, text, opts = {}) {
      const body = cloud ? { type: "doc", version: 1, content: [{ type: "paragraph", content: [{ type: "text", text }] }] } : text;
      // Service Management's internal comment through the platform API: the sd.public.comment property.
      await asAgent("POST", `${issuePath(key)}/comment`, {
        body,
        ...(opts.internal ? { properties: [{ key: "sd.public.comment", value: { internal: true } }] } : {}),
      });
    },
    async assign(key, to = "agent") {
      const user = to === null ? null : users.agent;
      await asAgent("PUT", `${issuePath(key)}/assignee`, cloud ? { accountId: user?.accountId ?? null } : { name: user?.name ?? null });
    },
    async transition(key, to, resolution) {
      const list = (await asAgent("GET", `${issuePath(key)}/transitions`)) as { transitions: { id: string; to: { name: string } }[] };
      const t = list.transitions.find((x) => x.to.name === to);
      if (!t) throw new Error(`fake jira agent: no transition to ${to} from ${key}'s status`);
      await asAgent("POST", `${issuePath(key)}/transitions`, {
        transition: { id: t.id },
        ...(resolution ? { fields: { resolution: { name: resolution } } } : {}),
      });
    },
    async setPriority(key, name) {
      await asAgent("PUT", issuePath(key), { fields: { priority: { name } } });
    },
  };
  state.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
