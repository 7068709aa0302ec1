import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createZendeskDriver } from "../../src/drivers/zendesk/driver.js";
import { startFaultProxy } from "../fakes/fault-proxy.js";
import { type FakeZendesk, startFakeZendesk } from "../fakes/zendesk.js";
import { describeDriverContract, openTicket } from "./contract.js";

async function harness() {
  const fake = await startFakeZendesk();
  const proxy = await startFaultProxy(fake.url);
  const driver = createZendeskDriver("support", {
    type: "zendesk",
    url: proxy.url,
    email: fake.email,
    token: fake.token,
    ticket_type: "incident",
    public_comments: false,
    timeout: 1000,
  });
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
    async stop() {
      await proxy.close();
      await fake.stop();
    },
  };
});

describe("zendesk specifics", () => {
  let h: Awaited<ReturnType<typeof harness>>;
  let fake: FakeZendesk;
  beforeAll(async () => {
    h = await harness();
    fake = h.fake;
  });
  afterAll(async () => {
    await h.proxy.close();
    await fake.stop();
  });

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

  it("a comment on a closed ticket is a permanent failure (gone), not an endless retry", async () => {
    const t = openTicket();
    const ref = await h.driver.open(t, { idempotencyKey: `${t.ticketKey}/1`, attempt: 1, ticketKey: t.ticketKey });
    fake.close(Number(ref.id));
    await expect(h.driver.comment(ref, { op: "comment", body: [] }, { idempotencyKey: "c", attempt: 1, ticketKey: "ad-test" })).rejects.toMatchObject({
      retryable: false,
      reason: "gone",
    });
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
});
