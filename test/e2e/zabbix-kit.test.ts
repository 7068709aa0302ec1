import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { startZabbix, type Zabbix } from "../kit/zabbix.js";

/**
 * The Zabbix kit itself (test/kit/zabbix.ts): a real Zabbix 6.0 from Debian's packages on loopback.
 * Configured through its API, a trapper item `lab.cpu.util` (deterministic, unlike the machine's real
 * CPU) raises a problem above 80 and resolves it below, and Zabbix runs an imported webhook media type
 * for both: its JavaScript posts its resolved parameters to a receiver in this test and answers OK.
 * The agent's own system.cpu.util is polled too, to show that the agent works. Everything is stopped
 * and the database dropped at the end.
 */

// Zabbix listens only on 1024-32767; 31000-31002 is below Linux's ephemeral range and apart from the other e2e files.
const BASE = 31000;
const RECEIVER_PORT = BASE + 3;
const MEDIA_TYPE = "alertdesk kit check";
const root = mkdtempSync(join(tmpdir(), "alertdesk-e2e-zabbix-"));
let zabbix: Zabbix | undefined;
let receiver: Server | undefined;
/** What the media type's script posted, in order. */
const received: Record<string, string>[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      received.push(JSON.parse(body) as Record<string, string>);
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => receiver?.listen(RECEIVER_PORT, "127.0.0.1", resolve));
  // A first run installs the packages (about 3 min); loading the database and trimming it takes about a minute.
  zabbix = await startZabbix({ portBase: BASE, dir: join(root, "zabbix") });
}, 1_200_000);

afterAll(async () => {
  await zabbix?.stop();
  await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)));
  rmSync(root, { recursive: true, force: true });
}, 180_000);

function z(): Zabbix {
  if (!zabbix) throw new Error("zabbix did not start");
  return zabbix;
}

/** Thrown by a probe to end the wait at once (other errors count as "not yet"). */
class Fatal extends Error {}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch((err: unknown) => {
      if (err instanceof Fatal) throw err;
      return undefined;
    });
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const since = (t: number) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
const note = (m: string) => process.stderr.write(`[zabbix-kit.test] ${m}\n`);

/** A webhook media type as Zabbix 6.0 exports it; its script posts its parameters to the receiver and answers OK. */
function mediaTypeYaml(): string {
  return stringify({
    zabbix_export: {
      version: "6.0",
      media_types: [
        {
          name: MEDIA_TYPE,
          type: "WEBHOOK",
          parameters: [
            { name: "event_id", value: "{EVENT.ID}" },
            { name: "event_value", value: "{EVENT.VALUE}" },
            { name: "host", value: "{HOST.HOST}" },
            { name: "item_value", value: "{ITEM.LASTVALUE}" },
            { name: "severity", value: "{EVENT.SEVERITY}" },
            { name: "trigger_id", value: "{TRIGGER.ID}" },
            { name: "zabbix_url", value: "{$ZABBIX.URL}" },
            { name: "url", value: `http://127.0.0.1:${RECEIVER_PORT}/zabbix` },
          ],
          script: [
            "var params = JSON.parse(value);",
            "var req = new HttpRequest();",
            "req.addHeader('Content-Type: application/json');",
            "req.post(params.url, value);",
            "if (req.getStatus() !== 200) throw 'receiver answered ' + req.getStatus();",
            "return 'OK';",
          ].join("\n"),
          timeout: "10s",
          message_templates: [
            { event_source: "TRIGGERS", operation_mode: "PROBLEM", subject: "Problem: {EVENT.NAME}", message: "{EVENT.NAME} on {HOST.NAME}: {ITEM.LASTVALUE}" },
            { event_source: "TRIGGERS", operation_mode: "RECOVERY", subject: "Resolved: {EVENT.NAME}", message: "{EVENT.NAME} on {HOST.NAME} resolved" },
          ],
        },
      ],
    },
  });
}

interface Alert {
  alertid: string;
  eventid: string;
  p_eventid: string;
  status: string;
  error: string;
  subject: string;
}

/** The media type's alert for `eventid` once Zabbix ran it (status 1 = sent; 2 = failed fails the test). */
async function sentAlert(eventid: string, mediatypeid: string): Promise<Alert> {
  return until(`Zabbix to run the media type for event ${eventid}`, async () => {
    const alerts = await z().api<Alert[]>("alert.get", { eventids: [eventid], mediatypeids: [mediatypeid], output: "extend" });
    const failed = alerts.find((a) => a.status === "2");
    if (failed) throw new Fatal(`alert ${failed.alertid} failed: ${failed.error}`);
    return alerts.find((a) => a.status === "1");
  });
}

describe("the Zabbix kit", () => {
  it("serves the JSON-RPC API of Zabbix 6.0 and logs in", async () => {
    expect(z().version).toMatch(/^6\.0\./);
    const users = await z().api<{ userid: string; username: string }[]>("user.get", { output: ["username"], filter: { username: "Admin" } });
    expect(users).toEqual([{ userid: "1", username: "Admin" }]);
  });

  it("raises a problem above 80 %, resolves it below and raises a new one again, running an imported webhook media type each time", async () => {
    const zb = z();
    const { groupids } = await zb.api<{ groupids: string[] }>("hostgroup.create", { name: "alertdesk kit" });
    const { hostids } = await zb.api<{ hostids: string[] }>("host.create", {
      host: zb.agentHost,
      groups: [{ groupid: groupids[0] }],
      interfaces: [{ type: 1, main: 1, useip: 1, ip: "127.0.0.1", dns: "", port: String(zb.agentPort) }],
    });
    const hostid = hostids[0] as string;
    const [iface] = await zb.api<{ interfaceid: string }[]>("hostinterface.get", { hostids: [hostid], output: ["interfaceid"] });
    await zb.api("item.create", {
      hostid,
      name: "CPU utilization",
      key_: "system.cpu.util",
      type: 0, // Zabbix agent (passive)
      value_type: 0,
      units: "%",
      delay: "5s",
      interfaceid: iface?.interfaceid,
    });

    await zb.importYaml(mediaTypeYaml());
    const [mediaType] = await zb.api<{ mediatypeid: string }[]>("mediatype.get", { output: ["mediatypeid"], filter: { name: MEDIA_TYPE } });
    const mediatypeid = mediaType?.mediatypeid as string;
    expect(mediatypeid).toBeDefined();
    await zb.api("user.update", { userid: "1", medias: [{ mediatypeid, sendto: "alertdesk", active: 0, severity: 63, period: "1-7,00:00-24:00" }] });
    const { actionids } = await zb.api<{ actionids: string[] }>("action.create", {
      name: "to alertdesk (kit check)",
      eventsource: 0,
      status: 0,
      esc_period: "1h",
      filter: { evaltype: 0, conditions: [{ conditiontype: 1, operator: 0, value: hostid }] },
      operations: [{ operationtype: 0, esc_step_from: 1, esc_step_to: 1, opmessage: { default_msg: 1, mediatypeid }, opmessage_usr: [{ userid: "1" }] }],
      recovery_operations: [{ operationtype: 11, opmessage: { default_msg: 1 } }],
    });
    expect(actionids).toHaveLength(1);

    // The trapper item is created disabled and enabled last: once the server accepts a value for it,
    // its configuration cache also holds the trigger and the action (see test/kit/zabbix.ts).
    const { itemids } = await zb.api<{ itemids: string[] }>("item.create", {
      hostid,
      name: "Lab CPU utilization",
      key_: "lab.cpu.util",
      type: 2, // Zabbix trapper
      value_type: 0,
      units: "%",
      status: 1,
    });
    const { triggerids } = await zb.api<{ triggerids: string[] }>("trigger.create", {
      description: "High CPU utilization on {HOST.NAME}",
      expression: `last(/${zb.agentHost}/lab.cpu.util)>80`,
      priority: 4,
    });
    const triggerid = triggerids[0] as string;
    await zb.api("item.update", { itemid: itemids[0], status: 0 });

    let t = Date.now();
    await zb.send("lab.cpu.util", 87.5);
    note(`value 87.5 accepted ${since(t)} after enabling the item`);
    t = Date.now();
    const problem = await until("problem.get to show the problem", async () => {
      const problems = await zb.api<{ eventid: string; name: string; severity: string }[]>("problem.get", { objectids: [triggerid], output: "extend" });
      return problems[0];
    });
    note(`problem ${problem.eventid} after ${since(t)}`);
    expect(problem.name).toBe(`High CPU utilization on ${zb.agentHost}`);
    expect(problem.severity).toBe("4");
    t = Date.now();
    const alert = await sentAlert(problem.eventid, mediatypeid);
    note(`media type ran for the problem ${since(t)} later`);
    expect(alert.subject).toBe(`Problem: High CPU utilization on ${zb.agentHost}`);
    expect(received).toHaveLength(1);
    expect(received[0]).toEqual({
      event_id: problem.eventid,
      event_value: "1",
      host: zb.agentHost,
      item_value: "87.5 %",
      severity: "High",
      trigger_id: triggerid,
      zabbix_url: zb.frontendUrl,
      url: `http://127.0.0.1:${RECEIVER_PORT}/zabbix`,
    });

    t = Date.now();
    await zb.send("lab.cpu.util", 12);
    const recoveryId = await until("event.get to show the recovery", async () => {
      const [event] = await zb.api<{ r_eventid: string }[]>("event.get", { eventids: [problem.eventid], output: ["r_eventid"] });
      return event && event.r_eventid !== "0" ? event.r_eventid : undefined;
    });
    note(`recovery ${recoveryId} after ${since(t)}`);
    expect(await zb.api("problem.get", { objectids: [triggerid], output: ["eventid"] })).toEqual([]);
    t = Date.now();
    const recoveryAlert = await sentAlert(recoveryId, mediatypeid);
    note(`media type ran for the recovery ${since(t)} later`);
    expect(recoveryAlert.p_eventid).toBe(problem.eventid);
    expect(received).toHaveLength(2);
    expect(received[1]).toMatchObject({ event_id: problem.eventid, event_value: "0", item_value: "12 %" });

    // Firing again is a new problem event of the same trigger (what alertdesk will reopen its ticket for).
    t = Date.now();
    await zb.send("lab.cpu.util", 91);
    const again = await until("problem.get to show the second problem", async () => {
      const problems = await zb.api<{ eventid: string }[]>("problem.get", { objectids: [triggerid], output: ["eventid"] });
      return problems[0];
    });
    note(`second problem ${again.eventid} after ${since(t)}`);
    expect(again.eventid).not.toBe(problem.eventid);
    await sentAlert(again.eventid, mediatypeid);
    expect(received[2]).toMatchObject({ event_id: again.eventid, event_value: "1", trigger_id: triggerid, item_value: "91 %" });

    // The agent answers the server's passive checks: the real CPU item gets values.
    t = Date.now();
    const polled = await until("the agent's system.cpu.util to get a value", async () => {
      const [item] = await zb.api<{ lastclock: string; lastvalue: string; state: string; error: string }[]>("item.get", {
        hostids: [hostid],
        filter: { key_: "system.cpu.util" },
        output: ["lastclock", "lastvalue", "state", "error"],
      });
      if (item?.state === "1") throw new Fatal(`system.cpu.util is not supported: ${item.error}`);
      return item && item.lastclock !== "0" ? item : undefined;
    });
    note(`system.cpu.util = ${polled.lastvalue} after ${since(t)}`);
    expect(Number(polled.lastvalue)).toBeGreaterThanOrEqual(0);
  });
});
