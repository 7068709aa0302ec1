import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { alertmanagerNotification } from "../kit/notifications.js";
import { type ServiceProcess, spawnService } from "../kit/process.js";
import { until } from "../kit/until.js";

/**
 * The way back's timers survive kill -9: an escalation step and a verification that come due while
 * alertdesk is dead happen after the restart, each once. Real processes and the real clock, with
 * targets of seconds; every wait is "until it shows", never a tight deadline.
 */

const dirs: string[] = [];
const processes: ServiceProcess[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const RULES = `
response_targets:
  P3: 3s
defaults:
  priority: P3
  verify_after: 3s
  escalation:
    - after: 100%
`;

function notification(name: string): string {
  return alertmanagerNotification(
    [{ labels: { alertname: name, instance: "web-1:9100" }, startsAt: new Date().toISOString(), generatorURL: "", fingerprint: `fp-${name}` }],
    { groupLabels: { alertname: name }, externalURL: "http://am" },
  );
}

const tickets = async (url: string) => ((await (await fetch(`${url}/api/tickets`)).json()) as { tickets: BuiltinTicket[] }).tickets;
const comments = (t: BuiltinTicket | undefined, prefix: string) => (t?.comments ?? []).filter((c) => c.body.startsWith(prefix));

describe("timers across kill -9", () => {
  it("an escalation and a verification due while alertdesk was dead happen after the restart, each once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-timers-"));
    dirs.push(dir);
    writeFileSync(join(dir, "rules.yaml"), RULES);
    const env = { ALERTDESK_DATA_DIR: join(dir, "data"), ALERTDESK_RULES: join(dir, "rules.yaml") };
    let p = await spawnService(env);
    processes.push(p);
    for (const name of ["Unanswered", "SolvedTooEarly"]) {
      const res = await fetch(`${p.url}/webhooks/alertmanager`, { method: "POST", body: notification(name), headers: { "content-type": "application/json" } });
      expect(res.status).toBe(200);
    }
    const opened = await until("both tickets", async () => {
      const list = await tickets(p.url);
      return list.length === 2 ? list : undefined;
    });
    const solved = opened.find((t) => t.subject.includes("SolvedTooEarly")) as BuiltinTicket;
    // An agent answers (no escalation for this one) and solves while its alert still fires.
    const json = { "content-type": "application/json" };
    expect(
      (await fetch(`${p.url}/api/tickets/${solved.id}/comments`, { method: "POST", headers: json, body: JSON.stringify({ body: "on it", author: "alice" }) }))
        .status,
    ).toBe(201);
    expect(
      (await fetch(`${p.url}/api/tickets/${solved.id}`, { method: "PATCH", headers: json, body: JSON.stringify({ status: "solved", author: "alice" }) }))
        .status,
    ).toBe(200);
    await p.kill("SIGKILL");

    p = await spawnService(env);
    processes.push(p);
    const after = await until("the escalation and the failed verification", async () => {
      const list = await tickets(p.url);
      const unanswered = list.find((t) => t.subject.includes("Unanswered"));
      const again = list.find((t) => t.id === solved.id);
      return comments(unanswered, "Escalation:").length > 0 && comments(again, "Verification failed:").length > 0 ? list : undefined;
    });
    // A few more rounds of the loop (it runs every second): nothing happens twice.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const final = await tickets(p.url);
    expect(
      comments(
        final.find((t) => t.subject.includes("Unanswered")),
        "Escalation:",
      ),
    ).toHaveLength(1);
    expect(
      comments(
        final.find((t) => t.id === solved.id),
        "Verification failed:",
      ),
    ).toHaveLength(1);
    // Its agent answered before the solve: no escalation on that clock. The verification's reopen
    // starts a new clock, so one may come after the verification's comment, never before it.
    const kinds = (final.find((t) => t.id === solved.id)?.comments ?? []).map((c) => c.body.split(":")[0]);
    expect(kinds.slice(0, kinds.indexOf("Verification failed"))).not.toContain("Escalation");
    expect(final.find((t) => t.id === solved.id)?.status).toBe("open");
    expect(after).toHaveLength(2);
  });
});
