import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import axios, { type AxiosInstance } from "axios";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../kit/lab.js";
import { type ServiceProcess, spawnService } from "../kit/process.js";
import { type RtInstance, startRt } from "../kit/rt.js";

/**
 * The same real Prometheus + Alertmanager lab, with alertdesk delivering to the real Request Tracker 5
 * (default_helpdesk: rt): the tickets are asserted in RT itself, through its REST2 API.
 */

const TOKEN = "e2e-rt-webhook-token";
const PORT = 39095;
const BASE = 39090;
const root = mkdtempSync(join(tmpdir(), "alertdesk-e2e-rt-"));
let alertdesk: ServiceProcess | undefined;
let lab: Lab | undefined;
let rt: RtInstance | undefined;
let api: AxiosInstance;

beforeAll(async () => {
  rt = await startRt({ port: 18280 });
  api = axios.create({ baseURL: rt.restUrl, headers: { Authorization: `token ${rt.token}` }, timeout: 60_000 });
  const rulesDir = join(root, "rules");
  mkdirSync(rulesDir);
  copyFileSync(new URL("../../rules/00-defaults.yaml", import.meta.url), join(rulesDir, "00-defaults.yaml"));
  writeFileSync(join(rulesDir, "99-e2e.yaml"), "defaults:\n  flap_threshold: 0\n");
  writeFileSync(join(root, "rt-token"), rt.token);
  writeFileSync(
    join(root, "alertdesk.yml"),
    [
      "default_helpdesk: rt",
      "helpdesks:",
      // A real RT on a slow, busy machine: a minute per request rather than the default 10 s.
      `  rt: { type: rt, url: "${rt.url}", token_file: "${join(root, "rt-token")}", queue: ${rt.queue}, dedup_field: ${rt.dedupField}, timeout: 60s }`,
      "delivery: { poll_interval: 100ms, lease: 5s, backoff_base: 200ms }",
    ].join("\n"),
  );
  alertdesk = await spawnService({
    PORT: String(PORT),
    ALERTDESK_DATA_DIR: join(root, "data"),
    ALERTDESK_WEBHOOK_TOKEN: TOKEN,
    ALERTDESK_CONFIG: join(root, "alertdesk.yml"),
    ALERTDESK_RULES: rulesDir,
  });
  lab = await startLab({ webhookUrl: `http://127.0.0.1:${PORT}/webhooks/alertmanager`, token: TOKEN, portBase: BASE, labDir: join(root, "lab") });
  // A first run installs RT's and the lab's packages; on a slow, busy machine everything starts slowly.
}, 1_800_000);

afterAll(async () => {
  await lab?.stop();
  await alertdesk?.kill();
  await rt?.stop();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

interface RtTicket {
  id: string;
  Subject: string;
  Status: string;
  Priority: string;
  comments: string[];
}

async function rtTickets(): Promise<RtTicket[]> {
  const found = await api.get<{ items: { id: string }[] }>("/tickets", {
    params: { query: `Queue='${rt?.queue}' AND Subject LIKE 'LabServiceDown'`, fields: "Subject,Status,Priority", per_page: 100 },
  });
  const out: RtTicket[] = [];
  for (const item of found.data.items) {
    const t = await api.get<{ Subject: string; Status: string; Priority: string }>(`/ticket/${item.id}`);
    const history = await api.get<{ items: { Type: string; id: string }[] }>(`/ticket/${item.id}/history`, { params: { fields: "Type", per_page: 100 } });
    const comments: string[] = [];
    for (const h of history.data.items.filter((x) => x.Type === "Comment")) {
      const txn = await api.get<{ _hyperlinks?: { ref: string; _url: string }[] }>(`/transaction/${h.id}`);
      const attachment = txn.data._hyperlinks?.find((l) => l.ref === "attachment");
      if (!attachment) continue;
      const att = await api.get<{ Content?: string }>(attachment._url.replace(/^.*\/REST\/2\.0/, ""));
      comments.push(Buffer.from(att.data.Content ?? "", "base64").toString("utf8"));
    }
    out.push({ id: String(item.id), Subject: t.data.Subject, Status: t.data.Status, Priority: String(t.data.Priority), comments });
  }
  return out;
}

async function rtTicketWhen(what: string, check: (t: RtTicket) => boolean): Promise<RtTicket> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const list = await rtTickets().catch(() => []);
    expect(list.length, "LabServiceDown tickets in RT").toBeLessThanOrEqual(1);
    const [t] = list;
    if (t && check(t)) return t;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("Request Tracker as the helpdesk of the real lab", () => {
  it("service down → an RT ticket (priority 100); a second service → one comment; recovery → resolved; re-fire → the same ticket open again", async () => {
    const l = lab as Lab;
    l.setServicesDown(["api"]);
    let t = await rtTicketWhen("the ticket", () => true);
    expect(t.Subject).toContain("LabServiceDown");
    expect(t.Priority).toBe("100");
    l.setServicesDown(["api", "db"]);
    t = await rtTicketWhen("the join comment", (x) => x.comments.some((c) => c.includes("1 alert joined the incident")));
    expect(t.Status).not.toBe("resolved");
    l.setServicesDown([]);
    t = await rtTicketWhen("the resolve", (x) => x.Status === "resolved");
    expect(t.comments.some((c) => /^Resolved: all 2 alerts stopped firing/.test(c))).toBe(true);
    l.setServicesDown(["api"]);
    t = await rtTicketWhen("the reopen", (x) => x.Status === "open" && x.comments.some((c) => c.startsWith("Fired again")));
    const bodies = t.comments;
    expect(new Set(bodies).size, "no comment twice").toBe(bodies.length);
    l.setServicesDown([]);
  });
});
