import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServicenowDriver } from "../../src/drivers/servicenow/driver.js";
import { startFaultProxy } from "../fakes/fault-proxy.js";
import { type FakeServicenow, startFakeServicenow } from "../fakes/servicenow.js";
import { describeDriverContract, openTicket } from "./contract.js";

async function harness() {
  const fake = await startFakeServicenow();
  const proxy = await startFaultProxy(fake.url);
  const driver = createServicenowDriver("itsm", {
    type: "servicenow",
    url: proxy.url,
    username: fake.username,
    password: fake.password,
    table: "incident",
    close_code: "Solution provided",
    timeout: 1000,
  });
  return { fake, proxy, driver };
}

describeDriverContract("servicenow (fake)", async () => {
  const { fake, proxy, driver } = await harness();
  return {
    driver,
    proxy,
    secrets: [fake.password, Buffer.from(`${fake.username}:${fake.password}`).toString("base64")],
    missingId: "0123456789abcdef0123456789abcdef",
    async inspect(ref) {
      const i = fake.incidents.find((x) => x.sys_id === ref.id);
      if (!i) throw new Error(`no incident ${ref.id}`);
      const status = i.state === "6" ? "solved" : ["1", "2", "3"].includes(i.state) ? "open" : "other";
      return { status, updates: i.work_notes.length };
    },
    async countByKey(key) {
      return fake.incidents.filter((i) => i.correlation_id === key).length;
    },
    async stop() {
      await proxy.close();
      await fake.stop();
    },
  };
});

describe("servicenow specifics", () => {
  let h: Awaited<ReturnType<typeof harness>>;
  let fake: FakeServicenow;
  beforeAll(async () => {
    h = await harness();
    fake = h.fake;
  });
  afterAll(async () => {
    await h.proxy.close();
    await fake.stop();
  });
  const ctx = (key: string) => ({ idempotencyKey: `${key}/1`, attempt: 1, ticketKey: key });

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
    await h.driver.resolve(ref, { op: "resolve", body: [{ kind: "paragraph", text: "Resolved after 5m" }], solve: true }, ctx(t.ticketKey));
    expect(fake.incidents.find((x) => x.sys_id === ref.id)).toMatchObject({ state: "6", close_code: "Solution provided", close_notes: "Resolved after 5m" });
    fake.close(ref.id);
    const child = await h.driver.reopen(ref, { op: "reopen", body: [{ kind: "paragraph", text: "again" }], priority: "P2" }, ctx(t.ticketKey));
    expect(child.id).not.toBe(ref.id);
    expect(fake.incidents.find((x) => x.sys_id === child.id)).toMatchObject({ parent_incident: ref.id, correlation_id: t.ticketKey, state: "1" });
    expect((await h.driver.findByKey(t.ticketKey))?.id).toBe(child.id);
    await expect(h.driver.comment(ref, { op: "comment", body: [] }, ctx(t.ticketKey))).rejects.toMatchObject({ retryable: false, reason: "gone" });
  });

  it("never lets a ^ into an encoded query", async () => {
    await expect(h.driver.findByKey("ad-1^ORcorrelation_idISNOTEMPTY")).rejects.toMatchObject({ retryable: false, reason: "client" });
  });
});
