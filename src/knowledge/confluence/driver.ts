import { z } from "zod";
import { basicAuth, type Credentials, commonKeys, parseRate, resolveSecret, timeoutMs } from "../../drivers/config.js";
import { createHttpClient } from "../../drivers/http.js";
import { createRateLimiter } from "../../drivers/rate-limit.js";
import { DeliveryError } from "../../model/delivery-error.js";
import { type KnowledgeBaseDriver, type KnowledgePage, knowledgeLabel } from "../types.js";
import { type ConfluenceRest, cloudRest, datacenterRest, type StoredPage } from "./rest.js";
import { toStorage } from "./storage.js";

/**
 * Archive entries as Confluence pages, Cloud or Data Center. The requests are in rest.ts, the body
 * format in storage.ts, CQL in cql.ts; docs/knowledge-bases/confluence.md says how to configure it.
 *
 * Facts this relies on ([3rd] a third party's account, [mem] from memory, not checked against a
 * source here):
 * - Cloud puts pages, spaces and label reads in REST v2 (/wiki/api/v2/), and CQL search and label
 *   adds only in v1 (/wiki/rest/api/); every path is under /wiki (mcpservers.org "confluence-api"
 *   skill [3rd]; two-way.md §6.1). Auth is Basic email:API token, not Bearer; tokens expire (1–365 d).
 * - Cloud create: POST /wiki/api/v2/pages {spaceId, status: "current", title, parentId?, body:
 *   {representation: "storage", value}}; spaceId is numeric, resolved from the key with
 *   GET /wiki/api/v2/spaces?keys=KEY [mem]; an update is PUT /wiki/api/v2/pages/{id} with the full
 *   body and version.number + 1 (dev.to/yamuno "Confluence REST API: Create and Update Pages" [3rd]).
 * - Cloud GET /wiki/api/v2/pages filters by space-id and title and returns the storage body with
 *   body-format=storage; by default it lists current and archived pages (the v2 OpenAPI "Get pages",
 *   as generated in github.com/voidrot/md-flux packages/confluence-client PageApi.md [3rd]).
 * - Labels: POST …/rest/api/content/{id}/label with [{prefix: "global", name}] adds and never
 *   replaces; GET on the same path lists them (developer.atlassian.com/cloud/confluence/rest/v1/
 *   api-group-content-labels; …/server/confluence/rest/v920/api-group-content-labels). Confluence
 *   rejects labels with spaces and most punctuation, and keeps them lower case [mem]: the driver
 *   normalises with knowledgeLabel.
 * - CQL: GET /wiki/rest/api/search?cql=… (Cloud) and /rest/api/content/search?cql=… (Data Center)
 *   with fields type, space, title, label, created; several `label =` joined by AND need all labels,
 *   `label IN (…)` any; page size is capped at 100 (two-way.md §6.1, mcp-atlassian CQL guide);
 *   values are quoted strings with `"` and `\` backslash-escaped [mem]; `expand=content.metadata.labels`
 *   (Cloud search) and `expand=metadata.labels` (content search) bring each page's labels [mem].
 * - Data Center: POST /rest/api/content {type: "page", title, space: {key}, ancestors: [{id}],
 *   body: {storage: {value, representation: "storage"}}}; PUT /rest/api/content/{id} with
 *   version.number + 1; GET /rest/api/content?spaceKey=…&title=…&expand=version finds a page by its
 *   exact title (conflr confl_post_page / confl_list_pages; two-way.md §6.2). A personal access token
 *   goes as Bearer (Data Center ≥ 7.9) [mem]; Basic username:password works too.
 * - Titles are unique per space, and Confluence compares them ignoring case, while the REST title
 *   filters match exactly (community.developer.atlassian.com "Inconsistencies with page title case
 *   sensitivity" and "Finding a page by title", 41553). A create with a taken title fails with "A page
 *   with this title already exists…" (tcs.confluence New-ConfluencePage docs, PowerShell Gallery;
 *   two-way.md §6.1), a 400.
 * - The trap: Confluence sometimes creates the page and still answers an error (same source). So an
 *   archive looks the title up first, and a create answered "title exists" looks again and updates:
 *   one page per title however often the outbox retries.
 * - An update with a version that is not the current one + 1 is a 409 ("Version must be incremented
 *   on update. Current version is: N") [mem]: the driver reads the version again and retries twice.
 * - Rate limits: Cloud answers 429 with Retry-After in seconds (Atlassian's Cloud scheme, two-way.md
 *   §2.5: API-token traffic stays burst-limited); Data Center admins can configure limits that answer
 *   429 with Retry-After [mem]. Retry-After pauses every request of the driver (rate-limit.ts).
 */

const secretKeys = {
  token: z
    .string()
    .optional()
    .describe("Cloud: the API token of `email` (Basic email:token). Data Center: a personal access token (Bearer). Prefer token_file."),
  token_file: z.string().optional().describe("A file holding `token` (read once at start)."),
  password: z.string().optional().describe("Data Center only: the password of `username` (Basic). Prefer password_file."),
  password_file: z.string().optional().describe("A file holding `password` (read once at start)."),
};

export const confluenceConfigSchema = z
  .object({
    type: z.literal("confluence").describe("Archive entries as Confluence pages."),
    api: z
      .enum(["cloud", "datacenter"])
      .default("cloud")
      .describe("cloud: Atlassian's cloud (REST v2 pages, v1 labels and search, under /wiki); datacenter: a self-hosted Confluence (REST v1)."),
    url: z
      .string()
      .url()
      .describe("Cloud: the site, like https://acme.atlassian.net (the driver adds /wiki). Data Center: the base URL, with its context path if it has one."),
    space: z
      .string()
      .regex(/^~?[A-Za-z0-9_]+$/, "must be a space key like OPS")
      .describe("The key of the space the pages go to, like OPS."),
    parent_id: z
      .string()
      .regex(/^\d+$/, 'must be a page id (digits; quote it in YAML: "123456")')
      .optional()
      .describe("The id of the page new entries are created under; default: the space's top level."),
    email: z.string().min(1).optional().describe("Cloud: the Atlassian account the API token belongs to."),
    ...secretKeys,
    username: z.string().min(1).optional().describe("Data Center: a user for Basic auth, with password or password_file, instead of a token."),
    ...commonKeys,
  })
  .strict()
  .superRefine((c, ctx) => {
    const hasToken = Boolean(c.token || c.token_file);
    const hasPassword = Boolean(c.password || c.password_file);
    if (c.api === "cloud") {
      if (c.username !== undefined || hasPassword) {
        ctx.addIssue({
          code: "custom",
          path: [c.username !== undefined ? "username" : c.password !== undefined ? "password" : "password_file"],
          message: "api: cloud has no password login for its API: use email with token or token_file",
        });
      }
      if (c.email === undefined)
        ctx.addIssue({ code: "custom", path: ["email"], message: "api: cloud needs email (the account of the API token, Basic email:token)" });
      if (!hasToken) ctx.addIssue({ code: "custom", path: ["token"], message: "api: cloud needs token or token_file (an API token of email)" });
      return;
    }
    if (c.email !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["email"],
        message: "email is for api: cloud; Data Center takes token (a personal access token) or username with password",
      });
    }
    if (c.username !== undefined) {
      if (hasToken)
        ctx.addIssue({ code: "custom", path: ["username"], message: "give either token (a personal access token) or username with password, not both" });
      if (!hasPassword) ctx.addIssue({ code: "custom", path: ["password"], message: "username needs password or password_file" });
    } else if (hasPassword) {
      ctx.addIssue({ code: "custom", path: ["username"], message: "password needs username" });
    } else if (!hasToken) {
      ctx.addIssue({
        code: "custom",
        path: ["token"],
        message: "api: datacenter needs token or token_file (a personal access token), or username with password",
      });
    }
  });

export type ConfluenceConfig = z.infer<typeof confluenceConfigSchema>;

/** How often an update is tried when somebody else saves the page in between. */
const UPDATE_ATTEMPTS = 3;

function credentialsOf(config: ConfluenceConfig): Credentials {
  if (config.username !== undefined) return basicAuth(config.username, resolveSecret(config.password, config.password_file, "password"));
  const token = resolveSecret(config.token, config.token_file, "token");
  // Cloud: Basic email:token. Data Center: a personal access token as Bearer.
  if (config.api === "cloud") return basicAuth(config.email ?? "", token);
  return { authorization: `Bearer ${token}`, secrets: [token] };
}

export function createConfluenceKnowledgeBase(config: ConfluenceConfig, deps: { clock?: () => Date } = {}): KnowledgeBaseDriver {
  const cloud = config.api === "cloud";
  const site = config.url.replace(/\/+$/, "");
  // Cloud's REST lives under /wiki; a URL given with it gets it once, not twice.
  const base = cloud ? `${site.replace(/\/wiki$/, "")}/wiki` : site;
  const credentials = credentialsOf(config);
  const prefix = `[confluence ${config.space}]`;
  const http = createHttpClient({
    name: `confluence ${config.space}`,
    baseURL: base,
    headers: { Authorization: credentials.authorization, "Content-Type": "application/json" },
    timeoutMs: timeoutMs(config.timeout),
    secrets: credentials.secrets,
    ...(deps.clock ? { clock: deps.clock } : {}),
    limiter: createRateLimiter(config.rate_limit ? parseRate(config.rate_limit) : undefined),
  });
  const ctx = { http, prefix, space: config.space, parentId: config.parent_id, siteBase: base };
  const rest: ConfluenceRest = cloud ? cloudRest(ctx) : datacenterRest(ctx);

  /** Writes the body, reading the version again when somebody else saved the page in between. */
  async function update(page: StoredPage, title: string, body: string): Promise<StoredPage> {
    // Confluence keeps a version per save: a retry that writes what is already there adds none.
    if (page.body === body && page.title === title) return page;
    let version = page.version ?? (await rest.currentVersion(page.id));
    for (let attempt = 1; ; attempt++) {
      const outcome = await rest.update(page.id, title, body, version + 1);
      if (outcome.kind === "written") {
        const url = outcome.page.url ?? page.url;
        return { ...page, ...outcome.page, ...(url ? { url } : {}) };
      }
      if (outcome.kind !== "versionConflict" || attempt >= UPDATE_ATTEMPTS) throw outcome.error;
      version = await rest.currentVersion(page.id);
    }
  }

  /** Adds the labels the page lacks; returns every label it carries afterwards. */
  async function label(id: string, wanted: readonly string[]): Promise<string[]> {
    const have = await rest.labels(id);
    const missing = wanted.filter((l) => !have.includes(l));
    await rest.addLabels(id, missing);
    return [...have, ...missing];
  }

  const pageOf = (page: StoredPage, labels: string[]): KnowledgePage => ({ id: page.id, title: page.title, ...(page.url ? { url: page.url } : {}), labels });

  return {
    type: "confluence",
    async archive(entry) {
      // Normalised again: one label Confluence refuses would fail the entry on every retry.
      const labels = [...new Set(entry.labels.map(knowledgeLabel).filter((l) => l !== ""))];
      const body = toStorage(entry.doc);
      // Look first: a page of an earlier attempt (also one created although its answer was an error
      // or never came) is updated, never created twice.
      const existing = await rest.findPage(entry.title);
      let page: StoredPage;
      if (existing) {
        page = await update(existing, entry.title, body);
      } else {
        const created = await rest.create(entry.title, body);
        if (created.kind === "written") {
          page = created.page;
        } else {
          // Somebody created it between the look-up and the create (a concurrent attempt, or a
          // create whose answer was lost): that page is the entry's page.
          const again = await rest.findPage(entry.title);
          if (!again) {
            throw new DeliveryError(
              `${prefix} create page: the space has a page whose title differs from the entry's only in case (Confluence compares titles ignoring case); rename one of them`,
              { retryable: false, reason: "client", cause: created.error },
            );
          }
          page = await update(again, entry.title, body);
        }
      }
      return pageOf(page, await label(page.id, labels));
    },
    async findByTitle(title) {
      const page = await rest.findPage(title);
      return page ? pageOf(page, await rest.labels(page.id)) : undefined;
    },
    async findByLabels(labels, limit) {
      // No labels would ask for every page of the space; a non-positive limit for none.
      const wanted = [...new Set(labels)];
      if (wanted.length === 0 || limit <= 0) return [];
      return rest.findByLabels(wanted, Math.floor(limit));
    },
  };
}
