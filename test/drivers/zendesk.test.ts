import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HelpdeskDriver, HelpdeskSync } from "../../src/drivers/types.js";
import { createZendeskDriver, type ZendeskConfig } from "../../src/drivers/zendesk/driver.js";
import { DeliveryError } from "../../src/model/delivery-error.js";
import { DoorbellRejected, type DoorbellRequest, type HelpdeskEvent, type ObservedEvent, type Resolution } from "../../src/model/helpdesk-event.js";
import type { TicketRef } from "../../src/model/incident.js";
import type { Priority } from "../../src/model/priority.js";
import { startFaultProxy, status } from "../fakes/fault-proxy.js";
import { type FakeZendesk, startFakeZendesk } from "../fakes/zendesk.js";
import { describeDriverContract, openTicket } from "./contract.js";

const WEBHOOK_SECRET = "zd-webhook-signing-secret-0123456789";

/** The harness's own names in Zendesk for alertdesk's resolutions: the option tags of the drop-down. */
const OWN_RESOLUTION: Record<Resolution, string> = { fixed: "fixed", wont_fix: "wont_fix", duplicate: "duplicate", cannot_reproduce: "cannot_reproduce" };
const OWN_STATUS = { active: "open", pending: "pending", solved: "solved" } as const;

function config(fake: FakeZendesk, url: string, extra: Partial<ZendeskConfig> = {}): ZendeskConfig {
  return {
    type: "zendesk",
    url,
    email: fake.email,
    token: fake.token,
    ticket_type: "incident",
    public_comments: false,
    timeout: 1000,
    resolution_field: fake.resolutionFieldId,
    webhook_secret: WEBHOOK_SECRET,
    ...extra,
  };
}

async function harness() {
  const fake = await startFakeZendesk();
  const proxy = await startFaultProxy(fake.url);
  const driver = createZendeskDriver("support", config(fake, proxy.url));
  return { fake, proxy, driver };
}

describeDriverContract("zendesk (fake)", async () => {
  const { fake, proxy, driver } = await harness();
  return {
    driver,
    proxy,
    secrets: [fake.token, Buffer.from(`${fake.email}/token:${fake.token}`).toString("base64")],
    missingId: "999999",
    async inspect(ref) {
      const t = fake.tickets.find((x) => String(x.id) === ref.id);
      if (!t) throw new Error(`no ticket ${ref.id}`);
      const status = t.status === "solved" ? "solved" : t.status === "open" || t.status === "new" ? "open" : "other";
      return { status, updates: t.comments.length - 1 };
    },
    async countByKey(key) {
      return fake.tickets.filter((t) => t.external_id === key).length;
    },
    agent: {
      author: fake.agentUser.name,
      assignee: fake.agentUser.name,
      comment: (ref, text, isPublic) => fake.agent.comment(Number(ref.id), text, isPublic),
      assign: (ref) => fake.agent.assign(Number(ref.id)),
      setStatus: (ref, status, resolution) => fake.agent.setStatus(Number(ref.id), OWN_STATUS[status], resolution && OWN_RESOLUTION[resolution]),
    },
    async stop() {
      await proxy.close();
      await fake.stop();
    },
  };
});

const para = (text: string) => [{ kind: "paragraph" as const, text }];
const ctx = (key: string) => ({ idempotencyKey: `${key}/${Math.random().toString(36).slice(2)}`, attempt: 1, ticketKey: key });
const events = (list: ObservedEvent[]) => list.map((e) => e.event);
const ofKind = <K extends HelpdeskEvent["kind"]>(list: ObservedEvent[], kind: K) =>
  events(list).filter((e): e is Extract<HelpdeskEvent, { kind: K }> => e.kind === kind);

function syncOf(driver: HelpdeskDriver): HelpdeskSync {
  if (!driver.sync) throw new Error("the zendesk driver has no sync");
  return driver.sync;
}

/** A webhook request as Zendesk signs it: base64(HMAC-SHA256(secret, timestamp + body)). */
function signed(body: string, at: Date, options: { secret?: string; invocation?: string; headers?: Record<string, string | undefined> } = {}): DoorbellRequest {
  const timestamp = at.toISOString().replace(/\.\d{3}Z$/, "Z");
  const signature = createHmac("sha256", options.secret ?? WEBHOOK_SECRET)
    .update(timestamp + body)
    .digest("base64");
  return {
    headers: {
      "content-type": "application/json",
      "x-zendesk-webhook-id": "01F1KRFQ6BG29CNWFR60NK5FNY",
      "x-zendesk-webhook-signature": signature,
      "x-zendesk-webhook-signature-timestamp": timestamp,
      ...(options.invocation ? { "x-zendesk-webhook-invocation-id": options.invocation } : {}),
      ...options.headers,
    },
    rawBody: Buffer.from(body),
  };
}

/** An event-subscription webhook body (developer.zendesk.com/api-reference/webhooks/event-types/ticket-events). */
function ticketEvent(ticketId: string, type = "zen:event-type:ticket.comment_added") {
  return JSON.stringify({
    type,
    account_id: 12514403,
    id: "2b24ef10-19d4-4740-93cf-8f98ec4776c0",
    time: "2099-07-04T05:33:18Z",
    zendesk_event_version: "2022-11-06",
    subject: `zen:ticket:${ticketId}`,
    detail: { id: ticketId, status: "OPEN", actor_id: "360000202", via: { channel: "web" } },
    event: { comment: { id: "1", is_public: false } },
  });
}

describe("zendesk specifics", () => {
  let h: Awaited<ReturnType<typeof harness>>;
  let fake: FakeZendesk;
  let sync: HelpdeskSync;
  beforeAll(async () => {
    h = await harness();
    fake = h.fake;
    sync = syncOf(h.driver);
  });
  afterAll(async () => {
    await h.proxy.close();
    await fake.stop();
  });

  async function open(): Promise<TicketRef> {
    const t = openTicket();
    return h.driver.open(t, ctx(t.ticketKey));
  }

  it("creates an incident with the mapped priority, external_id = the key, escaped HTML, tags and an Idempotency-Key", async () => {
    const t = openTicket({ priority: "P1", tags: ["Team Infra"] });
    const ref = await h.driver.open(t, { idempotencyKey: `${t.ticketKey}/7`, attempt: 1, ticketKey: t.ticketKey });
    const ticket = fake.tickets.find((x) => String(x.id) === ref.id);
    expect(ticket).toMatchObject({ priority: "urgent", type: "incident", external_id: t.ticketKey, status: "new" });
    expect(ticket?.tags).toEqual(["alertdesk", t.ticketKey, "performance", "team_infra"]);
    expect(ticket?.comments[0]?.html_body).toContain("CPU &#60;script&#62;alert(1)&#60;/script&#62;");
    expect(ticket?.comments[0]?.public).toBe(false);
    expect(ref.url).toBe(`${h.proxy.url}/agent/tickets/${ref.id}`);
  });

  it("a retried create with the same Idempotency-Key returns the same ticket", async () => {
    const t = openTicket();
    const a = await h.driver.open(t, { idempotencyKey: `${t.ticketKey}/1`, attempt: 1, ticketKey: t.ticketKey });
    const b = await h.driver.open(t, { idempotencyKey: `${t.ticketKey}/1`, attempt: 2, ticketKey: t.ticketKey });
    expect(b.id).toBe(a.id);
    expect(fake.tickets.filter((x) => x.external_id === t.ticketKey)).toHaveLength(1);
  });

  it("reopening a closed ticket creates a follow-up (via_followup_source_id) with the same key", async () => {
    const t = openTicket();
    const ref = await h.driver.open(t, { idempotencyKey: `${t.ticketKey}/1`, attempt: 1, ticketKey: t.ticketKey });
    await h.driver.resolve(
      ref,
      { op: "resolve", body: [{ kind: "paragraph", text: "ok" }], solve: true },
      { idempotencyKey: "r", attempt: 1, ticketKey: "ad-test" },
    );
    fake.close(Number(ref.id));
    const follow = await h.driver.reopen(
      ref,
      { op: "reopen", body: [{ kind: "paragraph", text: "again" }], priority: "P2" },
      { idempotencyKey: `${t.ticketKey}/3`, attempt: 1, ticketKey: t.ticketKey },
    );
    expect(follow.id).not.toBe(ref.id);
    expect(fake.tickets.find((x) => String(x.id) === follow.id)).toMatchObject({ via_followup_source_id: Number(ref.id), external_id: t.ticketKey });
    expect((await h.driver.findByKey(t.ticketKey))?.id).toBe(follow.id);
  });

  it("the configured assignee_id fills an empty assignee on solve, and never replaces an agent's", async () => {
    const withAssignee = createZendeskDriver("support", { ...config(fake, h.proxy.url), assignee_id: fake.user.id });
    const solve = (ref: TicketRef, assigned: boolean) =>
      withAssignee.resolve(ref, { op: "resolve", body: [], solve: true, ...(assigned ? { assigned } : {}) }, ctx(`ad-solve-${ref.id}`));
    const nobody = await open();
    await solve(nobody, false);
    expect(fake.tickets.find((t) => String(t.id) === nobody.id)?.assignee_id).toBe(fake.user.id);
    const taken = await open();
    await fake.agent.assign(Number(taken.id));
    await solve(taken, true);
    expect(fake.tickets.find((t) => String(t.id) === taken.id)?.assignee_id).toBe(fake.agentUser.id);
  });

  it("a comment on a closed ticket is a permanent failure (gone), not an endless retry", async () => {
    const t = openTicket();
    const ref = await h.driver.open(t, { idempotencyKey: `${t.ticketKey}/1`, attempt: 1, ticketKey: t.ticketKey });
    fake.close(Number(ref.id));
    await expect(h.driver.comment(ref, { op: "comment", body: [] }, { idempotencyKey: "c", attempt: 1, ticketKey: "ad-test" })).rejects.toMatchObject({
      retryable: false,
      reason: "gone",
    });
  });

  it("a ticket over Zendesk's per-ticket update limit: that update waits (retryable, its Retry-After); the other tickets' requests do not", async () => {
    const before = fake.ticketUpdateLimit;
    fake.ticketUpdateLimit = { updates: 1, windowMs: 10 * 60_000 };
    try {
      const [a, b] = [await open(), await open()];
      const comment = { op: "comment" as const, body: [{ kind: "paragraph" as const, text: "x" }] };
      await h.driver.comment(a, comment, ctx("ad-a"));
      const refused = await h.driver.comment(a, comment, ctx("ad-a")).catch((err: unknown) => err);
      expect(refused).toMatchObject({ retryable: true, reason: "rateLimited" });
      expect((refused as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThan(500_000);
      // Not the helpdesk's limit: the next request goes at once, not in ten minutes.
      await h.driver.comment(b, comment, ctx("ad-b"));
      expect(fake.tickets.find((t) => t.id === Number(b.id))?.comments).toHaveLength(2);
    } finally {
      fake.ticketUpdateLimit = before;
    }
  });

  it("the client-side rate limit spaces requests evenly", async () => {
    const limited = createZendeskDriver("limited", {
      type: "zendesk",
      url: fake.url,
      email: fake.email,
      token: fake.token,
      ticket_type: "incident",
      public_comments: false,
      rate_limit: "600/min",
    });
    const before = fake.requestTimes.length;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 5 }, () => {
        const t = openTicket();
        return limited.open(t, { idempotencyKey: t.ticketKey, attempt: 1, ticketKey: "ad-test" });
      }),
    );
    const times = fake.requestTimes.slice(before);
    expect(times).toHaveLength(5);
    // 600/min is one request every 100 ms: the fifth cannot start before 400 ms have passed. A lower
    // bound on when it arrived, so a busy machine (which only adds delay) cannot make this fail.
    expect((times[4] as number) - started).toBeGreaterThanOrEqual(400);
  });

  // ---- the way back ----

  const statusTable: [string, (id: number) => Promise<void>, { status: string; resolution?: Resolution; byAgent: boolean }][] = [
    ["open → active", (id) => fake.agent.setStatus(id, "open"), { status: "active", byAgent: true }],
    ["pending → pending", (id) => fake.agent.setStatus(id, "pending"), { status: "pending", byAgent: true }],
    ["hold → pending", (id) => fake.agent.setStatus(id, "hold"), { status: "pending", byAgent: true }],
    [
      "solved → solved (fixed when no resolution was given)",
      (id) => fake.agent.setStatus(id, "solved"),
      { status: "solved", resolution: "fixed", byAgent: true },
    ],
    [
      "closed (by Zendesk's automation) → closed, keeping the resolution, with no author",
      async (id) => {
        await fake.agent.setStatus(id, "solved", "duplicate");
        fake.close(id);
      },
      { status: "closed", resolution: "duplicate", byAgent: false },
    ],
  ];
  it.each(statusTable)("status mapping: %s", async (_why, act, want) => {
    const ref = await open();
    await act(Number(ref.id));
    const last = ofKind(await sync.readTicket(ref), "status_changed").at(-1);
    expect(last).toMatchObject({ status: want.status, ...(want.resolution ? { resolution: want.resolution } : {}) });
    expect(last?.resolution).toBe(want.resolution);
    expect(last?.author).toBe(want.byAgent ? fake.agentUser.name : undefined);
  });

  const resolutionTable: [string, Partial<ZendeskConfig>, Record<string, unknown>, Resolution][] = [
    ["the drop-down's option tag", {}, { custom_fields: [{ id: 0, value: "wont_fix" }] }, "wont_fix"],
    ["a default alias (cant_reproduce)", {}, { custom_fields: [{ id: 0, value: "cant_reproduce" }] }, "cannot_reproduce"],
    ["the config's own name first", { resolutions: { not_a_bug: "wont_fix" } }, { custom_fields: [{ id: 0, value: "not_a_bug" }] }, "wont_fix"],
    ["an option nobody mapped is a fix", {}, { custom_fields: [{ id: 0, value: "something_else" }] }, "fixed"],
    ["a resolution_ tag, without the field", { resolution_field: undefined }, { tags: ["alertdesk", "resolution_duplicate"] }, "duplicate"],
    ["a tag of a configured prefix", { resolution_field: undefined, resolution_tag_prefix: "res:" }, { tags: ["alertdesk", "res:wontfix"] }, "wont_fix"],
    ["the field wins over a tag", {}, { custom_fields: [{ id: 0, value: "duplicate" }], tags: ["alertdesk", "resolution_wont_fix"] }, "duplicate"],
  ];
  it.each(resolutionTable)("resolution of a solve: %s", async (_why, extra, update, want) => {
    const driver = createZendeskDriver("resolutions", config(fake, fake.url, extra));
    const ref = await open();
    const fields = (update.custom_fields as { id: number; value: string }[] | undefined)?.map((f) => ({ ...f, id: fake.resolutionFieldId }));
    await fake.agent.update(Number(ref.id), { ...update, ...(fields ? { custom_fields: fields } : {}), status: "solved" });
    expect(ofKind(await syncOf(driver).readTicket(ref), "status_changed").at(-1)).toMatchObject({ status: "solved", resolution: want });
  });

  const priorityTable: [string, ZendeskConfig["priority_map"], string, Priority][] = [
    ["low with the default map", undefined, "low", "P4"],
    ["urgent with the default map", undefined, "urgent", "P1"],
    ["the most urgent of two that share a value", { P1: "high", P2: "high" }, "high", "P1"],
    ["a value the map does not use reads as the default does", { P1: "high", P2: "high" }, "urgent", "P1"],
  ];
  it.each(priorityTable)("priority an agent sets: %s", async (_why, map, zendesk, want) => {
    const driver = createZendeskDriver("priorities", config(fake, fake.url, map ? { priority_map: map } : {}));
    const t = openTicket({ priority: "P3" });
    const ref = await driver.open(t, ctx(t.ticketKey));
    // Opened at P3 (normal in both maps): the agent's priority is a change.
    await fake.agent.update(Number(ref.id), { priority: zendesk });
    expect(ofKind(await syncOf(driver).readTicket(ref), "priority_changed")).toEqual([
      expect.objectContaining({ priority: want, author: fake.agentUser.name }),
    ]);
  });

  it("echo suppression: none of alertdesk's own writes is reported, and its user is asked for once", async () => {
    const t = openTicket();
    const ref = await h.driver.open(t, ctx(t.ticketKey));
    await h.driver.comment(ref, { op: "comment", body: para("2 alerts joined"), priority: "P1" }, ctx(t.ticketKey));
    // Zendesk assigns the solver (alertdesk) on solve: that change is alertdesk's too.
    await h.driver.resolve(ref, { op: "resolve", body: para("Resolved"), solve: true }, ctx(t.ticketKey));
    await h.driver.reopen(ref, { op: "reopen", body: para("Fired again"), priority: "P2" }, ctx(t.ticketKey));
    const ticket = fake.tickets.find((x) => String(x.id) === ref.id);
    expect(ticket?.audits.map((a) => a.author_id)).toEqual([fake.user.id, fake.user.id, fake.user.id, fake.user.id]);
    expect(await sync.readTicket(ref)).toEqual([]);
    await fake.agent.comment(Number(ref.id), "Mine now", true);
    const seen = await sync.readTicket(ref);
    expect(events(seen)).toEqual([{ kind: "commented", at: expect.any(String), author: fake.agentUser.name, public: true, text: "Mine now" }]);
    expect(seen[0]?.id).toMatch(/^audit:\d+:\d+$/);
    expect(h.proxy.requests.filter((r) => r.path.startsWith("/api/v2/users/me")).length).toBe(1);
  });

  it("reads every page of a ticket's audits, with the same events as one page", async () => {
    const ref = await open();
    for (const text of ["one", "two", "three"]) await fake.agent.comment(Number(ref.id), text, false);
    await fake.agent.assign(Number(ref.id));
    const whole = await sync.readTicket(ref);
    fake.auditPageLimit = 2;
    try {
      const paged = await sync.readTicket(ref);
      expect(paged).toEqual(whole);
      expect(h.proxy.requests.filter((r) => r.path.startsWith(`/api/v2/tickets/${ref.id}/audits`)).length).toBeGreaterThanOrEqual(4);
    } finally {
      fake.auditPageLimit = 100;
    }
    expect(ofKind(whole, "commented").map((c) => c.text)).toEqual(["one", "two", "three"]);
    expect(ofKind(whole, "assigned")).toEqual([expect.objectContaining({ assignee: fake.agentUser.name, author: fake.agentUser.name })]);
  });

  it("an assignment taken away reports no assignee", async () => {
    const ref = await open();
    await fake.agent.assign(Number(ref.id));
    await fake.agent.update(Number(ref.id), { assignee_id: null });
    expect(ofKind(await sync.readTicket(ref), "assigned").map((e) => e.assignee)).toEqual([fake.agentUser.name, null]);
  });

  /** Every activity of the polls from `cursor` until Zendesk has no more. */
  async function pollAll(cursor: string | undefined, since: Date) {
    const activity = new Map<string, ObservedEvent[]>();
    let at = cursor;
    let pages = 0;
    let sawMore = false;
    for (; pages < 100; pages++) {
      const got = await sync.poll(at, since);
      for (const a of got.activity) activity.set(a.ticketId, [...(activity.get(a.ticketId) ?? []), ...a.events]);
      at = got.cursor;
      if (!got.more) break;
      sawMore = true;
    }
    return { activity, cursor: at as string, sawMore };
  }

  it("a poll continues from its cursor: a second poll reports only what changed since", async () => {
    const since = new Date(Date.now() - 120_000);
    const ref = await open();
    await fake.agent.comment(Number(ref.id), "first", false);
    const first = await pollAll(undefined, since);
    expect(ofKind(first.activity.get(ref.id) ?? [], "commented").map((c) => c.text)).toEqual(["first"]);
    const quiet = await pollAll(first.cursor, since);
    expect([...quiet.activity.keys()]).toEqual([]);
    await fake.agent.comment(Number(ref.id), "second", true);
    const next = await pollAll(first.cursor, since);
    expect([...next.activity.keys()]).toEqual([ref.id]);
    const seen = new Set((first.activity.get(ref.id) ?? []).map((e) => e.id));
    const fresh = (next.activity.get(ref.id) ?? []).filter((e) => !seen.has(e.id));
    expect(events(fresh)).toEqual([expect.objectContaining({ kind: "commented", text: "second", public: true })]);
  });

  it("a poll comes a page at a time (`more` until end_of_stream) and ignores tickets alertdesk did not open", async () => {
    const since = new Date(Date.now() - 120_000);
    const { cursor } = await pollAll(undefined, since);
    const ours = [await open(), await open(), await open()];
    for (const ref of ours) await fake.agent.comment(Number(ref.id), `on ${ref.id}`, false);
    // A ticket an agent opened by hand, without alertdesk's tag or key.
    const res = await fetch(`${fake.url}/api/v2/tickets.json`, {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from(`${fake.agentUser.email}/token:${fake.agentUser.token}`).toString("base64")}`,
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ ticket: { subject: "Printer on fire", comment: { body: "Help" } } }),
    });
    const foreign = String(((await res.json()) as { ticket: { id: number } }).ticket.id);
    await fake.agent.comment(Number(foreign), "not alertdesk's", false);
    fake.exportPageSize = 1;
    try {
      const got = await pollAll(cursor, since);
      expect(got.sawMore).toBe(true);
      expect([...got.activity.keys()].sort()).toEqual(ours.map((r) => r.id).sort());
    } finally {
      fake.exportPageSize = 1000;
    }
  });

  it("a cursor Zendesk no longer takes starts again from `since`", async () => {
    const ref = await open();
    await fake.agent.comment(Number(ref.id), "after a lost cursor", false);
    const got = await sync.poll("cursor:bm90LWEtY3Vyc29y", new Date(Date.now() - 120_000));
    expect(got.activity.find((a) => a.ticketId === ref.id)).toBeDefined();
    expect(got.cursor).toMatch(/^cursor:/);
    expect(
      h.proxy.requests
        .filter((r) => r.path.includes("/incremental/"))
        .map((r) => r.status)
        .slice(-2),
    ).toEqual([400, 200]);
  });

  it("a 429 on the incremental export is a retryable DeliveryError with Retry-After", async () => {
    // Its own driver: the 429 pauses every request of the driver that got it.
    const driver = createZendeskDriver("export-limited", config(fake, fake.url));
    fake.exportRatePerMinute = 0;
    try {
      const err = await syncOf(driver)
        .poll(undefined, new Date(Date.now() - 120_000))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(DeliveryError);
      expect(err).toMatchObject({ retryable: true, reason: "rateLimited", retryAfterMs: 60_000 });
    } finally {
      fake.exportRatePerMinute = undefined;
    }
  });

  it("an answer of the wrong shape is a retryable DeliveryError; a ticket Zendesk no longer has is gone", async () => {
    const ref = await open();
    h.proxy.arm(status(200, {}, { audits: "not a list" }), { path: /\/audits/ });
    await expect(sync.readTicket(ref)).rejects.toMatchObject({ name: "DeliveryError", retryable: true, reason: "server" });
    await expect(sync.readTicket({ id: "999999" })).rejects.toMatchObject({ name: "DeliveryError", retryable: false, reason: "gone" });
    h.proxy.disarm();
  });

  it("poll_interval sets how often to poll (default a minute)", () => {
    expect(sync.pollIntervalMs).toBe(60_000);
    expect(syncOf(createZendeskDriver("quick", config(fake, fake.url, { poll_interval: 15_000 }))).pollIntervalMs).toBe(15_000);
  });

  // ---- the doorbell ----

  it("a signed trigger webhook rings: its invocation id and ticket id", () => {
    const now = new Date();
    const bell = sync.doorbell?.(signed('{"ticket_id": "35436", "event": "solved"}', now, { invocation: "8350205582" }), now);
    expect(bell).toEqual({ deliveryId: "8350205582", ticketIds: ["35436"] });
  });

  it("a signed event-subscription webhook rings for detail.id", () => {
    const now = new Date();
    expect(sync.doorbell?.(signed(ticketEvent("35436"), now, { invocation: "1" }), now)).toEqual({ deliveryId: "1", ticketIds: ["35436"] });
    // No detail.id: the subject names the ticket.
    const bare = JSON.stringify({ type: "zen:event-type:ticket.status_changed", subject: "zen:ticket:77", detail: {} });
    expect(sync.doorbell?.(signed(bare, now, { invocation: "2" }), now)?.ticketIds).toEqual(["77"]);
  });

  it("without an invocation id, the delivery id is a digest of timestamp and body (a repeat is the same delivery)", () => {
    const now = new Date();
    const body = '{"ticket_id": 12}';
    const request = signed(body, now);
    const timestamp = request.headers["x-zendesk-webhook-signature-timestamp"] as string;
    const bell = sync.doorbell?.(request, now);
    expect(bell).toEqual({
      deliveryId: createHash("sha256")
        .update(timestamp + body)
        .digest("hex"),
      ticketIds: ["12"],
    });
    expect(sync.doorbell?.(signed(body, now), now)?.deliveryId).toBe(bell?.deliveryId);
  });

  it("webhook_secret_file is read for the signing secret", () => {
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-zendesk-"));
    try {
      const file = join(dir, "signing");
      writeFileSync(file, `${WEBHOOK_SECRET}\n`);
      const driver = createZendeskDriver("from-file", config(fake, fake.url, { webhook_secret: undefined, webhook_secret_file: file }));
      const now = new Date();
      expect(syncOf(driver).doorbell?.(signed('{"ticket_id": "5"}', now), now)?.ticketIds).toEqual(["5"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const minutes = (n: number) => n * 60_000;
  const rejections: [string, () => { driver?: HelpdeskDriver; request: DoorbellRequest; now: Date }, RegExp][] = [
    [
      "a forged signature",
      () => ({ request: signed('{"ticket_id": "1"}', new Date(), { secret: "not-the-secret" }), now: new Date() }),
      /signature does not match/,
    ],
    [
      "a changed body",
      () => {
        const request = signed('{"ticket_id": "1"}', new Date());
        return { request: { ...request, rawBody: Buffer.from('{"ticket_id": "2"}') }, now: new Date() };
      },
      /signature does not match/,
    ],
    [
      "no signature header",
      () => ({ request: signed('{"ticket_id": "1"}', new Date(), { headers: { "x-zendesk-webhook-signature": undefined } }), now: new Date() }),
      /X-Zendesk-Webhook-Signature header is missing/,
    ],
    [
      "no timestamp header",
      () => ({ request: signed('{"ticket_id": "1"}', new Date(), { headers: { "x-zendesk-webhook-signature-timestamp": undefined } }), now: new Date() }),
      /Signature-Timestamp header is missing/,
    ],
    [
      "a stale timestamp (6 minutes old)",
      () => ({ request: signed('{"ticket_id": "1"}', new Date(Date.now() - minutes(6))), now: new Date() }),
      /replay window/,
    ],
    ["a timestamp 6 minutes ahead", () => ({ request: signed('{"ticket_id": "1"}', new Date(Date.now() + minutes(6))), now: new Date() }), /replay window/],
    [
      "no secret configured",
      () => ({
        driver: createZendeskDriver("no-secret", config(fake, fake.url, { webhook_secret: undefined })),
        request: signed('{"ticket_id": "1"}', new Date()),
        now: new Date(),
      }),
      /no webhook_secret is configured/,
    ],
    ["a body that is not JSON", () => ({ request: signed("ticket_id=1", new Date()), now: new Date() }), /not JSON/],
    ["a body naming no ticket", () => ({ request: signed('{"ticket_id": ""}', new Date()), now: new Date() }), /names no ticket/],
    [
      "an event that is not a ticket's",
      () => ({ request: signed(ticketEvent("6596848315901", "zen:event-type:user.active_changed"), new Date()), now: new Date() }),
      /not a ticket event/,
    ],
  ];
  it.each(rejections)("the doorbell rejects %s", (_why, make, message) => {
    const { driver, request, now } = make();
    const bell = syncOf(driver ?? h.driver).doorbell;
    expect(bell).toBeDefined();
    let error: unknown;
    try {
      bell?.(request, now);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DoorbellRejected);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(WEBHOOK_SECRET);
  });
});
