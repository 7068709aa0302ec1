import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hmacSha256 } from "../../src/drivers/config.js";
import { createJiraDriver, type JiraConfig, jiraConfigSchema } from "../../src/drivers/jira/driver.js";
import { isPublicComment, jqlTime, parseJiraTime, plainText } from "../../src/drivers/jira/sync.js";
import type { HelpdeskDriver, HelpdeskSync } from "../../src/drivers/types.js";
import { DoorbellRejected, type ObservedEvent, type Resolution } from "../../src/model/helpdesk-event.js";
import type { TicketRef } from "../../src/model/incident.js";
import { type FaultProxy, startFaultProxy } from "../fakes/fault-proxy.js";
import { type FakeJira, type FakeJiraStatus, startFakeJira } from "../fakes/jira.js";
import { type AgentHarness, describeDriverContract, openTicket } from "./contract.js";

type Overrides = Partial<Omit<JiraConfig, "type" | "api" | "url">>;

async function harness(api: "cloud" | "datacenter", fakeOptions: Parameters<typeof startFakeJira>[0] = {}, overrides: Overrides = {}) {
  const fake = await startFakeJira({ api, ...fakeOptions });
  const proxy = await startFaultProxy(fake.url);
  const driver = createJiraDriver("ops-jira", config(api, fake, proxy, overrides));
  return { fake, proxy, driver };
}

function config(api: "cloud" | "datacenter", fake: FakeJira, proxy: FaultProxy, overrides: Overrides = {}): JiraConfig {
  return {
    type: "jira",
    api,
    url: proxy.url,
    project: "OPS",
    issue_type: "Incident",
    key_label: true,
    search_retries: 5,
    search_retry_delay: 100,
    timeout: 1000,
    token: fake.token,
    ...(api === "cloud" ? { email: fake.email } : {}),
    ...overrides,
  };
}

/** The agent's own names for alertdesk's statuses and resolutions in the fake's workflow. */
const STATUS_NAME: Record<"active" | "pending" | "solved", FakeJiraStatus> = { active: "In Progress", pending: "Waiting for customer", solved: "Done" };
const RESOLUTION_NAME: Record<Resolution, string> = { fixed: "Done", wont_fix: "Won't Do", duplicate: "Duplicate", cannot_reproduce: "Cannot Reproduce" };

function agentOf(fake: FakeJira): AgentHarness {
  return {
    author: fake.users.agent.displayName,
    assignee: fake.users.agent.displayName,
    comment: (ref, text, isPublic) => fake.agent.comment(ref.id, text, { internal: !isPublic }),
    assign: (ref) => fake.agent.assign(ref.id),
    setStatus: (ref, status, resolution) => fake.agent.transition(ref.id, STATUS_NAME[status], resolution ? RESOLUTION_NAME[resolution] : undefined),
  };
}

for (const api of ["cloud", "datacenter"] as const) {
  describeDriverContract(`jira ${api} (fake)`, async () => {
    const { fake, proxy, driver } = await harness(api);
    return {
      driver,
      proxy,
      secrets: [fake.token, ...(api === "cloud" ? [Buffer.from(`${fake.email}:${fake.token}`).toString("base64")] : [])],
      missingId: "OPS-99999",
      agent: agentOf(fake),
      async inspect(ref) {
        const i = fake.issues.find((x) => x.key === ref.id);
        if (!i) throw new Error(`no issue ${ref.id}`);
        return { status: i.status === "Done" ? "solved" : "open", updates: i.comments.length };
      },
      async countByKey(key) {
        return fake.issues.filter((i) => i.labels.includes(key)).length;
      },
      async stop() {
        await proxy.close();
        await fake.stop();
      },
    };
  });
}

const ctx = (key: string) => ({ idempotencyKey: `${key}/1`, attempt: 1, ticketKey: key });
const para = (text: string) => [{ kind: "paragraph" as const, text }];
const syncOf = (driver: HelpdeskDriver): HelpdeskSync => {
  if (!driver.sync) throw new Error("the jira driver has no sync");
  return driver.sync;
};
async function openOne(driver: HelpdeskDriver): Promise<TicketRef> {
  const t = openTicket();
  return driver.open(t, ctx(t.ticketKey));
}
/** Every page of a poll from `cursor`, until Jira has no more. */
async function pollAll(sync: HelpdeskSync, cursor: string | undefined, since: Date) {
  const pages: { tickets: string[]; more: boolean }[] = [];
  const events = new Map<string, ObservedEvent[]>();
  let at = cursor;
  for (let n = 0; n < 100; n++) {
    const got = await sync.poll(at, since);
    pages.push({ tickets: got.activity.map((a) => a.ticketId), more: got.more === true });
    for (const a of got.activity) events.set(a.ticketId, [...(events.get(a.ticketId) ?? []), ...a.events]);
    at = got.cursor;
    if (!got.more) break;
  }
  return { pages, events, cursor: at as string };
}

describe("jira specifics", () => {
  let cloud: Awaited<ReturnType<typeof harness>>;
  let dc: Awaited<ReturnType<typeof harness>>;
  let fake: FakeJira;
  beforeAll(async () => {
    cloud = await harness("cloud");
    dc = await harness("datacenter");
    fake = cloud.fake;
  });
  afterAll(async () => {
    for (const h of [cloud, dc]) {
      await h?.proxy.close();
      await h?.fake.stop();
    }
  });

  it("Cloud: ADF description whose text nodes carry the values as they are; labels without spaces; priority by name", async () => {
    const t = openTicket({ priority: "P1", tags: ["team infra"] });
    const ref = await cloud.driver.open(t, ctx(t.ticketKey));
    const issue = fake.issues.find((i) => i.key === ref.id);
    expect(issue).toMatchObject({ priority: "Highest", labels: ["alertdesk", t.ticketKey, "team_infra"] });
    expect(JSON.stringify(issue?.description)).toContain('"text":"CPU <script>alert(1)</script> at 93 % ^ ORDER BY | [link|http://x] *bold*"');
    expect(ref.url).toBe(`${cloud.proxy.url}/browse/${ref.id}`);
  });

  it("Data Center: wiki markup with every markup character escaped", async () => {
    const t = openTicket();
    const ref = await dc.driver.open(t, ctx(t.ticketKey));
    const issue = dc.fake.issues.find((i) => i.key === ref.id);
    expect(issue?.description).toContain("CPU <script>alert(1)</script> at 93 % \\^ ORDER BY \\| \\[link\\|http://x\\] \\*bold\\*");
    expect(issue?.description).toContain("h3. What is happening");
  });

  it("never lowers a priority a human raised", async () => {
    const t = openTicket({ priority: "P3" });
    const ref = await cloud.driver.open(t, ctx(t.ticketKey));
    const issue = fake.issues.find((i) => i.key === ref.id);
    if (issue) issue.priority = "Highest"; // a human raised it
    await cloud.driver.comment(ref, { op: "comment", body: [{ kind: "paragraph", text: "raise" }], priority: "P2" }, ctx(t.ticketKey));
    expect(issue?.priority).toBe("Highest");
    if (issue) issue.priority = "Low";
    await cloud.driver.comment(ref, { op: "comment", body: [{ kind: "paragraph", text: "raise" }], priority: "P2" }, ctx(t.ticketKey));
    expect(issue?.priority).toBe("High");
  });

  it("a lookup right after a create asks the eventually consistent search again until the issue shows", async () => {
    const t = openTicket();
    await cloud.driver.open(t, ctx(t.ticketKey));
    const before = fake.searches.length;
    expect(await cloud.driver.findByKey(t.ticketKey)).toBeDefined();
    const asked = fake.searches.slice(before).filter((s) => s.jql.includes(t.ticketKey));
    expect(asked.length).toBeGreaterThan(1);
    expect(asked.at(-1)?.returned).toHaveLength(1);
  });

  describe("the way back", () => {
    // A driver that knows a site-specific resolution name, and a status the site uses for "on hold".
    let mapped: HelpdeskDriver;
    beforeAll(() => {
      mapped = createJiraDriver(
        "ops-jira-mapped",
        config("cloud", fake, cloud.proxy, {
          resolutions: { Declined: "wont_fix" },
          status_map: { "In Progress": "active", "Waiting for customer": "pending" },
        }),
      );
    });

    const statusTable: [string, { to: FakeJiraStatus; resolution?: string }[], { status: string; resolution?: Resolution }][] = [
      ["In Progress (indeterminate) → active", [{ to: "In Progress" }], { status: "active" }],
      ["Waiting for customer (a pending name) → pending", [{ to: "Waiting for customer" }], { status: "pending" }],
      ["Done without a resolution on the screen (the post-function's Done) → solved, fixed", [{ to: "Done" }], { status: "solved", resolution: "fixed" }],
      ["Done, Won't Do → solved, wont_fix", [{ to: "Done", resolution: "Won't Do" }], { status: "solved", resolution: "wont_fix" }],
      ["Done, Duplicate → solved, duplicate", [{ to: "Done", resolution: "Duplicate" }], { status: "solved", resolution: "duplicate" }],
      [
        "Done, Cannot Reproduce → solved, cannot_reproduce",
        [{ to: "Done", resolution: "Cannot Reproduce" }],
        { status: "solved", resolution: "cannot_reproduce" },
      ],
      ["Done, Declined (configured) → solved, wont_fix", [{ to: "Done", resolution: "Declined" }], { status: "solved", resolution: "wont_fix" }],
      ["Done, Obsolete (mapped by nobody) → solved, fixed", [{ to: "Done", resolution: "Obsolete" }], { status: "solved", resolution: "fixed" }],
      ["back to To Do (new) → new", [{ to: "In Progress" }, { to: "To Do" }], { status: "new" }],
      ["reopened from Done → active, no resolution", [{ to: "Done", resolution: "Duplicate" }, { to: "In Progress" }], { status: "active" }],
    ];
    it.each(statusTable)("status category and resolution: %s", async (_why, steps, expected) => {
      const ref = await openOne(mapped);
      for (const s of steps) await fake.agent.transition(ref.id, s.to, s.resolution);
      const changes = (await syncOf(mapped).readTicket(ref)).filter((e) => e.event.kind === "status_changed");
      expect(changes).toHaveLength(steps.length);
      expect(changes.at(-1)?.event).toEqual({ kind: "status_changed", at: expect.any(String), author: "Ada Agent", ...expected });
    });

    it("reports assignment, priority and comments with Jira's ids, and none of alertdesk's own writes (echo suppression)", async () => {
      const sync = syncOf(cloud.driver);
      const t = openTicket({ priority: "P3" });
      const ref = await cloud.driver.open(t, ctx(t.ticketKey));
      // alertdesk's own: a comment, a raised priority, a solve and a reopen (all in Jira's changelog).
      await cloud.driver.comment(ref, { op: "comment", body: para("2 alerts joined"), priority: "P2" }, ctx(t.ticketKey));
      await cloud.driver.resolve(ref, { op: "resolve", body: para("Resolved"), solve: true }, ctx(t.ticketKey));
      await cloud.driver.reopen(ref, { op: "reopen", body: para("Fired again"), priority: "P2" }, ctx(t.ticketKey));
      const issue = fake.issues.find((i) => i.key === ref.id);
      expect(issue?.changelog.filter((h) => h.author === fake.users.bot).length).toBeGreaterThanOrEqual(3);
      expect(await sync.readTicket(ref)).toEqual([]);

      await fake.agent.assign(ref.id);
      await fake.agent.setPriority(ref.id, "Highest");
      await fake.agent.comment(ref.id, "On it", { internal: false });
      await fake.agent.assign(ref.id, null);
      const events = await sync.readTicket(ref);
      expect(events.map((e) => e.event)).toEqual([
        { kind: "assigned", at: expect.any(String), author: "Ada Agent", assignee: "Ada Agent" },
        { kind: "priority_changed", at: expect.any(String), author: "Ada Agent", priority: "P1" },
        { kind: "commented", at: expect.any(String), author: "Ada Agent", public: true, text: "On it" },
        { kind: "assigned", at: expect.any(String), author: "Ada Agent", assignee: null },
      ]);
      const histories = issue?.changelog.filter((h) => h.author === fake.users.agent) ?? [];
      const comment = issue?.comments.find((c) => c.author === fake.users.agent);
      expect(events.map((e) => e.id)).toEqual([
        `changelog:${histories[0]?.id}:0`,
        `changelog:${histories[1]?.id}:0`,
        `comment:${comment?.id}`,
        `changelog:${histories[2]?.id}:0`,
      ]);
    });

    it("an internal comment on Data Center (only the sd.public.comment property tells) is not public", async () => {
      const ref = await openOne(dc.driver);
      await dc.fake.agent.comment(ref.id, "internal note", { internal: true });
      await dc.fake.agent.comment(ref.id, "reply to the customer", { internal: false });
      const events = await syncOf(dc.driver).readTicket(ref);
      expect(events.map((e) => e.event)).toMatchObject([
        { kind: "commented", public: false, text: "internal note", author: "Ada Agent" },
        { kind: "commented", public: true, text: "reply to the customer", author: "Ada Agent" },
      ]);
    });

    it("reads a Cloud changelog and comments across pages", async () => {
      const paged = await harness("cloud", { consistencyDelayMs: 0, pageCap: 2 });
      try {
        const ref = await openOne(paged.driver);
        for (const to of ["In Progress", "Waiting for customer", "In Progress", "Done"] as const) await paged.fake.agent.transition(ref.id, to);
        for (const n of [1, 2, 3]) await paged.fake.agent.comment(ref.id, `note ${n}`);
        const events = await syncOf(paged.driver).readTicket(ref);
        expect(events.filter((e) => e.event.kind === "status_changed")).toHaveLength(4);
        expect(events.filter((e) => e.event.kind === "commented").map((e) => (e.event.kind === "commented" ? e.event.text : ""))).toEqual([
          "note 1",
          "note 2",
          "note 3",
        ]);
      } finally {
        await paged.proxy.close();
        await paged.fake.stop();
      }
    });

    it("Cloud poll: pages through nextPageToken, then its cursor continues with what agents do next", async () => {
      const paged = await harness("cloud", { consistencyDelayMs: 0, pageCap: 2 });
      try {
        const sync = syncOf(paged.driver);
        const since = new Date(Date.now() - 60_000);
        const refs: TicketRef[] = [];
        for (let n = 0; n < 5; n++) refs.push(await openOne(paged.driver));
        for (const r of refs) await paged.fake.agent.comment(r.id, `looked at ${r.id}`);
        const first = await pollAll(sync, undefined, since);
        expect(first.pages.map((p) => p.more)).toEqual([true, true, false]);
        expect([...first.events.keys()].sort()).toEqual(refs.map((r) => r.id).sort());
        const asked = paged.fake.searches;
        expect(asked.map((s) => s.nextPageToken === undefined)).toEqual([true, false, false]);
        expect(new Set(asked.map((s) => s.jql)).size).toBe(1); // every page of a round runs the same query
        expect(asked[0]).toMatchObject({ method: "POST", path: "/rest/api/3/search/jql" });
        expect(asked[0]?.jql).toMatch(/^project = "OPS" AND labels = "alertdesk" AND updated >= "\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}" ORDER BY updated ASC$/);

        await paged.fake.agent.comment(refs[2]?.id as string, "second look");
        const second = await pollAll(sync, first.cursor, since);
        const seen = new Set([...first.events.values()].flat().map((e) => e.id));
        const fresh = [...second.events.values()].flat().filter((e) => !seen.has(e.id));
        expect(fresh.map((e) => e.event)).toMatchObject([{ kind: "commented", text: "second look" }]);
        expect(second.events.get(refs[2]?.id as string)?.some((e) => !seen.has(e.id))).toBe(true);
      } finally {
        await paged.proxy.close();
        await paged.fake.stop();
      }
    });

    it("Cloud poll: an issue alertdesk just created is found before the search index has it (reconcileIssues), and a deleted one does not spoil the search", async () => {
      const lagging = await harness("cloud", { consistencyDelayMs: 60 * 60_000 });
      try {
        const sync = syncOf(lagging.driver);
        const ref = await openOne(lagging.driver);
        const gone = await openOne(lagging.driver);
        await lagging.fake.agent.comment(ref.id, "first look");
        const first = await pollAll(sync, undefined, new Date(Date.now() - 60_000));
        expect([...first.events.keys()]).toEqual([ref.id]);
        expect(lagging.fake.searches[0]?.reconcileIssues?.map(String).sort()).toEqual(lagging.fake.issues.map((i) => i.id).sort());
        // An agent deletes an issue alertdesk created: Jira refuses a reconcileIssues naming it.
        lagging.fake.issues.splice(
          lagging.fake.issues.findIndex((i) => i.key === gone.id),
          1,
        );
        await expect(sync.poll(first.cursor, new Date())).resolves.toMatchObject({ cursor: expect.any(String) });
      } finally {
        await lagging.proxy.close();
        await lagging.fake.stop();
      }
    });

    it("Data Center poll: GET /rest/api/2/search with startAt, the JQL date in the account's time zone", async () => {
      const paged = await harness("datacenter", { pageCap: 2, timeZone: "America/New_York" });
      try {
        const sync = syncOf(paged.driver);
        const refs: TicketRef[] = [];
        for (let n = 0; n < 3; n++) refs.push(await openOne(paged.driver));
        for (const r of refs) await paged.fake.agent.transition(r.id, "In Progress");
        const since = new Date(Date.now() - 60_000);
        const got = await pollAll(sync, undefined, since);
        expect(got.pages.map((p) => p.more)).toEqual([true, false]);
        expect([...got.events.keys()].sort()).toEqual(refs.map((r) => r.id).sort());
        expect(paged.fake.searches.map((s) => [s.method, s.path, s.startAt])).toEqual([
          ["GET", "/rest/api/2/search", 0],
          ["GET", "/rest/api/2/search", 2],
        ]);
        // New York is behind UTC: a date written in UTC would lie in the future there and find nothing.
        const window = /updated >= "([^"]+)"/.exec(paged.fake.searches[0]?.jql ?? "")?.[1];
        expect(window).toBe(jqlTime(new Date(since.getTime() - 2 * 60_000), "America/New_York"));
      } finally {
        await paged.proxy.close();
        await paged.fake.stop();
      }
    });

    it("a cursor that is not the driver's starts again from `since`", async () => {
      const sync = syncOf(dc.driver);
      const ref = await openOne(dc.driver);
      await dc.fake.agent.comment(ref.id, "look");
      const got = await pollAll(sync, "not-a-cursor", new Date(Date.now() - 60_000));
      expect(got.events.get(ref.id)?.map((e) => e.event.kind)).toEqual(["commented"]);
    });

    describe("doorbell", () => {
      const secret = "jira-webhook-secret-7e6d";
      let signed: HelpdeskSync;
      let unsigned: HelpdeskSync;
      beforeAll(() => {
        signed = syncOf(createJiraDriver("ops-jira-hooks", config("cloud", fake, cloud.proxy, { webhook_secret: secret })));
        unsigned = syncOf(cloud.driver);
      });
      const body = (issue: unknown) =>
        Buffer.from(JSON.stringify({ timestamp: 1_767_225_600_000, webhookEvent: "jira:issue_updated", issue_event_type_name: "issue_commented", issue }));
      const sign = (raw: Buffer, key = secret) => `sha256=${hmacSha256(key, raw, "hex")}`;
      const now = new Date();

      it("a signed delivery names its issue, by key, with Jira's delivery id", () => {
        const raw = body({ id: "10007", key: "OPS-7", fields: { summary: "x" } });
        expect(signed.doorbell?.({ headers: { "x-hub-signature": sign(raw), "x-atlassian-webhook-identifier": "1234-5678" }, rawBody: raw }, now)).toEqual({
          deliveryId: "1234-5678",
          ticketIds: ["OPS-7"],
        });
      });

      const accepted: [string, unknown, (raw: Buffer) => Record<string, string>, string[]][] = [
        [
          "header names in any case, upper-case hex",
          { key: "OPS-8" },
          (raw) => ({ "X-Hub-Signature": `sha256=${hmacSha256(secret, raw, "hex").toUpperCase()}` }),
          ["OPS-8"],
        ],
        ["only the issue id", { id: 10009 }, (raw) => ({ "x-hub-signature": sign(raw) }), ["10009"]],
        ["no issue (a project event): nothing to read", undefined, (raw) => ({ "x-hub-signature": sign(raw) }), []],
        ["an issue key that is no key", { key: "drop table" }, (raw) => ({ "x-hub-signature": sign(raw) }), []],
      ];
      it.each(accepted)("signed: %s", (_why, issue, headers, ticketIds) => {
        const raw = body(issue);
        const bell = signed.doorbell?.({ headers: headers(raw), rawBody: raw }, now);
        // Without Jira's delivery id, the digest of the body: the same delivery is stored once.
        expect(bell).toEqual({ deliveryId: createHash("sha256").update(raw).digest("hex"), ticketIds });
      });

      const rejected: [string, () => { sync: HelpdeskSync; headers: Record<string, string | undefined> }][] = [
        ["forged (signed with another secret)", () => ({ sync: signed, headers: { "x-hub-signature": sign(body({ key: "OPS-1" }), "guessed") } })],
        ["signed for another body", () => ({ sync: signed, headers: { "x-hub-signature": sign(body({ key: "OPS-2" })) } })],
        ["missing", () => ({ sync: signed, headers: {} })],
        ["empty", () => ({ sync: signed, headers: { "x-hub-signature": "" } })],
        [
          "not sha256",
          () => ({
            sync: signed,
            headers: {
              "x-hub-signature": `sha1=${createHash("sha1")
                .update(body({ key: "OPS-1" }))
                .digest("hex")}`,
            },
          }),
        ],
        ["bare hex without sha256=", () => ({ sync: signed, headers: { "x-hub-signature": hmacSha256(secret, body({ key: "OPS-1" }), "hex") } })],
        ["no webhook_secret configured", () => ({ sync: unsigned, headers: { "x-hub-signature": sign(body({ key: "OPS-1" })) } })],
      ];
      it.each(rejected)("rejected: %s", (_why, make) => {
        const { sync, headers } = make();
        let error: unknown;
        try {
          sync.doorbell?.({ headers, rawBody: body({ key: "OPS-1" }) }, now);
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(DoorbellRejected);
        expect((error as Error).message).not.toContain(secret);
      });

      it("reads webhook_secret_file", () => {
        const dir = mkdtempSync(join(tmpdir(), "alertdesk-jira-"));
        try {
          const file = join(dir, "secret");
          writeFileSync(file, `${secret}\n`);
          const fromFile = syncOf(createJiraDriver("ops-jira-file", config("cloud", fake, cloud.proxy, { webhook_secret_file: file })));
          const raw = body({ key: "OPS-3" });
          expect(fromFile.doorbell?.({ headers: { "x-hub-signature": sign(raw) }, rawBody: raw }, now)?.ticketIds).toEqual(["OPS-3"]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });

    it("poll_interval sets how often the sync polls (default a minute)", () => {
      expect(syncOf(cloud.driver).pollIntervalMs).toBe(60_000);
      const parsed = jiraConfigSchema.parse({ ...config("cloud", fake, cloud.proxy), search_retry_delay: "100ms", timeout: "1s", poll_interval: "30s" });
      const every = createJiraDriver("ops-jira-30s", parsed);
      expect(syncOf(every).pollIntervalMs).toBe(30_000);
    });
  });
});

describe("jira way-back helpers", () => {
  const times: [string, string, string][] = [
    ["2026-05-01T10:04:59.999Z", "UTC", "2026/05/01 10:04"],
    ["2026-05-01T10:04:00.000Z", "America/New_York", "2026/05/01 06:04"],
    ["2026-01-15T23:30:00.000Z", "Asia/Kolkata", "2026/01/16 05:00"],
    ["2026-05-01T10:04:00.000Z", "Not/AZone", "2026/04/30 20:04"], // unknown: UTC minus the widest offset
  ];
  it.each(times)("jqlTime(%s, %s) = %s", (at, zone, expected) => {
    expect(jqlTime(new Date(at), zone)).toBe(expected);
  });

  it("parses Jira's timestamps (offset without a colon)", () => {
    expect(new Date(parseJiraTime("2026-05-01T10:04:05.123+0000")).toISOString()).toBe("2026-05-01T10:04:05.123Z");
    expect(new Date(parseJiraTime("2026-05-01T12:04:05.123+0200")).toISOString()).toBe("2026-05-01T10:04:05.123Z");
  });

  const publicity: [string, Parameters<typeof isPublicComment>[0], boolean][] = [
    ["plain Jira (no Service Management)", {}, true],
    ["jsdPublic true", { jsdPublic: true }, true],
    ["jsdPublic false", { jsdPublic: false }, false],
    ["sd.public.comment internal", { properties: [{ key: "sd.public.comment", value: { internal: true } }] }, false],
    ["other properties only", { properties: [{ key: "x", value: { internal: true } }] }, true],
    ["restricted to a role", { visibility: { type: "role", value: "Developers" } }, false],
  ];
  it.each(publicity)("comment visibility: %s", (_why, comment, expected) => {
    expect(isPublicComment(comment)).toBe(expected);
  });

  it("plain text of ADF and of wiki markup", () => {
    const adf = {
      type: "doc",
      version: 1,
      content: [
        { type: "paragraph", content: [{ type: "text", text: "Looking" }, { type: "hardBreak" }, { type: "text", text: "into it" }] },
        { type: "paragraph", content: [{ type: "text", text: "now" }] },
      ],
    };
    expect(plainText(adf)).toBe("Looking\ninto it\nnow");
    expect(plainText("h3. wiki")).toBe("h3. wiki");
  });
});
