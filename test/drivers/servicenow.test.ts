import { createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServicenowDriver, servicenowConfigSchema } from "../../src/drivers/servicenow/driver.js";
import type { HelpdeskDriver, HelpdeskSync } from "../../src/drivers/types.js";
import { DeliveryError } from "../../src/model/delivery-error.js";
import { DoorbellRejected, type DoorbellRequest, type HelpdeskEvent, type ObservedEvent, type Resolution } from "../../src/model/helpdesk-event.js";
import type { TicketRef } from "../../src/model/incident.js";
import { startFaultProxy, status } from "../fakes/fault-proxy.js";
import { type FakeServicenow, type FakeServicenowOptions, startFakeServicenow } from "../fakes/servicenow.js";
import { type AgentHarness, describeDriverContract, openTicket } from "./contract.js";

const SECRET = "sn-doorbell-secret-4c1f9e";

/** The resolution codes an agent picks for each outcome (the older base-system choice list). */
const CLOSE_CODE: Record<Resolution, string> = {
  fixed: "Solved (Permanently)",
  wont_fix: "Not Solved (Too Costly)",
  duplicate: "Duplicate",
  cannot_reproduce: "Not Solved (Not Reproducible)",
};

async function harness(options: FakeServicenowOptions & { pollPageSize?: number; config?: Record<string, unknown> } = {}) {
  const fake = await startFakeServicenow(options);
  const proxy = await startFaultProxy(fake.url);
  const config = servicenowConfigSchema.parse({
    type: "servicenow",
    url: proxy.url,
    username: fake.username,
    password: fake.password,
    table: "incident",
    close_code: "Solution provided",
    timeout: "1s",
    webhook_secret: SECRET,
    resolutions: { "Known error": "wont_fix" },
    ...options.config,
  });
  const driver = createServicenowDriver("itsm", config, options.pollPageSize ? { pollPageSize: options.pollPageSize } : {});
  const stop = async () => {
    await proxy.close();
    await fake.stop();
  };
  return { fake, proxy, driver, sync: syncOf(driver), stop };
}

function syncOf(driver: HelpdeskDriver): HelpdeskSync {
  if (!driver.sync) throw new Error("the servicenow driver has no sync");
  return driver.sync;
}

/** The service desk agent of the fake, acting on incidents as ServiceNow's form would. */
function agentOf(fake: FakeServicenow): AgentHarness {
  const who = fake.agent.user_name;
  return {
    author: who,
    assignee: who,
    async comment(ref, text, isPublic) {
      fake.act(who, ref.id, isPublic ? { comments: text } : { work_notes: text });
    },
    async assign(ref) {
      fake.act(who, ref.id, { assigned_to: fake.agent.sys_id });
    },
    async setStatus(ref, status, resolution) {
      if (status === "active") fake.act(who, ref.id, { state: "2" });
      else if (status === "pending") fake.act(who, ref.id, { state: "3", hold_reason: "1" });
      else fake.act(who, ref.id, { state: "6", close_code: CLOSE_CODE[resolution ?? "fixed"], close_notes: "Fixed by the service desk" });
    },
  };
}

describeDriverContract("servicenow (fake)", async () => {
  const { fake, proxy, driver, stop } = await harness();
  return {
    driver,
    proxy,
    secrets: [fake.password, Buffer.from(`${fake.username}:${fake.password}`).toString("base64")],
    missingId: "0123456789abcdef0123456789abcdef",
    agent: agentOf(fake),
    async inspect(ref) {
      const i = fake.incidents.find((x) => x.sys_id === ref.id);
      if (!i) throw new Error(`no incident ${ref.id}`);
      const status = i.state === "6" ? "solved" : ["1", "2", "3"].includes(i.state) ? "open" : "other";
      return { status, updates: i.work_notes.length };
    },
    async countByKey(key) {
      return fake.incidents.filter((i) => i.correlation_id === key).length;
    },
    stop,
  };
});

const ctx = (key: string) => ({ idempotencyKey: `${key}/1`, attempt: 1, ticketKey: key });
const para = (text: string) => [{ kind: "paragraph" as const, text }];
const events = <K extends HelpdeskEvent["kind"]>(observed: ObservedEvent[], kind: K) =>
  observed.map((e) => e.event).filter((e): e is Extract<HelpdeskEvent, { kind: K }> => e.kind === kind);

/** A doorbell as the business rule in docs/helpdesks/servicenow.md sends it: base64(HMAC-SHA256(secret, "<ts>.<body>")). */
function ring(body: string, timestampSeconds: number, options: { secret?: string; headers?: Record<string, string>; signed?: string } = {}): DoorbellRequest {
  const mac = createHmac("sha256", options.secret ?? SECRET)
    .update(options.signed ?? `${timestampSeconds}.${body}`)
    .digest("base64");
  return {
    headers: { "x-alertdesk-signature": `sha256=${mac}`, "x-alertdesk-timestamp": String(timestampSeconds), ...options.headers },
    rawBody: Buffer.from(body),
  };
}

describe("servicenow specifics", () => {
  // A clock of the instance's own, moved on by hand: each step its own second, so order is certain.
  let clock = Date.parse("2026-03-02T10:00:00Z");
  const tick = (ms = 1000) => {
    clock += ms;
  };
  let h: Awaited<ReturnType<typeof harness>>;
  let fake: FakeServicenow;
  let agent: string;
  beforeAll(async () => {
    h = await harness({ now: () => clock });
    fake = h.fake;
    agent = fake.agent.user_name;
  });
  afterAll(async () => {
    await h.stop();
  });
  const open = async (overrides: Parameters<typeof openTicket>[0] = {}): Promise<TicketRef> => {
    const t = openTicket(overrides);
    tick();
    return h.driver.open(t, ctx(t.ticketKey));
  };
  const act = (ref: TicketRef, changes: Record<string, string>, by = agent) => {
    tick();
    fake.act(by, ref.id, changes);
  };

  it.each([
    ["P1 → impact 1 × urgency 1 → priority 1", "P1", undefined, undefined, "1", "1", "1"],
    ["P2 → 1 × 2 → 2", "P2", undefined, undefined, "1", "2", "2"],
    ["P3 → 2 × 2 → 3", "P3", undefined, undefined, "2", "2", "3"],
    ["P4 → 2 × 3 → 4", "P4", undefined, undefined, "2", "3", "4"],
    ["matrix levels go as they are: low × high → 3", "P3", "low", "high", "3", "1", "3"],
  ] as const)("sends impact and urgency, never priority: %s", async (_why, priority, impact, urgency, i, u, p) => {
    const t = openTicket({ priority, ...(impact ? { impact } : {}), ...(urgency ? { urgency } : {}) });
    const ref = await h.driver.open(t, ctx(t.ticketKey));
    expect(fake.incidents.find((x) => x.sys_id === ref.id)).toMatchObject({
      impact: i,
      urgency: u,
      priority: p,
      correlation_id: t.ticketKey,
      correlation_display: "alertdesk",
    });
  });

  it("resolves with close_code and close_notes; a closed incident's re-fire opens a child incident with the same correlation id", async () => {
    const t = openTicket();
    const ref = await h.driver.open(t, ctx(t.ticketKey));
    await h.driver.resolve(ref, { op: "resolve", body: para("Resolved after 5m"), solve: true }, ctx(t.ticketKey));
    expect(fake.incidents.find((x) => x.sys_id === ref.id)).toMatchObject({ state: "6", close_code: "Solution provided", close_notes: "Resolved after 5m" });
    fake.close(ref.id);
    const child = await h.driver.reopen(ref, { op: "reopen", body: para("again"), priority: "P2" }, ctx(t.ticketKey));
    expect(child.id).not.toBe(ref.id);
    expect(fake.incidents.find((x) => x.sys_id === child.id)).toMatchObject({ parent_incident: ref.id, correlation_id: t.ticketKey, state: "1" });
    expect((await h.driver.findByKey(t.ticketKey))?.id).toBe(child.id);
    await expect(h.driver.comment(ref, { op: "comment", body: [] }, ctx(t.ticketKey))).rejects.toMatchObject({ retryable: false, reason: "gone" });
  });

  it("never lets a ^ into an encoded query", async () => {
    await expect(h.driver.findByKey("ad-1^ORcorrelation_idISNOTEMPTY")).rejects.toMatchObject({ retryable: false, reason: "client" });
  });

  describe("the way back", () => {
    const resolving = (code: string) => ({ state: "6", close_code: code, close_notes: "Done" });
    it.each<[string, Record<string, string>[], { status: string; resolution?: string } | undefined]>([
      ["1 New → new", [{ state: "2" }, { state: "1" }], { status: "new" }],
      ["2 In Progress → active", [{ state: "2" }], { status: "active" }],
      ["3 On Hold → pending", [{ state: "3", hold_reason: "1" }], { status: "pending" }],
      ["6 Resolved, Solved (Permanently) → solved, fixed", [resolving("Solved (Permanently)")], { status: "solved", resolution: "fixed" }],
      ["6 Resolved, Solved (Work Around) → fixed", [resolving("Solved (Work Around)")], { status: "solved", resolution: "fixed" }],
      ["6 Resolved, Solved Remotely (Permanently) → fixed", [resolving("Solved Remotely (Permanently)")], { status: "solved", resolution: "fixed" }],
      ["6 Resolved, Solution provided → fixed", [resolving("Solution provided")], { status: "solved", resolution: "fixed" }],
      [
        "6 Resolved, Not Solved (Not Reproducible) → cannot_reproduce",
        [resolving("Not Solved (Not Reproducible)")],
        { status: "solved", resolution: "cannot_reproduce" },
      ],
      ["6 Resolved, Not Solved (Too Costly) → wont_fix", [resolving("Not Solved (Too Costly)")], { status: "solved", resolution: "wont_fix" }],
      ["6 Resolved, names match in any case", [resolving("not solved (too costly)")], { status: "solved", resolution: "wont_fix" }],
      ["6 Resolved, Duplicate → duplicate", [resolving("Duplicate")], { status: "solved", resolution: "duplicate" }],
      ["6 Resolved, No resolution provided → wont_fix", [resolving("No resolution provided")], { status: "solved", resolution: "wont_fix" }],
      ["6 Resolved, the config's resolutions come first (Known error → wont_fix)", [resolving("Known error")], { status: "solved", resolution: "wont_fix" }],
      ["6 Resolved, a code nobody mapped → fixed", [resolving("Fixed by the moon")], { status: "solved", resolution: "fixed" }],
      ["7 Closed → closed, with the code it was resolved with", [resolving("Duplicate"), { state: "7" }], { status: "closed", resolution: "duplicate" }],
      ["8 Canceled → cancelled, no resolution", [{ state: "8" }], { status: "cancelled" }],
      ["a state of the instance's own is not reported", [{ state: "42" }], undefined],
    ])("state and close_code: %s", async (_why, changes, expected) => {
      const ref = await open();
      for (const c of changes) act(ref, c);
      const statuses = events(await h.sync.readTicket(ref), "status_changed");
      if (expected === undefined) expect(statuses).toEqual([]);
      else {
        expect(statuses).toHaveLength(changes.length);
        const last = statuses.at(-1);
        expect({ status: last?.status, resolution: last?.resolution }).toEqual({ resolution: undefined, ...expected });
        expect(last?.author).toBe(agent);
      }
    });

    it.each([
      ["1 × 1 → 1 Critical → P1", "P2", "1", "1", "P1"],
      ["2 × 1 → 2 High → P2", "P4", "2", "1", "P2"],
      ["2 × 2 → 3 Moderate → P3", "P2", "2", "2", "P3"],
      ["3 × 2 → 4 Low → P4", "P2", "3", "2", "P4"],
      ["3 × 3 → 5 Planning → P4", "P2", "3", "3", "P4"],
    ] as const)("priority read back as the driver writes it: %s", async (_why, opened, impact, urgency, priority) => {
      const ref = await open({ priority: opened });
      act(ref, { impact, urgency });
      expect(events(await h.sync.readTicket(ref), "priority_changed")).toEqual([{ kind: "priority_changed", at: expect.any(String), author: agent, priority }]);
    });

    it("assignments name the user (user_name); unassigning is null; a user ServiceNow no longer shows is their sys_id", async () => {
      const ref = await open();
      act(ref, { assigned_to: fake.agent.sys_id });
      act(ref, { assigned_to: "" });
      const gone = { sys_id: "feedfacefeedfacefeedfacefeedface", user_name: "left.company", name: "Left Company", password: "x-never-used-x" };
      fake.users.push(gone);
      act(ref, { assigned_to: gone.user_name });
      fake.users.splice(fake.users.indexOf(gone), 1);
      expect(events(await h.sync.readTicket(ref), "assigned").map((e) => e.assignee)).toEqual([agent, null, gone.sys_id]);
    });

    it("comments are public, work notes are not; times are ISO 8601 in UTC; ids are the journal's and audit's sys_ids", async () => {
      const ref = await open();
      act(ref, { comments: "We are on it" });
      act(ref, { work_notes: "Restarting the pool" });
      act(ref, { state: "2" });
      const got = await h.sync.readTicket(ref);
      expect(got.map((e) => e.event.kind)).toEqual(["commented", "commented", "status_changed"]);
      expect(events(got, "commented").map((c) => [c.public, c.text, c.author])).toEqual([
        [true, "We are on it", agent],
        [false, "Restarting the pool", agent],
      ]);
      const comment = fake.journal.find((j) => j.element_id === ref.id && j.value === "We are on it");
      expect(got[0]).toMatchObject({ id: `journal:${comment?.sys_id}`, event: { at: `${comment?.sys_created_on.replace(" ", "T")}Z` } });
      const state = fake.audits.find((a) => a.documentkey === ref.id && a.fieldname === "state" && a.newvalue === "2");
      expect(got[2]?.id).toBe(`audit:${state?.sys_id}`);
    });

    it("echo suppression: nothing alertdesk wrote is reported, though ServiceNow journals and audits all of it", async () => {
      const t = openTicket();
      tick();
      const ref = await h.driver.open(t, ctx(t.ticketKey));
      tick();
      await h.driver.comment(ref, { op: "comment", body: para("2 alerts joined"), priority: "P1" }, ctx(t.ticketKey));
      tick();
      await h.driver.resolve(ref, { op: "resolve", body: para("Resolved after 5m"), solve: true }, ctx(t.ticketKey));
      tick();
      await h.driver.reopen(ref, { op: "reopen", body: para("Fired again"), priority: "P2" }, ctx(t.ticketKey));
      const ownJournal = fake.journal.filter((j) => j.element_id === ref.id && j.sys_created_by === fake.username);
      const ownAudits = fake.audits.filter((a) => a.documentkey === ref.id && a.user === fake.username);
      expect(ownJournal.length).toBe(3);
      expect(ownAudits.map((a) => a.fieldname)).toEqual(expect.arrayContaining(["state", "priority", "close_code", "work_notes"]));
      expect(await h.sync.readTicket(ref)).toEqual([]);
      // alertdesk's own rows are left out in the query already, not fetched and dropped.
      const journalQuery = fake.requests.filter((r) => r.path === "/api/now/table/sys_journal_field").at(-1);
      expect(journalQuery?.query.sysparm_query).toContain(`^sys_created_by!=${fake.username}`);
      // The system's auto-close is not alertdesk's: it is reported, with the code alertdesk resolved with.
      tick();
      act(ref, { state: "6", close_code: "Solution provided", close_notes: "Resolved" }, fake.username);
      tick();
      fake.close(ref.id);
      expect((await h.sync.readTicket(ref)).map((e) => e.event)).toEqual([
        { kind: "status_changed", at: expect.any(String), author: "system", status: "closed", resolution: "fixed" },
      ]);
    });

    it("changes within one second come back in the order they happened, though ServiceNow sorts them by sys_id", async () => {
      // sys_ids that fall as time goes on: ORDERBYsys_id returns each second's rows newest first.
      let n = 0xffffff;
      const falling = await harness({ now: () => clock, sysId: () => (n--).toString(16).padStart(32, "0") });
      try {
        const t = openTicket();
        const ref = await falling.driver.open(t, ctx(t.ticketKey));
        falling.fake.act(agent, ref.id, { state: "2" });
        falling.fake.act(agent, ref.id, { state: "3", hold_reason: "1" });
        falling.fake.act(agent, ref.id, { state: "6", close_code: "Duplicate", close_notes: "Same as INC0010001" });
        const statuses = events(await falling.sync.readTicket(ref), "status_changed");
        expect(statuses.map((s) => [s.status, s.resolution])).toEqual([
          ["active", undefined],
          ["pending", undefined],
          ["solved", "duplicate"],
        ]);
      } finally {
        await falling.stop();
      }
    });

    it("a user name that cannot go into an encoded query is still suppressed, by the driver alone", async () => {
      const spaced = await harness({ username: "alertdesk integration", now: () => clock });
      try {
        const t = openTicket();
        const ref = await spaced.driver.open(t, ctx(t.ticketKey));
        await spaced.driver.comment(ref, { op: "comment", body: para("1 alert joined") }, ctx(t.ticketKey));
        spaced.fake.act(agent, ref.id, { work_notes: "Mine" });
        expect(events(await spaced.sync.readTicket(ref), "commented").map((c) => [c.author, c.text])).toEqual([[agent, "Mine"]]);
        const query = spaced.fake.requests.find((r) => r.path === "/api/now/table/sys_journal_field")?.query.sysparm_query;
        expect(query).not.toContain("sys_created_by!=");
      } finally {
        await spaced.stop();
      }
    });

    describe("doorbells", () => {
      const nowS = () => Math.floor(clock / 1000);
      const body = (sysId: string, number = "INC0010042") => JSON.stringify({ sys_id: sysId, number });

      it("a signed doorbell names the incident to read again; the delivery id is the rule's, or a digest of what was signed", async () => {
        const ref = await open();
        act(ref, { comments: "Any news?" });
        const incident = fake.incidents.find((i) => i.sys_id === ref.id);
        const doorbell = syncOf(h.driver).doorbell;
        if (!doorbell) throw new Error("no doorbell");
        const rung = doorbell(ring(body(ref.id), nowS(), { headers: { "x-alertdesk-delivery": `${ref.id}:${incident?.sys_mod_count}` } }), new Date(clock));
        expect(rung).toEqual({ deliveryId: `${ref.id}:${incident?.sys_mod_count}`, ticketIds: [ref.id] });
        expect(events(await h.sync.readTicket({ id: rung.ticketIds[0] as string }), "commented").map((c) => c.text)).toEqual(["Any news?"]);
        // Without the rule's delivery id: the same body rung twice, at different times, is two deliveries.
        const first = doorbell(ring(body(ref.id), nowS()), new Date(clock));
        const again = doorbell(ring(body(ref.id), nowS()), new Date(clock));
        const later = doorbell(ring(body(ref.id), nowS() + 1), new Date(clock));
        expect(first.deliveryId).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(again.deliveryId).toBe(first.deliveryId);
        expect(later.deliveryId).not.toBe(first.deliveryId);
        // Header names in any case; a timestamp just inside the window.
        const mixed = ring(body(ref.id), nowS() - 299);
        const headers = { "X-Alertdesk-Signature": mixed.headers["x-alertdesk-signature"], "X-Alertdesk-Timestamp": mixed.headers["x-alertdesk-timestamp"] };
        expect(doorbell({ headers, rawBody: mixed.rawBody }, new Date(clock)).ticketIds).toEqual([ref.id]);
      });

      const sysId = "0123456789abcdef0123456789abcdef";
      it.each<[string, () => DoorbellRequest]>([
        ["signed with another secret", () => ring(body(sysId), nowS(), { secret: "not-the-secret" })],
        ["no signature", () => ({ headers: { "x-alertdesk-timestamp": String(nowS()) }, rawBody: Buffer.from(body(sysId)) })],
        [
          "no timestamp",
          () => ({ headers: { "x-alertdesk-signature": ring(body(sysId), nowS()).headers["x-alertdesk-signature"] }, rawBody: Buffer.from(body(sysId)) }),
        ],
        ["a timestamp that is not Unix seconds", () => ring(body(sysId), nowS(), { headers: { "x-alertdesk-timestamp": "yesterday" } })],
        ["stale: six minutes old", () => ring(body(sysId), nowS() - 360)],
        ["from six minutes in the future", () => ring(body(sysId), nowS() + 360)],
        ["the body changed after signing", () => ({ ...ring(body(sysId), nowS()), rawBody: Buffer.from(body("fedcba9876543210fedcba9876543210")) })],
        ["signed without the timestamp", () => ring(body(sysId), nowS(), { signed: body(sysId) })],
        ["a hex signature (the rule sends base64)", () => ring(body(sysId), nowS(), { headers: { "x-alertdesk-signature": `sha256=${"0".repeat(64)}` } })],
        ["signed, but not the rule's body", () => ring(JSON.stringify({ sys_id: "INC0010042" }), nowS())],
        ["signed, but not JSON", () => ring("sys_id=0123456789abcdef0123456789abcdef", nowS())],
      ])("a doorbell is rejected: %s", (_why, request) => {
        const doorbell = syncOf(h.driver).doorbell;
        expect(() => doorbell?.(request(), new Date(clock))).toThrow(DoorbellRejected);
      });

      it("without webhook_secret every doorbell is rejected, even a well-signed one", async () => {
        const config = servicenowConfigSchema.parse({ type: "servicenow", url: fake.url, username: fake.username, password: fake.password });
        const bare = syncOf(createServicenowDriver("bare", config));
        expect(() => bare.doorbell?.(ring(body(sysId), nowS()), new Date(clock))).toThrow(/no webhook_secret/);
      });

      it("a rejection never names the secret", () => {
        try {
          syncOf(h.driver).doorbell?.(ring(body(sysId), nowS(), { secret: "wrong" }), new Date(clock));
        } catch (err) {
          expect(err).toBeInstanceOf(DoorbellRejected);
          expect(String((err as Error).message)).not.toContain(SECRET);
          return;
        }
        throw new Error("expected a rejection");
      });
    });
  });
});

describe("servicenow poll", () => {
  let clock = Date.parse("2026-05-11T08:00:00Z");
  let p: Awaited<ReturnType<typeof harness>>;
  beforeAll(async () => {
    p = await harness({ now: () => clock, pollPageSize: 2 });
  });
  afterAll(async () => {
    await p.stop();
  });

  async function pollAll(cursor: string | undefined, since: Date) {
    const pages: { tickets: string[]; more: boolean }[] = [];
    const seen: { ticketId: string; event: ObservedEvent }[] = [];
    let at = cursor;
    for (let i = 0; i < 50; i++) {
      const got = await p.sync.poll(at, since);
      pages.push({ tickets: got.activity.map((a) => a.ticketId), more: got.more === true });
      for (const a of got.activity) for (const e of a.events) seen.push({ ticketId: a.ticketId, event: e });
      at = got.cursor;
      if (!got.more) return { pages, seen, cursor: at };
    }
    throw new Error("the poll never caught up");
  }

  it("pages through changed incidents (a second with more than a page of them too), skips incidents alertdesk did not open, and its cursor continues", async () => {
    const since = new Date(clock - 60_000);
    const agent = p.fake.agent.user_name;
    const refs: TicketRef[] = [];
    for (let i = 0; i < 5; i++) {
      const t = openTicket();
      clock += 1000;
      refs.push(await p.driver.open(t, ctx(t.ticketKey)));
    }
    for (const ref of refs) {
      clock += 1000;
      p.fake.act(agent, ref.id, { work_notes: `note on ${ref.id}` });
    }
    // Three incidents changed within one second: more than a page.
    clock += 5000;
    for (let i = 0; i < 3; i++) {
      const t = openTicket();
      const ref = await p.driver.open(t, ctx(t.ticketKey));
      p.fake.act(agent, ref.id, { work_notes: `note on ${ref.id}` });
      refs.push(ref);
    }
    const foreign = p.fake.insert(agent, { short_description: "Printer on fire" });
    p.fake.act(agent, foreign.sys_id, { work_notes: "not alertdesk's" });

    const first = await pollAll(undefined, since);
    expect(first.pages.length).toBeGreaterThan(3);
    expect(first.pages.slice(0, -1).every((page) => page.more)).toBe(true);
    expect(first.pages.at(-1)?.more).toBe(false);
    const notes = new Map(first.seen.map((s) => [s.ticketId, s.event.event]));
    expect([...notes.keys()].sort()).toEqual(refs.map((r) => r.id).sort());
    for (const ref of refs) expect(notes.get(ref.id)).toMatchObject({ kind: "commented", text: `note on ${ref.id}`, public: false, author: agent });
    expect(notes.has(foreign.sys_id)).toBe(false);
    const polls = p.fake.requests.filter(
      (r) => r.path === "/api/now/table/incident" && r.method === "GET" && r.query.sysparm_query?.includes("sys_updated_on>="),
    );
    for (const r of polls) {
      expect(r.query.sysparm_query).toMatch(
        /^correlation_display=alertdesk\^sys_updated_on>=\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\^ORDERBYsys_updated_on\^ORDERBYsys_id$/,
      );
      expect(r.query).toMatchObject({ sysparm_limit: "2", sysparm_fields: "sys_id,sys_updated_on,close_code" });
    }
    expect(polls.some((r) => r.query.sysparm_offset === "2")).toBe(true);

    // Nothing new: the cursor stays where it is (the overlap is read again on the way).
    const idle = await pollAll(first.cursor, since);
    expect(idle.cursor).toBe(first.cursor);

    // Later, one more change: the cursor continues to it; anything else is the overlap, seen before.
    clock += 10 * 60_000;
    const target = refs[1] as TicketRef;
    p.fake.act(agent, target.id, { comments: "Back to you" });
    const second = await pollAll(first.cursor, since);
    const known = new Set(first.seen.map((s) => s.event.id));
    const fresh = second.seen.filter((s) => !known.has(s.event.id));
    expect(fresh.map((s) => [s.ticketId, s.event.event.kind, (s.event.event as { text?: string }).text])).toEqual([[target.id, "commented", "Back to you"]]);
    // And from there on, only what changed within the overlap of the newest change.
    const third = await pollAll(second.cursor, since);
    expect([...new Set(third.seen.map((s) => s.ticketId))]).toEqual([target.id]);
  });

  it("an answer not in the documented shape is a retryable server failure that keeps its cause", async () => {
    p.proxy.arm(status(200, { "Content-Type": "application/json" }, { result: [{ sys_id: "x", sys_updated_on: "yesterday" }] }));
    const err = await p.sync.poll(undefined, new Date(clock - 60_000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ retryable: true, reason: "server", message: expect.stringContaining("sys_updated_on") });
    expect((err as Error).cause).toBeDefined();
    p.proxy.disarm();
  });

  it("a cursor it cannot read starts from `since`, as no cursor does", async () => {
    const since = new Date(clock - 60_000);
    const got = await p.sync.poll("not a cursor", since);
    const fresh = await p.sync.poll(undefined, since);
    expect(got).toEqual(fresh);
  });

  it("poll_interval and the webhook secret file come from the config; the default interval is a minute", async () => {
    const dir = await mkdtemp(join(tmpdir(), "alertdesk-sn-"));
    try {
      const file = join(dir, "secret");
      await writeFile(file, `${SECRET}\n`);
      const base = { type: "servicenow", url: p.fake.url, username: p.fake.username, password: p.fake.password };
      const configured = syncOf(createServicenowDriver("a", servicenowConfigSchema.parse({ ...base, poll_interval: "30s", webhook_secret_file: file })));
      expect(configured.pollIntervalMs).toBe(30_000);
      expect(
        configured.doorbell?.(ring(JSON.stringify({ sys_id: "0123456789abcdef0123456789abcdef" }), Math.floor(clock / 1000)), new Date(clock)).ticketIds,
      ).toEqual(["0123456789abcdef0123456789abcdef"]);
      expect(syncOf(createServicenowDriver("b", servicenowConfigSchema.parse(base))).pollIntervalMs).toBe(60_000);
      expect(servicenowConfigSchema.safeParse({ ...base, resolutions: { Duplicate: "dup" } }).success).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a rate limit rule's 429 is a retryable rateLimited failure carrying Retry-After", async () => {
    const limited = await harness({ now: () => Date.parse("2026-05-11T08:59:58Z") });
    try {
      limited.fake.limit(limited.fake.username, 0);
      const err = await limited.sync.poll(undefined, new Date("2026-05-11T08:00:00Z")).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeliveryError);
      expect(err).toMatchObject({ retryable: true, reason: "rateLimited", retryAfterMs: 2000 });
      expect((err as Error).message).not.toContain(limited.fake.password);
    } finally {
      await limited.stop();
    }
  });
});
