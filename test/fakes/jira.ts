import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";

/**
 * A stateful fake of Jira's REST API, Cloud (v3, ADF) or Data Center (v2, wiki), following
 * docs/helpdesk-apis.md §2: auth, 400 `{errorMessages, errors}` on bad fields (labels
 * with spaces, a string description on v3), a To Do → In Progress → Done workflow driven by
 * transitions, `/search/jql` that only sees an issue some time after it was created (eventual
 * consistency), 410 on Cloud's removed `/search`, and 404 for a missing issue.
 */

export interface FakeJiraIssue {
  id: string;
  key: string;
  summary: string;
  description: unknown;
  labels: string[];
  priority: string;
  status: "To Do" | "In Progress" | "Done";
  fields: Record<string, unknown>;
  comments: unknown[];
  createdAt: number;
}

export interface FakeJira {
  url: string;
  api: "cloud" | "datacenter";
  email: string;
  token: string;
  issues: FakeJiraIssue[];
  /** How long a new issue stays invisible to search. */
  consistencyDelayMs: number;
  stop(): Promise<void>;
}

const CATEGORY = { "To Do": "new", "In Progress": "indeterminate", Done: "done" } as const;
const TRANSITIONS = [
  { id: "11", name: "To Do", to: "To Do" },
  { id: "21", name: "In Progress", to: "In Progress" },
  { id: "31", name: "Done", to: "Done" },
] as const;
const PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"];

export async function startFakeJira(options: { api?: "cloud" | "datacenter"; consistencyDelayMs?: number } = {}): Promise<FakeJira> {
  const api = options.api ?? "cloud";
  const v = api === "cloud" ? "3" : "2";
  const email = "bot@acme.example";
  const token = api === "cloud" ? "jira-cloud-api-token-9f8e" : "jira-dc-personal-access-token-5d4c";
  const expected = api === "cloud" ? `Basic ${Buffer.from(`${email}:${token}`).toString("base64")}` : `Bearer ${token}`;
  const issues: FakeJiraIssue[] = [];
  const state: FakeJira = {
    url: "",
    api,
    email,
    token,
    issues,
    consistencyDelayMs: options.consistencyDelayMs ?? (api === "cloud" ? 300 : 0),
    stop: async () => {},
  };
  const app = express();
  app.use(express.json({ limit: "5mb" }));
  const bad = (res: Response, errors: Record<string, string>, messages: string[] = []) => res.status(400).json({ errorMessages: messages, errors });
  const notFound = (res: Response) => res.status(404).json({ errorMessages: ["Issue does not exist or you do not have permission to see it."], errors: {} });
  const isAdf = (d: unknown) => typeof d === "object" && d !== null && (d as { type?: string }).type === "doc" && (d as { version?: number }).version === 1;
  app.use((req: Request, res: Response, next) => {
    if (req.headers.authorization !== expected) return void res.status(401).json({ errorMessages: ["You are not authenticated."], errors: {} });
    next();
  });
  const find = (id: string) => issues.find((i) => i.key === id || i.id === id);

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
    const issue: FakeJiraIssue = {
      id: String(10_000 + n),
      key: `OPS-${n}`,
      summary,
      description: f.description,
      labels,
      priority,
      status: "To Do",
      fields: f,
      comments: [],
      createdAt: Date.now(),
    };
    issues.push(issue);
    res.status(201).json({ id: issue.id, key: issue.key, self: `${state.url}/rest/api/${v}/issue/${issue.id}` });
  });

  app.get(`/rest/api/${v}/issue/:id`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    res.json({
      id: i.id,
      key: i.key,
      fields: { summary: i.summary, labels: i.labels, priority: { name: i.priority }, status: { name: i.status, statusCategory: { key: CATEGORY[i.status] } } },
    });
  });

  app.put(`/rest/api/${v}/issue/:id`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    const p = (req.body as { fields?: { priority?: { name?: string } } }).fields?.priority?.name;
    if (p) i.priority = p;
    res.status(204).end();
  });

  app.post(`/rest/api/${v}/issue/:id/comment`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    const body = (req.body as { body?: unknown }).body;
    if (v === "3" ? !isAdf(body) : typeof body !== "string" || body === "") return void bad(res, { comment: "Comment body can not be empty!" });
    i.comments.push(body);
    res.status(201).json({ id: String(i.comments.length) });
  });

  app.get(`/rest/api/${v}/issue/:id/transitions`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    res.json({
      transitions: TRANSITIONS.filter((t) => t.to !== i.status).map((t) => ({
        id: t.id,
        name: t.name,
        to: { name: t.to, statusCategory: { key: CATEGORY[t.to] } },
      })),
    });
  });

  app.post(`/rest/api/${v}/issue/:id/transitions`, (req: Request, res: Response) => {
    const i = find(req.params.id as string);
    if (!i) return void notFound(res);
    const id = (req.body as { transition?: { id?: string } }).transition?.id;
    const t = TRANSITIONS.find((x) => x.id === id && x.to !== i.status);
    if (!t) return void bad(res, {}, [`Transition id '${id}' is not valid for this issue.`]);
    i.status = t.to;
    res.status(204).end();
  });

  function search(jql: string, res: Response, shape: "jql" | "classic") {
    const label = /labels = "((?:[^"\\]|\\.)*)"/.exec(jql)?.[1]?.replace(/\\(.)/g, "$1");
    const visible = issues.filter((i) => Date.now() - i.createdAt >= state.consistencyDelayMs);
    const found = label === undefined ? visible : visible.filter((i) => i.labels.includes(label));
    const items = found.map((i) => ({ id: i.id, key: i.key, fields: { labels: i.labels } }));
    res.json(shape === "jql" ? { issues: items, isLast: true } : { issues: items, total: items.length, startAt: 0, maxResults: 50 });
  }
  if (api === "cloud") {
    app.get("/rest/api/3/search/jql", (req: Request, res: Response) => search(String(req.query.jql ?? ""), res, "jql"));
    app.get(["/rest/api/3/search", "/rest/api/2/search"], (_req: Request, res: Response) => {
      res.status(410).json({ errorMessages: ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."], errors: {} });
    });
  } else {
    app.get("/rest/api/2/search", (req: Request, res: Response) => search(String(req.query.jql ?? ""), res, "classic"));
  }

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
