import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AlertmanagerAlert,
  type AlertmanagerClient,
  CREATED_BY,
  createAlertmanagerClient,
  matchersFor,
  type SilenceMatcher,
  silenceComment,
} from "../../src/alertmanagers/client.js";
import { alertmanagerConfigSchema } from "../../src/alertmanagers/config.js";
import { DeliveryError } from "../../src/model/delivery-error.js";
import { type FaultProxy, startFaultProxy, status } from "../fakes/fault-proxy.js";
import { ensurePackages, onPath } from "../kit/apt.js";
import { type Daemon, httpOk, portInUse, startDaemon, waitFor } from "../kit/daemon.js";
import { type ExtraAlertmanager, startAlertmanager } from "../kit/lab.js";

/**
 * The Alertmanager client against the real Alertmanager 0.25 of the lab (Debian's package): silences
 * created, extended, replaced, expired and found again, each checked with amtool, as an operator would
 * see them; the alerts verification counts, silenced and inhibited ones included; and the failures
 * the outbox must classify (400, 5xx, a hang, credentials), through the fault proxy.
 */

const run = promisify(execFile);
/** Alertmanager 25000, the one with basic auth 25001: clear of the other tests' ports (24090…, 29090…, 31000…, 39090…). */
const BASE = 25000;
const HOST = "127.0.0.1";
const READY_MS = 180_000;
/** How long Alertmanager may take to show an alert's new state (it computes it when asked; this allows for a busy machine). */
const SETTLE_MS = 60_000;

const root = mkdtempSync(join(tmpdir(), "alertdesk-am-client-"));
let am: ExtraAlertmanager | undefined;
let authAm: Daemon | undefined;
let proxy: FaultProxy | undefined;
let client: AlertmanagerClient;
const AUTH_USER = "alertdesk";
const AUTH_PASSWORD = "am-basic-Pa55word-xyz";
const BEARER = "glsa_bearer-Token-0123456789";

/** A minimal Alertmanager config: one receiver that sends nowhere, and an inhibition to see `inhibitedBy`. */
const ALERTMANAGER_YML = `route:
  receiver: nowhere
  group_wait: 1s
receivers:
  - name: nowhere
inhibit_rules:
  - source_matchers: ['alertname="LabInhibitor"']
    target_matchers: ['alertname="LabInhibited"']
    equal: [cluster]
`;

function entry(url: string, extra: Record<string, unknown> = {}) {
  return alertmanagerConfigSchema.parse({ name: "lab", url, ...extra });
}

const amUrl = () => {
  if (!am) throw new Error("alertmanager not started");
  return am.url;
};

beforeAll(async () => {
  await ensurePackages(["prometheus-alertmanager"], { commands: { "prometheus-alertmanager": "prometheus-alertmanager" } });
  if (!onPath("amtool")) throw new Error("amtool is missing although prometheus-alertmanager is installed");
  for (const port of [BASE, BASE + 1]) if (await portInUse(port)) throw new Error(`${HOST}:${port} is already in use`);
  mkdirSync(join(root, "config"), { recursive: true });
  const config = join(root, "config", "alertmanager.yml");
  writeFileSync(config, ALERTMANAGER_YML);
  await run("amtool", ["check-config", config], { timeout: 60_000 });
  am = await startAlertmanager({ labDir: root, name: "silences", port: BASE });

  // A second one behind basic auth (exporter-toolkit's web config), so the real server checks the header.
  const web = join(root, "web.yml");
  writeFileSync(web, `basic_auth_users:\n  ${AUTH_USER}: ${JSON.stringify(bcrypt.hashSync(AUTH_PASSWORD, 4))}\n`);
  const authDir = join(root, "am-auth");
  mkdirSync(authDir, { recursive: true });
  authAm = startDaemon(
    "alertmanager auth",
    "prometheus-alertmanager",
    [
      `--config.file=${config}`,
      `--storage.path=${authDir}`,
      `--web.listen-address=${HOST}:${BASE + 1}`,
      `--web.config.file=${web}`,
      "--cluster.listen-address=",
    ],
    { logFile: join(authDir, "alertmanager.log") },
  );
  const basic = `Basic ${Buffer.from(`${AUTH_USER}:${AUTH_PASSWORD}`).toString("base64")}`;
  await waitFor("alertmanager auth", () => httpOk(`http://${HOST}:${BASE + 1}/-/ready`, { headers: { Authorization: basic } }), {
    timeoutMs: READY_MS,
    daemon: authAm,
  });

  proxy = await startFaultProxy(am.url);
  client = createAlertmanagerClient("lab", entry(am.url));
});

afterAll(async () => {
  await proxy?.close();
  await authAm?.stop(5000);
  await am?.stop();
  rmSync(root, { recursive: true, force: true });
});

interface AmtoolSilence {
  id: string;
  status: { state: string };
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  createdBy: string;
  comment: string;
  startsAt: string;
  endsAt: string;
}

/** What `amtool silence query` shows (`expired`: the expired ones instead), optionally for matchers. */
async function amtool(options: { expired?: boolean; matchers?: string[] } = {}): Promise<AmtoolSilence[]> {
  const args = ["silence", "query", `--alertmanager.url=${amUrl()}`, "-o", "json", ...(options.expired ? ["--expired"] : []), ...(options.matchers ?? [])];
  const { stdout } = await run("amtool", args, { timeout: 60_000 });
  return JSON.parse(stdout) as AmtoolSilence[];
}

const hour = 3_600_000;
const inHours = (h: number) => new Date(Date.now() + h * hour);

/** Labels unique to one test, so the tests sharing this Alertmanager never see each other's silences. */
let seq = 0;
type IncidentLabels = Record<string, string> & { alertname: string; instance: string; test: string };
function incident(extra: Record<string, string> = {}): { labels: IncidentLabels; matchers: SilenceMatcher[]; key: string } {
  seq++;
  const labels = { alertname: "DiskFull", instance: `db-${seq}:9100`, job: "node", test: `t${seq}-${Date.now()}`, ...extra };
  return { labels, matchers: matchersFor(labels), key: `ad-00c0ffee${String(seq).padStart(8, "0")}-1` };
}

async function postAlerts(alerts: { labels: Record<string, string> }[]): Promise<void> {
  const res = await fetch(`${amUrl()}/api/v2/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(alerts.map((a) => ({ ...a, annotations: { summary: "from the test" }, startsAt: new Date().toISOString() }))),
  });
  if (!res.ok) throw new Error(`POST /api/v2/alerts: ${res.status} ${await res.text()}`);
}

/** Polls `alerts(matchers)` until `ok` holds; returns the last answer. Fails after SETTLE_MS with what it saw. */
async function alertsUntil(matchers: SilenceMatcher[], ok: (alerts: AlertmanagerAlert[]) => boolean): Promise<AlertmanagerAlert[]> {
  const started = Date.now();
  let last: AlertmanagerAlert[] = [];
  for (;;) {
    last = await client.alerts(matchers);
    if (ok(last)) return last;
    if (Date.now() - started > SETTLE_MS) throw new Error(`alerts never settled: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The fault proxy in front of the Alertmanager. */
function via(): FaultProxy {
  if (!proxy) throw new Error("proxy not started");
  return proxy;
}

/** The DeliveryError `promise` rejects with. */
async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DeliveryError)) throw new Error(`expected a DeliveryError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  return err;
}

describe("silences, as amtool shows them", () => {
  it("creates a silence of the incident's labels, equality only, createdBy alertdesk, with the ticket's key and URL", async () => {
    const { matchers, key } = incident();
    const comment = silenceComment(key, "https://helpdesk.example.com/tickets/42", "acknowledged");
    const id = await client.createSilence({ matchers, endsAt: inHours(1), comment });
    const shown = (await amtool()).find((s) => s.id === id);
    expect(shown).toMatchObject({ status: { state: "active" }, createdBy: CREATED_BY, comment });
    expect(shown?.comment).toContain(key);
    expect(shown?.comment).toContain("https://helpdesk.example.com/tickets/42");
    expect(shown?.matchers).toEqual(matchers.map((m) => ({ name: m.name, value: m.value, isRegex: false, isEqual: true })));
    expect(shown?.matchers.map((m) => m.name)).toEqual(["alertname", "instance", "job", "test"]);
    // amtool's own matcher filter finds it by the incident's labels.
    const test = matchers.find((m) => m.name === "test")?.value;
    expect((await amtool({ matchers: [`test=${test}`] })).map((s) => s.id)).toEqual([id]);
  });

  it("extending an active silence keeps its id; changing its matchers replaces it; a retried update makes no second one", async () => {
    const { matchers, key } = incident();
    const comment = silenceComment(key, "https://helpdesk.example.com/tickets/7");
    // The decision's time, a while ago (the outbox was behind): Alertmanager starts the silence now
    // instead, so an update that sent this start again would replace the silence rather than extend it.
    const decidedAt = new Date(Date.now() - 10 * 60_000);
    const id = await client.createSilence({ matchers, startsAt: decidedAt, endsAt: inHours(1), comment });

    // Extended while the ticket stays active: Alertmanager updates it in place.
    const extendedTo = inHours(3);
    expect(await client.updateSilence(id, { matchers, startsAt: decidedAt, endsAt: extendedTo, comment })).toBe(id);
    const extended = (await amtool()).find((s) => s.id === id);
    expect(Date.parse(extended?.endsAt ?? "")).toBe(extendedTo.getTime());

    // A changed matcher set cannot be updated in place: Alertmanager expires it and answers a new id.
    const widened = [...matchers, { name: "zone", value: "eu-1", isRegex: false as const, isEqual: true as const }];
    const newComment = silenceComment(key, "https://helpdesk.example.com/tickets/7", "re-acknowledged");
    const newId = await client.updateSilence(id, { matchers: widened, endsAt: inHours(3), comment: newComment });
    expect(newId).not.toBe(id);
    expect((await amtool()).find((s) => s.id === newId)).toMatchObject({ status: { state: "active" }, comment: newComment });
    expect((await amtool({ expired: true })).find((s) => s.id === id)).toMatchObject({ status: { state: "expired" } });

    // The same update again with the old id (its answer was lost): the replacement is updated, nothing new.
    expect(await client.updateSilence(id, { matchers: widened, endsAt: inHours(4), comment: newComment })).toBe(newId);
    const test = matchers.find((m) => m.name === "test")?.value;
    expect((await amtool({ matchers: [`test=${test}`] })).map((s) => s.id)).toEqual([newId]);
  });

  it("updating a silence that is expired (none replacing it) or unknown is a permanent 'gone': create a new one", async () => {
    const { matchers, key } = incident();
    const comment = silenceComment(key, undefined);
    const id = await client.createSilence({ matchers, endsAt: inHours(1), comment });
    await client.expireSilence(id);
    const expired = await failureOf(client.updateSilence(id, { matchers, endsAt: inHours(2), comment }));
    expect(expired).toMatchObject({ retryable: false, reason: "gone" });
    expect(expired.message).toMatch(/^\[alertmanager lab\] update silence .*: it has expired/);
    const unknown = await failureOf(client.updateSilence("00000000-0000-4000-8000-000000000000", { matchers, endsAt: inHours(2), comment }));
    expect(unknown).toMatchObject({ retryable: false, reason: "gone" });
    // Nothing was resurrected.
    const test = matchers.find((m) => m.name === "test")?.value;
    expect(await amtool({ matchers: [`test=${test}`] })).toEqual([]);
  });

  it("expires a silence (amtool shows it expired); expiring it again, or an id Alertmanager never had, is done too", async () => {
    const { matchers, key } = incident();
    const id = await client.createSilence({ matchers, endsAt: inHours(1), comment: silenceComment(key, undefined) });
    await client.expireSilence(id);
    expect((await amtool()).map((s) => s.id)).not.toContain(id);
    expect((await amtool({ expired: true })).find((s) => s.id === id)).toMatchObject({ status: { state: "expired" } });
    await expect(client.expireSilence(id)).resolves.toBeUndefined();
    // Alertmanager 0.25 answers this one 500 "silence not found".
    await expect(client.expireSilence("00000000-0000-4000-8000-000000000000")).resolves.toBeUndefined();
  });

  it("finds its own live silence by the ticket key: not by a longer key, not someone else's, not an expired one", async () => {
    const { matchers, key } = incident();
    const longer = `${key}2`;
    const mine = await client.createSilence({ matchers, endsAt: inHours(1), comment: silenceComment(key, "https://helpdesk.example.com/t/1") });
    await client.createSilence({ matchers: matchersFor({ alertname: "Other", test: longer }), endsAt: inHours(1), comment: silenceComment(longer, undefined) });
    // A person's silence that mentions the key is not alertdesk's.
    const res = await fetch(`${amUrl()}/api/v2/silences`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        matchers,
        startsAt: new Date().toISOString(),
        endsAt: inHours(2).toISOString(),
        createdBy: "ops@example.com",
        comment: `see ${key}`,
      }),
    });
    expect(res.status).toBe(200);

    expect((await client.findSilence(key))?.id).toBe(mine);
    expect((await client.findSilence(key, { matchers }))?.id).toBe(mine);
    expect(await client.findSilence("ad-00c0ffee-never")).toBeUndefined();
    await client.expireSilence(mine);
    expect(await client.findSilence(key)).toBeUndefined();
    await expect(failureOf(client.findSilence(" "))).resolves.toMatchObject({ retryable: false, reason: "client" });
  });
});

describe("alerts(matchers): what verification counts", () => {
  it("returns the incident's alert silenced while alertdesk's silence holds, active once it is expired", async () => {
    const { labels, matchers, key } = incident({ severity: "critical" });
    const other = { ...labels, instance: "elsewhere:9100" };
    await postAlerts([{ labels }, { labels: other }]);
    const dedup = matchersFor({ alertname: labels.alertname, instance: labels.instance, test: labels.test });
    await alertsUntil(dedup, (a) => a.length === 1 && a[0]?.state === "active");

    const id = await client.createSilence({ matchers: dedup, endsAt: inHours(1), comment: silenceComment(key, undefined) });
    const silenced = await alertsUntil(dedup, (a) => a[0]?.state === "suppressed");
    expect(silenced).toHaveLength(1);
    expect(silenced[0]).toMatchObject({ labels, state: "suppressed", silencedBy: [id], inhibitedBy: [] });

    await client.expireSilence(id);
    const firing = await alertsUntil(dedup, (a) => a[0]?.state === "active");
    expect(firing[0]).toMatchObject({ labels, silencedBy: [] });
    // The whole label set works as matchers too, and the other instance is not the incident's.
    expect((await client.alerts(matchers)).map((a) => a.labels)).toEqual([labels]);
  });

  it("counts an inhibited alert as firing", async () => {
    const cluster = `c-${Date.now()}`;
    await postAlerts([{ labels: { alertname: "LabInhibitor", cluster } }, { labels: { alertname: "LabInhibited", cluster } }]);
    const inhibited = await alertsUntil(matchersFor({ alertname: "LabInhibited", cluster }), (a) => (a[0]?.inhibitedBy.length ?? 0) > 0);
    expect(inhibited).toHaveLength(1);
    expect(inhibited[0]).toMatchObject({ state: "suppressed", silencedBy: [] });
  });

  it("label values with quotes, backslashes, newlines and spaces are escaped as Alertmanager's filter syntax needs", async () => {
    const labels = { alertname: "Escapes", test: `e-${Date.now()}`, path: 'C:\\temp\\"quoted" {x=~".*"}, a=b', text: "two\nlines ", end: "ends with \\" };
    await postAlerts([{ labels }]);
    const found = await alertsUntil(matchersFor(labels), (a) => a.length === 1);
    expect(found[0]?.labels).toEqual(labels);
    // A value that only starts like the real one matches nothing.
    expect(await client.alerts(matchersFor({ ...labels, path: "C:\\temp" }))).toEqual([]);
  });
});

describe("failures the outbox classifies", () => {
  it("an empty matcher list is refused before anything is sent, for silences and for alert queries", async () => {
    const p = via();
    p.disarm();
    const c = createAlertmanagerClient("lab", entry(p.url));
    const before = p.requests.length;
    const empty = await failureOf(c.createSilence({ matchers: [], endsAt: inHours(1), comment: "x" }));
    expect(empty).toMatchObject({ retryable: false, reason: "client" });
    expect(empty.message).toMatch(/^\[alertmanager lab\] create silence: refused before sending: no matchers/);
    await expect(failureOf(c.alerts([]))).resolves.toMatchObject({ retryable: false, reason: "client" });
    await expect(failureOf(c.updateSilence("00000000-0000-4000-8000-000000000000", { matchers: [], endsAt: inHours(1), comment: "x" }))).resolves.toMatchObject(
      {
        retryable: false,
      },
    );
    // Every matcher name="" would match nearly every alert.
    await expect(failureOf(c.createSilence({ matchers: matchersFor({ instance: "" }), endsAt: inHours(1), comment: "x" }))).resolves.toMatchObject({
      retryable: false,
      reason: "client",
    });
    // A regex matcher (from a corrupt payload) is never sent.
    const regex = { name: "alertname", value: ".*", isRegex: true, isEqual: true } as unknown as SilenceMatcher;
    await expect(failureOf(c.createSilence({ matchers: [regex], endsAt: inHours(1), comment: "x" }))).resolves.toMatchObject({ retryable: false });
    expect(p.requests.length).toBe(before);
  });

  it("Alertmanager's 400 is a permanent DeliveryError that names the field", async () => {
    const bad = await failureOf(
      client.createSilence({
        matchers: [{ name: "bad-name", value: "x", isRegex: false, isEqual: true }],
        endsAt: inHours(1),
        comment: "invalid label name",
      }),
    );
    expect(bad).toMatchObject({ retryable: false, reason: "client" });
    expect(bad.message).toMatch(/^\[alertmanager lab\] create silence: matchers\[0\]\.name: 400 /);
    expect(bad.message).toContain('invalid label name "bad-name"');
    const past = await failureOf(
      client.createSilence({ matchers: incident().matchers, startsAt: new Date(Date.now() - 2 * hour), endsAt: new Date(Date.now() - hour), comment: "past" }),
    );
    expect(past).toMatchObject({ retryable: false, reason: "client" });
    expect(past.message).toContain("end time can't be in the past");
    const badFilter = await failureOf(client.alerts([{ name: "bad-name", value: "x", isRegex: false, isEqual: true }]));
    expect(badFilter).toMatchObject({ retryable: false, reason: "client" });
    expect(badFilter.message).toContain("bad matcher format");
  });

  it("5xx, 429 with Retry-After and a hang are retryable; after a lost answer, findSilence finds the silence instead of a second", async () => {
    const p = via();
    p.disarm();
    const c = createAlertmanagerClient("lab", entry(p.url, { timeout: "1s" }));
    const { matchers, key } = incident();
    const spec = { matchers, endsAt: inHours(1), comment: silenceComment(key, undefined) };

    p.arm(status(503), { method: "POST" });
    await expect(failureOf(c.createSilence(spec))).resolves.toMatchObject({ retryable: true, reason: "server" });
    p.arm(status(500), { method: "DELETE" });
    await expect(failureOf(c.expireSilence("00000000-0000-4000-8000-000000000000"))).resolves.toMatchObject({ retryable: true, reason: "server" });
    p.arm(status(429, { "retry-after": "7" }), { method: "GET" });
    await expect(failureOf(c.alerts(matchers))).resolves.toMatchObject({ retryable: true, reason: "rateLimited", retryAfterMs: 7000 });
    p.arm({ kind: "hang" }, { method: "GET" });
    const hung = await failureOf(c.alerts(matchers));
    expect(hung).toMatchObject({ retryable: true, reason: "timeout" });
    expect(hung.message).toBe("[alertmanager lab] list alerts: timed out");

    // The silence is made, the answer lost: retryable, and the retry's lookup finds it.
    p.arm({ kind: "drop-after-forward" }, { method: "POST" });
    await expect(failureOf(c.createSilence(spec))).resolves.toMatchObject({ retryable: true, reason: "network" });
    const found = await c.findSilence(key, { matchers });
    expect(found).toMatchObject({ state: "active", createdBy: CREATED_BY, comment: spec.comment });
    const test = matchers.find((m) => m.name === "test")?.value;
    expect((await amtool({ matchers: [`test=${test}`] })).map((s) => s.id)).toEqual([found?.id]);
  });
});

describe("credentials never appear in an error", () => {
  it("a bearer token, even when the server echoes it, in 5xx, timeouts and Alertmanager's own 400", async () => {
    const p = via();
    p.disarm();
    const c = createAlertmanagerClient("lab", entry(p.url, { timeout: "1s", authorization: { credentials: BEARER } }));
    const messages: string[] = [];
    p.arm(status(502, {}, { error: `upstream refused Authorization: Bearer ${BEARER}`, token: encodeURIComponent(BEARER) }));
    messages.push((await failureOf(c.alerts(incident().matchers))).message);
    p.arm({ kind: "hang" });
    messages.push((await failureOf(c.createSilence({ matchers: incident().matchers, endsAt: inHours(1), comment: "hang" }))).message);
    messages.push(
      (
        await failureOf(
          c.createSilence({ matchers: [{ name: "bad-name", value: BEARER, isRegex: false, isEqual: true }], endsAt: inHours(1), comment: BEARER }),
        )
      ).message,
    );
    expect(messages[0]).toContain("<secret>");
    for (const m of messages) {
      expect(m).not.toContain(BEARER);
      expect(m).not.toContain(encodeURIComponent(BEARER));
    }
    // The real Alertmanager behind the proxy took the request with the header.
    expect(await c.alerts(incident().matchers)).toEqual([]);
  });

  it("basic auth: the real Alertmanager accepts the right password; a wrong one is a permanent auth failure that names neither", async () => {
    const url = `http://${HOST}:${BASE + 1}`;
    const good = createAlertmanagerClient("guarded", entry(url, { basic_auth: { username: AUTH_USER, password: AUTH_PASSWORD } }));
    const { matchers, key } = incident();
    const id = await good.createSilence({ matchers, endsAt: inHours(1), comment: silenceComment(key, undefined) });
    expect((await good.findSilence(key))?.id).toBe(id);
    await good.expireSilence(id);

    const wrongPassword = "wrong-Pa55word-abc";
    const bad = createAlertmanagerClient("guarded", entry(url, { basic_auth: { username: AUTH_USER, password: wrongPassword } }));
    const err = await failureOf(bad.createSilence({ matchers, endsAt: inHours(1), comment: "x" }));
    expect(err).toMatchObject({ retryable: false, reason: "auth" });
    expect(err.message).toMatch(/^\[alertmanager guarded\] create silence: 401/);
    for (const secret of [wrongPassword, Buffer.from(`${AUTH_USER}:${wrongPassword}`).toString("base64"), AUTH_PASSWORD]) {
      expect(err.message).not.toContain(secret);
    }
  });
});
