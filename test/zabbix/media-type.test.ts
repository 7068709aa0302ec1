import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FIXTURES, startTestService, type TestService } from "../kit/service.js";

/**
 * deploy/zabbix/alertdesk_media_type.yaml: its parameters and its JavaScript, run in a node `vm` as
 * Zabbix runs it (the script is a function body: `value` is the parameters as JSON; `HttpRequest` and
 * `Zabbix.log` are Zabbix's) against the macros a real Zabbix 6.0.14 resolved (test/fixtures/zabbix/,
 * recorded in Asia/Kolkata). test/e2e/zabbix.test.ts runs the same script in Zabbix itself.
 */

const ROOT = new URL("../../", import.meta.url).pathname;
interface MediaType {
  name: string;
  type: string;
  parameters: { name: string; value: string }[];
  script: string;
  attempts: string;
  attempt_interval: string;
  timeout: string;
  message_templates: { event_source: string; operation_mode: string; subject: string; message: string }[];
}
const exported = parse(readFileSync(join(ROOT, "deploy/zabbix/alertdesk_media_type.yaml"), "utf8")) as {
  zabbix_export: { version: string; media_types: MediaType[] };
};
const [mediaType] = exported.zabbix_export.media_types as [MediaType];

type Macros = Record<string, string>;
const macros = (name: "problem" | "update" | "recovery"): Macros => JSON.parse(readFileSync(join(FIXTURES, "zabbix", `macros-${name}.json`), "utf8")) as Macros;
const body = (name: "problem" | "update" | "recovery") => JSON.parse(readFileSync(join(FIXTURES, "zabbix", `${name}.json`), "utf8")) as Record<string, unknown>;

/** The built-in macros Zabbix 6.0.14's server resolves in notifications (from its binary), and the user macros the media type reads. */
const ZABBIX_60_MACROS = new Set([
  ...["ID", "VALUE", "NAME", "DATE", "TIME", "NSEVERITY", "SEVERITY", "TAGSJSON", "OPDATA", "DURATION", "STATUS"].map((m) => `{EVENT.${m}}`),
  ...["ID", "DATE", "TIME"].map((m) => `{EVENT.RECOVERY.${m}}`),
  ...["STATUS", "ACTION", "MESSAGE", "DATE", "TIME"].map((m) => `{EVENT.UPDATE.${m}}`),
  "{USER.FULLNAME}",
  "{HOST.HOST}",
  "{HOST.NAME}",
  "{TRIGGER.HOSTGROUP.NAME}",
  "{TRIGGER.ID}",
  "{TRIGGER.DESCRIPTION}",
  "{ITEM.ID}",
  "{ITEM.NAME}",
  "{ITEM.LASTVALUE}",
  "{$ZABBIX.URL}",
  "{$ALERTDESK.URL}",
  "{$ALERTDESK.TOKEN}",
]);

/** The local time of the Zabbix server the macros were recorded on (Asia/Kolkata, UTC+05:30, no DST). */
class KolkataDate extends Date {
  constructor(...args: number[]) {
    if (args.length >= 3) {
      const [y, mo, d, h = 0, mi = 0, s = 0] = args as [number, number, number, number?, number?, number?];
      super(Date.UTC(y, mo, d, h, mi, s) - 330 * 60_000);
    } else super(...(args as []));
  }
}

interface Sent {
  url: string;
  headers: string[];
  body: string;
}

/** Runs the media type's script once, as Zabbix would; `answer` is alertdesk's (or throws, like a refused connection). */
function runScript(params: Macros, answer: (sent: Sent) => { status: number; body: string }) {
  const sent: Sent[] = [];
  const logs: string[] = [];
  class HttpRequest {
    private headers: string[] = [];
    private status = 0;
    addHeader(h: string) {
      this.headers.push(h);
    }
    post(url: string, data: string) {
      const request = { url, headers: [...this.headers], body: data };
      sent.push(request);
      const a = answer(request);
      this.status = a.status;
      return a.body;
    }
    getStatus() {
      return this.status;
    }
  }
  const context = { value: JSON.stringify(params), HttpRequest, Zabbix: { log: (level: number, m: string) => logs.push(`${level} ${m}`) }, Date: KolkataDate };
  let result: unknown;
  let thrown: unknown;
  try {
    result = runInNewContext(`(function (value) {\n${mediaType.script}\n})(value)`, context, { timeout: 5000 });
  } catch (err) {
    thrown = err;
  }
  return { result, thrown, sent, logs };
}

const ok = () => ({ status: 200, body: '{"status":"stored","incidents":[]}' });

describe("the media type's definition", () => {
  it("is a Zabbix 6.0 export of one webhook with the URL and token parameters, retries, and problem, recovery and update messages", () => {
    expect(exported.zabbix_export.version).toBe("6.0");
    expect(exported.zabbix_export.media_types).toHaveLength(1);
    expect(mediaType).toMatchObject({ name: "alertdesk", type: "WEBHOOK", attempts: "10", attempt_interval: "30s", timeout: "15s" });
    const names = mediaType.parameters.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(["alertdesk_url", "alertdesk_token", "alertdesk_receiver"]));
    expect(new Set(names).size).toBe(names.length);
    expect(mediaType.message_templates.map((t) => `${t.event_source} ${t.operation_mode}`)).toEqual([
      "TRIGGERS PROBLEM",
      "TRIGGERS RECOVERY",
      "TRIGGERS UPDATE",
    ]);
  });

  it("uses only macros Zabbix 6.0 resolves in webhook parameters", () => {
    const used = mediaType.parameters.flatMap((p) => p.value.match(/\{[^{}]+\}/g) ?? []);
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter((m) => !ZABBIX_60_MACROS.has(m))).toEqual([]);
  });

  it("the recorded macros are the media type's parameters", () => {
    for (const name of ["problem", "update", "recovery"] as const)
      expect(Object.keys(macros(name)).sort()).toEqual(mediaType.parameters.map((p) => p.name).sort());
  });
});

describe("the media type's script against recorded Zabbix macros", () => {
  it.each(["problem", "update", "recovery"] as const)("%s: posts the documented body to /webhooks/zabbix with the token", (name) => {
    const { result, thrown, sent } = runScript(macros(name), ok);
    expect(thrown).toBeUndefined();
    expect(result).toBe(`alertdesk: ${name} of event 1 stored`);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.url).toBe("http://alertdesk.example:9095/webhooks/zabbix");
    expect(sent[0]?.headers).toEqual(["Content-Type: application/json", "Authorization: Bearer example-token"]);
    // The very body this script sent from the real Zabbix.
    expect(JSON.parse(sent[0]?.body ?? "")).toEqual(body(name));
  });

  it("turns the server's local {EVENT.DATE} {EVENT.TIME} into the event's epoch seconds", () => {
    const { sent } = runScript({ ...macros("problem"), event_date: "2026.12.31", event_time: "23:59:59" }, ok);
    // 23:59:59 in Kolkata is 18:29:59 UTC.
    expect(JSON.parse(sent[0]?.body ?? "").event_time).toBe(Date.UTC(2026, 11, 31, 18, 29, 59) / 1000);
  });

  it("leaves unresolved macros out: no token, no URL, no tags", () => {
    const { sent } = runScript(
      { ...macros("problem"), alertdesk_token: "{$ALERTDESK.TOKEN}", zabbix_url: "{$ZABBIX.URL}", event_tags: "[]", host_groups: "" },
      ok,
    );
    expect(sent[0]?.headers).toEqual(["Content-Type: application/json"]);
    const posted = JSON.parse(sent[0]?.body ?? "");
    expect(posted.zabbix_url).toBeUndefined();
    expect(posted.host_groups).toBeUndefined();
    expect(posted.tags).toEqual([]);
    expect(posted.recovery).toBeUndefined();
    expect(posted.update).toBeUndefined();
  });

  it("takes alertdesk's URL with or without /webhooks/zabbix", () => {
    const url = (u: string) => runScript({ ...macros("problem"), alertdesk_url: u }, ok).sent[0]?.url;
    expect(url("https://alertdesk.example/")).toBe("https://alertdesk.example/webhooks/zabbix");
    expect(url("https://alertdesk.example/webhooks/zabbix")).toBe("https://alertdesk.example/webhooks/zabbix");
  });

  it("throws (so Zabbix retries) when alertdesk answers 503, saying what alertdesk said", () => {
    const { thrown, logs } = runScript(macros("problem"), () => ({ status: 503, body: '{"error":"could not store the notification; retry"}' }));
    expect(thrown).toBe("alertdesk answered HTTP 503 for the problem of event 1: could not store the notification; retry");
    expect(logs.some((l) => l.startsWith("3 [alertdesk] alertdesk answered HTTP 503"))).toBe(true);
  });

  it("throws with the fields alertdesk named when it answers 400", () => {
    const answer = { error: "invalid payload", issues: [{ field: "event_time", message: "expected epoch seconds" }] };
    const { thrown } = runScript({ ...macros("problem"), event_date: "{EVENT.DATE}" }, () => ({ status: 400, body: JSON.stringify(answer) }));
    expect(thrown).toBe("alertdesk answered HTTP 400 for the problem of event 1: invalid payload (event_time: expected epoch seconds)");
  });

  it("throws on 401 and when the connection fails, never with the token in the message or the log", () => {
    const refused = runScript(macros("problem"), () => {
      throw new Error("Cannot send request: Couldn't connect to server");
    });
    expect(String(refused.thrown)).toContain("Couldn't connect to server");
    const unauthorized = runScript(macros("problem"), () => ({ status: 401, body: '{"error":"unauthorized"}' }));
    expect(unauthorized.thrown).toBe("alertdesk answered HTTP 401 for the problem of event 1: unauthorized: check alertdesk_token");
    for (const r of [refused, unauthorized]) expect(`${String(r.thrown)} ${r.logs.join(" ")}`).not.toContain("example-token");
  });

  it("throws when alertdesk's URL is not set", () => {
    const { thrown, sent } = runScript({ ...macros("problem"), alertdesk_url: "{$ALERTDESK.URL}" }, ok);
    expect(thrown).toMatch(/set the media type parameter alertdesk_url/);
    expect(sent).toEqual([]);
  });
});

describe("what the script posts, alertdesk takes", () => {
  let svc: TestService | undefined;
  afterEach(async () => {
    await svc?.cleanup();
    svc = undefined;
  });

  it("problem, update and recovery: a ticket, a comment, solved", async () => {
    svc = await startTestService({ config: { webhookToken: "example-token" } });
    for (const name of ["problem", "update", "recovery"] as const) {
      const [sent] = runScript(macros(name), ok).sent;
      const auth = sent?.headers.find((h) => h.startsWith("Authorization: "))?.slice("Authorization: ".length) ?? "";
      const res = await svc.post("/webhooks/zabbix", sent?.body ?? "", { authorization: auth });
      expect(res.status).toBe(200);
      await svc.deliverAll();
    }
    const [ticket] = await svc.tickets();
    expect(ticket).toMatchObject({ priority: "P2", category: "performance", status: "solved" });
    expect(ticket?.comments).toHaveLength(2);
  });
});
