/**
 * A real TiddlyWiki 5 (npm package tiddlywiki, pinned in devDependencies) on loopback, as a knowledge
 * base the tests write entries to and find them again through its own HTTP API (the TiddlyWeb
 * protocol that its browser client uses).
 *
 * Facts (tiddlywiki 5.4.1 on Node 20, read from node_modules/tiddlywiki and checked by hand):
 * - `tiddlywiki DIR --init server` copies the "server" edition (plugins tiddlyweb and filesystem)
 *   into DIR. It refuses a DIR that is not empty. `tiddlywiki DIR --listen name=value…` then serves
 *   it; every tiddler is kept in memory and saved as a file under DIR/tiddlers/.
 * - --listen takes (core/language/en-GB/Help/listen.tid): host, port, path-prefix, username and
 *   password (basic auth for that one user), credentials (a CSV file `username,password`, relative to
 *   DIR), anon-username, authenticated-user-header (trusted auth by a proxy's header), readers and
 *   writers (comma-separated principals; also "(anon)" and "(authenticated)"), csrf-disable,
 *   root-tiddler, root-render-type, root-serve-type, tls-cert, tls-key, debug-level, gzip,
 *   use-browser-cache; server.js also reads admin, cors-enable, origin, server-name, tls-passphrase,
 *   required-plugins and (system-)tiddler-render-type/-template, which the help does not list. Each
 *   is one argument `name=value`, split at the first "=", the value trimmed.
 * - Auth: with both username and password, readers and writers default to that user, so every
 *   request, GET /status too, needs basic auth: none or a wrong one → 401 with WWW-Authenticate. With
 *   only one of the two there is no auth at all, silently; this kit refuses that. TiddlyWiki splits the
 *   decoded header at every ":", so a password containing ":" can never log in; refused too. The
 *   password is on the server's command line (visible in /proc/PID/cmdline); `credentials=` would
 *   avoid that, but its CSV parser trims cells and its quoting is barebones.
 * - Writes (PUT, DELETE) need `X-Requested-With: TiddlyWiki` (CSRF check, 403 without it, before auth).
 * - `PUT /recipes/default/tiddlers/{title}` (title URI-encoded; "/" as %2F works) replaces the whole
 *   tiddler: fields not sent are gone, and the server adds no created/modified. It answers 204 with
 *   `Etag: "default/{title}/{revision}:"`; there is no If-Match, the last write wins.
 * - `GET` of the same path: 200 JSON with title, text, tags, type, revision, bag at the top and every
 *   other field under `fields`; 404 when missing. `GET /recipes/default/tiddlers.json?filter=` answers
 *   the matching tiddlers without their text (unless `exclude=` names another field; an empty one means
 *   "text" again), with custom fields at the top, and never system ($:/…) tiddlers. Filters other than
 *   the default answer 403 unless $:/config/Server/AllowAllExternalFilters is "yes" (set here).
 * - Tags are one string in TiddlyWiki's list syntax: `[[Host High Cpu]] P2 performance`. The server
 *   normalises it (brackets only where needed). `[search[disk full]]` matches when each word is a
 *   substring ("full" finds "fully") of the title, tags or text, case-insensitively, in any order;
 *   custom fields only with `search:incident_id[…]` or `search:*[…]`.
 * - revision is the tiddler's change count in the running process: 1 after the first PUT, +1 per PUT,
 *   and 0 for every tiddler after a restart. Not a durable version.
 * - The server saves a change to disk about 1.25 s after it (1 s throttle, 0.25 s task timer), and
 *   dies at once on SIGTERM (no handler): a PUT just before a plain kill is lost on disk. So the kit
 *   adds one route to the wiki, GET /alertdesk-kit/synced (a module tiddler in DIR/tiddlers/), that
 *   answers whether the server's syncer has saved every change, and stop() waits for it before TERM.
 * - Starting takes 1-2 s. A second server on a port in use dies with EADDRINUSE; the kit checks first.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, join } from "node:path";
import { promisify } from "node:util";
import { parseList } from "../../src/knowledge/tiddlywiki/tiddler.js";
import { alive, commandLine, type Daemon, portInUse, startDaemon, waitFor } from "./daemon.js";

const run = promisify(execFile);
const HOST = "127.0.0.1";
/** The package's own launcher, wherever node_modules is. */
const TIDDLYWIKI_JS = createRequire(import.meta.url).resolve("tiddlywiki/tiddlywiki.js");
/** Written into every wiki folder this kit initialised; only such folders are reused. */
const MARKER = ".alertdesk-tiddlywiki-kit";
const PID_FILE = ".alertdesk-tiddlywiki.pid";
const LOG_FILE = "server.log";
const START_TIMEOUT_MS = Number(process.env.TIDDLYWIKI_START_TIMEOUT ?? 120) * 1000;
/** How long stop() waits for the server to save its last changes to disk. */
const SYNC_TIMEOUT_MS = 60_000;
const SYNCED_PATH = "/alertdesk-kit/synced";

/** Written into DIR/tiddlers/ before the server starts; the server reads its folder only at boot. */
const TIDDLER_FILES: Record<string, string> = {
  "alertdesk-kit-allow-external-filters.tid": "title: $:/config/Server/AllowAllExternalFilters\n\nyes",
  "alertdesk-kit-route-synced.tid": `title: $:/plugins/alertdesk/kit/route-synced.js
type: application/javascript
module-type: route

/* Added by alertdesk's test/kit/tiddlywiki.ts: whether the server's syncer has saved every change to disk. */
"use strict";
exports.methods = ["GET"];
exports.path = /^\\/alertdesk-kit\\/synced$/;
exports.info = { priority: 100 };
exports.handler = function(request, response, state) {
	var synced = !!$tw.syncer && !$tw.syncer.isDirty();
	response.writeHead(200, { "Content-Type": "application/json" });
	response.end(JSON.stringify({ synced: synced }));
};
`,
};

/** A field value as the kit writes it: a string, or a list (written in TiddlyWiki's list syntax). */
export type FieldValue = string | readonly string[];

/** What put() writes. `tags`: a list, or one string already in TiddlyWiki's syntax (`[[A b]] c`). */
export interface TiddlerInput {
  text?: string;
  tags?: FieldValue;
  type?: string;
  [field: string]: FieldValue | undefined;
}

/** A tiddler as the server answered it, in one shape for get() and filter(). */
export interface Tiddler {
  title: string;
  /** Absent in filter() results unless asked for. */
  text?: string;
  tags: string[];
  type: string;
  revision: number;
  /** Every other field (custom ones like incident_id, and created, modified, … when set), as strings. */
  fields: Record<string, string>;
  /** The JSON exactly as TiddlyWiki sent it. */
  raw: Record<string, unknown>;
}

export interface TiddlyWiki {
  /** http://127.0.0.1:PORT, no trailing slash. */
  url: string;
  /** The wiki folder; left in place by stop(). */
  dir: string;
  pid: number;
  logFile: string;
  /** Set when the wiki was started with basic auth. */
  username?: string;
  password?: string;
  /** Headers for a request of your own: Authorization (when auth is on) and X-Requested-With. */
  headers: Record<string, string>;
  /** PUT: creates or replaces the tiddler; answers the revision from the Etag. */
  put(title: string, fields: TiddlerInput): Promise<{ revision: number }>;
  /** GET one tiddler; undefined on 404. */
  get(title: string): Promise<Tiddler | undefined>;
  /** GET tiddlers.json?filter=expr, in the filter's order; `text: true` includes the text. */
  filter(expr: string, options?: { text?: boolean }): Promise<Tiddler[]>;
  /** Whether the server has saved every change to DIR/tiddlers/. */
  synced(): Promise<boolean>;
  /** Waits until synced (up to 60 s), then TERM, KILL after 10 s. Removes only the kit's pid file. */
  stop(): Promise<void>;
}

/** TiddlyWiki's list syntax: `[[with space]] plain`. */
export function stringifyList(items: readonly string[]): string {
  return items
    .map((item) => {
      if (item === "" || item.includes("]]")) throw new Error(`tiddlywiki kit: ${JSON.stringify(item)} cannot be a list item`);
      return /[\s[\]]/.test(item) ? `[[${item}]]` : item;
    })
    .join(" ");
}

/** The items of a list string, as TiddlyWiki reads them: the driver's own reading (src/knowledge/tiddlywiki/tiddler.ts). */
export { parseList };

/** The fields the TiddlyWeb protocol keeps at the top of a tiddler's JSON (the rest go under `fields`). */
const KNOWN_FIELDS = new Set([
  "bag",
  "created",
  "creator",
  "modified",
  "modifier",
  "permissions",
  "recipe",
  "revision",
  "tags",
  "text",
  "title",
  "type",
  "uri",
]);
const OWN_PROPERTIES = new Set(["title", "text", "tags", "type", "revision", "bag", "fields"]);

function toTiddler(raw: Record<string, unknown>): Tiddler {
  const fields: Record<string, string> = {};
  const nested = typeof raw.fields === "object" && raw.fields !== null ? (raw.fields as Record<string, unknown>) : {};
  for (const [name, value] of [...Object.entries(raw), ...Object.entries(nested)]) {
    if (!OWN_PROPERTIES.has(name)) fields[name] = String(value);
  }
  const tiddler: Tiddler = {
    title: String(raw.title),
    tags: typeof raw.tags === "string" ? parseList(raw.tags) : [],
    type: String(raw.type ?? "text/vnd.tiddlywiki"),
    revision: Number(raw.revision),
    fields,
    raw,
  };
  if (typeof raw.text === "string") tiddler.text = raw.text;
  return tiddler;
}

/** The tiddler's JSON in the TiddlyWeb format its browser client sends. */
function toTiddlyWeb(title: string, input: TiddlerInput): Record<string, unknown> {
  const body: Record<string, unknown> = { title };
  const custom: Record<string, string> = {};
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (name === "title" || name === "revision") throw new Error(`tiddlywiki kit: put() sets ${name} itself`);
    const text = typeof value === "string" ? value : stringifyList(value);
    if (KNOWN_FIELDS.has(name)) body[name] = text;
    else custom[name] = text;
  }
  if (Object.keys(custom).length > 0) body.fields = custom;
  return body;
}

async function answerText(res: Response): Promise<string> {
  return (await res.text().catch(() => "")).slice(0, 500);
}

/** Refuses credentials TiddlyWiki would ignore or could never accept (see the header). */
function checkCredentials(username: string | undefined, password: string | undefined): void {
  if ((username === undefined) !== (password === undefined)) throw new Error("tiddlywiki kit: give both username and password, or neither");
  if (username === undefined || password === undefined) return;
  for (const [name, value] of [
    ["username", username],
    ["password", password],
  ] as const) {
    if (value === "" || value.includes(":") || value.trim() !== value || /[\r\n]/.test(value)) {
      throw new Error(`tiddlywiki kit: the ${name} must be non-empty, without ":", line breaks or surrounding spaces`);
    }
  }
}

/**
 * Serves a TiddlyWiki from `dir` on 127.0.0.1:`port`, as a child of this process. A missing or empty
 * `dir` gets a fresh wiki (`--init server`); a wiki this kit made before is served again with its
 * tiddlers (a restart); any other non-empty folder is refused. With `username` and `password`,
 * every request needs basic auth. Resolves once GET /status answers as this wiki.
 */
export async function startTiddlyWiki(options: { port: number; dir: string; username?: string; password?: string }): Promise<TiddlyWiki> {
  const { port, username, password } = options;
  const dir = options.dir.replace(/\/+$/, "");
  if (!isAbsolute(dir) || dir === "") throw new Error(`tiddlywiki kit: dir must be an absolute path: ${options.dir}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`tiddlywiki kit: bad port ${port}`);
  checkCredentials(username, password);

  const pidFile = join(dir, PID_FILE);
  const fresh = !existsSync(dir) || readdirSync(dir).length === 0;
  if (!fresh) {
    if (!existsSync(join(dir, MARKER)) || !existsSync(join(dir, "tiddlywiki.info"))) {
      throw new Error(`tiddlywiki kit: ${dir} is not empty and not a wiki this kit made; not touching it`);
    }
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : 0;
    if (pid > 0 && alive(pid) && commandLine(pid).includes("tiddlywiki")) {
      throw new Error(`tiddlywiki kit: a TiddlyWiki already serves ${dir} (pid ${pid}); stop it (kill ${pid}) or use another dir`);
    }
  }
  if (await portInUse(port)) throw new Error(`tiddlywiki kit: something already listens on ${HOST}:${port}`);

  if (fresh) {
    try {
      await run(process.execPath, [TIDDLYWIKI_JS, dir, "--init", "server"], { timeout: 120_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`tiddlywiki kit: --init server failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`.trim());
    }
    writeFileSync(join(dir, MARKER), "");
  }
  mkdirSync(join(dir, "tiddlers"), { recursive: true });
  for (const [file, text] of Object.entries(TIDDLER_FILES)) writeFileSync(join(dir, "tiddlers", file), text);

  const args = [TIDDLYWIKI_JS, dir, "--listen", `host=${HOST}`, `port=${port}`];
  if (username !== undefined && password !== undefined) args.push(`username=${username}`, `password=${password}`);
  const logFile = join(dir, LOG_FILE);
  const server: Daemon = startDaemon("tiddlywiki", process.execPath, args, { logFile, cwd: dir });
  writeFileSync(pidFile, `${server.pid}\n`);

  const url = `http://${HOST}:${port}`;
  const headers: Record<string, string> = { "X-Requested-With": "TiddlyWiki" };
  if (username !== undefined && password !== undefined) headers.Authorization = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  const tiddlerPath = (title: string) => `/recipes/default/tiddlers/${encodeURIComponent(title)}`;
  const synced = async () => {
    const res = await call("GET", SYNCED_PATH);
    if (!res.ok) throw new Error(`tiddlywiki kit: GET ${SYNCED_PATH} answered ${res.status}`);
    return ((await res.json()) as { synced?: boolean }).synced === true;
  };

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      let unsaved = false;
      if (!server.exited()) {
        const deadline = Date.now() + SYNC_TIMEOUT_MS;
        for (;;) {
          if (await synced().catch(() => false)) break;
          if (server.exited() || Date.now() > deadline) {
            unsaved = !server.exited();
            break;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      await server.stop(10_000);
      rmSync(pidFile, { force: true });
      if (unsaved) throw new Error(`tiddlywiki kit: the server had unsaved changes after ${SYNC_TIMEOUT_MS / 1000} s; stopped it anyway:\n${server.logTail()}`);
    })();
    return stopping;
  };

  try {
    await waitFor(
      "TiddlyWiki's GET /status",
      async () => {
        const res = await call("GET", "/status");
        if (!res.ok) return false;
        const status = (await res.json()) as { tiddlywiki_version?: string; username?: string; read_only?: boolean };
        return typeof status.tiddlywiki_version === "string" && status.read_only === false && (username === undefined || status.username === username);
      },
      { timeoutMs: START_TIMEOUT_MS, daemon: server },
    );
    // Both tiddlers the kit wrote are in effect: filters are allowed, and the synced route answers.
    const probe = await call("GET", `/recipes/default/tiddlers.json?filter=${encodeURIComponent("[all[tiddlers]limit[1]]")}`);
    if (!probe.ok) throw new Error(`tiddlywiki kit: a filter answered ${probe.status}; external filters are not enabled`);
    await synced();
  } catch (err) {
    await server.stop(10_000);
    rmSync(pidFile, { force: true });
    throw err;
  }

  const wiki: TiddlyWiki = {
    url,
    dir,
    pid: server.pid,
    logFile,
    headers,
    async put(title, fields) {
      const res = await call("PUT", tiddlerPath(title), toTiddlyWeb(title, fields));
      if (res.status !== 204) throw new Error(`tiddlywiki kit: PUT ${JSON.stringify(title)} answered ${res.status}: ${await answerText(res)}`);
      const etag = res.headers.get("etag") ?? "";
      const revision = Number(/\/(\d+):"?$/.exec(etag)?.[1]);
      if (!Number.isInteger(revision)) throw new Error(`tiddlywiki kit: PUT ${JSON.stringify(title)} answered an Etag without a revision: ${etag}`);
      return { revision };
    },
    async get(title) {
      const res = await call("GET", tiddlerPath(title));
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`tiddlywiki kit: GET ${JSON.stringify(title)} answered ${res.status}: ${await answerText(res)}`);
      return toTiddler((await res.json()) as Record<string, unknown>);
    },
    async filter(expr, filterOptions = {}) {
      // The server leaves out the fields named by `exclude` (default: text). It sets revision itself, so excluding it loses nothing.
      const exclude = filterOptions.text ? "&exclude=revision" : "";
      const res = await call("GET", `/recipes/default/tiddlers.json?filter=${encodeURIComponent(expr)}${exclude}`);
      if (!res.ok) throw new Error(`tiddlywiki kit: filter ${expr} answered ${res.status}: ${await answerText(res)}`);
      return ((await res.json()) as Record<string, unknown>[]).map(toTiddler);
    },
    synced,
    stop,
  };
  if (username !== undefined && password !== undefined) {
    wiki.username = username;
    wiki.password = password;
  }
  return wiki;
}
