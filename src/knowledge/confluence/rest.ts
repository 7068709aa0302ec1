import type { AxiosRequestConfig, AxiosResponse } from "axios";
import type { HttpClient } from "../../drivers/http.js";
import { DeliveryError, type FailureReason } from "../../model/delivery-error.js";
import { pagesWithLabels } from "./cql.js";

/**
 * The requests of the two Confluence APIs behind one small interface, so that the archive logic in
 * driver.ts is written once: Cloud (v2 pages and spaces under /wiki/api/v2, v1 labels and CQL search
 * under /wiki/rest/api) and Data Center (v1 content under /rest/api). The facts and their sources
 * are in driver.ts's header.
 */

/** A page as a look-up, create or update answers it. */
export interface StoredPage {
  id: string;
  title: string;
  /** The current version number, when the answer carried it. */
  version?: number;
  /** The storage-format body, when the answer carried it. */
  body?: string;
  url?: string;
}

/** A page a CQL search found, with its labels. */
export interface FoundPage {
  id: string;
  title: string;
  url?: string;
  labels: string[];
}

/** What a create or an update can come to besides success, so the archive can react to each. */
export type WriteOutcome =
  | { kind: "written"; page: StoredPage }
  /** Confluence keeps one page per title and space: somebody (maybe an earlier attempt) holds it. */
  | { kind: "duplicateTitle"; error: DeliveryError }
  /** The version sent is not the current one + 1: somebody else saved the page in between. */
  | { kind: "versionConflict"; error: DeliveryError };

export interface ConfluenceRest {
  /** The page with exactly this title in the space (the title filters are exact and case-sensitive). */
  findPage(title: string): Promise<StoredPage | undefined>;
  /** The page's current version number. */
  currentVersion(id: string): Promise<number>;
  create(title: string, body: string): Promise<WriteOutcome>;
  update(id: string, title: string, body: string, version: number): Promise<WriteOutcome>;
  /** The page's global labels (the ones CQL's `label =` matches). */
  labels(id: string): Promise<string[]>;
  /** Adds labels; Confluence keeps the ones the page has (this never removes one). */
  addLabels(id: string, names: readonly string[]): Promise<void>;
  /** Pages of the space carrying every label, newest first, at most `limit`. */
  findByLabels(labels: readonly string[], limit: number): Promise<FoundPage[]>;
}

export interface RestContext {
  http: HttpClient;
  /** Driver prefix for messages: `[confluence OPS]`. */
  prefix: string;
  space: string;
  parentId: string | undefined;
  /** Where page links point when an answer names no base of its own. */
  siteBase: string;
}

interface Links {
  webui?: string;
  base?: string;
  next?: string;
}
interface CloudPage {
  id: string;
  title: string;
  version?: { number?: number };
  body?: { storage?: { value?: string } };
  _links?: Links;
}
interface DcContent {
  id: string;
  title: string;
  type?: string;
  version?: { number?: number };
  body?: { storage?: { value?: string } };
  metadata?: { labels?: { results?: Label[] } };
  _links?: Links;
}
interface Label {
  prefix?: string;
  name: string;
}
interface Results<T> {
  results?: T[];
  size?: number;
  limit?: number;
  _links?: Links;
}

/** Search pages Confluence answers with at most this many results (Cloud and Data Center cap `limit`). */
const SEARCH_PAGE = 100;
/** A label list this long is read in pages. */
const LABEL_PAGE = 200;

const joinUrl = (base: string | undefined, webui: string | undefined) => (webui ? `${(base ?? "").replace(/\/+$/, "")}${webui}` : undefined);

/** The answer's body as text, for recognising Confluence's messages (never for an error message: those go through the redacting client). */
function bodyText(res: AxiosResponse): string {
  return typeof res.data === "string" ? res.data : JSON.stringify(res.data ?? "");
}

/** Confluence's answer to a create whose title the space already has: 400 (some versions 409) with this message. */
export function isDuplicateTitle(res: AxiosResponse): boolean {
  return (res.status === 400 || res.status === 409) && /page with this title already exists|already exists with the (same )?title/i.test(bodyText(res));
}

function createRequests(ctx: RestContext) {
  const { http } = ctx;
  /** A request whose failures are classified by status; `gone` decides what a 404 means for this call. */
  async function call<T>(what: string, req: AxiosRequestConfig, gone?: { retryable: boolean; reason: FailureReason }): Promise<T> {
    const res = await http.raw<T>(what, req);
    if (res.status >= 200 && res.status < 300) return res.data;
    // A page found a moment ago and now missing was deleted by somebody: the next attempt looks the
    // title up again and writes the page anew, so that is worth a retry.
    if (res.status === 404 && gone) throw http.failure(what, res, gone);
    throw http.failure(what, res);
  }
  const pageGone = { retryable: true, reason: "gone" as const };

  async function write(what: string, req: AxiosRequestConfig, page: (data: unknown) => StoredPage, isUpdate: boolean): Promise<WriteOutcome> {
    const res = await http.raw(what, req);
    if (res.status >= 200 && res.status < 300) return { kind: "written", page: page(res.data) };
    if (isDuplicateTitle(res)) return { kind: "duplicateTitle", error: http.failure(what, res) };
    // Another save in between: worth reading the version again now, and worth a later retry too.
    if (isUpdate && res.status === 409) return { kind: "versionConflict", error: http.failure(what, res, { retryable: true, reason: "client" }) };
    if (isUpdate && res.status === 404) throw http.failure(what, res, pageGone);
    throw http.failure(what, res);
  }

  async function labels(id: string): Promise<string[]> {
    const names: string[] = [];
    for (let start = 0; ; start += LABEL_PAGE) {
      const data = await call<Results<Label>>(
        "read labels",
        { method: "GET", url: `/rest/api/content/${encodeURIComponent(id)}/label`, params: { prefix: "global", start, limit: LABEL_PAGE } },
        pageGone,
      );
      const page = data.results ?? [];
      for (const l of page) if ((l.prefix ?? "global") === "global") names.push(l.name);
      if (page.length < LABEL_PAGE) return names;
    }
  }

  async function addLabels(id: string, names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await call(
      "add labels",
      { method: "POST", url: `/rest/api/content/${encodeURIComponent(id)}/label`, data: names.map((name) => ({ prefix: "global", name })) },
      pageGone,
    );
  }

  /** Every page of a CQL search until `limit` pages are found; `next` links are followed only on this host. */
  async function search<T>(
    what: string,
    url: string,
    cql: string,
    expand: string,
    limit: number,
    found: (item: T, base: string | undefined) => FoundPage | undefined,
  ) {
    const out: FoundPage[] = [];
    let req: AxiosRequestConfig = { method: "GET", url, params: { cql, limit: Math.min(limit, SEARCH_PAGE), expand } };
    for (let round = 0; round < 100 && out.length < limit; round++) {
      const data = await call<Results<T>>(what, req);
      const base = data._links?.base;
      for (const item of data.results ?? []) {
        const page = found(item, base);
        if (page && out.length < limit) out.push(page);
      }
      const next = data._links?.next;
      // A relative link only: an absolute one would send our credentials wherever it points.
      const relative = next?.startsWith("/") === true && !next.startsWith("//");
      if (!next || !relative || (data.results ?? []).length === 0) break;
      req = { method: "GET", url: next };
    }
    return out;
  }

  return { call, write, labels, addLabels, search, pageGone };
}

const labelNames = (labels: Label[] | undefined) => (labels ?? []).filter((l) => (l.prefix ?? "global") === "global").map((l) => l.name);

/** Confluence Cloud: v2 for spaces and pages, v1 for labels and search (v2 has no CQL search and no label add). */
export function cloudRest(ctx: RestContext): ConfluenceRest {
  const r = createRequests(ctx);
  const stored = (p: CloudPage, base?: string): StoredPage => ({
    id: String(p.id),
    title: p.title,
    ...(p.version?.number !== undefined ? { version: p.version.number } : {}),
    ...(p.body?.storage?.value !== undefined ? { body: p.body.storage.value } : {}),
    ...(p._links?.webui ? { url: joinUrl(base ?? p._links.base ?? ctx.siteBase, p._links.webui) as string } : {}),
  });

  // The numeric space id, once: v2 addresses spaces by id, the config names the key. A failed
  // look-up is not kept, so the next attempt asks again.
  let spaceId: Promise<string> | undefined;
  function space(): Promise<string> {
    spaceId ??= (async () => {
      const data = await r.call<Results<{ id: string | number; key: string }>>("find space", {
        method: "GET",
        url: "/api/v2/spaces",
        params: { keys: ctx.space, limit: 10 },
      });
      const found = (data.results ?? []).find((s) => s.key === ctx.space);
      if (!found) {
        throw new DeliveryError(`${ctx.prefix} find space: no space with the key ${ctx.space}, or the account may not see it`, {
          retryable: false,
          reason: "client",
        });
      }
      return String(found.id);
    })().catch((err: unknown) => {
      spaceId = undefined;
      throw err;
    });
    return spaceId;
  }

  return {
    async findPage(title) {
      const data = await r.call<Results<CloudPage>>("find page", {
        method: "GET",
        url: "/api/v2/pages",
        params: { "space-id": await space(), title, "body-format": "storage", limit: 5 },
      });
      const page = (data.results ?? []).find((p) => p.title === title);
      return page ? stored(page, data._links?.base) : undefined;
    },
    async currentVersion(id) {
      const data = await r.call<CloudPage>("read page", { method: "GET", url: `/api/v2/pages/${encodeURIComponent(id)}` }, r.pageGone);
      return data.version?.number ?? 1;
    },
    async create(title, body) {
      const data = {
        spaceId: await space(),
        status: "current",
        title,
        ...(ctx.parentId ? { parentId: ctx.parentId } : {}),
        body: { representation: "storage", value: body },
      };
      return r.write("create page", { method: "POST", url: "/api/v2/pages", data }, (d) => stored(d as CloudPage), false);
    },
    async update(id, title, body, version) {
      // No parentId: a page somebody moved stays where they put it.
      const data = { id, status: "current", title, body: { representation: "storage", value: body }, version: { number: version, message: "alertdesk" } };
      return r.write("update page", { method: "PUT", url: `/api/v2/pages/${encodeURIComponent(id)}`, data }, (d) => stored(d as CloudPage), true);
    },
    labels: r.labels,
    addLabels: r.addLabels,
    findByLabels(labels, limit) {
      return r.search<{ content?: DcContent }>(
        "find pages by labels",
        "/rest/api/search",
        pagesWithLabels(ctx.space, labels),
        "content.metadata.labels",
        limit,
        (item, base) =>
          item.content && (item.content.type ?? "page") === "page"
            ? {
                id: String(item.content.id),
                title: item.content.title,
                labels: labelNames(item.content.metadata?.labels?.results),
                ...(item.content._links?.webui ? { url: joinUrl(base ?? ctx.siteBase, item.content._links.webui) as string } : {}),
              }
            : undefined,
      );
    },
  };
}

/** Confluence Data Center: everything through v1 content. */
export function datacenterRest(ctx: RestContext): ConfluenceRest {
  const r = createRequests(ctx);
  const stored = (c: DcContent, base?: string): StoredPage => ({
    id: String(c.id),
    title: c.title,
    ...(c.version?.number !== undefined ? { version: c.version.number } : {}),
    ...(c.body?.storage?.value !== undefined ? { body: c.body.storage.value } : {}),
    ...(c._links?.webui ? { url: joinUrl(base ?? c._links.base ?? ctx.siteBase, c._links.webui) as string } : {}),
  });
  const storage = (value: string) => ({ storage: { value, representation: "storage" } });

  return {
    async findPage(title) {
      const data = await r.call<Results<DcContent>>("find page", {
        method: "GET",
        url: "/rest/api/content",
        params: { spaceKey: ctx.space, title, type: "page", expand: "version,body.storage", limit: 5 },
      });
      const page = (data.results ?? []).find((c) => c.title === title);
      return page ? stored(page, data._links?.base) : undefined;
    },
    async currentVersion(id) {
      const data = await r.call<DcContent>(
        "read page",
        { method: "GET", url: `/rest/api/content/${encodeURIComponent(id)}`, params: { expand: "version" } },
        r.pageGone,
      );
      return data.version?.number ?? 1;
    },
    create(title, body) {
      const data = {
        type: "page",
        title,
        space: { key: ctx.space },
        ...(ctx.parentId ? { ancestors: [{ id: ctx.parentId }] } : {}),
        body: storage(body),
      };
      return r.write("create page", { method: "POST", url: "/rest/api/content", data }, (d) => stored(d as DcContent), false);
    },
    update(id, title, body, version) {
      // No ancestors: a page somebody moved stays where they put it.
      const data = { id, type: "page", title, space: { key: ctx.space }, body: storage(body), version: { number: version } };
      return r.write("update page", { method: "PUT", url: `/rest/api/content/${encodeURIComponent(id)}`, data }, (d) => stored(d as DcContent), true);
    },
    labels: r.labels,
    addLabels: r.addLabels,
    findByLabels(labels, limit) {
      return r.search<DcContent>("find pages by labels", "/rest/api/content/search", pagesWithLabels(ctx.space, labels), "metadata.labels", limit, (c, base) =>
        (c.type ?? "page") === "page"
          ? {
              id: String(c.id),
              title: c.title,
              labels: labelNames(c.metadata?.labels?.results),
              ...(c._links?.webui ? { url: joinUrl(base ?? ctx.siteBase, c._links.webui) as string } : {}),
            }
          : undefined,
      );
    },
  };
}
