import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";

/**
 * A stateful fake of Confluence on loopback, Cloud or Data Center, following the facts in
 * src/knowledge/confluence/driver.ts's header):
 *
 * - Cloud: REST v2 spaces and pages under /wiki/api/v2 (numeric space ids, `space-id` and exact
 *   `title` filters, `body-format=storage`, `{errors: [{status, code, title}]}` errors) and v1 labels
 *   and CQL search under /wiki/rest/api; Basic email:API token.
 * - Data Center: v1 content under /rest/api (`spaceKey` and `title` filters, `expand`,
 *   `{statusCode, message, reason}` errors); a personal access token as Bearer, or Basic
 *   username:password.
 * - 401 without or with wrong credentials; one page per title and space, compared ignoring case
 *   (a taken title is a 400 "A page with this title already exists…"), while the title filters match
 *   exactly; an update needs version.number = current + 1, else 409; labels are add-only, lower-cased,
 *   and refused with spaces or punctuation; bodies must be well-formed XHTML ("Error parsing xhtml");
 *   CQL with `type`, `space`, `title`, `label` clauses joined by AND, `ORDER BY created [DESC]`,
 *   `limit` (at most 100) and `start`, with a relative `_links.next` while more results remain.
 * - Knobs: `createdButErrored(n)` (the next creates store the page and still answer 500, the
 *   documented trap), `editConcurrently(n)` (a person saves the page just before the next updates),
 *   `limitRate` (N requests per window, then 429 with Retry-After).
 *
 * Every request is recorded. `stop()` closes every socket.
 */

export interface FakeConfluenceSpace {
  /** Cloud's numeric id (a string, as v2 answers it). */
  id: string;
  key: string;
  name: string;
}

export interface FakeConfluencePage {
  id: string;
  spaceKey: string;
  title: string;
  parentId: string | undefined;
  /** The storage-format body, as the fake keeps it. */
  body: string;
  version: number;
  /** Global labels, lower case, in the order they were added. */
  labels: string[];
  createdAt: number;
  /** Creation order: ORDER BY created ties broken by it (two pages in one millisecond). */
  sequence: number;
}

export interface FakeConfluenceRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export interface FakeConfluenceOptions {
  api?: "cloud" | "datacenter";
}

export interface FakeConfluence {
  /** The site: Cloud's REST is under `${url}/wiki`, Data Center's under `${url}/rest/api`. */
  url: string;
  api: "cloud" | "datacenter";
  /** Cloud: the account and its API token (Basic). */
  email: string;
  /** Cloud: the API token; Data Center: the personal access token (Bearer). */
  token: string;
  /** Data Center: a user for Basic auth. */
  username: string;
  password: string;
  /** An Authorization header the fake accepts, for reading it directly in tests. */
  authorization: string;
  spaces: FakeConfluenceSpace[];
  pages: FakeConfluencePage[];
  requests: FakeConfluenceRequest[];
  /** Every CQL query the fake answered, as it arrived. */
  searches: string[];
  /** A page in OPS to create entries under (`parent_id`). */
  parentPageId: string;
  /** The next `count` creates store the page and still answer 500. */
  createdButErrored(count?: number): void;
  /** Before each of the next `count` updates a person saves the page (a new version), so alertdesk's version is stale. */
  editConcurrently(count?: number): void;
  /** At most `requests` per `windowMs`, then 429 with Retry-After; undefined lifts the limit. */
  limitRate(limit: { requests: number; windowMs: number } | undefined): void;
  /** A page as a person would create it (for pages alertdesk did not write). */
  addPage(page: { spaceKey: string; title: string; body?: string; labels?: string[]; parentId?: string }): FakeConfluencePage;
  stop(): Promise<void>;
}

/** Confluence refuses these in a label (and whitespace) [mem]. */
const LABEL_FORBIDDEN = /[\s!#&()*,.:;<>?@[\]^]/;
const SEARCH_CAP = 100;

/**
 * Why a storage-format body is not well-formed XHTML, or undefined when it is: every element
 * closed and nested, attribute values quoted, `&` only in the five XML entities or a numeric one,
 * no `<` in text or values, no `]]>` outside CDATA, no character XML forbids.
 */
export function xhtmlProblem(xml: string): string | undefined {
  const open: string[] = [];
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;
  const closeTag = /<\/([A-Za-z][\w:.-]*)\s*>/y;
  const openTag = /<([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  const badEntity = (text: string) => {
    for (let j = text.indexOf("&"); j >= 0; j = text.indexOf("&", j + 1)) {
      entity.lastIndex = j;
      if (!entity.test(text)) return true;
    }
    return false;
  };
  let i = 0;
  while (i < xml.length) {
    const code = xml.charCodeAt(i);
    if (code < 0x20 && code !== 0x9 && code !== 0xa && code !== 0xd) return `illegal character U+${code.toString(16).padStart(4, "0")} at ${i}`;
    if (xml.startsWith("<!--", i)) {
      const end = xml.indexOf("-->", i + 4);
      if (end < 0) return "unterminated comment";
      i = end + 3;
      continue;
    }
    if (xml.startsWith("<![CDATA[", i)) {
      const end = xml.indexOf("]]>", i + 9);
      if (end < 0) return "unterminated CDATA section";
      i = end + 3;
      continue;
    }
    if (xml[i] === "<") {
      closeTag.lastIndex = i;
      const close = closeTag.exec(xml);
      if (close) {
        const top = open.pop();
        if (top !== close[1]) return `Unexpected close tag </${close[1]}>; expected ${top ? `</${top}>` : "no close tag"}.`;
        i = closeTag.lastIndex;
        continue;
      }
      openTag.lastIndex = i;
      const tag = openTag.exec(xml);
      if (!tag) return `malformed markup at ${i}: ${JSON.stringify(xml.slice(i, i + 20))}`;
      const attributes = tag[2] ?? "";
      const names = [...attributes.matchAll(/([A-Za-z_:][\w:.-]*)\s*=/g)].map((m) => m[1]);
      if (new Set(names).size !== names.length) return `duplicate attribute in <${tag[1]}>`;
      if (badEntity(attributes)) return `bad entity in an attribute of <${tag[1]}>`;
      if (tag[3] !== "/") open.push(tag[1] as string);
      i = openTag.lastIndex;
      continue;
    }
    if (xml[i] === "&") {
      entity.lastIndex = i;
      if (!entity.test(xml)) return `bad entity at ${i}: ${JSON.stringify(xml.slice(i, i + 12))}`;
      i = entity.lastIndex;
      continue;
    }
    if (xml.startsWith("]]>", i)) return `"]]>" in text at ${i}`;
    i++;
  }
  return open.length > 0 ? `Unexpected end of input; expected </${open.at(-1)}>.` : undefined;
}

// ---- CQL: the subset alertdesk (and a person testing a query) writes ----

type CqlField = "type" | "space" | "title" | "label";
interface CqlQuery {
  clauses: { field: CqlField; value: string }[];
  order: "asc" | "desc" | undefined;
}

class CqlError extends Error {}

interface CqlToken {
  text: string;
  /** A quoted string: a value, never a keyword or an operator, whatever it says. */
  quoted: boolean;
}

function tokenize(cql: string): CqlToken[] {
  const tokens: CqlToken[] = [];
  let i = 0;
  while (i < cql.length) {
    const c = cql[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let text = "";
      let j = i + 1;
      for (; j < cql.length && cql[j] !== c; j++) {
        if (cql[j] === "\\") j++;
        if (j >= cql.length) break;
        text += cql[j];
      }
      if (j >= cql.length) throw new CqlError("unterminated string");
      tokens.push({ text, quoted: true });
      i = j + 1;
      continue;
    }
    const op = /^(!=|!~|=|~|\(|\)|,)/.exec(cql.slice(i)) ?? /^[A-Za-z0-9_.\-~]+/.exec(cql.slice(i));
    if (!op) throw new CqlError(`unexpected character ${JSON.stringify(c)}`);
    tokens.push({ text: op[0], quoted: false });
    i += op[0].length;
  }
  return tokens;
}

function parseCql(cql: string): CqlQuery {
  const tokens = tokenize(cql);
  const clauses: CqlQuery["clauses"] = [];
  let i = 0;
  const word = (at: number) => (tokens[at] && !tokens[at].quoted ? tokens[at].text : undefined);
  const value = (t: CqlToken | undefined) => {
    if (t === undefined || (!t.quoted && ["=", "!=", "~", "!~", "(", ")", ","].includes(t.text))) throw new CqlError("expected a value");
    return t.text;
  };
  for (;;) {
    const field = word(i++)?.toLowerCase();
    if (field !== "type" && field !== "space" && field !== "title" && field !== "label") throw new CqlError(`unsupported field ${JSON.stringify(field)}`);
    if (word(i++) !== "=") throw new CqlError(`only = is supported after ${field}`);
    clauses.push({ field, value: value(tokens[i++]) });
    if (i >= tokens.length) return { clauses, order: undefined };
    const next = word(i)?.toUpperCase();
    if (next === "AND") {
      i++;
      continue;
    }
    if (next === "ORDER" && word(i + 1)?.toUpperCase() === "BY" && word(i + 2)?.toLowerCase() === "created") {
      const direction = word(i + 3)?.toUpperCase();
      if (direction !== undefined && direction !== "ASC" && direction !== "DESC") throw new CqlError(`unexpected ${direction}`);
      if (tokens.length > i + (direction ? 4 : 3)) throw new CqlError("unexpected input after ORDER BY");
      return { clauses, order: direction === "DESC" ? "desc" : "asc" };
    }
    throw new CqlError(`unsupported ${JSON.stringify(tokens[i]?.text)}`);
  }
}

export async function startFakeConfluence(options: FakeConfluenceOptions = {}): Promise<FakeConfluence> {
  const api = options.api ?? "cloud";
  const cloud = api === "cloud";
  const email = "alertdesk@acme.example";
  const token = cloud ? "confluence-cloud-api-token-7c1e93" : "confluence-dc-personal-token-4b9a17";
  const username = "alertdesk";
  const password = "confluence-dc-password-2f8d55";
  const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;
  const accepted = cloud ? [basic(email, token)] : [`Bearer ${token}`, basic(username, password)];
  const spaces: FakeConfluenceSpace[] = [
    { id: "98306", key: "OPS", name: "Operations" },
    { id: "98307", key: "DOCS", name: "Documentation" },
  ];
  const pages: FakeConfluencePage[] = [];
  const requests: FakeConfluenceRequest[] = [];
  const searches: string[] = [];
  let nextId = 65_537;
  let sequence = 0;
  let createdButErrored = 0;
  let concurrentEdits = 0;
  let rate: { requests: number; windowMs: number; windowStart: number; count: number } | undefined;

  function addPage(p: { spaceKey: string; title: string; body?: string; labels?: string[]; parentId?: string }): FakeConfluencePage {
    const page: FakeConfluencePage = {
      id: String(nextId++),
      spaceKey: p.spaceKey,
      title: p.title,
      parentId: p.parentId,
      body: p.body ?? "<p>written by a person</p>",
      version: 1,
      labels: [...(p.labels ?? [])],
      createdAt: Date.now(),
      sequence: ++sequence,
    };
    pages.push(page);
    return page;
  }
  const parent = addPage({ spaceKey: "OPS", title: "Incident archive", body: "<p>Closed incidents, one page each.</p>" });

  const state: FakeConfluence = {
    url: "",
    api,
    email,
    token,
    username,
    password,
    authorization: accepted[0] as string,
    spaces,
    pages,
    requests,
    searches,
    parentPageId: parent.id,
    createdButErrored(count = 1) {
      createdButErrored += count;
    },
    editConcurrently(count = 1) {
      concurrentEdits += count;
    },
    limitRate(limit) {
      rate = limit ? { ...limit, windowStart: Date.now(), count: 0 } : undefined;
    },
    addPage,
    stop: async () => {},
  };

  const app = express();
  app.use(express.json({ limit: "5mb" }));

  // ---- errors in each API's own shape ----
  const reasons: Record<number, [string, string]> = {
    400: ["BAD_REQUEST", "Bad Request"],
    401: ["UNAUTHORIZED", "Unauthorized"],
    404: ["NOT_FOUND", "Not Found"],
    409: ["CONFLICT", "Conflict"],
    429: ["TOO_MANY_REQUESTS", "Too Many Requests"],
    500: ["INTERNAL_SERVER_ERROR", "Internal Server Error"],
  };
  /** v2 answers `{errors: [...]}`; v1 (Cloud's and Data Center's) `{statusCode, message, reason}`. */
  function fail(res: Response, status: number, message: string, v2: boolean) {
    const [code, reason] = reasons[status] ?? ["ERROR", "Error"];
    if (v2) return void res.status(status).json({ errors: [{ status, code, title: message, detail: null }] });
    res.status(status).json({ statusCode: status, data: { authorized: status !== 401, valid: false, errors: [], successful: false }, message, reason });
  }
  const isV2 = (req: Request) => req.path.startsWith("/wiki/api/v2/");

  app.use((req: Request, res: Response, next: NextFunction) => {
    const entry: FakeConfluenceRequest = {
      method: req.method,
      path: req.path,
      query: Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, String(v)])),
      status: 0,
    };
    requests.push(entry);
    res.on("finish", () => {
      entry.status = res.statusCode;
    });
    if (rate) {
      const now = Date.now();
      if (now - rate.windowStart >= rate.windowMs) {
        rate.windowStart = now;
        rate.count = 0;
      }
      if (++rate.count > rate.requests) {
        const waitMs = rate.windowStart + rate.windowMs - now;
        res.setHeader("Retry-After", String(Math.max(1, Math.ceil(waitMs / 1000))));
        res.setHeader("X-RateLimit-Limit", String(rate.requests));
        res.setHeader("X-RateLimit-Remaining", "0");
        return void fail(res, 429, "Rate limit exceeded", isV2(req));
      }
    }
    if (!accepted.includes(req.headers.authorization ?? "")) {
      res.setHeader("WWW-Authenticate", 'Basic realm="Protected"');
      return void fail(res, 401, "Client must be authenticated to access this resource.", isV2(req));
    }
    next();
  });

  const prefix = cloud ? "/wiki" : "";
  const base = () => `${state.url}${prefix}`;
  const spaceByKey = (key: string) => spaces.find((s) => s.key === key);
  const spaceById = (id: string) => spaces.find((s) => s.id === id);
  const pageById = (id: string) => pages.find((p) => p.id === id);
  const webui = (p: FakeConfluencePage) =>
    cloud ? `/spaces/${p.spaceKey}/pages/${p.id}/${encodeURIComponent(p.title.replace(/\s+/g, "+"))}` : `/pages/viewpage.action?pageId=${p.id}`;
  const iso = (ms: number) => new Date(ms).toISOString();
  const labelJson = (name: string, i: number) => ({ prefix: "global", name, id: String(1000 + i), label: name });
  const labelsJson = (p: FakeConfluencePage) => ({ results: p.labels.map(labelJson), start: 0, limit: 200, size: p.labels.length });
  /** Confluence compares titles ignoring case: one page per title and space. */
  const titleTaken = (spaceKey: string, title: string, except?: string) =>
    pages.some((p) => p.spaceKey === spaceKey && p.id !== except && p.title.toLowerCase() === title.toLowerCase());
  const duplicateMessage = (p: { title: string; spaceKey: string }) =>
    cloud
      ? "A page with this title already exists: A page already exists with the same TITLE in this space"
      : `com.atlassian.confluence.api.service.exceptions.BadRequestException: A page with this title already exists: A page already exists with the title ${p.title} in the space with key ${p.spaceKey}`;
  const versionMessage = (p: FakeConfluencePage) => `Version must be incremented on update. Current version is: ${p.version}`;

  /** Checks a body and a title for a write; the message of the 400, or undefined. */
  function badWrite(title: unknown, body: unknown): string | undefined {
    if (typeof title !== "string" || title.trim() === "") return "Title is required";
    if (title.length > 255) return "Title cannot be longer than 255 characters";
    if (typeof body !== "string") return "Body is required (storage representation)";
    const problem = xhtmlProblem(body);
    return problem ? `Error parsing xhtml: ${problem}` : undefined;
  }

  /** A person saving the page just before alertdesk's update: alertdesk's version is now stale. */
  function maybeEditConcurrently(p: FakeConfluencePage) {
    if (concurrentEdits <= 0) return;
    concurrentEdits--;
    p.version++;
    p.body = `${p.body}<p>edited by a person</p>`;
  }

  function create(
    spaceKey: string,
    title: string,
    body: string,
    parentId: string | undefined,
    res: Response,
    reply: (p: FakeConfluencePage) => unknown,
    v2: boolean,
  ) {
    if (titleTaken(spaceKey, title)) return void fail(res, 400, duplicateMessage({ title, spaceKey }), v2);
    const page = addPage({ spaceKey, title, body, ...(parentId ? { parentId } : {}) });
    if (createdButErrored > 0) {
      // The documented trap: the page is there, the answer says it is not.
      createdButErrored--;
      return void fail(res, 500, "java.lang.RuntimeException: Could not create content", v2);
    }
    res.json(reply(page));
  }

  function addLabels(p: FakeConfluencePage, body: unknown, res: Response) {
    const list = Array.isArray(body) ? body : [body];
    const names: string[] = [];
    for (const item of list) {
      const name = (item as { name?: unknown } | null)?.name;
      const labelPrefix = (item as { prefix?: unknown } | null)?.prefix ?? "global";
      if (typeof name !== "string" || name === "") return void fail(res, 400, "Label name is required", false);
      if (labelPrefix !== "global") return void fail(res, 400, `Unsupported label prefix ${String(labelPrefix)}`, false);
      if (LABEL_FORBIDDEN.test(name) || name.length > 255) return void fail(res, 400, `'${name}' is not a valid label name`, false);
      names.push(name.toLowerCase());
    }
    for (const name of names) if (!p.labels.includes(name)) p.labels.push(name);
    res.json(labelsJson(p));
  }

  function search(
    cql: string,
    limitAsked: unknown,
    startAsked: unknown,
    res: Response,
  ): { found: FakeConfluencePage[]; start: number; limit: number; total: number } | undefined {
    searches.push(cql);
    let query: CqlQuery;
    try {
      query = parseCql(cql);
    } catch (err) {
      fail(res, 400, `Could not parse cql : ${cql} (${(err as Error).message})`, false);
      return undefined;
    }
    const matches = pages.filter((p) =>
      query.clauses.every((c) => {
        if (c.field === "type") return c.value.toLowerCase() === "page";
        if (c.field === "space") return p.spaceKey === c.value;
        if (c.field === "title") return p.title === c.value;
        return p.labels.includes(c.value.toLowerCase());
      }),
    );
    // Without ORDER BY, creation order; ORDER BY created alone is ascending.
    matches.sort((a, b) => (query.order === "desc" ? b.sequence - a.sequence : a.sequence - b.sequence));
    const limit = Math.min(Math.max(1, Number(limitAsked) || 25), SEARCH_CAP);
    const start = Math.max(0, Number(startAsked) || 0);
    return { found: matches.slice(start, start + limit), start, limit, total: matches.length };
  }
  const nextLink = (path: string, cql: string, start: number, limit: number, total: number, expand: unknown) =>
    start + limit < total
      ? {
          next: `${path}?${new URLSearchParams({ cql, start: String(start + limit), limit: String(limit), ...(typeof expand === "string" ? { expand } : {}) })}`,
        }
      : {};
  const expansions = (req: Request) => String(req.query.expand ?? "").split(",");

  if (cloud) {
    const v2Page = (p: FakeConfluencePage, withBody: boolean) => ({
      id: p.id,
      status: "current",
      title: p.title,
      spaceId: spaceByKey(p.spaceKey)?.id,
      parentId: p.parentId ?? null,
      parentType: p.parentId ? "page" : null,
      authorId: "557058:alertdesk",
      ownerId: "557058:alertdesk",
      createdAt: iso(p.createdAt),
      version: { createdAt: iso(Date.now()), message: "", number: p.version, minorEdit: false, authorId: "557058:alertdesk" },
      ...(withBody ? { body: { storage: { representation: "storage", value: p.body } } } : {}),
      _links: { webui: webui(p), editui: `/pages/resumedraft.action?draftId=${p.id}`, tinyui: `/x/${p.id}` },
    });

    app.get("/wiki/api/v2/spaces", (req: Request, res: Response) => {
      const keys = typeof req.query.keys === "string" ? req.query.keys.split(",") : undefined;
      const results = spaces
        .filter((s) => !keys || keys.includes(s.key))
        .map((s) => ({ id: s.id, key: s.key, name: s.name, type: "global", status: "current", _links: { webui: `/spaces/${s.key}` } }));
      res.json({ results, _links: { base: base() } });
    });

    app.get("/wiki/api/v2/pages", (req: Request, res: Response) => {
      const spaceIds = typeof req.query["space-id"] === "string" ? req.query["space-id"].split(",") : undefined;
      const title = typeof req.query.title === "string" ? req.query.title : undefined;
      const withBody = req.query["body-format"] === "storage";
      const limit = Math.min(Math.max(1, Number(req.query.limit) || 25), 250);
      const results = pages
        .filter((p) => !spaceIds || spaceIds.includes(spaceByKey(p.spaceKey)?.id ?? ""))
        // The REST title filter matches exactly, case included (unlike the uniqueness rule).
        .filter((p) => title === undefined || p.title === title)
        .slice(0, limit)
        .map((p) => v2Page(p, withBody));
      res.json({ results, _links: { base: base() } });
    });

    app.get("/wiki/api/v2/pages/:id", (req: Request, res: Response) => {
      const p = pageById(req.params.id as string);
      if (!p) return void fail(res, 404, "Page not found", true);
      res.json({ ...v2Page(p, req.query["body-format"] === "storage"), _links: { ...v2Page(p, false)._links, base: base() } });
    });

    app.post("/wiki/api/v2/pages", (req: Request, res: Response) => {
      const b = req.body as { spaceId?: unknown; status?: unknown; title?: unknown; parentId?: unknown; body?: { representation?: unknown; value?: unknown } };
      const space = spaceById(String(b.spaceId ?? ""));
      if (!space) return void fail(res, 400, "Invalid space id", true);
      if (b.status !== undefined && b.status !== "current" && b.status !== "draft") return void fail(res, 400, "Invalid status", true);
      if (b.body?.representation !== "storage") return void fail(res, 400, "Unsupported body representation", true);
      const problem = badWrite(b.title, b.body?.value);
      if (problem) return void fail(res, 400, problem, true);
      const parentId = b.parentId === undefined || b.parentId === null ? undefined : String(b.parentId);
      if (parentId && pageById(parentId)?.spaceKey !== space.key) return void fail(res, 400, "Parent page not found in the space", true);
      create(
        space.key,
        b.title as string,
        b.body?.value as string,
        parentId,
        res,
        (p) => ({ ...v2Page(p, true), _links: { ...v2Page(p, false)._links, base: base() } }),
        true,
      );
    });

    app.put("/wiki/api/v2/pages/:id", (req: Request, res: Response) => {
      const p = pageById(req.params.id as string);
      if (!p) return void fail(res, 404, "Page not found", true);
      const b = req.body as {
        id?: unknown;
        status?: unknown;
        title?: unknown;
        body?: { representation?: unknown; value?: unknown };
        version?: { number?: unknown };
      };
      if (b.id !== undefined && String(b.id) !== p.id) return void fail(res, 400, "The id in the body does not match the path", true);
      if (b.status !== "current") return void fail(res, 400, "status is required", true);
      if (b.body?.representation !== "storage") return void fail(res, 400, "Unsupported body representation", true);
      const problem = badWrite(b.title, b.body?.value);
      if (problem) return void fail(res, 400, problem, true);
      maybeEditConcurrently(p);
      if (b.version?.number !== p.version + 1) return void fail(res, 409, versionMessage(p), true);
      if (titleTaken(p.spaceKey, b.title as string, p.id)) return void fail(res, 400, duplicateMessage(p), true);
      p.title = b.title as string;
      p.body = b.body?.value as string;
      p.version++;
      res.json({ ...v2Page(p, true), _links: { ...v2Page(p, false)._links, base: base() } });
    });

    app.get("/wiki/api/v2/pages/:id/labels", (req: Request, res: Response) => {
      const p = pageById(req.params.id as string);
      if (!p) return void fail(res, 404, "Page not found", true);
      res.json({ results: p.labels.map((name, i) => ({ id: String(1000 + i), name, prefix: "global" })), _links: { base: base() } });
    });

    app.get("/wiki/rest/api/search", (req: Request, res: Response) => {
      const cql = String(req.query.cql ?? "");
      const got = search(cql, req.query.limit, req.query.start, res);
      if (!got) return;
      const withLabels = expansions(req).includes("content.metadata.labels");
      res.json({
        results: got.found.map((p) => ({
          content: {
            id: p.id,
            type: "page",
            status: "current",
            title: p.title,
            ...(withLabels ? { metadata: { labels: labelsJson(p) } } : {}),
            _links: { webui: webui(p), self: `${base()}/rest/api/content/${p.id}` },
          },
          title: p.title,
          excerpt: "",
          url: webui(p),
          entityType: "content",
          lastModified: iso(p.createdAt),
        })),
        start: got.start,
        limit: got.limit,
        size: got.found.length,
        totalSize: got.total,
        cqlQuery: cql,
        searchDuration: 3,
        _links: { base: base(), context: "/wiki", ...nextLink("/rest/api/search", cql, got.start, got.limit, got.total, req.query.expand) },
      });
    });
  } else {
    const dcContent = (p: FakeConfluencePage, expand: string[], single: boolean) => {
      const space = spaceByKey(p.spaceKey);
      return {
        id: p.id,
        type: "page",
        status: "current",
        title: p.title,
        space: { id: Number(space?.id), key: p.spaceKey, name: space?.name, type: "global" },
        // A single content expands its version by default; a list only when asked.
        ...(single || expand.includes("version") ? { version: { by: { username }, when: iso(Date.now()), number: p.version, minorEdit: false } } : {}),
        ...(expand.includes("body.storage") ? { body: { storage: { value: p.body, representation: "storage" } } } : {}),
        ...(expand.includes("metadata.labels") ? { metadata: { labels: labelsJson(p) } } : {}),
        ...(expand.includes("ancestors") ? { ancestors: p.parentId ? [{ id: p.parentId, type: "page" }] : [] } : {}),
        _links: { webui: webui(p), tinyui: `/x/${p.id}`, self: `${base()}/rest/api/content/${p.id}` },
      };
    };

    app.get("/rest/api/content/search", (req: Request, res: Response) => {
      const cql = String(req.query.cql ?? "");
      const got = search(cql, req.query.limit, req.query.start, res);
      if (!got) return;
      res.json({
        results: got.found.map((p) => dcContent(p, expansions(req), false)),
        start: got.start,
        limit: got.limit,
        size: got.found.length,
        _links: { base: base(), context: "", ...nextLink("/rest/api/content/search", cql, got.start, got.limit, got.total, req.query.expand) },
      });
    });

    app.get("/rest/api/content", (req: Request, res: Response) => {
      const spaceKey = typeof req.query.spaceKey === "string" ? req.query.spaceKey : undefined;
      const title = typeof req.query.title === "string" ? req.query.title : undefined;
      if (req.query.type !== undefined && req.query.type !== "page")
        return void res.json({ results: [], start: 0, limit: 25, size: 0, _links: { base: base() } });
      const limit = Math.min(Math.max(1, Number(req.query.limit) || 25), 200);
      const results = pages
        .filter((p) => spaceKey === undefined || p.spaceKey === spaceKey)
        // The REST title filter matches exactly, case included (unlike the uniqueness rule).
        .filter((p) => title === undefined || p.title === title)
        .slice(0, limit)
        .map((p) => dcContent(p, expansions(req), false));
      res.json({ results, start: 0, limit, size: results.length, _links: { base: base(), context: "" } });
    });

    app.get("/rest/api/content/:id", (req: Request, res: Response) => {
      const p = pageById(req.params.id as string);
      if (!p) return void fail(res, 404, `No content found with id: ContentId{id=${req.params.id}}`, false);
      res.json(dcContent(p, expansions(req), true));
    });

    app.post("/rest/api/content", (req: Request, res: Response) => {
      const b = req.body as {
        type?: unknown;
        title?: unknown;
        space?: { key?: unknown };
        ancestors?: { id?: unknown }[];
        body?: { storage?: { value?: unknown; representation?: unknown } };
      };
      if (b.type !== "page") return void fail(res, 400, "Unsupported content type", false);
      const space = spaceByKey(String(b.space?.key ?? ""));
      if (!space) return void fail(res, 400, `No space with key : ${String(b.space?.key)}`, false);
      if (b.body?.storage?.representation !== "storage") return void fail(res, 400, "Unsupported body representation", false);
      const problem = badWrite(b.title, b.body?.storage?.value);
      if (problem) return void fail(res, 400, problem, false);
      const ancestor = b.ancestors?.at(-1)?.id;
      const parentId = ancestor === undefined ? undefined : String(ancestor);
      if (parentId && pageById(parentId)?.spaceKey !== space.key) return void fail(res, 400, "Can't add a page: the parent page is not in the space", false);
      create(space.key, b.title as string, b.body?.storage?.value as string, parentId, res, (p) => dcContent(p, ["body.storage"], true), false);
    });

    app.put("/rest/api/content/:id", (req: Request, res: Response) => {
      const p = pageById(req.params.id as string);
      if (!p) return void fail(res, 404, `No content found with id: ContentId{id=${req.params.id}}`, false);
      const b = req.body as {
        type?: unknown;
        title?: unknown;
        body?: { storage?: { value?: unknown; representation?: unknown } };
        version?: { number?: unknown };
      };
      if (b.type !== "page") return void fail(res, 400, "Unsupported content type", false);
      if (b.body?.storage?.representation !== "storage") return void fail(res, 400, "Unsupported body representation", false);
      const problem = badWrite(b.title, b.body?.storage?.value);
      if (problem) return void fail(res, 400, problem, false);
      maybeEditConcurrently(p);
      if (b.version?.number !== p.version + 1) return void fail(res, 409, versionMessage(p), false);
      if (titleTaken(p.spaceKey, b.title as string, p.id)) return void fail(res, 400, duplicateMessage(p), false);
      p.title = b.title as string;
      p.body = b.body?.storage?.value as string;
      p.version++;
      res.json(dcContent(p, ["body.storage"], true));
    });
  }

  // Labels: the same v1 resource on both (under /wiki on Cloud).
  app.get(`${prefix}/rest/api/content/:id/label`, (req: Request, res: Response) => {
    const p = pageById(req.params.id as string);
    if (!p) return void fail(res, 404, `No content found with id: ContentId{id=${req.params.id}}`, false);
    const start = Math.max(0, Number(req.query.start) || 0);
    const limit = Math.min(Math.max(1, Number(req.query.limit) || 200), 200);
    const results = p.labels.map(labelJson).slice(start, start + limit);
    res.json({ results, start, limit, size: results.length, _links: { base: base() } });
  });
  app.post(`${prefix}/rest/api/content/:id/label`, (req: Request, res: Response) => {
    const p = pageById(req.params.id as string);
    if (!p) return void fail(res, 404, `No content found with id: ContentId{id=${req.params.id}}`, false);
    addLabels(p, req.body, res);
  });

  app.use((req: Request, res: Response) => fail(res, 404, `No route for ${req.method} ${req.path}`, isV2(req)));
  // A body that is not JSON: Confluence's 400, not express's HTML page.
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => fail(res, 400, `Unreadable request body: ${err.message}`, isV2(req)));

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
