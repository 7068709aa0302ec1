import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatPath } from "../model/field-path.js";
import { INTAKE_LIMITS } from "./bounds.js";
import { detectSource, parseNotification } from "./payloads.js";
import { isUnresolvedMacro, labelNameOfTag, zabbixValue } from "./zabbix.js";

/** The bodies alertdesk's media type sent from a real Zabbix 6.0.14 (test/fixtures/zabbix/README.md). */
const recorded = (name: "problem" | "update" | "recovery") =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/zabbix/${name}.json`, import.meta.url), "utf8")) as Record<string, unknown>;

function parsed(data: unknown) {
  const r = parseNotification("zabbix", data);
  if (!r.ok) throw new Error(r.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join("; "));
  return r;
}

function problems(data: unknown): string[] {
  const r = parseNotification("zabbix", data);
  return r.ok ? [] : r.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
}

describe("a Zabbix problem becomes one firing alert", () => {
  it("with the trigger's event name, the host, its groups, the tags, the severity, the value and the links", () => {
    const { notification } = parsed(recorded("problem"));
    expect(notification).toMatchObject({
      source: "zabbix",
      receiver: "zabbix",
      status: "firing",
      groupKey: '{host="alertdesk-test-host", trigger_id="1"}',
      externalURL: "https://zabbix.example.com",
      truncatedAlerts: 0,
    });
    expect(notification.alerts).toHaveLength(1);
    const [alert] = notification.alerts;
    expect({ ...alert?.labels }).toEqual({
      alertname: "High CPU utilization (over 80% for 5m)",
      host: "alertdesk-test-host",
      instance: "alertdesk-test-host",
      host_name: "alertdesk test host",
      host_groups: "Linux servers",
      severity: "Warning",
      trigger_id: "1",
      scope: "performance",
      component: "cpu",
      env: "lab",
    });
    expect({ ...alert?.annotations }).toEqual({
      summary: "Current utilization: 87.5 %",
      description: "CPU utilization is too high. The system might be slow to respond.",
      item: "CPU utilization",
      last_value: "87.5 %",
    });
    expect(alert).toMatchObject({
      fingerprint: "zabbix-event-1",
      status: "firing",
      value: 87.5,
      // 13:07:00 in Asia/Kolkata, the recording Zabbix's time zone: the event's clock as event.get gives it.
      startsAt: new Date(1796197020 * 1000).toISOString(),
      generatorURL: "https://zabbix.example.com/tr_events.php?triggerid=1&eventid=1",
      links: {
        event: "https://zabbix.example.com/tr_events.php?triggerid=1&eventid=1",
        problem: "https://zabbix.example.com/zabbix.php?action=problem.view&triggerids%5B%5D=1",
        graph: "https://zabbix.example.com/history.php?action=showgraph&itemids%5B%5D=1",
      },
    });
    expect(alert?.endsAt).toBeUndefined();
    expect(alert?.update).toBeUndefined();
  });

  it("is recognised as Zabbix's by detectSource (simulate and the playground guess)", () => {
    expect(detectSource(recorded("problem"))).toBe("zabbix");
    expect(detectSource({ status: "firing", alerts: [] })).toBe("alertmanager");
  });

  it("one incident per trigger and host: another host of the same template, or another trigger, is another group", () => {
    const key = (over: Record<string, unknown>) => parsed({ ...recorded("problem"), ...over }).notification.groupKey;
    const base = key({});
    expect(key({ event_id: "77" })).toBe(base);
    expect(key({ host: "web-2" })).not.toBe(base);
    expect(key({ trigger_id: "2" })).not.toBe(base);
  });
});

describe("a recovery resolves the problem it names, an update stays the same alert", () => {
  it("the recovery has the problem's fingerprint and start, its own end", () => {
    const [alert] = parsed(recorded("recovery")).notification.alerts;
    expect(alert).toMatchObject({
      fingerprint: "zabbix-event-1",
      status: "resolved",
      startsAt: new Date(1796197020 * 1000).toISOString(),
      endsAt: new Date(1796197027 * 1000).toISOString(),
      value: 12,
    });
    expect(alert?.annotations.recovery_event_id).toBe("2");
    expect(parsed(recorded("recovery")).notification.status).toBe("resolved");
  });

  it("a recovery without its time leaves the end to the lifecycle (alertdesk's clock)", () => {
    const body = { ...recorded("recovery"), recovery: { event_id: "2", time: "{EVENT.RECOVERY.TIME}" } };
    expect(parsed(body).notification.alerts[0]?.endsAt).toBeUndefined();
  });

  it("the update carries who did what, when, and the message; the same update has the same id, another one another", () => {
    const [alert] = parsed(recorded("update")).notification.alerts;
    expect(alert?.fingerprint).toBe("zabbix-event-1");
    expect(alert?.status).toBe("firing");
    expect(alert?.labels.severity).toBe("High");
    expect(alert?.update).toMatchObject({
      action: "acknowledged, commented and changed severity from Warning to High",
      message: "Looking into it",
      user: "Zabbix Administrator (Admin)",
      at: new Date(1796197024 * 1000).toISOString(),
    });
    const again = parsed(recorded("update")).notification.alerts[0]?.update?.id;
    expect(again).toBe(alert?.update?.id);
    const later = { ...recorded("update"), update: { ...(recorded("update").update as object), time: 1796197099 } };
    expect(parsed(later).notification.alerts[0]?.update?.id).not.toBe(alert?.update?.id);
  });

  it("an update body needs its update", () => {
    const { update: _, ...body } = recorded("update");
    expect(problems(body)).toEqual(['update: required when event is "update": {action, message, user, time}']);
  });
});

describe("macros Zabbix left unresolved are absent", () => {
  it.each([
    ["{EVENT.RECOVERY.ID}", true],
    ["{$ZABBIX.URL}", true],
    ['{$CPU.UTIL.CRIT:"/"}', true],
    [" {ITEM.LASTVALUE} ", true],
    ["{not a macro}", false],
    ['{"tag":"a"}', false],
    ["Load {ITEM.LASTVALUE}", false],
  ])("%s: %s", (text, unresolved) => {
    expect(isUnresolvedMacro(text)).toBe(unresolved);
  });

  it("optional fields: no links without {$ZABBIX.URL}, no group label, no item", () => {
    const body = { ...recorded("problem"), zabbix_url: "{$ZABBIX.URL}", host_groups: "", item_id: "{ITEM.ID}", item_value: "*UNKNOWN*", opdata: "" };
    const { notification } = parsed(body);
    const [alert] = notification.alerts;
    expect(alert?.links).toEqual({});
    expect(alert?.generatorURL).toBe("");
    expect(notification.externalURL).toBe("");
    expect(alert?.labels.host_groups).toBeUndefined();
    expect(alert?.value).toBeUndefined();
    expect(alert?.annotations.summary).toBeUndefined();
  });

  it("a required field left unresolved is a 400 that says so", () => {
    expect(problems({ ...recorded("problem"), event_id: "{EVENT.ID}", host: "{HOST.HOST}" })).toEqual([
      "event_id: Zabbix did not resolve {EVENT.ID}: the problem's event id ({EVENT.ID}) is required",
      "host: Zabbix did not resolve {HOST.HOST}: the host ({HOST.HOST}) is required",
    ]);
  });

  it("a frontend URL that is not http(s) gives no links", () => {
    expect(parsed({ ...recorded("problem"), zabbix_url: "javascript:alert(1)" }).notification.alerts[0]?.links).toEqual({});
  });
});

describe("the body is checked field by field (400 naming the field)", () => {
  it.each([
    ["event", { event: "acknowledge" }, /^event: /],
    ["event_time", { event_time: "2026.12.02 13:07:00" }, /^event_time: expected epoch seconds/],
    ["event_time missing", { event_time: undefined }, /^event_time: expected epoch seconds/],
    ["severity", { severity: 9 }, /^severity: expected Zabbix's severity/],
    ["trigger_id", { trigger_id: "abc" }, /^trigger_id: expected the trigger's id/],
    ["event_name", { event_name: "" }, /^event_name: required/],
    ["tags", { tags: [{ tag: "ok", value: 1 }] }, /^tags\[0\]\.value: expected a string/],
    ["tags as text that is no JSON", { tags: "[{" }, /^tags: expected \{EVENT\.TAGSJSON\}/],
    ["a __proto__ tag", { tags: [{ tag: "__proto__", value: "x" }] }, /^tags\[0\]\.tag: "__proto__" is not accepted/],
    ["a tag name over 1 KiB", { tags: [{ tag: "t".repeat(1025), value: "x" }] }, /^tags\[0\]\.tag: tag name longer than 1024 bytes/],
    ["too many tags", { tags: Array.from({ length: 257 }, (_, i) => ({ tag: `t${i}`, value: "" })) }, /^tags: 257 tags: at most 256/],
  ])("%s", (_why, over, want) => {
    const found = problems({ ...recorded("problem"), ...over });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(want);
  });

  it("takes Zabbix's ids and times as numbers too, and severity by name", () => {
    const { notification } = parsed({ ...recorded("problem"), event_id: 12, trigger_id: 3, event_time: "1796197020", severity: "disaster" });
    expect(notification.alerts[0]?.fingerprint).toBe("zabbix-event-12");
    expect(notification.alerts[0]?.labels.severity).toBe("Disaster");
    expect(notification.alerts[0]?.labels.trigger_id).toBe("3");
  });

  it("long values are cut, never refused, and the answer lists them", () => {
    const r = parsed({ ...recorded("problem"), trigger_description: "d".repeat(70_000), host_name: "h".repeat(20_000) });
    expect(r.truncated?.fields).toEqual(expect.arrayContaining(["labels.host_name", "description"]));
    expect(Buffer.byteLength(r.notification.alerts[0]?.labels.host_name ?? "")).toBeLessThanOrEqual(INTAKE_LIMITS.labelValueBytes);
  });
});

describe("tags become labels", () => {
  it("names rules can match; a tag named like a derived label keeps that label and becomes tag_<name>; repeated tags join", () => {
    const tags = [
      { tag: "Service name", value: "checkout" },
      { tag: "severity", value: "sev-1" },
      { tag: "component", value: "cpu" },
      { tag: "component", value: "system" },
      { tag: "component", value: "cpu" },
      { tag: "9lives", value: "" },
    ];
    const labels = parsed({ ...recorded("problem"), tags }).notification.alerts[0]?.labels;
    expect(labels?.Service_name).toBe("checkout");
    expect(labels?.severity).toBe("Warning");
    expect(labels?.tag_severity).toBe("sev-1");
    expect(labels?.component).toBe("cpu, system");
    expect(labels?._9lives).toBe("");
  });

  it("{EVENT.TAGSJSON} as the macro's own text is taken too", () => {
    const labels = parsed({ ...recorded("problem"), tags: '[{"tag":"scope","value":"capacity"}]' }).notification.alerts[0]?.labels;
    expect(labels?.scope).toBe("capacity");
  });

  it("labelNameOfTag", () => {
    expect(labelNameOfTag("k8s.namespace")).toBe("k8s_namespace");
    expect(labelNameOfTag("scope")).toBe("scope");
  });
});

describe("zabbixValue: the number in {ITEM.LASTVALUE}", () => {
  it.each([
    ["87.5 %", 87.5],
    ["12 %", 12],
    ["0.25", 0.25],
    ["-3", -3],
    ["12 ms", 12],
    ["1.5e3", 1500],
    ["1.5 GB", undefined],
    ["3 Mbps", undefined],
    ["2d 3h", undefined],
    ["Up (1)", undefined],
    ["*UNKNOWN*", undefined],
    ["", undefined],
  ])("%s: %s", (text, value) => {
    expect(zabbixValue(text)).toBe(value);
  });
});
