import { describe, expect, it } from "vitest";
import { formatPath } from "../model/field-path.js";
import { cutValue, INTAKE_LIMITS, parseNotification, parseRfc3339 } from "./payloads.js";

const alert = (over: Record<string, unknown> = {}) => ({ status: "firing", labels: { alertname: "A" }, startsAt: "2026-11-25T05:46:52Z", ...over });
const payload = (over: Record<string, unknown> = {}, alertOver: Record<string, unknown> = {}) => ({ status: "firing", alerts: [alert(alertOver)], ...over });

function fields(data: unknown, source: "alertmanager" | "grafana" = "alertmanager"): string[] {
  const r = parseNotification(source, data);
  return r.ok ? [] : r.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
}

describe("parseRfc3339: RFC 3339 date-times only, real calendar dates", () => {
  it.each([
    // [why, text, ISO or null for refused]
    ["Alertmanager's nanoseconds, cut to milliseconds", "2026-11-25T05:46:52.832573478Z", "2026-11-25T05:46:52.832Z"],
    ["Grafana's offset", "2026-11-25T06:46:52+01:00", "2026-11-25T05:46:52.000Z"],
    ["a negative offset", "2026-11-25T00:16:52.5-05:30", "2026-11-25T05:46:52.500Z"],
    ["Go's zero time (endsAt of a firing alert)", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"],
    ["lower-case t and z are RFC 3339 too", "2026-11-25t05:46:52z", "2026-11-25T05:46:52.000Z"],
    ["29 February of a leap year", "2028-02-29T00:00:00Z", "2028-02-29T00:00:00.000Z"],
    ["a leap second is the next second's start", "2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z"],
    ["years 0–99 are not read as 1900–1999", "0050-06-01T00:00:00Z", "0050-06-01T00:00:00.000Z"],
    ["30 February does not exist (Date.parse: 2 March)", "2026-02-30T00:00:00Z", null],
    ["29 February of a common year", "2026-02-29T00:00:00Z", null],
    ["1900 is no leap year", "1900-02-29T00:00:00Z", null],
    ["a phrase Date.parse reads as 2001", "foo 1", null],
    ["a date without a time", "2026-11-25", null],
    ["a time without an offset (local time is a guess)", "2026-11-25T05:46:52", null],
    ["hour 24", "2026-11-25T24:00:00Z", null],
    ["minute 60", "2026-11-25T05:60:00Z", null],
    ["an offset of 24 hours", "2026-11-25T05:46:52+24:00", null],
    ["month 13", "2026-13-01T00:00:00Z", null],
    ["day 0", "2026-11-00T00:00:00Z", null],
    ["an extended year", "+275760-09-13T00:00:00Z", null],
    ["a space instead of T", "2026-11-25 05:46:52Z", null],
    ["a number as text", "1e21", null],
    ["the empty string", "", null],
  ])("%s: %s", (_why, text, iso) => {
    const ms = parseRfc3339(text);
    if (iso === null) expect(ms).toBeNaN();
    else expect(new Date(ms).toISOString()).toBe(iso);
  });

  it("refuses a startsAt that is not RFC 3339 with 400 naming the field, and takes the same alert with a real date", () => {
    expect(fields(payload({}, { startsAt: "2026-02-30T00:00:00Z" }))).toEqual([expect.stringMatching(/^alerts\[0\]\.startsAt: must be an RFC 3339 timestamp/)]);
    expect(fields(payload({}, { startsAt: "foo 1" }))).toHaveLength(1);
    expect(fields(payload({}, { endsAt: "2026-11-25" }))).toEqual([expect.stringMatching(/^alerts\[0\]\.endsAt:/)]);
    expect(fields(payload({}, { startsAt: "2026-02-28T00:00:00Z" }))).toEqual([]);
  });

  it("keeps Go's zero endsAt meaning 'not set'", () => {
    const r = parseNotification("alertmanager", payload({}, { endsAt: "0001-01-01T00:00:00Z" }));
    expect(r.ok && r.notification.alerts[0]?.endsAt).toBeUndefined();
  });
});

describe("cutValue: long values are cut on a character boundary, with a marker", () => {
  it("leaves a value within the limit alone", () => {
    expect(cutValue("x".repeat(100), 100)).toBeUndefined();
    expect(cutValue("é".repeat(50), 100)).toBeUndefined(); // 100 bytes exactly
  });

  it("cuts to the byte limit, the marker saying the full size and a hash of the whole value", () => {
    const cut = cutValue("x".repeat(10_000), 1024) as string;
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1024);
    expect(cut).toMatch(/^x+… \[truncated by alertdesk: 10000 bytes, sha256 [0-9a-f]{16}\]$/);
  });

  it("two long values that differ only after the cut stay two values", () => {
    const a = cutValue(`${"x".repeat(5000)}a`, 1024);
    const b = cutValue(`${"x".repeat(5000)}b`, 1024);
    expect(a).not.toBe(b);
  });

  it("never splits a multi-byte character or a surrogate pair", () => {
    for (const unit of ["é", "€", "😀"]) {
      const cut = cutValue(unit.repeat(2000), 1000) as string;
      const kept = cut.slice(0, cut.indexOf("…"));
      expect(kept.length % unit.length).toBe(0);
      expect([...kept].every((c) => c === unit)).toBe(true);
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1000);
    }
  });
});

describe("bounds at intake", () => {
  it("cuts a label value over 16 KiB and an annotation over 64 KiB, and reports the fields cut", () => {
    const r = parseNotification(
      "alertmanager",
      payload(
        { groupLabels: { instance: "g".repeat(20_000) } },
        { labels: { alertname: "A", instance: "i".repeat(9 * 1024 * 1024) }, annotations: { description: "d".repeat(70_000), summary: "s".repeat(60_000) } },
      ),
    );
    if (!r.ok) throw new Error("refused");
    const a = r.notification.alerts[0];
    expect(Buffer.byteLength(a?.labels.instance ?? "")).toBeLessThanOrEqual(INTAKE_LIMITS.labelValueBytes);
    expect(a?.labels.instance).toContain("… [truncated by alertdesk: 9437184 bytes, sha256 ");
    expect(a?.annotations.description).toContain("[truncated by alertdesk: 70000 bytes");
    expect(a?.annotations.summary).toBe("s".repeat(60_000));
    expect(r.notification.groupLabels.instance).toContain("[truncated by alertdesk: 20000 bytes");
    expect(r.truncated).toEqual({ count: 3, fields: ["groupLabels.instance", "alerts[0].labels.instance", "alerts[0].annotations.description"] });
  });

  it("cuts the group key, the receiver and URLs too (the group key is part of an indexed dedup key)", () => {
    const r = parseNotification(
      "alertmanager",
      payload(
        { groupKey: `{}:{a="${"k".repeat(5000)}"}`, receiver: "r".repeat(300), externalURL: `http://am/${"u".repeat(20_000)}` },
        { generatorURL: `http://p/${"u".repeat(20_000)}` },
      ),
    );
    if (!r.ok) throw new Error("refused");
    expect(Buffer.byteLength(r.notification.groupKey)).toBeLessThanOrEqual(INTAKE_LIMITS.groupKeyBytes);
    expect(Buffer.byteLength(r.notification.receiver)).toBeLessThanOrEqual(INTAKE_LIMITS.shortBytes);
    expect(r.truncated?.fields).toEqual(["receiver", "groupKey", "externalURL", "alerts[0].generatorURL"]);
  });

  it.each([
    ["a label name over 1 KiB", payload({}, { labels: { ["n".repeat(1025)]: "v" } }), /^alerts\[0\]\.labels\.n+: label name longer than 1024 bytes$/],
    ["an annotation name over 1 KiB", payload({}, { annotations: { ["n".repeat(1025)]: "v" } }), /annotation name longer than 1024 bytes$/],
    [
      "more than 256 labels",
      payload({}, { labels: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`l${i}`, "v"])) }),
      /^alerts\[0\]\.labels: 257 labels: at most 256 are accepted$/,
    ],
    [
      "a label value that is a number",
      payload({}, { labels: { alertname: "A", severity: 3 } }),
      /^alerts\[0\]\.labels\.severity: expected a string, received number$/,
    ],
    ["labels that are not an object", payload({}, { labels: ["a"] }), /^alerts\[0\]\.labels: expected an object of labels, received array$/],
  ])("refuses %s with 400 naming the field", (_why, data, message) => {
    expect(fields(data)).toEqual([expect.stringMatching(message)]);
  });

  it.each([
    [
      "a label",
      '{"status":"firing","alerts":[{"status":"firing","labels":{"alertname":"A","__proto__":"x"},"startsAt":"2026-11-25T05:46:52Z"}]}',
      "alerts[0].labels.__proto__",
    ],
    [
      "an annotation",
      '{"status":"firing","alerts":[{"status":"firing","labels":{},"annotations":{"__proto__":{"a":1}},"startsAt":"2026-11-25T05:46:52Z"}]}',
      "alerts[0].annotations.__proto__",
    ],
    ["a group label", '{"status":"firing","groupLabels":{"__proto__":"x"},"alerts":[]}', "groupLabels.__proto__"],
    [
      "a Grafana value",
      '{"status":"firing","alerts":[{"status":"firing","labels":{},"values":{"__proto__":1},"startsAt":"2026-11-25T05:46:52Z"}]}',
      "alerts[0].values.__proto__",
    ],
  ])("refuses __proto__ as %s (JSON.parse keeps it as a key; zod's record would drop it silently)", (_why, raw, field) => {
    const source = raw.includes('"values"') ? "grafana" : "alertmanager";
    expect(fields(JSON.parse(raw), source)).toEqual([
      `${field}: "__proto__" is not accepted as a ${field.includes("values") ? "value" : field.includes("annotations") ? "annotation" : "label"} name`,
    ]);
  });

  it("builds label sets without a prototype: constructor and toString are labels, absent ones undefined", () => {
    const r = parseNotification("grafana", payload({}, { labels: { constructor: "c", toString: "t" }, values: { A: 1 } }));
    if (!r.ok) throw new Error("refused");
    const a = r.notification.alerts[0];
    expect(Object.getPrototypeOf(a?.labels)).toBeNull();
    expect(Object.getPrototypeOf(a?.annotations)).toBeNull();
    expect(Object.getPrototypeOf(a?.values)).toBeNull();
    expect(Object.getPrototypeOf(r.notification.groupLabels)).toBeNull();
    expect(a?.labels.constructor).toBe("c");
    expect(a?.labels.toString).toBe("t");
    expect(a?.annotations.constructor).toBeUndefined();
    expect(a?.annotations.hasOwnProperty).toBeUndefined();
  });
});
