import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJiraDriver } from "../../src/drivers/jira/driver.js";
import { startFaultProxy } from "../fakes/fault-proxy.js";
import { type FakeJira, startFakeJira } from "../fakes/jira.js";
import { describeDriverContract, openTicket } from "./contract.js";

async function harness(api: "cloud" | "datacenter") {
  const fake = await startFakeJira({ api });
  const proxy = await startFaultProxy(fake.url);
  const driver = createJiraDriver("ops-jira", {
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
  });
  return { fake, proxy, driver };
}

for (const api of ["cloud", "datacenter"] as const) {
  describeDriverContract(`jira ${api} (fake)`, async () => {
    const { fake, proxy, driver } = await harness(api);
    return {
      driver,
      proxy,
      secrets: [fake.token, ...(api === "cloud" ? [Buffer.from(`${fake.email}:${fake.token}`).toString("base64")] : [])],
      missingId: "OPS-99999",
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
      await h.proxy.close();
      await h.fake.stop();
    }
  });
  const ctx = (key: string) => ({ idempotencyKey: `${key}/1`, attempt: 1, ticketKey: key });

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

  it("a lookup right after a create retries the eventually consistent search until the issue shows", async () => {
    const t = openTicket();
    await cloud.driver.open(t, ctx(t.ticketKey));
    const started = Date.now();
    expect(await cloud.driver.findByKey(t.ticketKey)).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});
