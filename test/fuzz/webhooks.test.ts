import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
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

/** Posts a raw body; checks the answer's contract; for a 4xx, that nothing changed. */
async function check(path: string, raw: string) {
  const before = await counts();
  const res = await svc.post(path, raw);
  seen[res.status] = (seen[res.status] ?? 0) + 1;
  const text = await res.text();
  expect(res.status, `${res.status} for ${raw.slice(0, 300)}: ${text.slice(0, 300)}`).toBeLessThan(500);
  const body = JSON.parse(text) as { error?: string; status?: string; issues?: { field: string; message: string }[] };
  if (res.status === 200) {
    expect(body.status).toBe("stored");
  } else {
    expect([400, 413]).toContain(res.status);
    expect(body.error).toBeTruthy();
    if (body.issues) for (const i of body.issues) expect(i.field && i.message).toBeTruthy();
    expect(await counts()).toEqual(before);
  }
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
      fc.asyncProperty(fc.json({ maxDepth: 6 }), (raw) => check(path, raw)),
      { numRuns: runs },
    );
  });

  it.each(["/webhooks/alertmanager", "/webhooks/grafana"])(
    `payload-shaped bodies with wrong types, unicode, huge label sets and absurd dates to %s (${runs} cases)`,
    async (path) => {
      const accepted = seen[200] ?? 0;
      await fc.assert(
        fc.asyncProperty(fc.oneof(payload, plausible), (p) => check(path, JSON.stringify(p))),
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
