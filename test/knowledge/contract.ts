import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KnowledgeBaseDriver, KnowledgeBaseEntry } from "../../src/knowledge/types.js";
import { knowledgeLabel } from "../../src/knowledge/types.js";
import { DeliveryError } from "../../src/model/delivery-error.js";
import type { Doc } from "../../src/model/doc.js";
import { type FaultProxy, status } from "../fakes/fault-proxy.js";

/**
 * The contract every external knowledge base passes (Confluence, TiddlyWiki), against a local fake or
 * the real thing, with a fault proxy in front of it: an archive entry is one page however often it is
 * written (also after a create that stored the page but answered an error, or whose answer was lost),
 * its labels are exactly the entry's, the look-ups find what they should, failures are DeliveryErrors
 * with the right retry decision, no credential reaches an error, and the entry's values stay text.
 *
 * The knowledge bases of one run share one instance, so every test writes titles and labels of its
 * own (`run` makes them unique across runs against a real, long-lived knowledge base too).
 */

export interface KnowledgeBaseHarness {
  /** The driver, pointed at `proxy`, with a request timeout that allows for a slow machine. */
  kb: KnowledgeBaseDriver;
  /** `startFaultProxy` (test/fakes/fault-proxy.ts) in front of the knowledge base. */
  proxy: FaultProxy;
  /** Every credential the driver was given (tokens, passwords; the Basic/Bearer header values too, if built). */
  secrets: string[];
  /** How many pages carry exactly this title: the knowledge base's own count, read through its API directly, not the driver. */
  pagesTitled(title: string): Promise<number>;
  /** The labels (tags) of the page titled so, as the knowledge base keeps them; [] if there is none. */
  labelsOf(title: string): Promise<string[]>;
  /**
   * The stored body of the page titled so, as the knowledge base keeps it (Confluence: the storage
   * format). The contract looks for the Doc's text in it and expects markup from the entry's values
   * in entity-escaped form (`&lt;`, `&#60;` or `&#x3c;`), never a live `<img`: a knowledge base
   * whose format keeps such text differently returns what it renders the body to (HTML).
   */
  textOf(title: string): Promise<string>;
  /** Makes the next create store the page and still fail (fake: its knob; real KB: drop the answer after forwarding). */
  armCreatedButErrored(): void;
  stop(): Promise<void>;
}

/** Limits for a real knowledge base on a slow, busy machine (they only matter when something is wrong). */
export interface KnowledgeBaseContractOptions {
  /** Each test (default: vitest's testTimeout). */
  testTimeoutMs?: number;
  /** setup(), which may install and start the knowledge base (default 180 s). */
  setupTimeoutMs?: number;
}

const run = Date.now().toString(36);
let sequence = 0;

/** A title no other test (nor an earlier run) uses. */
function uniqueTitle(what: string): string {
  return `Contract ${run}-${++sequence}: ${what}`;
}

/** Labels of this run only, normalised the way alertdesk builds them. */
function runLabel(what: string): string {
  return knowledgeLabel(`contract-${run}-${what}`);
}

function docOf(heading: string, paragraph: string): Doc {
  return [
    { kind: "heading", text: heading },
    { kind: "paragraph", text: paragraph },
    { kind: "fields", rows: [["Priority", "P2"]] },
  ];
}

function entryOf(title: string, labels: string[], doc: Doc = docOf("What happened", `CPU at 93 % on ${title}`)): KnowledgeBaseEntry {
  return { title, doc, labels, incidentId: ++sequence, ticketKey: `ad-contract${run}-${sequence}` };
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

const sorted = (labels: readonly string[]) => [...labels].sort();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a markup-carrying value may look like once a knowledge base stored it as text. */
const ESCAPED_IMG = /(&lt;|&#60;|&#x0*3c;)img/i;

export function knowledgeBaseContract(name: string, setup: () => Promise<KnowledgeBaseHarness>, options: KnowledgeBaseContractOptions = {}): void {
  describe(`${name}: knowledge-base contract`, options.testTimeoutMs ? { timeout: options.testTimeoutMs } : {}, () => {
    let h: KnowledgeBaseHarness;
    beforeAll(async () => {
      h = await setup();
    }, options.setupTimeoutMs ?? 180_000);
    afterAll(async () => {
      await h?.stop();
    });

    it("archive creates one page with the title, the Doc's text and exactly the labels", async () => {
      h.proxy.disarm();
      const title = uniqueTitle("HostHighCpu on db-1");
      const labels = [runLabel("create"), "alertname-hosthighcpu", "priority-p2"];
      const page = await h.kb.archive(entryOf(title, labels, docOf("Timeline of the incident", "The disk filled up at 03:12")));
      expect(page.id).toBeTruthy();
      expect(page.title).toBe(title);
      expect(sorted(page.labels)).toEqual(sorted(labels));
      expect(await h.pagesTitled(title)).toBe(1);
      expect(sorted(await h.labelsOf(title))).toEqual(sorted(labels));
      const text = await h.textOf(title);
      expect(text).toContain("Timeline of the incident");
      expect(text).toContain("The disk filled up at 03:12");
    });

    it("archiving the same title again updates that page: still one page, the new text, the labels kept", async () => {
      h.proxy.disarm();
      const title = uniqueTitle("DiskFull on db-2");
      const first = [runLabel("update-a"), runLabel("update-b")];
      const created = await h.kb.archive(entryOf(title, first, docOf("First version", "Written at the first close")));
      const added = runLabel("update-c");
      const updated = await h.kb.archive(entryOf(title, [...first, added], docOf("Second version", "Written when it closed again")));
      expect(updated.id).toBe(created.id);
      expect(await h.pagesTitled(title)).toBe(1);
      const text = await h.textOf(title);
      expect(text).toContain("Second version");
      expect(text).toContain("Written when it closed again");
      expect(text).not.toContain("Written at the first close");
      expect(sorted(await h.labelsOf(title))).toEqual(sorted([...first, added]));
      // The same entry once more changes nothing but the body: the labels are not doubled.
      await h.kb.archive(entryOf(title, [...first, added], docOf("Second version", "Written when it closed again")));
      expect(await h.pagesTitled(title)).toBe(1);
      expect(sorted(await h.labelsOf(title))).toEqual(sorted([...first, added]));
    });

    it("findByTitle finds the page, and nothing for an unknown title", async () => {
      h.proxy.disarm();
      const title = uniqueTitle("Lookup & 'quotes' \"too\"");
      const labels = [runLabel("lookup")];
      const page = await h.kb.archive(entryOf(title, labels));
      const found = await h.kb.findByTitle(title);
      expect(found).toBeDefined();
      expect(found?.id).toBe(page.id);
      expect(found?.title).toBe(title);
      expect(await h.kb.findByTitle(uniqueTitle("never archived"))).toBeUndefined();
      // A title that is a prefix of the archived one is another title.
      expect(await h.kb.findByTitle(title.slice(0, -3))).toBeUndefined();
    });

    it("findByLabels returns the pages carrying every label, newest first, at most limit", async () => {
      h.proxy.disarm();
      const shared = runLabel("find-shared");
      const other = runLabel("find-other");
      const older = await h.kb.archive(entryOf(uniqueTitle("older"), [shared, other]));
      // Apart by more than a second, so that a knowledge base keeping creation times in seconds orders them too.
      await pause(1100);
      const onlyOne = await h.kb.archive(entryOf(uniqueTitle("only one label"), [shared]));
      await pause(1100);
      const newer = await h.kb.archive(entryOf(uniqueTitle("newer"), [other, shared, runLabel("find-extra")]));
      const both = await h.kb.findByLabels([shared, other], 10);
      expect(both.map((p) => p.id)).toEqual([newer.id, older.id]);
      expect(both.map((p) => p.title)).toEqual([newer.title, older.title]);
      expect(both.map((p) => p.id)).not.toContain(onlyOne.id);
      expect((await h.kb.findByLabels([shared, other], 1)).map((p) => p.id)).toEqual([newer.id]);
      expect((await h.kb.findByLabels([shared], 10)).map((p) => p.id)).toEqual([newer.id, onlyOne.id, older.id]);
      expect(await h.kb.findByLabels([runLabel("find-nobody")], 10)).toEqual([]);
    });

    it("a create that stored the page but answered an error fails retryably, and the retry leaves one page", async () => {
      h.proxy.disarm();
      const title = uniqueTitle("created but errored");
      const labels = [runLabel("trap-a"), runLabel("trap-b")];
      const entry = entryOf(title, labels, docOf("After the trap", "Stored although the answer was an error"));
      h.armCreatedButErrored();
      const e = await failure(h.kb.archive(entry));
      expect(e.retryable).toBe(true);
      expect(await h.pagesTitled(title)).toBe(1); // the trap: it is there although the answer said otherwise
      // What the outbox does: the same entry again.
      const page = await h.kb.archive(entry);
      expect(page.title).toBe(title);
      expect(await h.pagesTitled(title)).toBe(1);
      expect(sorted(await h.labelsOf(title))).toEqual(sorted(labels));
      expect(await h.textOf(title)).toContain("Stored although the answer was an error");
    });

    it("after an unknown outcome of the create (forwarded, the answer lost), the retry leaves one page", async () => {
      h.proxy.disarm();
      const title = uniqueTitle("answer lost");
      const labels = [runLabel("lost")];
      const entry = entryOf(title, labels);
      // The first write of an archive for a new title is its create, whichever method the knowledge base creates with.
      h.proxy.arm({ kind: "drop-after-forward" }, { method: "POST" });
      h.proxy.arm({ kind: "drop-after-forward" }, { method: "PUT" });
      const e = await failure(h.kb.archive(entry));
      expect(e.retryable).toBe(true);
      h.proxy.disarm();
      expect(h.proxy.requests.some((r) => r.status === "dropped")).toBe(true);
      await h.kb.archive(entry);
      expect(await h.pagesTitled(title)).toBe(1);
      expect(sorted(await h.labelsOf(title))).toEqual(sorted(labels));
    });

    it("429 with Retry-After is retryable and carries the wait; no request goes out before it passed", async () => {
      h.proxy.disarm();
      h.proxy.arm(status(429, { "Retry-After": "1" }));
      const e = await failure(h.kb.archive(entryOf(uniqueTitle("rate limited"), [runLabel("limited")])));
      expect({ retryable: e.retryable, reason: e.reason, retryAfterMs: e.retryAfterMs }).toEqual({
        retryable: true,
        reason: "rateLimited",
        retryAfterMs: 1000,
      });
      const limitedAt = (h.proxy.requests.at(-1) as { at: number }).at;
      const title = uniqueTitle("after the limit");
      await h.kb.archive(entryOf(title, [runLabel("limited")]));
      const next = h.proxy.requests.find((r) => r.at > limitedAt);
      expect(next).toBeDefined();
      expect((next as { at: number }).at - limitedAt).toBeGreaterThanOrEqual(990);
      expect(await h.pagesTitled(title)).toBe(1);
    });

    it("401 is not retried (auth)", async () => {
      h.proxy.disarm();
      h.proxy.arm(status(401));
      const e = await failure(h.kb.archive(entryOf(uniqueTitle("unauthorised"), [runLabel("auth")])));
      expect({ retryable: e.retryable, reason: e.reason }).toEqual({ retryable: false, reason: "auth" });
      h.proxy.arm(status(401));
      const lookup = await failure(h.kb.findByTitle(uniqueTitle("unauthorised look-up")));
      expect({ retryable: lookup.retryable, reason: lookup.reason }).toEqual({ retryable: false, reason: "auth" });
      h.proxy.disarm();
    });

    it.each([500, 502, 503])("%i is retried (server)", async (code) => {
      h.proxy.disarm();
      h.proxy.arm(status(code));
      const e = await failure(h.kb.archive(entryOf(uniqueTitle(`server ${code}`), [runLabel("server")])));
      expect({ retryable: e.retryable, reason: e.reason }).toEqual({ retryable: true, reason: "server" });
      h.proxy.arm(status(code));
      const search = await failure(h.kb.findByLabels([runLabel("server")], 5));
      expect(search.retryable).toBe(true);
      h.proxy.disarm();
    });

    it("a refused connection is retried (network)", async () => {
      h.proxy.disarm();
      h.proxy.arm({ kind: "refuse" });
      const e = await failure(h.kb.archive(entryOf(uniqueTitle("refused"), [runLabel("refused")])));
      expect({ retryable: e.retryable, reason: e.reason }).toEqual({ retryable: true, reason: "network" });
      h.proxy.disarm();
    });

    it("never puts a credential into an error message", async () => {
      expect(h.secrets.length).toBeGreaterThan(0);
      for (const secret of h.secrets) {
        h.proxy.disarm();
        // A knowledge base that echoes what it was sent, in an error body.
        h.proxy.arm(status(500, {}, { message: `bad request from ${secret}` }));
        const e = await failure(h.kb.archive(entryOf(uniqueTitle("echo"), [runLabel("echo")])));
        expect(e.message).not.toContain(secret);
        expect(String(e.stack)).not.toContain(secret);
        h.proxy.arm(status(400, {}, { message: `rejected ${secret}` }));
        const rejected = await failure(h.kb.findByTitle(uniqueTitle("echo look-up")));
        expect(rejected.message).not.toContain(secret);
      }
      h.proxy.disarm();
      h.proxy.arm(status(401));
      const e = await failure(h.kb.archive(entryOf(uniqueTitle("echo 401"), [runLabel("echo")])));
      for (const secret of h.secrets) expect(e.message).not.toContain(secret);
      h.proxy.disarm();
    });

    it("markup in a title, a label or a value is kept as text, never as a live tag", async () => {
      h.proxy.disarm();
      const markup = `<img src=x onerror=alert(1)>`;
      const title = uniqueTitle(`${markup} ]] & [[x]] "q" 'a'`);
      const labels = [knowledgeLabel(`instance-${markup}`), runLabel("markup")];
      const doc: Doc = [
        { kind: "heading", text: `Alert ${markup}` },
        { kind: "paragraph", text: `Summary ${markup} ]]> & <![CDATA[ x ]]>\nsecond line` },
        { kind: "fields", rows: [[`label ${markup}`, `value ${markup} &amp;`]] },
        { kind: "list", items: [`item ${markup}`] },
        {
          kind: "links",
          links: [
            { label: `runbook ${markup}`, url: "https://example.com/runbook?a=1&b=2" },
            { label: "not a link", url: "javascript:alert(1)" },
          ],
        },
      ];
      const page = await h.kb.archive(entryOf(title, labels, doc));
      expect(page.title).toBe(title);
      expect(await h.pagesTitled(title)).toBe(1);
      expect((await h.kb.findByTitle(title))?.id).toBe(page.id);
      expect(sorted(await h.labelsOf(title))).toEqual(sorted(labels));
      for (const label of await h.labelsOf(title)) expect(label).toMatch(/^[a-z0-9_-]+$/);
      const text = await h.textOf(title);
      expect(text).not.toMatch(/<img/i);
      expect(text).not.toMatch(/href=["']?javascript:/i);
      expect(text).toMatch(ESCAPED_IMG);
      expect(text).toContain("Summary");
      expect(text).toContain("second line");
    });
  });
}
