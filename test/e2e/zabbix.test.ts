import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { FIXTURES, startTestService, type TestService } from "../kit/service.js";
import { until } from "../kit/until.js";
import { startZabbix, type Zabbix } from "../kit/zabbix.js";

/**
 * A real Zabbix 6.0 (Debian's packages, test/kit/zabbix.ts) sends its problems to alertdesk through
 * alertdesk's own media type, imported from deploy/zabbix/alertdesk_media_type.yaml and configured
 * through the Zabbix API as docs/zabbix.md says: a user with the media, and an action with problem,
 * recovery and update operations. The CPU trigger is the one of Zabbix's Linux template (event name,
 * tags, operational data, threshold macro). Its item has the agent's key, system.cpu.util, but is a
 * trapper item: the machine's real CPU is busy during the suite, so the test sets the value itself
 * (zabbix_sender), and the kit's agent config has no UserParameter to read one from a file.
 *
 * CPU above 80 % → one P2 performance ticket with the host, the value and the Zabbix links; an
 * acknowledgement with a message → a comment; the value drops → the ticket solved; above 80 % again
 * within reopen_within → the same ticket reopened. Zabbix runs in Asia/Kolkata (UTC+05:30), so the
 * alert's start proves the media type turned {EVENT.DATE} {EVENT.TIME} into the event's own clock.
 * Then the media type's script, in Zabbix's own JavaScript engine (zabbix_js), delivers a recovery
 * before its problem, as retries can: no ticket.
 */

// Zabbix listens only on 1024-32767: server 31010, agent 31011, frontend 31012 (the kit's own test has 31000-31003).
const BASE = 31010;
const TOKEN = "zabbix-e2e-webhook-token";
const ZABBIX_TZ = "Asia/Kolkata";
const ROOT = new URL("../../", import.meta.url).pathname;
const MEDIA_TYPE_FILE = join(ROOT, "deploy/zabbix/alertdesk_media_type.yaml");
const run = promisify(execFile);

const root = mkdtempSync(join(tmpdir(), "alertdesk-e2e-zabbix-"));
let zabbix: Zabbix | undefined;
let svc: TestService | undefined;

beforeAll(async () => {
  // The daemons take the time zone of the process that starts them; alertdesk, started after, works in UTC anyway.
  const tz = process.env.TZ;
  process.env.TZ = ZABBIX_TZ;
  try {
    // A first run installs the packages (about 3 min); loading the database and trimming it takes about a minute.
    zabbix = await startZabbix({ portBase: BASE, dir: join(root, "zabbix") });
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
  svc = await startTestService({ background: true, realClock: true, config: { webhookToken: TOKEN } });
}, 1_200_000);

afterAll(async () => {
  await zabbix?.stop();
  await svc?.cleanup();
  rmSync(root, { recursive: true, force: true });
}, 180_000);

function z(): Zabbix {
  if (!zabbix) throw new Error("zabbix did not start");
  return zabbix;
}
function service(): TestService {
  if (!svc) throw new Error("alertdesk did not start");
  return svc;
}

const note = (m: string) => process.stderr.write(`[zabbix.test] ${m}\n`);
const WAIT = { timeoutMs: 300_000, intervalMs: 1000 };

interface ZabbixAlert {
  alertid: string;
  eventid: string;
  status: string;
  error: string;
  subject: string;
}

/** Fails at once when Zabbix gave up on a call of the media type (status 2), with Zabbix's error. */
async function noFailedAlerts(mediatypeid: string): Promise<void> {
  const alerts = await z().api<ZabbixAlert[]>("alert.get", { mediatypeids: [mediatypeid], output: "extend" });
  const failed = alerts.filter((a) => a.status === "2" || a.error !== "");
  if (failed.length > 0) throw new Error(`Zabbix's alertdesk media type failed: ${failed.map((a) => `${a.subject}: ${a.error}`).join("; ")}`);
}

/** The built-in helpdesk's only ticket once `ready` holds for it; fails at once when a second ticket appears. */
async function ticketWhen(what: string, mediatypeid: string, ready: (t: BuiltinTicket) => boolean): Promise<BuiltinTicket> {
  return until(
    what,
    async () => {
      await noFailedAlerts(mediatypeid);
      const tickets = await service().tickets();
      if (tickets.length > 1) throw new Error(`${tickets.length} tickets: ${tickets.map((t) => t.subject).join("; ")}`);
      const [ticket] = tickets;
      return ticket && ready(ticket) ? ticket : undefined;
    },
    WAIT,
  );
}

describe("Zabbix 6.0 → alertdesk's media type → one ticket", () => {
  it("a CPU problem opens a P2 ticket, an acknowledgement comments, the recovery solves it, the next problem reopens it", async () => {
    const zb = z();
    const alertdesk = service();
    await zb.api("usermacro.createglobal", { macro: "{$ALERTDESK.URL}", value: alertdesk.url });
    await zb.api("usermacro.createglobal", { macro: "{$ALERTDESK.TOKEN}", value: TOKEN, type: 1 }); // type 1: secret text
    await zb.importYaml(readFileSync(MEDIA_TYPE_FILE, "utf8"));
    const [mediaType] = await zb.api<{ mediatypeid: string }[]>("mediatype.get", { output: ["mediatypeid"], filter: { name: "alertdesk" } });
    const mediatypeid = mediaType?.mediatypeid as string;
    expect(mediatypeid).toBeDefined();

    // docs/zabbix.md: a user for alertdesk with the media; the action notifies that user.
    const [role] = await zb.api<{ roleid: string }[]>("role.get", { output: ["roleid"], filter: { name: "Super admin role" } });
    const [admins] = await zb.api<{ usrgrpid: string }[]>("usergroup.get", { output: ["usrgrpid"], filter: { name: "Zabbix administrators" } });
    const { userids } = await zb.api<{ userids: string[] }>("user.create", {
      username: "alertdesk",
      passwd: "Notify-Only-9876",
      roleid: role?.roleid,
      usrgrps: [{ usrgrpid: admins?.usrgrpid }],
      medias: [{ mediatypeid, sendto: "alertdesk", active: 0, severity: 63, period: "1-7,00:00-24:00" }],
    });
    const userid = userids[0] as string;
    const [linux] = await zb.api<{ groupid: string }[]>("hostgroup.get", { output: ["groupid"], filter: { name: ["Linux servers"] } });
    const { hostids } = await zb.api<{ hostids: string[] }>("host.create", {
      host: zb.agentHost,
      name: "alertdesk test host",
      groups: [{ groupid: linux?.groupid }],
      interfaces: [{ type: 1, main: 1, useip: 1, ip: "127.0.0.1", dns: "", port: String(zb.agentPort) }],
      macros: [{ macro: "{$CPU.UTIL.CRIT}", value: "80" }],
    });
    const hostid = hostids[0] as string;
    const message = { operationtype: 0, opmessage: { default_msg: 1, mediatypeid }, opmessage_usr: [{ userid }] };
    await zb.api("action.create", {
      name: "alertdesk",
      eventsource: 0,
      status: 0,
      esc_period: "1h",
      filter: { evaltype: 0, conditions: [{ conditiontype: 1, operator: 0, value: hostid }] },
      operations: [{ ...message, esc_step_from: 1, esc_step_to: 1 }],
      recovery_operations: [message],
      update_operations: [message],
    });
    // Created disabled and enabled last: once the server takes a value, it knows the trigger and the action (test/kit/zabbix.ts).
    const { itemids } = await zb.api<{ itemids: string[] }>("item.create", {
      hostid,
      name: "CPU utilization",
      key_: "system.cpu.util",
      type: 2, // Zabbix trapper: the test sets the value
      value_type: 0,
      units: "%",
      status: 1,
      tags: [{ tag: "component", value: "cpu" }],
    });
    const itemid = itemids[0] as string;
    const { triggerids } = await zb.api<{ triggerids: string[] }>("trigger.create", {
      description: "High CPU utilization",
      event_name: "High CPU utilization (over {$CPU.UTIL.CRIT}% for 5m)",
      comments: "CPU utilization is too high. The system might be slow to respond.",
      opdata: "Current utilization: {ITEM.LASTVALUE1}",
      expression: `last(/${zb.agentHost}/system.cpu.util)>{$CPU.UTIL.CRIT}`,
      priority: 2, // Warning, as in Zabbix's template
      tags: [{ tag: "scope", value: "performance" }],
    });
    const triggerid = triggerids[0] as string;
    await zb.api("item.update", { itemid, status: 0 });

    // Above 80 %: one P2 performance ticket.
    let t = Date.now();
    await zb.send("system.cpu.util", 87.5);
    const problem = await until(
      "Zabbix's problem",
      async () => (await zb.api<{ eventid: string; clock: string }[]>("problem.get", { objectids: [triggerid], output: ["eventid", "clock"] }))[0],
      WAIT,
    );
    const opened = await ticketWhen("the ticket", mediatypeid, () => true);
    note(`problem ${problem.eventid} → ticket ${opened.id} in ${Math.round((Date.now() - t) / 1000)} s`);
    expect(opened).toMatchObject({ priority: "P2", category: "performance", status: "open" });
    expect(opened.subject).toBe("High CPU utilization (over 80% for 5m) on alertdesk-test-host: Current utilization: 87.5 %");
    expect(opened.body).toContain("instance=alertdesk-test-host — value 87.5");
    expect(opened.body).toContain("host_name:   alertdesk test host");
    expect(opened.body).toContain("host_groups: Linux servers");
    expect(opened.body).toContain("component:   cpu");
    expect(opened.body).toContain("Rule:      cpu-high");
    expect(opened.body).toContain(`- Event: ${zb.frontendUrl}/tr_events.php?triggerid=${triggerid}&eventid=${problem.eventid}`);
    expect(opened.body).toContain(`- Problem: ${zb.frontendUrl}/zabbix.php?action=problem.view&triggerids%5B%5D=${triggerid}`);
    expect(opened.body).toContain(`- Graph: ${zb.frontendUrl}/history.php?action=showgraph&itemids%5B%5D=${itemid}`);
    const [incident] = await alertdesk.store.listIncidents({ limit: 10 });
    // Zabbix's local time (Kolkata) became the event's own clock.
    expect(incident?.alerts[0]?.startsAt).toBe(new Date(Number(problem.clock) * 1000).toISOString());
    expect(incident?.dedupKey).toBe(`zabbix receiver="zabbix" {host="alertdesk-test-host", trigger_id="${triggerid}"}`);

    // Acknowledged with a message in Zabbix: an update, a comment on the same ticket.
    t = Date.now();
    await zb.api("event.acknowledge", { eventids: [problem.eventid], action: 2 | 4, message: "Looking into it" });
    const commented = await ticketWhen("the acknowledgement's comment", mediatypeid, (x) => x.comments.length >= 1);
    note(`acknowledgement → comment in ${Math.round((Date.now() - t) / 1000)} s`);
    expect(commented.comments[0]?.body).toMatch(/^Updated in Zabbix:\n\n- Zabbix Administrator \(Admin\) acknowledged.* at .+ UTC: "Looking into it"/);

    // Below 80 %: Zabbix's recovery solves the ticket.
    t = Date.now();
    await zb.send("system.cpu.util", 12);
    const solved = await ticketWhen("the ticket solved", mediatypeid, (x) => x.status === "solved");
    note(`recovery → solved in ${Math.round((Date.now() - t) / 1000)} s`);
    expect(solved.id).toBe(opened.id);
    expect(solved.comments.at(-1)?.body).toMatch(/^Resolved: all 1 alert stopped firing/);

    // Above 80 % again, within reopen_within (24h): Zabbix's new problem reopens the same ticket.
    t = Date.now();
    await zb.send("system.cpu.util", 91);
    const reopened = await ticketWhen("the ticket reopened", mediatypeid, (x) => x.status === "open");
    note(`second problem → reopened in ${Math.round((Date.now() - t) / 1000)} s`);
    expect(reopened.id).toBe(opened.id);
    expect(reopened.comments.at(-1)?.body).toMatch(
      /^Fired again \(recurrence 1, 2 firings on this ticket\); reopened\.\n\n- High CPU utilization \(over 80% for 5m\) — value 91, since /,
    );
    const events = await zb.api<{ eventid: string }[]>("problem.get", { objectids: [triggerid], output: ["eventid"] });
    expect(events.map((e) => e.eventid)).not.toContain(problem.eventid);

    // Every call of the media type went through, and nothing opened a second ticket.
    await noFailedAlerts(mediatypeid);
    expect(await alertdesk.tickets()).toHaveLength(1);
  });

  it("the media type's script in Zabbix's own engine (zabbix_js): a recovery before its problem opens no ticket", async () => {
    const alertdesk = service();
    const [mediaType] = (parse(readFileSync(MEDIA_TYPE_FILE, "utf8")) as { zabbix_export: { media_types: { script: string }[] } }).zabbix_export.media_types;
    const script = join(root, "alertdesk_media_type.js");
    writeFileSync(script, mediaType?.script ?? "");
    const macros = (name: string) => ({
      ...(JSON.parse(readFileSync(join(FIXTURES, "zabbix", `macros-${name}.json`), "utf8")) as Record<string, string>),
      alertdesk_url: alertdesk.url,
      alertdesk_token: TOKEN,
      // Another host and trigger than the test above, of the recorded Zabbix.
      event_id: "900001",
      trigger_id: "900001",
      host: "reordered-host",
    });
    const zabbixJs = async (params: Record<string, string>) => {
      const { stdout } = await run("zabbix_js", ["-s", script, "-p", JSON.stringify(params), "-t", "30"], { timeout: 60_000 });
      return stdout.trim();
    };
    const before = (await alertdesk.tickets()).length;
    expect(await zabbixJs(macros("recovery"))).toBe("alertdesk: recovery of event 900001 stored");
    expect(await zabbixJs(macros("problem"))).toBe("alertdesk: problem of event 900001 stored");
    await alertdesk.deliverAll();
    expect(await alertdesk.tickets()).toHaveLength(before);
    const incidents = await alertdesk.store.listIncidents({ limit: 10 });
    const reordered = incidents.find((i) => i.dedupKey.includes('trigger_id="900001"'));
    expect(reordered).toMatchObject({ state: "resolved", cancelled: true });
    expect(reordered?.alerts.map((a) => a.status)).toEqual(["resolved"]);
  });
});
