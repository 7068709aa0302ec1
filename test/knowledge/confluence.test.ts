import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cqlString, pagesWithLabels } from "../../src/knowledge/confluence/cql.js";
import { type ConfluenceConfig, confluenceConfigSchema, createConfluenceKnowledgeBase } from "../../src/knowledge/confluence/driver.js";
import { escapeXml, toStorage } from "../../src/knowledge/confluence/storage.js";
import type { KnowledgeBaseDriver, KnowledgeBaseEntry } from "../../src/knowledge/types.js";
import { DeliveryError } from "../../src/model/delivery-error.js";
import type { Doc } from "../../src/model/doc.js";
import { type FakeConfluence, startFakeConfluence, xhtmlProblem } from "../fakes/confluence.js";
import { type FaultProxy, startFaultProxy, status } from "../fakes/fault-proxy.js";
import { type KnowledgeBaseHarness, knowledgeBaseContract } from "./contract.js";

type Api = "cloud" | "datacenter";
type Auth = "token" | "password";

/** A valid config for the fake (through `url`, usually the proxy), parsed by the schema like a config file would be. */
function configFor(api: Api, fake: FakeConfluence, url: string, auth: Auth = "token", overrides: Record<string, unknown> = {}): ConfluenceConfig {
  const credentials =
    api === "cloud"
      ? { email: fake.email, token: fake.token }
      : auth === "token"
        ? { token: fake.token }
        : { username: fake.username, password: fake.password };
  return confluenceConfigSchema.parse({
    type: "confluence",
    api,
    url,
    space: "OPS",
    parent_id: fake.parentPageId,
    timeout: "5s",
    ...credentials,
    ...overrides,
  });
}

function secretsOf(api: Api, fake: FakeConfluence, auth: Auth): string[] {
  const b64 = (user: string, secret: string) => Buffer.from(`${user}:${secret}`).toString("base64");
  if (api === "cloud") return [fake.token, b64(fake.email, fake.token)];
  return auth === "token" ? [fake.token] : [fake.password, b64(fake.username, fake.password)];
}

/** Reads the fake through its own REST API, as a person's script would: not through the driver, not through the proxy. */
function directReader(api: Api, fake: FakeConfluence) {
  async function get<T>(path: string, params: Record<string, string>): Promise<T> {
    const url = new URL(`${fake.url}${path}`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const res = await fetch(url, { headers: { Authorization: fake.authorization, Accept: "application/json" } });
    if (!res.ok) throw new Error(`fake confluence: GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }
  type Listed = { results: { id: string; title: string; body?: { storage?: { value: string } } }[] };
  const space = fake.spaces.find((s) => s.key === "OPS")?.id as string;
  const titled = (title: string) =>
    api === "cloud"
      ? get<Listed>("/wiki/api/v2/pages", { "space-id": space, title, "body-format": "storage" })
      : get<Listed>("/rest/api/content", { spaceKey: "OPS", title, expand: "body.storage" });
  async function only(title: string) {
    const { results } = await titled(title);
    if (results.length !== 1) throw new Error(`fake confluence: ${results.length} pages titled ${JSON.stringify(title)}`);
    return results[0] as Listed["results"][number];
  }
  return {
    async pagesTitled(title: string) {
      return (await titled(title)).results.length;
    },
    async labelsOf(title: string) {
      const { results } = await titled(title);
      const page = results[0];
      if (!page) return [];
      // Cloud reads labels in v2; Data Center in v1.
      const labels =
        api === "cloud"
          ? await get<{ results: { name: string }[] }>(`/wiki/api/v2/pages/${page.id}/labels`, {})
          : await get<{ results: { name: string }[] }>(`/rest/api/content/${page.id}/label`, {});
      return labels.results.map((l) => l.name);
    },
    async textOf(title: string) {
      return (await only(title)).body?.storage?.value ?? "";
    },
  };
}

async function harness(api: Api, auth: Auth = "token"): Promise<KnowledgeBaseHarness & { fake: FakeConfluence }> {
  const fake = await startFakeConfluence({ api });
  const proxy = await startFaultProxy(fake.url);
  const kb = createConfluenceKnowledgeBase(configFor(api, fake, proxy.url, auth));
  return {
    fake,
    kb,
    proxy,
    secrets: secretsOf(api, fake, auth),
    ...directReader(api, fake),
    armCreatedButErrored: () => fake.createdButErrored(1),
    async stop() {
      await proxy.close();
      await fake.stop();
    },
  };
}

knowledgeBaseContract("confluence cloud (fake)", () => harness("cloud"));
knowledgeBaseContract("confluence datacenter, personal access token (fake)", () => harness("datacenter"));
knowledgeBaseContract("confluence datacenter, username and password (fake)", () => harness("datacenter", "password"));

let sequence = 0;
const run = Date.now().toString(36);
function entry(title: string, labels: string[] = ["alertname-diskfull"], doc: Doc = [{ kind: "paragraph", text: `About ${title}` }]): KnowledgeBaseEntry {
  return { title, doc, labels, incidentId: ++sequence, ticketKey: `ad-${run}-${sequence}` };
}
const uniqueTitle = (what: string) => `INC-${run}-${++sequence} ${what}`;

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error("expected the call to fail");
}

for (const api of ["cloud", "datacenter"] as const) {
  describe(`confluence ${api} specifics`, () => {
    let fake: FakeConfluence;
    let proxy: FaultProxy;
    let kb: KnowledgeBaseDriver;
    const createPath = api === "cloud" ? "/wiki/api/v2/pages" : "/rest/api/content";
    const lookupPath = createPath;
    beforeAll(async () => {
      fake = await startFakeConfluence({ api });
      proxy = await startFaultProxy(fake.url);
      kb = createConfluenceKnowledgeBase(configFor(api, fake, proxy.url));
    });
    afterAll(async () => {
      await proxy?.close();
      await fake?.stop();
    });
    const stored = (title: string) => fake.pages.filter((p) => p.title.toLowerCase() === title.toLowerCase());
    const since = () => {
      const from = fake.requests.length;
      return () => fake.requests.slice(from);
    };

    it("creates the page in the space, under parent_id, and links to it", async () => {
      proxy.disarm();
      const title = uniqueTitle("placement");
      const page = await kb.archive(entry(title));
      const [kept] = stored(title);
      expect(kept).toMatchObject({ id: page.id, spaceKey: "OPS", parentId: fake.parentPageId, version: 1 });
      expect(page.url).toContain(api === "cloud" ? `/wiki/spaces/OPS/pages/${page.id}/` : `pageId=${page.id}`);
    });

    it("a page of the same title in another space is another page", async () => {
      proxy.disarm();
      const title = uniqueTitle("elsewhere");
      const theirs = fake.addPage({ spaceKey: "DOCS", title, body: "<p>theirs</p>" });
      const page = await kb.archive(entry(title));
      expect(page.id).not.toBe(theirs.id);
      expect(
        stored(title)
          .map((p) => p.spaceKey)
          .sort(),
      ).toEqual(["DOCS", "OPS"]);
      expect(theirs.body).toBe("<p>theirs</p>");
      expect((await kb.findByTitle(title))?.id).toBe(page.id);
    });

    it("a create answered 'A page with this title already exists' finds that page and updates it", async () => {
      proxy.disarm();
      const title = uniqueTitle("created meanwhile");
      // Somebody (a concurrent attempt) created it; the look-up answered before it existed.
      const theirs = fake.addPage({ spaceKey: "OPS", title, body: "<p>first attempt</p>" });
      proxy.arm(status(200, {}, { results: [], _links: {} }), { method: "GET", path: new RegExp(`^${lookupPath}\\?`) });
      const seen = since();
      const page = await kb.archive(entry(title, ["alertname-diskfull"], [{ kind: "paragraph", text: "the retry's text" }]));
      expect(page.id).toBe(theirs.id);
      expect(stored(title)).toHaveLength(1);
      expect(theirs.body).toBe("<p>the retry&#39;s text</p>");
      expect(theirs.labels).toEqual(["alertname-diskfull"]);
      expect(
        seen()
          .filter((r) => r.method === "POST" && r.path === createPath)
          .map((r) => r.status),
      ).toEqual([400]);
    });

    it("a title taken in another case is a clear, non-retryable error (Confluence compares titles ignoring case)", async () => {
      proxy.disarm();
      const title = uniqueTitle("Case Matters");
      fake.addPage({ spaceKey: "OPS", title: title.toUpperCase() });
      const e = await failure(kb.archive(entry(title)));
      expect({ retryable: e.retryable, reason: e.reason }).toEqual({ retryable: false, reason: "client" });
      expect(e.message).toMatch(/differs .* only in case/);
      expect(stored(title)).toHaveLength(1);
    });

    it("two archives of one new title at the same time make one page", async () => {
      proxy.disarm();
      const title = uniqueTitle("raced");
      const [a, b] = await Promise.all([kb.archive(entry(title)), kb.archive(entry(title))]);
      expect(a.id).toBe(b.id);
      expect(stored(title)).toHaveLength(1);
    });

    it("a version conflict (somebody saved in between) reads the version again and writes once more", async () => {
      proxy.disarm();
      const title = uniqueTitle("edited meanwhile");
      await kb.archive(entry(title, ["alertname-diskfull"], [{ kind: "paragraph", text: "first" }]));
      const [page] = stored(title);
      fake.editConcurrently(1);
      const seen = since();
      await kb.archive(entry(title, ["alertname-diskfull"], [{ kind: "paragraph", text: "second" }]));
      const puts = seen().filter((r) => r.method === "PUT");
      expect(puts.map((r) => r.status)).toEqual([409, 200]);
      expect(page?.version).toBe(3); // 1 created, 2 the person's save, 3 ours
      expect(page?.body).toBe("<p>second</p>");
    });

    it("a page that keeps changing under it fails retryably after three tries, and the next attempt writes it", async () => {
      proxy.disarm();
      const title = uniqueTitle("busy page");
      await kb.archive(entry(title, ["alertname-diskfull"], [{ kind: "paragraph", text: "first" }]));
      fake.editConcurrently(3);
      const e = await failure(kb.archive(entry(title, ["alertname-diskfull"], [{ kind: "paragraph", text: "second" }])));
      expect(e.retryable).toBe(true);
      expect(e.message).toContain("Version must be incremented");
      await kb.archive(entry(title, ["alertname-diskfull"], [{ kind: "paragraph", text: "second" }]));
      expect(stored(title)[0]?.body).toBe("<p>second</p>");
    });

    it("labels: a person's label stays, only missing ones are added, and an unchanged retry writes nothing", async () => {
      proxy.disarm();
      const title = uniqueTitle("labels");
      await kb.archive(entry(title, ["alertname-diskfull", "priority-p2"]));
      const [page] = stored(title);
      page?.labels.push("reviewed");
      const seen = since();
      const again = await kb.archive(entry(title, ["alertname-diskfull", "priority-p2", "svc-checkout"]));
      expect([...again.labels].sort()).toEqual(["alertname-diskfull", "priority-p2", "reviewed", "svc-checkout"]);
      expect(page?.labels).toEqual(["alertname-diskfull", "priority-p2", "reviewed", "svc-checkout"]);
      expect(seen().filter((r) => r.method === "POST" && r.path.endsWith("/label"))).toHaveLength(1);
      const quiet = since();
      await kb.archive(entry(title, ["alertname-diskfull", "priority-p2", "svc-checkout"]));
      expect(quiet().filter((r) => r.method !== "GET")).toEqual([]);
      expect(page?.version).toBe(1);
    });

    it("CQL: a label with quotes stays one quoted value and cannot add a clause", async () => {
      proxy.disarm();
      const target = uniqueTitle("injection target");
      await kb.archive(entry(target, ["inject-y"]));
      const injected = 'zzz" OR label = "inject-y';
      expect(await kb.findByLabels([injected], 10)).toEqual([]);
      expect(fake.searches.at(-1)).toBe(`type = page AND space = "OPS" AND label = "zzz\\" OR label = \\"inject-y" ORDER BY created DESC`);
      const backslash = "a\\";
      expect(await kb.findByLabels([backslash, "inject-y"], 10)).toEqual([]);
      expect(fake.searches.at(-1)).toContain('label = "a\\\\" AND label = "inject-y"');
      expect((await kb.findByLabels(["inject-y"], 10)).map((p) => p.title)).toEqual([target]);
    });

    it("the storage body is well-formed XHTML: closed <br/>, escaped values, only http(s) anchors", async () => {
      proxy.disarm();
      const title = uniqueTitle("storage");
      const doc: Doc = [
        { kind: "heading", text: "Timeline <b>bold</b>" },
        { kind: "paragraph", text: "line one\nline two\r\nline three & <br> ]]> \u0007bell \uD800lone" },
        { kind: "fields", rows: [["instance", "db-1:9100 \"quoted\" 'single'"]] },
        { kind: "list", items: ["a\nb"] },
        {
          kind: "links",
          links: [
            { label: "Runbook", url: "https://runbooks.example/disk?a=1&b=2" },
            { label: "bad", url: 'javascript:alert("x")' },
          ],
        },
      ];
      await kb.archive(entry(title, ["alertname-diskfull"], doc));
      const body = stored(title)[0]?.body ?? "";
      expect(xhtmlProblem(body)).toBeUndefined();
      expect(body).not.toMatch(/<br\s*>/);
      expect(body).toContain("line one<br/>line two<br/>line three &amp; &lt;br&gt; ]]&gt; bell lone");
      expect(body).toContain('<a href="https://runbooks.example/disk?a=1&amp;b=2">Runbook</a>');
      expect(body).toContain("<li>bad: javascript:alert(&quot;x&quot;)</li>");
      expect(body).not.toMatch(/<a href="javascript/);
      expect(body).toContain("<th>instance</th><td>db-1:9100 &quot;quoted&quot; &#39;single&#39;</td>");
    });

    it("the fake refuses a body that is not well-formed, as Confluence does (so the checks above can fail)", async () => {
      const create =
        api === "cloud"
          ? {
              url: `${fake.url}/wiki/api/v2/pages`,
              body: { spaceId: "98306", status: "current", title: uniqueTitle("bad"), body: { representation: "storage", value: "<p>a<br>b</p>" } },
            }
          : {
              url: `${fake.url}/rest/api/content`,
              body: {
                type: "page",
                title: uniqueTitle("bad"),
                space: { key: "OPS" },
                body: { storage: { value: "<p>a<br>b</p>", representation: "storage" } },
              },
            };
      const res = await fetch(create.url, {
        method: "POST",
        headers: { Authorization: fake.authorization, "Content-Type": "application/json" },
        body: JSON.stringify(create.body),
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("Error parsing xhtml: Unexpected close tag </p>; expected </br>.");
    });

    it("an unknown space is a non-retryable error that names the key", async () => {
      proxy.disarm();
      const lost = createConfluenceKnowledgeBase(configFor(api, fake, proxy.url, "token", { space: "NOPE" }));
      const e = await failure(lost.archive(entry(uniqueTitle("nowhere"))));
      expect(e.retryable).toBe(false);
      expect(e.message).toContain("NOPE");
    });

    it("a page deleted between two archives is written again", async () => {
      proxy.disarm();
      const title = uniqueTitle("deleted by a person");
      const first = await kb.archive(entry(title));
      fake.pages.splice(
        fake.pages.findIndex((p) => p.id === first.id),
        1,
      );
      const second = await kb.archive(entry(title));
      expect(second.id).not.toBe(first.id);
      expect(stored(title)).toHaveLength(1);
    });
  });
}

describe("confluence cloud: the space id", () => {
  let fake: FakeConfluence;
  let proxy: FaultProxy;
  beforeAll(async () => {
    fake = await startFakeConfluence({ api: "cloud" });
    proxy = await startFaultProxy(fake.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await fake?.stop();
  });
  const spaceLookups = () => fake.requests.filter((r) => r.path === "/wiki/api/v2/spaces");

  it("is resolved from the key once, and every create sends it", async () => {
    const kb = createConfluenceKnowledgeBase(configFor("cloud", fake, proxy.url));
    const before = spaceLookups().length;
    await kb.archive(entry(uniqueTitle("one")));
    await kb.archive(entry(uniqueTitle("two")));
    await kb.findByTitle(uniqueTitle("three"));
    await kb.findByLabels(["alertname-diskfull"], 5);
    expect(spaceLookups().length - before).toBe(1);
    expect(spaceLookups().at(-1)?.query).toMatchObject({ keys: "OPS" });
    expect(fake.requests.filter((r) => r.path === "/wiki/api/v2/pages" && r.method === "GET").every((r) => r.query["space-id"] === "98306")).toBe(true);
  });

  it("a failed look-up is not kept: the next call asks again", async () => {
    const kb = createConfluenceKnowledgeBase(configFor("cloud", fake, proxy.url));
    proxy.arm(status(503), { path: /^\/wiki\/api\/v2\/spaces/ });
    const e = await failure(kb.findByTitle(uniqueTitle("x")));
    expect({ retryable: e.retryable, reason: e.reason }).toEqual({ retryable: true, reason: "server" });
    expect(await kb.findByTitle(uniqueTitle("y"))).toBeUndefined();
    proxy.disarm();
  });

  it("a url given with /wiki gets /wiki once", async () => {
    const kb = createConfluenceKnowledgeBase(configFor("cloud", fake, `${proxy.url}/wiki/`));
    const page = await kb.archive(entry(uniqueTitle("wiki twice")));
    expect(fake.pages.some((p) => p.id === page.id)).toBe(true);
    expect(fake.requests.some((r) => r.path.startsWith("/wiki/wiki"))).toBe(false);
  });
});

describe("confluence: rate limits", () => {
  let fake: FakeConfluence;
  beforeAll(async () => {
    fake = await startFakeConfluence({ api: "datacenter" });
  });
  afterAll(async () => {
    await fake?.stop();
  });

  it("a 429 from Confluence is retryable with its Retry-After; rate_limit keeps under the limit", async () => {
    fake.limitRate({ requests: 3, windowMs: 1000 });
    const eager = createConfluenceKnowledgeBase(configFor("datacenter", fake, fake.url));
    const answers = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => eager.findByTitle(`nothing ${n}`)));
    const limited = answers.filter((a): a is PromiseRejectedResult => a.status === "rejected").map((a) => a.reason as DeliveryError);
    expect(limited.length).toBeGreaterThan(0);
    for (const e of limited)
      expect({ retryable: e.retryable, reason: e.reason, retryAfterMs: e.retryAfterMs }).toEqual({
        retryable: true,
        reason: "rateLimited",
        retryAfterMs: 1000,
      });

    fake.limitRate({ requests: 3, windowMs: 1000 });
    const paced = createConfluenceKnowledgeBase(configFor("datacenter", fake, fake.url, "token", { rate_limit: "2/s" }));
    const from = fake.requests.length;
    for (let n = 0; n < 5; n++) expect(await paced.findByTitle(`still nothing ${n}`)).toBeUndefined();
    expect(fake.requests.slice(from).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    fake.limitRate(undefined);
  });
});

describe("confluence config", () => {
  const parse = (c: Record<string, unknown>) => confluenceConfigSchema.safeParse({ type: "confluence", url: "https://acme.atlassian.net", space: "OPS", ...c });
  const issues = (c: Record<string, unknown>) => {
    const r = parse(c);
    return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  };

  it("accepts each way to authenticate and defaults to cloud", () => {
    expect(parse({ email: "a@b.example", token: "t" })).toMatchObject({ success: true, data: { api: "cloud" } });
    expect(parse({ api: "datacenter", token_file: "/run/secrets/pat" }).success).toBe(true);
    expect(parse({ api: "datacenter", username: "bot", password_file: "/run/secrets/pw" }).success).toBe(true);
  });

  it.each([
    ["cloud without email", {}, "email", /needs email/],
    ["cloud without token", { email: "a@b.example" }, "token", /token or token_file/],
    ["cloud with a password", { email: "a@b.example", token: "t", username: "u", password: "p" }, "username", /no password login/],
    ["datacenter without anything", { api: "datacenter" }, "token", /personal access token/],
    ["datacenter username without password", { api: "datacenter", username: "bot" }, "password", /password or password_file/],
    ["datacenter with token and username", { api: "datacenter", token: "t", username: "bot", password: "p" }, "username", /not both/],
    ["datacenter with email", { api: "datacenter", email: "a@b.example", token: "t" }, "email", /for api: cloud/],
    ["a space that is no key", { email: "a@b.example", token: "t", space: "Ops Team" }, "space", /space key/],
    ["a parent_id that is no id", { email: "a@b.example", token: "t", parent_id: "Incidents" }, "parent_id", /page id/],
  ])("refuses %s, naming the field", (_why, config, path, message) => {
    const found = issues(config);
    expect(found.map((i) => i.path)).toContain(path);
    expect(found.find((i) => i.path === path)?.message).toMatch(message);
  });

  it("refuses unknown keys", () => {
    expect(issues({ email: "a@b.example", token: "t", spaceKey: "OPS" }).length).toBeGreaterThan(0);
  });

  it("reads token_file, and names it when it cannot", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-confluence-"));
    const fake = await startFakeConfluence({ api: "datacenter" });
    try {
      writeFileSync(join(dir, "pat"), `${fake.token}\n`);
      const kb = createConfluenceKnowledgeBase(
        confluenceConfigSchema.parse({ type: "confluence", api: "datacenter", url: fake.url, space: "OPS", token_file: join(dir, "pat") }),
      );
      expect(await kb.findByTitle("nothing")).toBeUndefined();
      expect(() =>
        createConfluenceKnowledgeBase(
          confluenceConfigSchema.parse({ type: "confluence", api: "datacenter", url: fake.url, space: "OPS", token_file: join(dir, "missing") }),
        ),
      ).toThrow(/token_file: cannot read/);
    } finally {
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("confluence storage and CQL helpers", () => {
  it("escapes the five XML characters and drops the ones XML forbids", () => {
    expect(escapeXml(`<a href="x">&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    expect(escapeXml("a\u0000b\u001Fc\uFFFEd\uDC00e\u{1F600}f\tg")).toBe("abcde\u{1F600}f\tg");
  });

  it("renders every block kind well-formed", () => {
    const doc: Doc = [
      { kind: "heading", text: "H\nI" },
      { kind: "paragraph", text: "" },
      { kind: "fields", rows: [] },
      { kind: "list", items: [] },
      { kind: "links", links: [{ label: "l", url: "HTTPS://x.example/a b" }] },
    ];
    const body = toStorage(doc);
    expect(xhtmlProblem(body)).toBeUndefined();
    expect(body).toBe("<h3>H I</h3><p></p><table><tbody></tbody></table><ul></ul><ul><li>l: HTTPS://x.example/a b</li></ul>");
  });

  it("the well-formedness check catches what it should", () => {
    expect(xhtmlProblem("<p>a<br/>b</p>")).toBeUndefined();
    expect(xhtmlProblem("<p>a<br>b</p>")).toMatch(/Unexpected close tag <\/p>/);
    expect(xhtmlProblem("<p>a & b</p>")).toMatch(/bad entity/);
    expect(xhtmlProblem("<p>a ]]> b</p>")).toMatch(/]]>/);
    expect(xhtmlProblem("<a href=x>b</a>")).toMatch(/malformed/);
    expect(xhtmlProblem("<p>")).toMatch(/expected <\/p>/);
  });

  it("quotes CQL values with backslash escapes", () => {
    expect(cqlString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(pagesWithLabels("OPS", ["x", "y"])).toBe('type = page AND space = "OPS" AND label = "x" AND label = "y" ORDER BY created DESC');
  });
});
