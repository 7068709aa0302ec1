import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTiddlywikiKnowledgeBase, type TiddlywikiConfig, tiddlywikiConfigSchema } from "../../src/knowledge/tiddlywiki/driver.js";
import type { KnowledgeBaseDriver, KnowledgeBaseEntry } from "../../src/knowledge/types.js";
import { DeliveryError } from "../../src/model/delivery-error.js";
import type { Doc } from "../../src/model/doc.js";
import { type FaultProxy, startFaultProxy, status } from "../fakes/fault-proxy.js";
import { startTiddlyWiki, type TiddlyWiki } from "../kit/tiddlywiki.js";
import { knowledgeBaseContract } from "./contract.js";

/**
 * The TiddlyWiki knowledge base (src/knowledge/tiddlywiki/) against a real TiddlyWiki 5.4.1 from npm
 * on loopback (test/kit/tiddlywiki.ts) with basic auth, behind the fault proxy: the shared contract,
 * then what is TiddlyWiki's own. Hostile values are rendered by the server's own renderer
 * (GET /{title}, the static HTML of the tiddler) and must come out as exactly their text; tags a
 * person added survive an update; the look-up by labels is newest first and leaves out drafts and
 * system tiddlers; a wrong password is a non-retryable auth failure that never shows the password;
 * and the entries survive a restart of the wiki over the same folder. Everything started here is
 * stopped at the end and the folder removed.
 */

// Below Linux's ephemeral range (32768-60999) and apart from the other files (the kit's own test uses 26080).
const PORT = 26180;
const USER = "alertdesk";
const PASSWORD = `tw-${randomBytes(12).toString("hex")}`;
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
const root = mkdtempSync(join(tmpdir(), "alertdesk-knowledge-tiddlywiki-"));
const dir = join(root, "wiki");
const passwordFile = join(root, "password");
writeFileSync(passwordFile, `${PASSWORD}\n`);
let wiki: TiddlyWiki | undefined;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  wiki = await startTiddlyWiki({ port: PORT, dir, username: USER, password: PASSWORD });
}, 240_000);

afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
  await wiki?.stop();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

function tw(): TiddlyWiki {
  if (!wiki) throw new Error("tiddlywiki did not start");
  return wiki;
}

async function proxyToWiki(): Promise<FaultProxy> {
  const proxy = await startFaultProxy(tw().url);
  proxies.push(proxy);
  return proxy;
}

function driver(url: string, overrides: Partial<Record<keyof TiddlywikiConfig, unknown>> = {}, clock?: () => Date): KnowledgeBaseDriver {
  // A slow, busy machine: the timeout only matters when something is wrong.
  const config = tiddlywikiConfigSchema.parse({ type: "tiddlywiki", url, username: USER, password_file: passwordFile, timeout: "60s", ...overrides });
  return createTiddlywikiKnowledgeBase(config, clock ? { clock } : {});
}

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error("expected the call to fail");
}

knowledgeBaseContract(
  "tiddlywiki",
  async () => {
    const proxy = await startFaultProxy(tw().url);
    // tags: [] so that the page's labels are exactly the entry's, as the contract checks.
    const kb = driver(proxy.url, { password: PASSWORD, password_file: undefined, tags: [] });
    return {
      kb,
      proxy,
      secrets: [PASSWORD, BASIC, `Basic ${BASIC}`],
      // The wiki's own list, compared by exact title: a title with `]` cannot be a filter operand.
      pagesTitled: async (title) => (await tw().filter("[all[tiddlers]]")).filter((t) => t.title === title).length,
      labelsOf: async (title) => (await tw().get(title))?.tags ?? [],
      textOf: async (title) => (await tw().get(title))?.text ?? "",
      armCreatedButErrored: () => proxy.arm({ kind: "drop-after-forward" }, { method: "PUT" }),
      stop: () => proxy.close(),
    };
  },
  { testTimeoutMs: 120_000, setupTimeoutMs: 240_000 },
);

// --- The server's own rendering of a tiddler, read back as text ---

const HTML_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

function decodeHtml(html: string): string {
  return html.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith("#x") || name.startsWith("#X")) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(Number(name.slice(1)));
    return HTML_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** HTML collapses white space; TiddlyWiki skips it at the start of a block or a cell. */
const squash = (text: string) => text.replace(/\s+/g, " ").trim();

interface RenderedTiddler {
  title: string;
  /** [element, its text] for every h3, p, th, td and li of the body, in order. */
  blocks: [string, string][];
  /** Every element name in the body. */
  elements: Set<string>;
  /** Every `<a …>` of the body, as written. */
  anchors: string[];
}

/** GET /{title}: TiddlyWiki renders the tiddler to static HTML with its own parser and widgets. */
async function rendered(title: string): Promise<RenderedTiddler> {
  const res = await fetch(`${tw().url}/${encodeURIComponent(title)}`, { headers: tw().headers });
  expect(res.status).toBe(200);
  const html = await res.text();
  const heading = /<div class="tc-titlebar"><h2>([\s\S]*?)<\/h2>/.exec(html);
  const start = html.indexOf('<div class="tc-tiddler-body tc-clearfix">');
  const end = html.lastIndexOf("</div></div></section>");
  if (!heading || start < 0 || end < start) throw new Error(`unexpected page for ${JSON.stringify(title)}: ${html.slice(0, 500)}`);
  const body = html.slice(start + '<div class="tc-tiddler-body tc-clearfix">'.length, end);
  const blocks: [string, string][] = [];
  for (const m of body.matchAll(/<(h3|p|th|td|li)\b[^>]*>([\s\S]*?)<\/\1>/g)) {
    const inner = (m[2] as string).replace(/<br>/g, "\n").replace(/<[^>]*>/g, "");
    blocks.push([m[1] as string, decodeHtml(inner)]);
  }
  return {
    title: decodeHtml(heading[1] as string),
    blocks,
    elements: new Set([...body.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => (m[1] as string).toLowerCase())),
    anchors: [...body.matchAll(/<a\b[^>]*>/g)].map((m) => m[0]),
  };
}

/** Whether a link's URL is one that may become an anchor: http(s), and a URL at all. */
function isHttp(url: string): boolean {
  try {
    const { protocol } = new URL(url.trim());
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}

/** What each block of the Doc must read as once rendered: exactly its values. */
function expectedBlocks(doc: Doc): [string, string][] {
  const out: [string, string][] = [];
  for (const block of doc) {
    switch (block.kind) {
      case "heading":
        if (block.text.trim() !== "") out.push(["h3", block.text]);
        break;
      case "paragraph":
        if (block.text.trim() !== "") out.push(["p", block.text]);
        break;
      case "fields":
        for (const [name, value] of block.rows) out.push(["th", name], ["td", value]);
        break;
      case "list":
        for (const item of block.items) out.push(["li", item]);
        break;
      case "links":
        for (const link of block.links) out.push(["li", isHttp(link.url) ? (link.label.trim() === "" ? link.url : link.label) : `${link.label}: ${link.url}`]);
        break;
    }
  }
  return out;
}

/** The structure alertdesk writes; anything else in the body would be a value turned into markup. */
const OUR_ELEMENTS = new Set(["h3", "p", "br", "table", "tbody", "tr", "th", "td", "ul", "li", "a"]);

async function expectShownLiterally(title: string, doc: Doc): Promise<void> {
  const page = await rendered(title);
  expect(page.title).toBe(title);
  expect([...page.elements].filter((e) => !OUR_ELEMENTS.has(e))).toEqual([]);
  const squashed = (blocks: [string, string][]) => blocks.map(([element, text]) => [element, squash(text)]);
  expect(squashed(page.blocks)).toEqual(squashed(expectedBlocks(doc)));
  const links = doc.flatMap((b) => (b.kind === "links" ? b.links.filter((l) => isHttp(l.url)) : []));
  expect(page.anchors).toHaveLength(links.length);
  for (const anchor of page.anchors)
    expect(anchor).toMatch(/^<a class="tc-tiddlylink-external" href="https?:\/\/[^"]*" rel="noopener noreferrer" target="_blank">$/);
}

/** Values that are markup in wikitext (or HTML) if written as they are. */
const HOSTILE = [
  "<script>alert('x')</script> <img src=x onerror=alert(1)> <b>bold</b>",
  "{{$:/core/ui/PageTemplate}} {{!!title}} {{{ [all[tiddlers]] }}}",
  "[[HelloThere]] [[label|HelloThere]] [ext[https://evil.example]] [img[https://evil.example/x.png]]",
  "''bold'' //italic// __underline__ ^^super^^ ,,sub,, ~~strike~~ `code` ``code``",
  "$$$text/html\n<b>typed</b>\n$$$",
  "<<now>> <<tag alertdesk>> <$list filter='[all[tiddlers]]'><$view field='title'/></$list> <$button>x</$button>",
  "! heading\n* bullet\n# numbered\n; term\n: definition\n> quote\n<<<\nblock quote\n<<<",
  "|a|b|\n|~|>|\n|<|c|h",
  "~CamelCase ~http://example.com HostHighCpu WikiLink",
  "@@color:red;background:black;red@@ @@.cls styled@@",
  "---\n-- and --- dashes ----",
  "\\define hack() <b>x</b>\n\\procedure p() y\n\\rules only html",
  '<%if [[x]] %>yes<%else%>no<%endif%> ((var)) (((filter))) """\nhard\nbreaks\n"""',
  "https://example.com/x?a=1&b=2 mailto:a@b.example file:///etc/passwd $:/core/ui/SideBar",
  "&lt;escaped&gt; &amp; &#60;img&#62; &#x3c;x&#x3e; &nbsp;",
  "<!-- comment --> ]] }} >> |!",
  "  * indented bullet",
  "\t! tabbed heading",
  ".class text",
  "^top ,bottom ~ > <",
  "control \u0001\u001b\u007f and unicode: CPU über 90 % auf web-1 🔥 — 東京 \u00a0nbsp \u2028line separator",
];

function hostileDoc(values: readonly string[]): Doc {
  const pick = (i: number) => values[i % values.length] as string;
  return [
    ...values.map((v): Doc[number] => ({ kind: "heading", text: v })),
    ...values.map((v): Doc[number] => ({ kind: "paragraph", text: v })),
    { kind: "fields", rows: values.map((v, i) => [v, pick(i + 1)]) },
    { kind: "list", items: [...values] },
    {
      kind: "links",
      links: [
        ...values.map((v) => ({ label: v, url: "https://example.com/runbook?a=1&b=2" })),
        { label: pick(0), url: `https://example.com/${pick(3)}"><script>alert(1)</script>` },
        { label: "not a link", url: "javascript:alert(1)" },
        { label: pick(1), url: pick(2) },
      ],
    },
  ];
}

let sequence = 0;
const run = Date.now().toString(36);

function entry(title: string, labels: string[], doc: Doc): KnowledgeBaseEntry {
  return { title, labels, doc, incidentId: ++sequence, ticketKey: `ad-tw${run}-${sequence}` };
}

/** A clock the test moves: entries get the creation times it chooses. */
function testClock(start: string): { clock: () => Date; set(iso: string): void } {
  let now = new Date(start);
  return {
    clock: () => now,
    set(iso) {
      now = new Date(iso);
    },
  };
}

describe("tiddlywiki knowledge base: TiddlyWiki's own behaviour", () => {
  let proxy: FaultProxy;
  const time = testClock("2026-03-01T10:00:00.000Z");
  let kb: KnowledgeBaseDriver;
  beforeAll(async () => {
    proxy = await proxyToWiki();
    kb = driver(proxy.url, {}, time.clock);
  });

  it("writes the entry as one tiddler: wikitext, tags in list syntax, lower-case fields, dates from the clock", async () => {
    const title = `HostHighCpu on web-1 — 2026-03-01 (ad-tw${run}-fields)`;
    time.set("2026-03-01T10:11:12.345Z");
    const doc: Doc = [
      { kind: "heading", text: "What happened" },
      { kind: "paragraph", text: "CPU at 93 % on web-1 since 03:12." },
      { kind: "fields", rows: [["Priority", "P2"]] },
    ];
    const page = await kb.archive(entry(title, ["alertname-hosthighcpu", "priority-p2"], doc));
    expect(page).toEqual({
      id: title,
      title,
      url: `${proxy.url}/#${encodeURIComponent(title)}`,
      labels: ["alertname-hosthighcpu", "priority-p2", "alertdesk"],
    });
    const stored = await tw().get(title);
    expect(stored).toMatchObject({ title, type: "text/vnd.tiddlywiki", tags: ["alertname-hosthighcpu", "priority-p2", "alertdesk"] });
    expect(stored?.raw.tags).toBe("alertname-hosthighcpu priority-p2 alertdesk");
    expect(stored?.fields).toMatchObject({
      incident_id: String(sequence),
      ticket_key: `ad-tw${run}-${sequence}`,
      created: "20260301101112345",
      modified: "20260301101112345",
    });
    expect(stored?.text).toBe("\\rules except wikilink\n\n!!! What happened\n\nCPU at 93 % on web-1 since 03:12.\n\n|!Priority|P2|\n");
    await expectShownLiterally(title, doc);
    // Every write carried TiddlyWiki's CSRF header (the server refuses a PUT without it), and there was one.
    expect(proxy.requests.filter((r) => r.method === "PUT" && r.path.includes(encodeURIComponent(title)))).toHaveLength(1);
  });

  it("shows hostile values in every block exactly as their text, rendered by TiddlyWiki itself", async () => {
    const title = `Hostile ${run}: <img src=x onerror=alert(1)> {{x}} [[y]] ''z'' ]] | ~CamelCase`;
    const doc = hostileDoc(HOSTILE);
    await kb.archive(entry(title, ["hostile"], doc));
    await expectShownLiterally(title, doc);
    const text = (await tw().get(title))?.text ?? "";
    expect(text).not.toMatch(/<img|<script|<\$|<<|\{\{|\[\[/i);
  });

  it("shows any mix of wikitext's special characters as text (property, rendered by TiddlyWiki)", async () => {
    const special = fc.constantFrom(..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".split(""), " ", "\t", "\n", "\r\n", "\u00a0", "\u2028", "\u0001");
    const token = fc.oneof(
      special,
      fc.constantFrom("a", "Z", "7", "é", "🔥", "http", "https", "mailto", "CamelCase", "$:/", "\\define", "<$text", "<%if", "data"),
    );
    const value = fc.array(token, { maxLength: 14 }).map((tokens) => tokens.join(""));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 6 }), fc.string({ maxLength: 20 }), async (values, titleTail) => {
        // Titles as archiveTitle makes them: one line.
        const title = `Fuzz ${run}-${++n}: ${titleTail.replace(/\s+/g, " ")}`;
        const doc = hostileDoc(values);
        await kb.archive(entry(title, ["fuzz"], doc));
        await expectShownLiterally(title, doc);
      }),
      { numRuns: 40 },
    );
  }, 300_000);

  it("keeps the tags and fields a person added, and drops a label alertdesk no longer sets", async () => {
    const title = `DiskFull on db-1 — 2026-03-02 (ad-tw${run}-person)`;
    time.set("2026-03-02T08:00:00.000Z");
    await kb.archive(entry(title, ["alertname-diskfull", "instance-db-1"], [{ kind: "paragraph", text: "first close" }]));
    // A person edits the tiddler in the browser: adds two tags and a field (the whole tiddler goes back, as TiddlyWiki's client sends it).
    const before = await tw().get(title);
    if (!before) throw new Error("not archived");
    await tw().put(title, {
      ...before.fields,
      text: before.text ?? "",
      type: before.type,
      tags: [...before.tags, "needs review", "ops"],
      root_cause: "log rotation off",
    });

    time.set("2026-03-03T09:30:00.000Z");
    const page = await kb.archive(entry(title, ["alertname-diskfull", "priority-p1"], [{ kind: "paragraph", text: "second close" }]));
    expect(page.labels).toEqual(["alertname-diskfull", "priority-p1", "alertdesk", "needs review", "ops"]);
    const after = await tw().get(title);
    expect(after?.tags).toEqual(["alertname-diskfull", "priority-p1", "alertdesk", "needs review", "ops"]);
    expect(after?.raw.tags).toBe("alertname-diskfull priority-p1 alertdesk [[needs review]] ops");
    expect(after?.text).toContain("second close");
    expect(after?.fields).toMatchObject({ root_cause: "log rotation off", created: "20260302080000000", modified: "20260303093000000" });

    // The person removes alertdesk's own tag "alertdesk": the next write puts it back, and keeps theirs.
    const edited = await tw().get(title);
    if (!edited) throw new Error("gone");
    await tw().put(title, { ...edited.fields, text: edited.text ?? "", type: edited.type, tags: edited.tags.filter((t) => t !== "alertdesk") });
    await kb.archive(entry(title, ["alertname-diskfull", "priority-p1"], [{ kind: "paragraph", text: "second close" }]));
    expect((await tw().get(title))?.tags).toEqual(["alertname-diskfull", "priority-p1", "alertdesk", "needs review", "ops"]);
  });

  it("does not write an entry again that would change nothing", async () => {
    const title = `Unchanged ${run}`;
    const same = entry(title, ["unchanged"], [{ kind: "paragraph", text: "the same every time" }]);
    time.set("2026-03-04T00:00:00.000Z");
    await kb.archive(same);
    time.set("2026-03-05T00:00:00.000Z");
    const again = await kb.archive(same);
    expect(again.labels).toEqual(["unchanged", "alertdesk"]);
    const puts = proxy.requests.filter((r) => r.method === "PUT" && r.path.endsWith(`/${encodeURIComponent(title)}`));
    expect(puts).toHaveLength(1);
    expect((await tw().get(title))?.fields.modified).toBe("20260304000000000");
  });

  it("findByLabels: newest created first, at most limit, without drafts and system tiddlers", async () => {
    const label = `order-${run}`;
    const other = `order-other-${run}`;
    // Written in an order that is neither the creation order nor the titles' order.
    const created: [string, string][] = [
      [`Order ${run} b-middle`, "2026-02-10T12:00:00.000Z"],
      [`Order ${run} c-oldest`, "2025-12-31T23:59:59.999Z"],
      [`Order ${run} a-newest`, "2026-02-10T12:00:00.001Z"],
    ];
    for (const [title, at] of created) {
      time.set(at);
      await kb.archive(entry(title, [label, other], [{ kind: "paragraph", text: title }]));
    }
    time.set("2026-02-11T00:00:00.000Z");
    await kb.archive(entry(`Order ${run} only one label`, [label], [{ kind: "paragraph", text: "one" }]));
    // An editor's draft and a system tiddler with the same tags are not entries.
    await tw().put(`Draft of 'Order ${run} a-newest'`, {
      text: "draft",
      tags: [label, other],
      "draft.of": `Order ${run} a-newest`,
      created: "20990101000000000",
    });
    await tw().put(`$:/alertdesk-test/${run}`, { text: "system", tags: [label, other], created: "20990101000000000" });

    const both = await kb.findByLabels([label, other], 10);
    expect(both.map((p) => p.title)).toEqual([`Order ${run} a-newest`, `Order ${run} b-middle`, `Order ${run} c-oldest`]);
    expect(both[0]).toEqual({
      id: `Order ${run} a-newest`,
      title: `Order ${run} a-newest`,
      url: `${proxy.url}/#${encodeURIComponent(`Order ${run} a-newest`)}`,
      labels: [label, other, "alertdesk"],
    });
    expect((await kb.findByLabels([label, other], 2)).map((p) => p.title)).toEqual([`Order ${run} a-newest`, `Order ${run} b-middle`]);
    expect((await kb.findByLabels([label], 2)).map((p) => p.title)).toEqual([`Order ${run} only one label`, `Order ${run} a-newest`]);
    expect(await kb.findByLabels([`nobody-${run}`], 10)).toEqual([]);
    expect(await kb.findByLabels([label], 0)).toEqual([]);
  });

  it("refuses labels that cannot be filter operands and titles TiddlyWiki treats specially, without a request", async () => {
    const before = proxy.requests.length;
    for (const label of ["a]b", "tag[x]]", "Upper", "with space", "", "$:/tags/Macro"]) {
      const e = await failure(kb.findByLabels([label], 5));
      expect({ retryable: e.retryable, reason: e.reason }).toEqual({ retryable: false, reason: "client" });
      expect(e.message).toContain("label");
      const archived = await failure(kb.archive(entry(`Bad label ${run}`, [label], [])));
      expect(archived.retryable).toBe(false);
    }
    for (const title of ["$:/core/ui/PageTemplate", "$:/config/Server/AllowAllExternalFilters", "..", ".", ""]) {
      const e = await failure(kb.archive(entry(title, ["x"], [{ kind: "paragraph", text: "no" }])));
      expect({ retryable: e.retryable, reason: e.reason }).toEqual({ retryable: false, reason: "client" });
      await failure(kb.findByTitle(title));
    }
    expect(proxy.requests.length).toBe(before);
    expect((await tw().get("$:/config/Server/AllowAllExternalFilters"))?.text).toBe("yes");
  });

  it("explains a 403 to a filter, and refuses an answer that is not TiddlyWiki's", async () => {
    proxy.arm(status(403), { path: /tiddlers\.json/ });
    const forbidden = await failure(kb.findByLabels(["x"], 5));
    expect({ retryable: forbidden.retryable, reason: forbidden.reason }).toEqual({ retryable: false, reason: "auth" });
    expect(forbidden.message).toContain("AllowAllExternalFilters");
    proxy.arm(status(200, {}, ["not", "a tiddler"]), { method: "GET" });
    const strange = await failure(kb.findByTitle("Anything"));
    expect({ retryable: strange.retryable, reason: strange.reason }).toEqual({ retryable: false, reason: "server" });
    proxy.disarm();
  });

  it("a wrong password is a 401 that no retry fixes, and no form of any password is in the error", async () => {
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const wrongFile = join(root, "wrong-password");
    writeFileSync(wrongFile, wrong);
    const intruder = driver(proxy.url, { password_file: wrongFile });
    const forms = [wrong, Buffer.from(`${USER}:${wrong}`).toString("base64"), PASSWORD, BASIC];
    const title = `Intruder ${run}`;
    for (const call of [
      () => intruder.archive(entry(title, ["intruder"], [{ kind: "paragraph", text: "no" }])),
      () => intruder.findByTitle(title),
      () => intruder.findByLabels(["intruder"], 5),
    ]) {
      const e = await failure(call());
      expect({ retryable: e.retryable, reason: e.reason }).toEqual({ retryable: false, reason: "auth" });
      expect(e.message).toMatch(/401/);
      for (const form of forms) {
        expect(e.message).not.toContain(form);
        expect(String(e.stack)).not.toContain(form);
      }
    }
    expect(await tw().get(title)).toBeUndefined();
  });

  it("the entries survive a restart of the wiki over the same folder", async () => {
    const label = `restart-${run}`;
    const hostileTitle = `Restart ${run}: <b>x</b> [[y]]`;
    const doc = hostileDoc(HOSTILE);
    time.set("2026-04-01T00:00:00.000Z");
    await kb.archive(entry(`Restart ${run}: older`, [label], [{ kind: "paragraph", text: "older" }]));
    time.set("2026-04-02T00:00:00.000Z");
    await kb.archive(entry(hostileTitle, [label, "hostile"], doc));
    const textBefore = (await tw().get(hostileTitle))?.text;

    // A wiki may turn CamelCase links on (TiddlyWiki reads this once, at boot): the values must stay text then too.
    await tw().put("$:/config/WikiParserRules/Inline/wikilink", { text: "enable" });
    // Right after the writes: the kit's stop() waits until the server saved them.
    await tw().stop();
    wiki = undefined;
    wiki = await startTiddlyWiki({ port: PORT, dir, username: USER, password: PASSWORD });

    const found = await kb.findByTitle(hostileTitle);
    expect(found).toMatchObject({ id: hostileTitle, title: hostileTitle, labels: [label, "hostile", "alertdesk"] });
    expect((await kb.findByLabels([label], 10)).map((p) => p.title)).toEqual([hostileTitle, `Restart ${run}: older`]);
    expect((await tw().get(hostileTitle))?.text).toBe(textBefore);
    expect((await tw().get("$:/config/WikiParserRules/Inline/wikilink"))?.text).toBe("enable");
    await expectShownLiterally(hostileTitle, doc);
  }, 300_000);
});

describe("tiddlywiki config", () => {
  const base = { type: "tiddlywiki", url: "http://127.0.0.1:8080" };

  it("takes a wiki without auth and defaults the tags", () => {
    expect(tiddlywikiConfigSchema.parse(base)).toEqual({ ...base, tags: ["alertdesk"] });
    expect(tiddlywikiConfigSchema.parse({ ...base, tags: [], rate_limit: "10/s", timeout: "5s" })).toMatchObject({
      tags: [],
      rate_limit: "10/s",
      timeout: 5000,
    });
  });

  it("wants username and password together, naming the missing one", () => {
    const noPassword = tiddlywikiConfigSchema.safeParse({ ...base, username: "alertdesk" });
    expect(noPassword.success).toBe(false);
    expect(noPassword.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["password", "password or password_file is required with username (basic auth needs both)"],
    ]);
    const noUser = tiddlywikiConfigSchema.safeParse({ ...base, password_file: "/run/secrets/wiki" });
    expect(noUser.error?.issues.map((i) => i.path.join("."))).toEqual(["username"]);
    expect(tiddlywikiConfigSchema.safeParse({ ...base, username: "alertdesk", password: "" }).success).toBe(false);
    expect(tiddlywikiConfigSchema.safeParse({ ...base, username: "alertdesk", password_file: "/run/secrets/wiki" }).success).toBe(true);
  });

  it("refuses what TiddlyWiki could not use", () => {
    for (const bad of [
      { ...base, url: "ftp://127.0.0.1" },
      { ...base, url: "not a url" },
      { ...base, username: "a:b", password: "x" },
      { ...base, tags: ["[[x]]"] },
      { ...base, tags: ["$:/tags/Stylesheet"] },
      { ...base, tags: [" padded"] },
      { ...base, tags: [""] },
      { ...base, unknown: 1 },
    ]) {
      expect(tiddlywikiConfigSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    const withColon = tiddlywikiConfigSchema.parse({ ...base, username: "alertdesk", password: "pass:word" });
    expect(() => createTiddlywikiKnowledgeBase(withColon)).toThrow(/containing ':'/);
    const emptyFile = join(root, "empty-password");
    writeFileSync(emptyFile, "\n");
    expect(() => createTiddlywikiKnowledgeBase(tiddlywikiConfigSchema.parse({ ...base, username: "alertdesk", password_file: emptyFile }))).toThrow(/empty/);
  });

  it("describes every key", () => {
    // .optional() and .default() wrap the described schema: the description may sit on the inner one.
    const described = (schema: z.ZodType): string | undefined =>
      schema.description ?? (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault ? described(schema.unwrap() as z.ZodType) : undefined);
    for (const [key, schema] of Object.entries(tiddlywikiConfigSchema.shape)) expect(described(schema), key).toBeTruthy();
  });
});
