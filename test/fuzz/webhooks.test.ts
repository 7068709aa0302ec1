import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PAGE } from "../../src/api/paging.js";
import { INTAKE_LIMITS, parseRfc3339 } from "../../src/intake/payloads.js";
import { BODY_LIMITS } from "../../src/intake/read-body.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * Property-based tests of the webhook receivers: whatever arrives, the answer is a 4xx with a clear
 * message or a correct 2xx; never a crash, never a 5xx, never partial state. ALERTDESK_FUZZ_RUNS
 * raises the number of cases for a longer local run (CI runs ≥ 10,000 in all).
 */

const RUNS = Number(process.env.ALERTDESK_FUZZ_RUNS ?? 2500);
vi.setConfig({ testTimeout: Math.max(120_000, RUNS * 100) });
let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ rules: "rules:\n  - name: all\n    matchers: []\n    priority: P3\n" });
});
afterAll(async () => {
  await svc.cleanup();
});

/** A cheap fingerprint of the whole state: incidents per state, the newest incident and outbox row. */
async function counts() {
  const [newest] = await svc.store.listIncidents({ limit: 1 });
  const [delivery] = await svc.store.listDeliveries({ limit: 1 });
  return { byState: await svc.store.countIncidents(), newest: newest ? `${newest.id}@${newest.updatedAt}` : "", delivery: delivery?.id ?? 0 };
}

const seen: Record<number, number> = {};

type Answer = { error?: string; status?: string; issues?: { field: string; message: string }[]; truncated?: { count: number; fields: string[] } };

/** Posts a raw body; checks the answer's contract; for a 4xx, that nothing changed. Returns the answer. */
async function check(
  path: string,
  raw: string,
  headers: Record<string, string> = {},
  rejected: number[] = [400, 413],
): Promise<{ status: number; body: Answer }> {
  const before = await counts();
  const res = await svc.post(path, raw, headers);
  seen[res.status] = (seen[res.status] ?? 0) + 1;
  const text = await res.text();
  expect(res.status, `${res.status} for ${raw.slice(0, 300)}: ${text.slice(0, 300)}`).toBeLessThan(500);
  const body = JSON.parse(text) as Answer;
  if (res.status === 200) {
    expect(body.status).toBe("stored");
  } else {
    expect(rejected).toContain(res.status);
    expect(body.error).toBeTruthy();
    if (body.issues) for (const i of body.issues) expect(i.field && i.message).toBeTruthy();
    expect(await counts()).toEqual(before);
  }
  return { status: res.status, body };
}

const weirdString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom("", " ", "\u0000", "\u202e", "<script>alert(1)</script>", "'; DROP TABLE incidents; --", "%s%n", "\ud800", "…"),
);
const labelSet = fc.oneof(
  { weight: 9, arbitrary: fc.dictionary(weirdString, weirdString, { maxKeys: 8 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string(), fc.string(), { minKeys: 200, maxKeys: 400 }) },
);
const timestamp = fc.oneof(
  fc.date({ min: new Date("1970-01-02T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "+275760-09-13T00:00:00Z",
    "-271821-04-20T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "yesterday",
    "",
    "1e21",
    "2026-11-25",
  ),
  fc.integer(),
  fc.constant(null),
);
const alert = fc.record(
  {
    status: fc.oneof(fc.constantFrom("firing", "resolved"), weirdString),
    labels: labelSet,
    annotations: fc.oneof(labelSet, fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.double()), { maxKeys: 4 })),
    startsAt: timestamp,
    endsAt: timestamp,
    generatorURL: fc.oneof(fc.webUrl(), weirdString),
    fingerprint: fc.oneof(fc.stringMatching(/^[0-9a-f]{16}$/), weirdString),
    values: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.double(), fc.constant(null), fc.string())), fc.constant(null)),
    valueString: weirdString,
  },
  { requiredKeys: [] },
);
const payload = fc.record(
  {
    receiver: weirdString,
    status: fc.oneof(fc.constantFrom("firing", "resolved"), fc.anything()),
    alerts: fc.oneof(fc.array(alert, { maxLength: 6 }), fc.anything()),
    groupLabels: fc.oneof(labelSet, fc.anything()),
    commonLabels: labelSet,
    commonAnnotations: labelSet,
    externalURL: weirdString,
    groupKey: weirdString,
    truncatedAlerts: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
    version: fc.oneof(fc.constant("4"), fc.string()),
    orgId: fc.oneof(fc.nat(), fc.string()),
  },
  { requiredKeys: [] },
);
/** Valid-looking payloads, mostly accepted, so the 2xx side is exercised as much as the 4xx side. */
const plausible = fc.record({
  status: fc.constantFrom("firing", "resolved"),
  alerts: fc.array(
    fc.record({
      status: fc.constantFrom("firing", "resolved"),
      labels: fc.dictionary(fc.constantFrom("alertname", "instance", "job", "severity", "service"), fc.string({ maxLength: 12 })),
      annotations: fc.dictionary(fc.constantFrom("summary", "value", "runbook_url"), fc.oneof(fc.string(), fc.double().map(String))),
      startsAt: timestamp.filter((t): t is string => typeof t === "string"),
    }),
    { maxLength: 5 },
  ),
  groupLabels: fc.dictionary(fc.constantFrom("alertname", "cluster"), fc.string({ maxLength: 8 })),
});

describe("webhook bodies, property-based", () => {
  const runs = Math.max(1, Math.floor(RUNS));
  it.each(["/webhooks/alertmanager", "/webhooks/grafana"])(`arbitrary JSON to %s: a 4xx or a correct 2xx (${runs} cases)`, async (path) => {
    await fc.assert(
      fc.asyncProperty(fc.json({ maxDepth: 6 }), async (raw) => {
        await check(path, raw);
      }),
      { numRuns: runs },
    );
  });

  it.each(["/webhooks/alertmanager", "/webhooks/grafana"])(
    `payload-shaped bodies with wrong types, unicode, huge label sets and absurd dates to %s (${runs} cases)`,
    async (path) => {
      const accepted = seen[200] ?? 0;
      await fc.assert(
        fc.asyncProperty(fc.oneof(payload, plausible), async (p) => {
          await check(path, JSON.stringify(p));
        }),
        { numRuns: runs },
      );
      // Both sides of the contract were exercised: stored notifications and rejected ones.
      expect((seen[200] ?? 0) - accepted).toBeGreaterThan(runs / 10);
      expect(seen[400] ?? 0).toBeGreaterThan(runs / 10);
    },
  );

  it("deep nesting, duplicate keys, numbers as strings, broken encodings", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const deepObject = `{"alerts":${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}}`;
    for (const raw of [
      deep,
      deepObject,
      '{"status":"firing","status":"resolved","alerts":[],"alerts":[]}',
      '{"status":"firing","alerts":[{"status":"firing","labels":{"a":"1","a":"2"},"startsAt":"2026-01-01T00:00:00Z"}]}',
      '{"status":"firing","truncatedAlerts":"3","alerts":[]}',
      '{"status":"firing","alerts":[{"status":"firing","labels":{"x":1},"startsAt":"2026-01-01T00:00:00Z"}]}',
      "\uFEFF{}",
      Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString("latin1"),
      "null",
      "[]",
      "1",
    ]) {
      await check("/webhooks/alertmanager", raw);
    }
  });
});

/** A valid notification of one alert, to vary one thing at a time. */
function oneAlert(alert: Record<string, unknown>, group = "Fuzz"): string {
  return JSON.stringify({
    status: "firing",
    receiver: "fuzz",
    groupKey: `{}:{alertname="${group}"}`,
    groupLabels: { alertname: group },
    alerts: [{ status: "firing", labels: { alertname: group }, startsAt: "2026-11-25T05:46:52Z", ...alert }],
  });
}

describe("webhook bounds, property-based", () => {
  const runs = Math.max(1, Math.floor(RUNS / 10));

  it(`content types and browser headers: only JSON from a server is taken (${runs} cases)`, async () => {
    const contentType = fc.oneof(
      fc.constantFrom("application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/problem+json", "application/json; charset=UTF8"),
      fc.constantFrom(
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/json; charset=latin1",
        "text/json",
        "application/jsonx",
        "",
      ),
      fc.string({ maxLength: 40 }).filter((t) => /^[\x21-\x7e ]*$/.test(t)),
    );
    const browser = fc.record(
      {
        origin: fc.constantFrom("https://evil.example", "null", "http://127.0.0.1:9095"),
        "sec-fetch-site": fc.constantFrom("cross-site", "same-site", "same-origin", "none"),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(contentType, browser, async (type, headers) => {
        const fromBrowser = headers.origin !== undefined || headers["sec-fetch-site"] === "cross-site" || headers["sec-fetch-site"] === "same-site";
        const [main, ...params] = type.split(";").map((p) => p.trim().toLowerCase());
        const charset = params.find((p) => p.startsWith("charset="))?.slice(8);
        const json =
          (main === "application/json" || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(main ?? "")) &&
          (charset === undefined || charset === "utf-8" || charset === "utf8");
        const { status } = await check("/webhooks/alertmanager", oneAlert({}, "Headers"), { "content-type": type, ...headers }, [403, 415]);
        expect(status).toBe(fromBrowser ? 403 : json ? 200 : 415);
      }),
      { numRuns: runs },
    );
  });

  it(`nesting: refused before parsing exactly when deeper than ${BODY_LIMITS.maxDepth} (${runs} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 200 }), fc.constantFrom("[", '{"a":'), async (depth, open) => {
        const close = open === "[" ? "]" : "}";
        const raw = `{"status":"firing","alerts":${open.repeat(depth)}1${close.repeat(depth)}}`;
        const { status, body } = await check("/webhooks/alertmanager", raw);
        expect(status).toBe(400);
        expect(body.error === "body nested deeper than 32 levels of arrays and objects; a webhook payload has 4").toBe(depth + 1 > BODY_LIMITS.maxDepth);
      }),
      { numRuns: runs },
    );
  });

  it(`long values are cut to their limit with a marker, names and prototypes refused, label sets without a prototype (${runs} cases)`, async () => {
    const key = fc.oneof(
      { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
      { weight: 2, arbitrary: fc.constantFrom("constructor", "toString", "hasOwnProperty", "valueOf", "prototype", "__proto__") },
      { weight: 1, arbitrary: fc.integer({ min: 1000, max: 1100 }).map((n) => "n".repeat(n)) },
    );
    const value = fc.oneof(
      { weight: 6, arbitrary: fc.string({ maxLength: 20 }) },
      {
        weight: 2,
        arbitrary: fc.tuple(fc.integer({ min: 15 * 1024, max: 80 * 1024 }), fc.constantFrom("x", "é", "😀")).map(([n, c]) => c.repeat(Math.ceil(n / c.length))),
      },
    );
    const set = fc.dictionary(key, value, { maxKeys: 5 });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(set, set, async (labels, annotations) => {
        // fc.dictionary makes "__proto__" an own key, as JSON.parse does; JSON.stringify writes it.
        const group = `Bounds${++n}`;
        const raw = oneAlert({ labels: { ...labels, alertname: group }, annotations }, group);
        const parsedBack = JSON.parse(raw) as { alerts: { labels: Record<string, string>; annotations: Record<string, string> }[] };
        const sent = parsedBack.alerts[0] as { labels: Record<string, string>; annotations: Record<string, string> };
        const names = [...Object.keys(sent.labels).map((k) => ["labels", k]), ...Object.keys(sent.annotations).map((k) => ["annotations", k])];
        const refused = names
          .filter(([, k]) => k === "__proto__" || Buffer.byteLength(k as string) > INTAKE_LIMITS.nameBytes)
          .map(([m, k]) => `alerts[0].${m}.${k}`);
        const { status, body } = await check("/webhooks/alertmanager", raw);
        if (refused.length > 0) {
          expect(status).toBe(400);
          expect(body.issues?.map((i) => i.field).sort()).toEqual(refused.sort());
          return;
        }
        expect(status).toBe(200);
        const [incident] = await svc.store.listIncidents({ dedupKey: `alertmanager receiver="fuzz" {}:{alertname="${group}"}`, limit: 1 });
        const stored = incident?.alerts[0];
        if (!stored) throw new Error("not stored");
        for (const [map, limit] of [
          ["labels", INTAKE_LIMITS.labelValueBytes],
          ["annotations", INTAKE_LIMITS.annotationValueBytes],
        ] as const) {
          expect(Object.getPrototypeOf(stored[map])).toBeNull();
          for (const [k, v] of Object.entries(sent[map])) {
            const kept = stored[map][k] as string;
            if (Buffer.byteLength(v) <= limit) expect(kept).toBe(v);
            else {
              expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(limit);
              expect(kept).toContain(`… [truncated by alertdesk: ${Buffer.byteLength(v)} bytes, sha256 `);
              expect(body.truncated?.count).toBeGreaterThan(0);
            }
          }
        }
      }),
      { numRuns: runs },
    );
  });

  it(`timestamps: RFC 3339 with real calendar dates only (${runs} cases)`, async () => {
    const pad = (n: number, w: number) => String(n).padStart(w, "0");
    const stamp = fc
      .record({
        y: fc.integer({ min: 1, max: 9999 }),
        mo: fc.integer({ min: 0, max: 13 }),
        d: fc.integer({ min: 0, max: 32 }),
        h: fc.integer({ min: 0, max: 25 }),
        mi: fc.integer({ min: 0, max: 61 }),
        s: fc.integer({ min: 0, max: 61 }),
        frac: fc.oneof(
          fc.constant(""),
          fc.integer({ min: 1, max: 9 }).map((n) => `.${"123456789".slice(0, n)}`),
        ),
        zone: fc.oneof(fc.constantFrom("Z", "z", "", "+00:00", "-05:30", "+14:00", "+24:00", "+02:60"), fc.constant("+02:00")),
      })
      .map((t) => ({ ...t, text: `${pad(t.y, 4)}-${pad(t.mo, 2)}-${pad(t.d, 2)}T${pad(t.h, 2)}:${pad(t.mi, 2)}:${pad(t.s, 2)}${t.frac}${t.zone}` }));
    await fc.assert(
      fc.asyncProperty(stamp, async (t) => {
        const leap = t.y % 4 === 0 && (t.y % 100 !== 0 || t.y % 400 === 0);
        const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][t.mo - 1] ?? 0;
        const zoneOk = t.zone !== "" && t.zone !== "+24:00" && t.zone !== "+02:60";
        const valid = t.d >= 1 && t.d <= days && t.h <= 23 && t.mi <= 59 && t.s <= 60 && zoneOk;
        expect(Number.isNaN(parseRfc3339(t.text))).toBe(!valid);
        const { status, body } = await check("/webhooks/alertmanager", oneAlert({ startsAt: t.text }, "Stamps"));
        expect(status, t.text).toBe(valid ? 200 : 400);
        if (!valid) expect(body.issues?.map((i) => i.field)).toEqual(["alerts[0].startsAt"]);
      }),
      { numRuns: runs },
    );
  });

  it("after all of it, every list endpoint pages through everything stored, each page bounded", async () => {
    for (const [path, name] of [
      ["/api/incidents", "incidents"],
      ["/api/deliveries", "deliveries"],
      ["/api/tickets", "tickets"],
    ] as const) {
      const ids: number[] = [];
      let url = `${path}?limit=${PAGE.maxLimit}`;
      for (;;) {
        const res = await svc.get(url);
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(text.length).toBeLessThan(PAGE.maxBytes * 2);
        const answer = JSON.parse(text) as Record<string, { id: number }[]> & { next?: number };
        ids.push(...(answer[name] ?? []).map((i) => i.id));
        if (answer.next === undefined) break;
        url = `${path}?limit=${PAGE.maxLimit}&before=${answer.next}`;
      }
      expect(new Set(ids).size).toBe(ids.length);
      if (name === "incidents") expect(ids.length).toBe(Object.values(await svc.store.countIncidents()).reduce((a, b) => a + b, 0));
    }
  });
});
