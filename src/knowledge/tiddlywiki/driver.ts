import type { AxiosResponse } from "axios";
import { z } from "zod";
import { basicAuth, commonKeys, parseRate, resolveSecret, timeoutMs } from "../../drivers/config.js";
import { createHttpClient, type HttpClient } from "../../drivers/http.js";
import { createRateLimiter } from "../../drivers/rate-limit.js";
import { DeliveryError } from "../../model/delivery-error.js";
import type { KnowledgeBaseDriver, KnowledgeBaseEntry, KnowledgePage } from "../types.js";
import { listRoundTrips, parseList, stringifyList, tiddlywikiDate } from "./tiddler.js";
import { toWikitext } from "./wikitext.js";

/**
 * TiddlyWiki 5 as a knowledge base: one tiddler per archive entry, through the HTTP API of
 * `tiddlywiki DIR --listen` (the TiddlyWeb protocol its browser client uses). Facts, checked against
 * tiddlywiki 5.4.1 (test/kit/tiddlywiki.ts lists them; docs/knowledge-bases/tiddlywiki.md):
 * - `PUT /recipes/default/tiddlers/{title}` replaces the whole tiddler (no If-Match: the last write
 *   wins) and needs `X-Requested-With: TiddlyWiki`; `GET` of the same path answers it, 404 if none.
 *   The server sets neither `created` nor `modified`: this driver does, from its clock.
 * - `GET /recipes/default/tiddlers.json?filter=…` answers matching tiddlers without text; any filter
 *   but the default needs `$:/config/Server/AllowAllExternalFilters` = `yes` (403 otherwise).
 * - Tags are one string in list syntax; field names are lower case.
 * - Basic auth splits the decoded header at every ":", so a password with ":" can never log in.
 *
 * The entry's tiddler: title = the entry's title, type text/vnd.tiddlywiki with the text from
 * wikitext.ts (every value escaped; why that is safe is written there), tags = the entry's labels,
 * the configured tags and any a person added, fields incident_id, ticket_key and alertdesk_tags (the
 * tags alertdesk put there, so that the next update can tell them from a person's), created (kept
 * from the first write) and modified. Fields a person added are kept; an entry that would not change
 * the tiddler is not written again.
 */

const TIDDLER_TYPE = "text/vnd.tiddlywiki";
/** Who created and modified the tiddler, as TiddlyWiki shows it under the title. */
const AUTHOR = "alertdesk";
const LABEL = /^[a-z0-9_-]+$/;
/** The fields this driver writes itself under `fields`; any other custom field is a person's and kept. */
const OWN_FIELDS = new Set(["incident_id", "ticket_key", "alertdesk_tags"]);
/**
 * Custom fields never sent back: `_is_skinny` makes the server keep its old text instead of ours, and
 * the draft fields belong to an editor's draft, not to the tiddler.
 */
const DROPPED_FIELDS = new Set(["_is_skinny", "draft.of", "draft.title"]);

/** A tag TiddlyWiki's list syntax can carry and that means nothing special to TiddlyWiki. */
const tagSchema = z
  .string()
  .min(1)
  .refine((tag) => tag.trim() === tag, "must not start or end with white space")
  .refine((tag) => !/[[\]]/.test(tag), "must not contain [ or ] (TiddlyWiki's list syntax)")
  .refine((tag) => !tag.startsWith("$:/"), "must not be a system tag ($:/…): those change what TiddlyWiki does with the tiddler");

export const tiddlywikiConfigSchema = z
  .object({
    type: z.literal("tiddlywiki").describe("A TiddlyWiki 5 server (tiddlywiki DIR --listen) as the knowledge base."),
    url: z
      .string()
      .url()
      .refine((url) => /^https?:\/\//i.test(url), "must be an http:// or https:// URL")
      .describe("The server as --listen serves it, with its path-prefix if it has one: http://127.0.0.1:8080."),
    username: z
      .string()
      .min(1)
      .refine((name) => !name.includes(":"), "must not contain ':' (TiddlyWiki splits basic auth at every ':')")
      .optional()
      .describe("Basic-auth user (--listen username=…); give password or password_file with it."),
    password: z.string().optional().describe("Basic-auth password (--listen password=…). Prefer password_file."),
    password_file: z.string().optional().describe("A file holding the basic-auth password (like Alertmanager's credentials_file)."),
    tags: z.array(tagSchema).default(["alertdesk"]).describe('Tags put on every entry besides its labels (default ["alertdesk"]; [] for none).'),
    ...commonKeys,
  })
  .strict()
  .superRefine((config, ctx) => {
    const password = (config.password !== undefined && config.password !== "") || (config.password_file !== undefined && config.password_file !== "");
    if (config.username !== undefined && !password) {
      ctx.addIssue({ code: "custom", path: ["password"], message: "password or password_file is required with username (basic auth needs both)" });
    }
    if (config.username === undefined && password) {
      ctx.addIssue({ code: "custom", path: ["username"], message: "username is required with password or password_file (basic auth needs both)" });
    }
  });

export type TiddlywikiConfig = z.infer<typeof tiddlywikiConfigSchema>;

/** GET /recipes/default/tiddlers/{title}: known fields at the top, every other field under `fields`. */
const tiddlerAnswer = z.looseObject({
  title: z.string(),
  text: z.string().optional(),
  type: z.string().optional(),
  tags: z.string().optional(),
  created: z.string().optional(),
  creator: z.string().optional(),
  fields: z.record(z.string(), z.string()).optional(),
});

/** One tiddler of GET tiddlers.json: every field at the top, text left out. */
const listedTiddler = z.looseObject({ title: z.string(), tags: z.string().optional() });

interface StoredTiddler {
  title: string;
  text: string;
  type: string;
  tags: string[];
  created?: string;
  creator?: string;
  fields: Record<string, string>;
}

/** Input alertdesk itself must not send: no retry can fix it, and no request goes out. */
function refused(message: string): DeliveryError {
  return new DeliveryError(`[tiddlywiki] ${message}`, { retryable: false, reason: "client" });
}

/** The title as a path segment; refuses the titles TiddlyWiki would treat as something else. */
function titleSegment(title: string): string {
  if (title === "") throw refused("a tiddler needs a title");
  // System tiddlers ($:/…) are TiddlyWiki's configuration and code (and shadow tiddlers by that name): never overwrite one.
  if (title.startsWith("$:/")) throw refused(`${JSON.stringify(title)} is a system tiddler's title ($:/…); refusing to write or read it as an entry`);
  // URL parsers resolve these as dot segments (also percent-encoded), so they would reach another route.
  if (title === "." || title === "..") throw refused(`${JSON.stringify(title)} cannot be addressed through TiddlyWiki's HTTP API`);
  try {
    return encodeURIComponent(title);
  } catch {
    throw refused(`${JSON.stringify(title)} is not well-formed Unicode (a lone surrogate)`);
  }
}

/** Labels as filter operands: `[tag[…]]` ends at the first `]`, so only knowledgeLabel()'s alphabet goes in. */
function checkLabels(labels: readonly string[], what: string): void {
  for (const label of labels) {
    if (!LABEL.test(label))
      throw refused(`${what}: label ${JSON.stringify(label)} is not a knowledge-base label (lower case [a-z0-9_-] only; see knowledgeLabel())`);
  }
}

const unique = (items: readonly string[]) => [...new Set(items)];
const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((item, i) => item === b[i]);

export function createTiddlywikiKnowledgeBase(config: TiddlywikiConfig, deps: { clock?: () => Date } = {}): KnowledgeBaseDriver {
  const clock = deps.clock ?? (() => new Date());
  const base = config.url.replace(/\/+$/, "");
  let authorization: string | undefined;
  const secrets: string[] = [];
  if (config.username !== undefined) {
    const password = resolveSecret(config.password, config.password_file, "password");
    if (password.includes(":")) throw new Error("password: TiddlyWiki splits basic auth at every ':', so a password containing ':' can never log in");
    const credentials = basicAuth(config.username, password);
    authorization = credentials.authorization;
    secrets.push(...credentials.secrets, credentials.authorization);
  }
  const http: HttpClient = createHttpClient({
    name: "tiddlywiki",
    baseURL: base,
    headers: authorization === undefined ? {} : { Authorization: authorization },
    timeoutMs: timeoutMs(config.timeout),
    secrets,
    clock,
    // Always a limiter: even without rate_limit, a 429's Retry-After holds back every request.
    limiter: createRateLimiter(config.rate_limit ? parseRate(config.rate_limit) : undefined),
  });
  const ownTags = config.tags;
  const pageOf = (title: string, tags: string[]): KnowledgePage => ({ id: title, title, url: `${base}/#${encodeURIComponent(title)}`, labels: tags });

  /** The answer's body, or a non-retryable error saying it was not what TiddlyWiki sends. */
  function parsed<T>(schema: z.ZodType<T>, what: string, res: AxiosResponse): T {
    const result = schema.safeParse(res.data);
    if (!result.success)
      throw http.failure(`${what}: the answer is not TiddlyWiki's JSON (is url a TiddlyWiki server?)`, res, { retryable: false, reason: "server" });
    return result.data;
  }

  async function getTiddler(what: string, title: string): Promise<StoredTiddler | undefined> {
    const path = `/recipes/default/tiddlers/${titleSegment(title)}`;
    const res = await http.raw(what, { method: "GET", url: path });
    if (res.status === 404) return undefined;
    if (res.status < 200 || res.status >= 300) throw http.failure(what, res);
    const answer = parsed(tiddlerAnswer, what, res);
    const tiddler: StoredTiddler = {
      title: answer.title,
      text: answer.text ?? "",
      type: answer.type ?? TIDDLER_TYPE,
      tags: parseList(answer.tags ?? ""),
      fields: answer.fields ?? {},
    };
    if (answer.created !== undefined) tiddler.created = answer.created;
    if (answer.creator !== undefined) tiddler.creator = answer.creator;
    return tiddler;
  }

  return {
    type: "tiddlywiki",

    async archive(entry: KnowledgeBaseEntry): Promise<KnowledgePage> {
      const what = `archive ${JSON.stringify(entry.title)}`;
      titleSegment(entry.title);
      checkLabels(entry.labels, what);
      const existing = await getTiddler(`${what}: look up`, entry.title);

      // alertdesk's tags now, and a person's: whatever was there but not put there by alertdesk last time.
      const ours = unique([...entry.labels, ...ownTags]);
      const oursBefore = existing?.fields.alertdesk_tags === undefined ? [] : parseList(existing.fields.alertdesk_tags);
      const persons = (existing?.tags ?? []).filter((tag) => !oursBefore.includes(tag) && !ours.includes(tag));
      const tags = [...ours, ...persons];
      if (!listRoundTrips(tags)) throw refused(`${what}: the tags ${JSON.stringify(tags)} cannot be written in TiddlyWiki's list syntax`);

      const fields: Record<string, string> = {};
      for (const [name, value] of Object.entries(existing?.fields ?? {})) if (!OWN_FIELDS.has(name) && !DROPPED_FIELDS.has(name)) fields[name] = value;
      fields.incident_id = String(entry.incidentId);
      fields.ticket_key = entry.ticketKey;
      fields.alertdesk_tags = stringifyList(ours);
      const text = toWikitext(entry.doc);

      // PUT is idempotent anyway; not writing an unchanged tiddler keeps its modified date and the wiki's disk quiet.
      if (
        existing &&
        existing.text === text &&
        existing.type === TIDDLER_TYPE &&
        sameList(existing.tags, tags) &&
        existing.fields.incident_id === fields.incident_id &&
        existing.fields.ticket_key === fields.ticket_key &&
        existing.fields.alertdesk_tags === fields.alertdesk_tags
      ) {
        return pageOf(entry.title, tags);
      }

      const now = tiddlywikiDate(clock());
      const tiddler = {
        title: entry.title,
        text,
        type: TIDDLER_TYPE,
        tags: stringifyList(tags),
        created: existing?.created ?? now,
        creator: existing?.creator ?? AUTHOR,
        modified: now,
        modifier: AUTHOR,
        fields,
      };
      await http.request(`${what}: ${existing ? "update" : "create"}`, {
        method: "PUT",
        url: `/recipes/default/tiddlers/${titleSegment(entry.title)}`,
        // Without it TiddlyWiki answers 403 (its CSRF check) before it looks at the credentials.
        headers: { "Content-Type": "application/json", "X-Requested-With": "TiddlyWiki" },
        data: tiddler,
      });
      return pageOf(entry.title, tags);
    },

    async findByTitle(title: string): Promise<KnowledgePage | undefined> {
      const tiddler = await getTiddler(`find ${JSON.stringify(title)}`, title);
      return tiddler ? pageOf(tiddler.title, tiddler.tags) : undefined;
    },

    async findByLabels(labels: readonly string[], limit: number): Promise<KnowledgePage[]> {
      const what = `find by labels ${JSON.stringify(labels)}`;
      checkLabels(labels, what);
      const count = Math.floor(limit);
      if (!(count >= 1)) return [];
      // Drafts carry the tags of the tiddler being edited; system tiddlers are never entries. Newest
      // created first; title (descending) only orders entries created in the same millisecond.
      const filter = `[all[tiddlers]!is[system]!is[draft]${labels.map((label) => `tag[${label}]`).join("")}!sort[title]!sort[created]limit[${count}]]`;
      const res = await http.raw(what, { method: "GET", url: `/recipes/default/tiddlers.json?filter=${encodeURIComponent(filter)}` });
      if (res.status === 403) throw http.failure(`${what} (TiddlyWiki answers filters only with $:/config/Server/AllowAllExternalFilters set to yes)`, res);
      if (res.status < 200 || res.status >= 300) throw http.failure(what, res);
      return parsed(z.array(listedTiddler), what, res).map((t) => pageOf(t.title, parseList(t.tags ?? "")));
    },
  };
}
