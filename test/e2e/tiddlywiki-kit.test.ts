import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseList, startTiddlyWiki, stringifyList, type TiddlyWiki } from "../kit/tiddlywiki.js";

/**
 * The TiddlyWiki kit itself (test/kit/tiddlywiki.ts): a real TiddlyWiki 5.4.1 from npm on loopback,
 * with basic auth, as the knowledge base. Entries are written with tags and fields through its HTTP
 * API and found again by title, by tag and by words; an update changes the revision; the server is
 * restarted over the same folder and still has the update. Everything is stopped at the end.
 */

// Below Linux's ephemeral range (32768-60999) and apart from the other e2e files.
const PORT = 26080;
const USER = "alertdesk";
const PASSWORD = `tw-${randomBytes(12).toString("hex")}`;
const root = mkdtempSync(join(tmpdir(), "alertdesk-e2e-tiddlywiki-"));
const dir = join(root, "wiki");
let wiki: TiddlyWiki | undefined;

const CPU = "HostHighCpu on web-1";
const DISK = "DiskFull on db/1";
const CPU_TEXT = "CPU über 90 % auf web-1 🔥 — 東京\n\n<script>alert('x')</script> & <b>bold</b> {{transclusion}} [[link]]";

beforeAll(async () => {
  wiki = await startTiddlyWiki({ port: PORT, dir, username: USER, password: PASSWORD });
}, 240_000);

afterAll(async () => {
  await wiki?.stop();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

function tw(): TiddlyWiki {
  if (!wiki) throw new Error("tiddlywiki did not start");
  return wiki;
}

describe("the TiddlyWiki kit", () => {
  it("writes two entries with tags and fields and reads one back intact", async () => {
    const first = await tw().put(CPU, { text: CPU_TEXT, tags: "[[HostHighCpu]] P2 performance", incident_id: "inc-0001", severity: "warning" });
    expect(first.revision).toBeGreaterThan(0);
    await tw().put(DISK, {
      text: "The disk is FULL on db/1: /var at 100 %.",
      tags: ["DiskFull", "P1", "capacity planning"],
      incident_id: "inc-0002",
    });

    const cpu = await tw().get(CPU);
    expect(cpu).toMatchObject({
      title: CPU,
      text: CPU_TEXT,
      tags: ["HostHighCpu", "P2", "performance"],
      type: "text/vnd.tiddlywiki",
      revision: first.revision,
    });
    expect(cpu?.fields).toEqual({ incident_id: "inc-0001", severity: "warning" });
    // As TiddlyWiki answers it: the tag list normalised, custom fields under `fields`.
    expect(cpu?.raw).toMatchObject({ tags: "HostHighCpu P2 performance", fields: { incident_id: "inc-0001" }, bag: "default" });

    const disk = await tw().get(DISK);
    expect(disk?.tags).toEqual(["DiskFull", "P1", "capacity planning"]);
    expect(disk?.raw.tags).toBe("DiskFull P1 [[capacity planning]]");
    expect(await tw().get("No such entry")).toBeUndefined();
  });

  it("finds entries by tag and by words", async () => {
    const byTag = await tw().filter("[tag[HostHighCpu]]");
    expect(byTag.map((t) => t.title)).toEqual([CPU]);
    expect(byTag[0]?.fields.incident_id).toBe("inc-0001");
    expect(byTag[0]?.text).toBeUndefined(); // the server leaves the text out unless asked

    const withText = await tw().filter("[tag[HostHighCpu]]", { text: true });
    expect(withText[0]?.text).toBe(CPU_TEXT);

    expect((await tw().filter("[tag[capacity planning]]")).map((t) => t.title)).toEqual([DISK]);
    expect((await tw().filter("[tag[P1]] [tag[P2]] +[sort[title]]")).map((t) => t.title)).toEqual([DISK, CPU]);
    // Each word anywhere in title, tags or text, in any case and order.
    expect((await tw().filter("[search[disk full]]")).map((t) => t.title)).toEqual([DISK]);
    expect((await tw().filter("[search[full disk]]")).map((t) => t.title)).toEqual([DISK]);
    expect(await tw().filter("[search[disk cpu]]")).toEqual([]);
    expect((await tw().filter("[search:incident_id[inc-0002]]")).map((t) => t.title)).toEqual([DISK]);
    expect((await tw().filter("[field:incident_id[inc-0001]]")).map((t) => t.title)).toEqual([CPU]);
  });

  it("replaces an entry on PUT and counts up its revision", async () => {
    const before = await tw().get(CPU);
    const { revision } = await tw().put(CPU, { text: "Resolved: CPU back to 12 %.", tags: ["HostHighCpu", "resolved"], incident_id: "inc-0001" });
    expect(revision).toBeGreaterThan(before?.revision ?? Number.POSITIVE_INFINITY);
    const after = await tw().get(CPU);
    expect(after).toMatchObject({ text: "Resolved: CPU back to 12 %.", tags: ["HostHighCpu", "resolved"], revision });
    // A PUT is the whole tiddler: the field not sent again is gone.
    expect(after?.fields).toEqual({ incident_id: "inc-0001" });
    expect((await tw().filter("[tag[resolved]]")).map((t) => t.title)).toEqual([CPU]);
    expect(await tw().filter("[tag[P2]]")).toEqual([]);
  });

  it("requires basic auth for every request, and the CSRF header for writes", async () => {
    const { url } = tw();
    const path = `${url}/recipes/default/tiddlers/${encodeURIComponent(DISK)}`;
    const wrong = { Authorization: `Basic ${Buffer.from(`${USER}:not-the-password`).toString("base64")}` };
    for (const headers of [{}, wrong]) {
      const status = await fetch(`${url}/status`, { headers });
      expect(status.status).toBe(401);
      expect(status.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
      expect((await fetch(path, { headers })).status).toBe(401);
      expect((await fetch(`${url}/recipes/default/tiddlers.json?filter=${encodeURIComponent("[tag[P1]]")}`, { headers })).status).toBe(401);
      const put = await fetch(`${url}/recipes/default/tiddlers/Intruder`, {
        method: "PUT",
        headers: { ...headers, "X-Requested-With": "TiddlyWiki" },
        body: JSON.stringify({ text: "no" }),
      });
      expect(put.status).toBe(401);
    }
    expect(await tw().get("Intruder")).toBeUndefined();

    const status = await fetch(`${url}/status`, { headers: tw().headers });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ username: USER, anonymous: false, read_only: false, tiddlywiki_version: "5.4.1" });
    expect((await fetch(path, { headers: tw().headers })).status).toBe(200);

    const { "X-Requested-With": _, ...authOnly } = tw().headers;
    const noCsrf = await fetch(`${url}/recipes/default/tiddlers/Intruder`, { method: "PUT", headers: authOnly, body: JSON.stringify({ text: "no" }) });
    expect(noCsrf.status).toBe(403);
    expect(await tw().get("Intruder")).toBeUndefined();
  });

  it("keeps the entries across a restart over the same folder", async () => {
    const { revision } = await tw().put(DISK, { text: "The disk is full again.", tags: ["DiskFull", "P1"], incident_id: "inc-0002" });
    expect(revision).toBeGreaterThan(1);
    // Right after the PUT: stop() waits until the server has written it to disk.
    await tw().stop();
    wiki = undefined;
    wiki = await startTiddlyWiki({ port: PORT, dir, username: USER, password: PASSWORD });

    expect(await tw().get(DISK)).toMatchObject({ text: "The disk is full again.", tags: ["DiskFull", "P1"], fields: { incident_id: "inc-0002" } });
    expect(await tw().get(CPU)).toMatchObject({ text: "Resolved: CPU back to 12 %.", tags: ["HostHighCpu", "resolved"] });
    expect((await tw().filter("[tag[DiskFull]]")).map((t) => t.title)).toEqual([DISK]);
    // revision counts changes in the running process only: it starts again after a restart.
    expect((await tw().get(DISK))?.revision).toBe(0);
  }, 240_000);

  it("refuses what it must not touch or cannot serve", async () => {
    const foreign = join(root, "foreign");
    mkdirSync(foreign);
    writeFileSync(join(foreign, "notes.txt"), "mine");
    await expect(startTiddlyWiki({ port: PORT + 1, dir: foreign })).rejects.toThrow(/not touching it/);
    await expect(startTiddlyWiki({ port: PORT + 1, dir })).rejects.toThrow(/already serves/);
    await expect(startTiddlyWiki({ port: PORT, dir: join(root, "other") })).rejects.toThrow(/already listens/);
    await expect(startTiddlyWiki({ port: PORT + 1, dir: join(root, "other"), username: USER })).rejects.toThrow(/both username and password/);
    await expect(startTiddlyWiki({ port: PORT + 1, dir: join(root, "other"), username: USER, password: "a:b" })).rejects.toThrow(/without ":"/);
  });
});

describe("TiddlyWiki's list syntax", () => {
  it("round-trips tags with spaces", () => {
    expect(stringifyList(["HostHighCpu", "P2", "capacity planning"])).toBe("HostHighCpu P2 [[capacity planning]]");
    expect(parseList("[[HostHighCpu]] P2 performance [[capacity planning]] P2")).toEqual(["HostHighCpu", "P2", "performance", "capacity planning"]);
    expect(() => stringifyList(["a]]b"])).toThrow(/cannot be a list item/);
  });
});
