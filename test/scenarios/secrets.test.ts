import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadServiceConfig } from "../../src/config/service.js";
import { startFaultProxy, status } from "../fakes/fault-proxy.js";
import { startFakeJira } from "../fakes/jira.js";
import { startFakeServicenow } from "../fakes/servicenow.js";
import { startWebhookReceiver } from "../fakes/webhook-receiver.js";
import { startFakeZendesk } from "../fakes/zendesk.js";
import { startTestService } from "../kit/service.js";

/** Secrets from the config reach the helpdesks and nothing else: not logs, metrics, errors or the API. */

const tmp = mkdtempSync(join(tmpdir(), "alertdesk-secrets-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("secrets in the config file", () => {
  it("come from ${ENV} substitution or *_file keys", () => {
    const tokenFile = join(tmp, "zendesk-token");
    writeFileSync(tokenFile, "from-a-file\n");
    const file = join(tmp, "alertdesk.yml");
    writeFileSync(
      file,
      [
        "default_helpdesk: support",
        "helpdesks:",
        `  support: { type: zendesk, url: 'https://acme.zendesk.com', email: a@b.c, token_file: ${tokenFile} }`,
        "  hook: { type: webhook, url: 'https://hooks.example/x', secret: '${HOOK_SECRET}' }",
      ].join("\n"),
    );
    const config = loadServiceConfig({ ALERTDESK_CONFIG: file, HOOK_SECRET: "from-env" });
    expect(config.helpdesks.hook).toMatchObject({ type: "webhook", secret: "from-env" });
    expect(config.helpdesks.support).toMatchObject({ type: "zendesk", token_file: tokenFile });
    expect(config.defaultHelpdesk).toBe("support");
  });

  it("a missing environment variable and an unknown helpdesk type are errors naming the place", () => {
    const file = join(tmp, "bad.yml");
    writeFileSync(file, "helpdesks:\n  hook: { type: webhook, url: 'https://x.example', secret: '${NOPE_SECRET}' }\n");
    expect(() => loadServiceConfig({ ALERTDESK_CONFIG: file })).toThrow(`${file}: helpdesks.hook.secret: environment variable NOPE_SECRET is not set`);
    writeFileSync(file, "helpdesks:\n  desk:\n    type: freshdesk\n");
    expect(() => loadServiceConfig({ ALERTDESK_CONFIG: file })).toThrow(ConfigError);
    expect(() => loadServiceConfig({ ALERTDESK_CONFIG: file })).toThrow(/helpdesks\.desk\.type/);
  });
});

describe("no secret leaves alertdesk except to its helpdesk", () => {
  it("logs, metrics, dead letters and the read APIs never show a configured credential, for every driver", async () => {
    const zendesk = await startFakeZendesk();
    const jira = await startFakeJira({ api: "cloud", consistencyDelayMs: 0 });
    const sn = await startFakeServicenow();
    const hook = await startWebhookReceiver();
    const proxies = await Promise.all([zendesk.url, jira.url, sn.url, new URL(hook.url).origin].map((u) => startFaultProxy(u)));
    const [pz, pj, ps, ph] = proxies as [Awaited<ReturnType<typeof startFaultProxy>>, ...Awaited<ReturnType<typeof startFaultProxy>>[]];
    const hookSecret = "hmac-secret-never-logged";
    const webhookToken = "webhook-bearer-never-logged";
    const secrets = [zendesk.token, jira.token, sn.password, hookSecret, webhookToken];
    const rules = ["zendesk", "jira", "servicenow", "hook"]
      .map((h, i) => `  - name: to-${h}\n    matchers: ['alertname="Alert${i}"']\n    helpdesk: ${h}\n`)
      .join("");
    const svc = await startTestService({
      rules: `rules:\n${rules}`,
      background: true,
      realClock: true,
      config: {
        webhookToken,
        delivery: { pollIntervalMs: 20, baseMs: 30, maxMs: 100, maxAttempts: 2 },
        helpdesks: {
          zendesk: { type: "zendesk", url: pz.url, email: zendesk.email, token: zendesk.token, ticket_type: "incident", public_comments: false },
          jira: {
            type: "jira",
            api: "cloud",
            url: (pj as { url: string }).url,
            email: jira.email,
            token: jira.token,
            project: "OPS",
            issue_type: "Task",
            key_label: true,
            search_retries: 0,
            search_retry_delay: 10,
          },
          servicenow: {
            type: "servicenow",
            url: (ps as { url: string }).url,
            username: sn.username,
            password: sn.password,
            table: "incident",
            close_code: "Solution provided",
          },
          hook: { type: "webhook", url: `${(ph as { url: string }).url}/hook`, secret: hookSecret },
        },
      },
    });
    try {
      // Every helpdesk answers with an error body that echoes its credential; half of them fail for good.
      for (const [i, p] of proxies.entries()) p.armAll(status(i % 2 === 0 ? 500 : 400, {}, { error: `echo ${secrets[i]}` }));
      for (let i = 0; i < 4; i++) {
        const body = JSON.stringify({
          status: "firing",
          alerts: [{ status: "firing", labels: { alertname: `Alert${i}`, instance: "h:1" }, annotations: {}, startsAt: new Date().toISOString() }],
          groupLabels: { alertname: `Alert${i}` },
        });
        expect((await svc.post("/webhooks/alertmanager", body, { authorization: `Bearer ${webhookToken}` })).status).toBe(200);
      }
      await svc.post("/webhooks/alertmanager", "{}", { authorization: `Bearer ${webhookToken}x` });
      const deadline = Date.now() + 15_000;
      // A read sees a dead letter once it is committed; the worker logs it once the commit is on disk.
      const logged = () => svc.logs.join("").split('"delivery dead"').length - 1;
      while (((await svc.store.listDeliveries({ state: "dead", limit: 10 })).length < 4 || logged() < 4) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(await svc.store.listDeliveries({ state: "dead", limit: 10 })).toHaveLength(4);
      const outputs = [
        svc.logs.join(""),
        await (await svc.get("/metrics")).text(),
        await (await svc.get("/api/deliveries")).text(),
        await (await svc.get("/api/incidents")).text(),
        await (await svc.get("/api/rules")).text(),
        await (await svc.get("/tickets")).text(),
      ];
      expect(outputs[0]).toContain("delivery dead");
      for (const secret of secrets) for (const text of outputs) expect(text).not.toContain(secret);
    } finally {
      await svc.cleanup();
      for (const p of proxies) await p.close();
      await zendesk.stop();
      await jira.stop();
      await sn.stop();
      await hook.stop();
    }
  });
});
