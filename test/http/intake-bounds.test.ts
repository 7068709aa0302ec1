import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { BODY_LIMITS } from "../../src/intake/read-body.js";
import { fixture, startTestService, type TestService } from "../kit/service.js";

/**
 * What a webhook may cost and who may send one: only JSON, never from a browser, nesting and
 * concurrent large bodies bounded, long values cut with a marker that shows on the ticket, strict
 * dates, label sets without a prototype, and a bounded log of rejections.
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

const FIRING = fixture("01-first-firing-single").body;

async function state(s: TestService) {
  return {
    incidents: (await s.store.listIncidents({ limit: 10_000 })).length,
    deliveries: (await s.store.listDeliveries({ limit: 10_000 })).length,
    tickets: (await s.tickets()).length,
  };
}

/** A notification of one group with the given alerts (labels, annotations, dates overridable). */
function notification(group: string, alerts: Record<string, unknown>[], over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: "4",
    receiver: "ops",
    status: "firing",
    groupKey: `{}:{alertname="${group}"}`,
    groupLabels: { alertname: group },
    externalURL: "http://am.example",
    alerts: alerts.map((a, i) => ({
      status: "firing",
      labels: { alertname: group, instance: `host-${i}` },
      annotations: { summary: `${group} is down` },
      startsAt: "2026-11-25T05:46:52.832573478Z",
      endsAt: "0001-01-01T00:00:00Z",
      generatorURL: "http://prom.example/graph",
      ...a,
    })),
    ...over,
  });
}

function raw(s: TestService, body: string | Uint8Array, headers: Record<string, string>) {
  return fetch(`${s.url}/webhooks/alertmanager`, { method: "POST", body, headers });
}

describe("only JSON, and never from a browser", () => {
  it.each([
    ["text/plain (what a cross-site form may send without a CORS preflight)", { "content-type": "text/plain" }],
    ["a form", { "content-type": "application/x-www-form-urlencoded" }],
    ["no content type", {}],
    ["JSON in another charset", { "content-type": "application/json; charset=latin1" }],
    ["multipart", { "content-type": "multipart/form-data; boundary=x" }],
  ])("answers 415 to %s and stores nothing", async (_why, headers) => {
    svc = await startTestService();
    const res = await raw(svc, new TextEncoder().encode(FIRING), headers);
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: string }).error).toMatch(/application\/json/);
    expect(await state(svc)).toEqual({ incidents: 0, deliveries: 0, tickets: 0 });
  });

  it.each([["application/json"], ["application/json; charset=utf-8"], ['application/json;charset="UTF-8"'], ["application/vnd.alertmanager+json"]])(
    "takes %s",
    async (type) => {
      svc = await startTestService();
      expect((await raw(svc, FIRING, { "content-type": type })).status).toBe(200);
    },
  );

  it.each([
    ["an Origin (a browser's cross-site POST, the text/plain form of the issue)", { origin: "https://evil.example", "content-type": "text/plain" }],
    ["an Origin with JSON", { origin: "https://evil.example", "content-type": "application/json" }],
    ["Origin: null (a sandboxed page)", { origin: "null", "content-type": "application/json" }],
    ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site", "content-type": "application/json" }],
    ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site", "content-type": "application/json" }],
  ])("answers 403 to a request with %s and opens no ticket, also when no token is set", async (_why, headers) => {
    svc = await startTestService();
    const res = await raw(svc, FIRING, headers);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/not from web browsers/);
    await svc.deliverAll();
    expect(await state(svc)).toEqual({ incidents: 0, deliveries: 0, tickets: 0 });
  });

  it("takes what a server sends: no Origin, Sec-Fetch-Site none or same-origin when present", async () => {
    svc = await startTestService();
    expect((await raw(svc, FIRING, { "content-type": "application/json", "sec-fetch-site": "none" })).status).toBe(200);
  });
});

describe("nesting and large bodies", () => {
  it("refuses a body nested deeper than 32 levels before parsing it, and stores nothing", async () => {
    svc = await startTestService();
    const depth = BODY_LIMITS.maxDepth + 1;
    for (const body of [`{"alerts":${"[".repeat(depth)}${"]".repeat(depth)}}`, `${"[".repeat(4_000_000)}${"]".repeat(4_000_000)}`]) {
      const res = await svc.post("/webhooks/alertmanager", body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe("body nested deeper than 32 levels of arrays and objects; a webhook payload has 4");
    }
    // 32 levels are parsed (and then refused as a payload of the wrong shape, naming the field).
    const res = await svc.post("/webhooks/alertmanager", `{"status":"firing","alerts":${"[".repeat(31)}${"]".repeat(31)}}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("invalid payload");
    expect(await state(svc)).toEqual({ incidents: 0, deliveries: 0, tickets: 0 });
  });

  it("parses at most two bodies over 1 MiB at once; a few wait their turn, beyond that 503 with Retry-After", async () => {
    svc = await startTestService();
    const url = new URL(svc.url);
    const body = Buffer.from(notification("Large", [{ annotations: { summary: "large", description: "d".repeat(1.5 * 1024 * 1024) } }]));
    // Uploads that hold their turn: the headers and half the body are sent, the rest only when told.
    const upload = () => {
      let finish = () => {};
      const answer = new Promise<{ status: number; retryAfter: string | undefined; text: string }>((resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: "/webhooks/alertmanager",
            method: "POST",
            headers: { "content-type": "application/json", "content-length": body.length },
          },
          (res) => {
            let text = "";
            res.on("data", (c: Buffer) => {
              text += c.toString();
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], text }));
          },
        );
        req.on("error", reject);
        req.write(body.subarray(0, body.length / 2));
        finish = () => req.end(body.subarray(body.length / 2));
      });
      return { answer, finish: () => finish() };
    };
    const holders = Array.from({ length: BODY_LIMITS.largeConcurrent + BODY_LIMITS.largeWaiting }, upload);
    // Every one of them reached the gate (two inside, the rest waiting) before the next comes.
    const waiting = () => svc?.logs.filter((l) => l.includes("webhook waits for its turn to parse a large body")).length;
    await expect.poll(waiting, { timeout: 60_000 }).toBe(BODY_LIMITS.largeWaiting);
    const refused = upload();
    refused.finish();
    const answer = await refused.answer;
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe("5");
    expect(JSON.parse(answer.text)).toEqual({ error: "too many large webhook bodies at once (over 1048576 bytes); retry" });
    for (const h of holders) h.finish();
    const statuses = (await Promise.all(holders.map((h) => h.answer))).map((a) => a.status);
    expect(statuses).toEqual(holders.map(() => 200));
    // A small webhook never waits at the gate.
    expect((await svc.post("/webhooks/alertmanager", FIRING)).status).toBe(200);
  });
});

describe("long values are cut at intake, and the ticket says so", () => {
  it("a 9 MiB label value: stored cut to 16 KiB with a marker, the answer names the field, the ticket shows the marker", async () => {
    svc = await startTestService();
    const huge = "x".repeat(9 * 1024 * 1024);
    const res = await svc.post("/webhooks/alertmanager", notification("Huge", [{ labels: { alertname: "Huge", instance: huge } }]));
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { status: string; truncated: { count: number; fields: string[] } };
    expect(answer.truncated).toEqual({ count: 1, fields: ["alerts[0].labels.instance"] });
    await svc.deliverAll();
    const [incident] = await svc.store.listIncidents({ limit: 1 });
    const instance = incident?.alerts[0]?.labels.instance ?? "";
    expect(Buffer.byteLength(instance)).toBeLessThanOrEqual(16 * 1024);
    expect(instance).toMatch(/… \[truncated by alertdesk: 9437184 bytes, sha256 [0-9a-f]{16}\]$/);
    const [ticket] = await svc.tickets();
    // The ticket repeats 1 KiB of it, and says how much it left out and that intake had cut it.
    expect(ticket?.labels.instance).toBe(`${"x".repeat(1024)}… (${instance.length - 1024} more characters)${instance.slice(instance.indexOf("… [truncated"))}`);
    expect(ticket?.body).toContain("truncated by alertdesk: 9437184 bytes");
    // What is stored for the notification: kilobytes, not the 47 MB of text one such webhook used to store.
    const stored = JSON.stringify([await svc.store.listIncidents({ limit: 10 }), await svc.store.listDeliveries({ limit: 10 }), await svc.tickets()]);
    expect(stored.length).toBeLessThan(200_000);
  });

  it("an annotation over 64 KiB is cut; one under is kept whole", async () => {
    svc = await startTestService();
    const res = await svc.post(
      "/webhooks/alertmanager",
      notification("Text", [{ annotations: { summary: "s", description: "d".repeat(100_000), runbook: "r".repeat(60_000) } }]),
    );
    expect(((await res.json()) as { truncated: unknown }).truncated).toEqual({ count: 1, fields: ["alerts[0].annotations.description"] });
    const [incident] = await svc.store.listIncidents({ limit: 1 });
    expect(incident?.alerts[0]?.annotations.description).toMatch(/truncated by alertdesk: 100000 bytes/);
    expect(incident?.alerts[0]?.annotations.runbook).toBe("r".repeat(60_000));
  });

  it("an answer without cut values has no truncated field", async () => {
    svc = await startTestService();
    expect(Object.keys((await (await svc.post("/webhooks/alertmanager", FIRING)).json()) as object)).toEqual(["status", "incidents"]);
  });
});

describe("names, prototypes and dates", () => {
  it.each([
    [
      "__proto__ as a label name",
      notification("P", [{ labels: { alertname: "P" } }]).replace('"labels":{', '"labels":{"__proto__":"x",'),
      "alerts[0].labels.__proto__",
    ],
    [
      "__proto__ as an annotation name",
      notification("P", [{}]).replace('"annotations":{', '"annotations":{"__proto__":"x",'),
      "alerts[0].annotations.__proto__",
    ],
    ["startsAt 'foo 1' (Date.parse: 2001-01-01)", notification("D", [{ startsAt: "foo 1" }]), "alerts[0].startsAt"],
    ["startsAt 2026-02-30 (Date.parse: March 2)", notification("D", [{ startsAt: "2026-02-30T00:00:00Z" }]), "alerts[0].startsAt"],
    ["a label name over 1 KiB", notification("N", [{ labels: { ["n".repeat(2000)]: "v" } }]), `alerts[0].labels.${"n".repeat(2000)}`],
  ])("answers 400 naming the field to %s, and stores nothing", async (_why, body, field) => {
    svc = await startTestService();
    const res = await svc.post("/webhooks/alertmanager", body);
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { error: string; issues: { field: string; message: string }[] };
    expect(answer.issues.map((i) => i.field)).toEqual([field]);
    expect(await state(svc)).toEqual({ incidents: 0, deliveries: 0, tickets: 0 });
  });

  it("takes Alertmanager's nanoseconds, Grafana's offsets and Go's zero time", async () => {
    svc = await startTestService();
    const body = notification("Dates", [{ startsAt: "2026-11-25T06:46:52.123456789+01:00", endsAt: "0001-01-01T00:00:00Z" }]);
    expect((await svc.post("/webhooks/alertmanager", body)).status).toBe(200);
    const [incident] = await svc.store.listIncidents({ limit: 1 });
    expect(incident?.alerts[0]?.startsAt).toBe("2026-11-25T05:46:52.123Z");
    expect(incident?.alerts[0]?.endsAt).toBeUndefined();
  });

  it("labels named constructor, toString or hasOwnProperty are labels: no function of Object.prototype in any ticket text, also after reading the incident back", async () => {
    svc = await startTestService();
    const alerts: { labels: Record<string, string> }[] = [
      { labels: { alertname: "Proto", instance: "a", constructor: "ctor-value" } },
      { labels: { alertname: "Proto", instance: "b", toString: "ts-value" } },
      { labels: { alertname: "Proto", instance: "c" } },
    ];
    expect((await svc.post("/webhooks/alertmanager", notification("Proto", alerts))).status).toBe(200);
    await svc.deliverAll();
    // The second notification decides on the incident as the store gives it back.
    const more = [...alerts, { labels: { alertname: "Proto", instance: "d", hasOwnProperty: "h" } }];
    expect((await svc.post("/webhooks/alertmanager", notification("Proto", more))).status).toBe(200);
    await svc.deliverAll();
    const [ticket] = await svc.tickets();
    const text = JSON.stringify(ticket);
    expect(text).toContain("constructor=ctor-value");
    expect(text).toContain("toString=ts-value");
    expect(text).not.toMatch(/native code|function Object|function toString|\[object Object\]/);
    const [incident] = await svc.store.listIncidents({ limit: 1 });
    expect(Object.getPrototypeOf(incident?.alerts[0]?.labels)).toBeNull();
    expect(incident?.alerts[2]?.labels.constructor).toBeUndefined();
  });
});

describe("rejections are logged within a budget; the metrics count every one", () => {
  it("a flood of bad webhooks writes at most 10 lines a second and one line saying how many it left out", async () => {
    svc = await startTestService();
    const started = Date.now();
    const n = 300;
    for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, () => svc?.post("/webhooks/alertmanager", '{"status":"burning"}')));
    const elapsedWindows = Math.ceil((Date.now() - started) / 1000) + 1;
    const lines = () => svc?.logs.filter((l) => l.includes('"msg":"webhook rejected: invalid payload"')).length ?? 0;
    const suppressed = () =>
      (svc?.logs ?? [])
        .filter((l) => l.includes("webhook rejections not logged"))
        .reduce((sum, l) => sum + (JSON.parse(l) as { suppressed: number }).suppressed, 0);
    // The last window's summary comes once that window is over.
    await expect.poll(() => lines() + suppressed(), { timeout: 5000 }).toBe(n);
    expect(lines()).toBeLessThanOrEqual(BODY_LIMITS.rejectionsLoggedPerSecond * elapsedWindows);
    const metrics = await (await svc.get("/metrics")).text();
    expect(metrics).toMatch(/alertdesk_notifications_received_total\{source="alertmanager",outcome="invalid"\} 300/);
  });
});
