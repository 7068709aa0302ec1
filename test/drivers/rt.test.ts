import { createServer, type IncomingMessage, type Server } from "node:http";
import axios, { type AxiosInstance } from "axios";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hmacSha256 } from "../../src/drivers/config.js";
import { createHttpClient } from "../../src/drivers/http.js";
import { createRtDriver, type RtConfig } from "../../src/drivers/rt/driver.js";
import { createRtSync, priorityFromRt, readCursor, statusFromRt, tokenOwner, writeCursor } from "../../src/drivers/rt/sync.js";
import type { HelpdeskDriver, HelpdeskSync } from "../../src/drivers/types.js";
import { DoorbellRejected, type DoorbellRequest, type ObservedEvent } from "../../src/model/helpdesk-event.js";
import type { TicketRef } from "../../src/model/incident.js";
import { startFaultProxy } from "../fakes/fault-proxy.js";
import { type RtInstance, startRt } from "../kit/rt.js";
import { type AgentHarness, describeDriverContract, openTicket } from "./contract.js";

/**
 * The Request Tracker driver against the real RT 5 from Debian (started once for this file, stopped
 * after it). alertdesk acts as the least-privileged user the kit creates (docs/helpdesks/rt.md,
 * "Rights"), an agent as a second RT user through RT's own REST2, and RT's doorbell scrip posts to a
 * listener on loopback here.
 */

const DOORBELL_SECRET = "rt-doorbell-secret-for-tests";

interface Shared {
  rt: RtInstance;
  /** Every doorbell RT's scrip posted, as the intake would hand it to the driver. */
  doorbells: DoorbellRequest[];
  /** RT's REST2 as root: the helpdesk's own view, for the harness. */
  root: AxiosInstance;
}

let listener: Server | undefined;
let shared: Promise<Shared> | undefined;

/** The one RT of this file: starting one takes a while on a slow machine, so the describes share it. */
function sharedRt(): Promise<Shared> {
  shared ??= (async () => {
    const doorbells: DoorbellRequest[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
        doorbells.push({ headers, rawBody: Buffer.concat(chunks) });
        res.writeHead(202).end();
      });
    });
    listener = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const rt = await startRt({ doorbell: { url: `http://127.0.0.1:${port}/webhooks/helpdesk/rt`, secret: DOORBELL_SECRET } });
    const root = axios.create({ baseURL: rt.restUrl, headers: { Authorization: `token ${rt.token}` }, timeout: 60_000 });
    return { rt, doorbells, root };
  })();
  return shared;
}

afterAll(async () => {
  const s = await shared?.catch(() => undefined);
  await s?.rt.stop();
  await new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
}, 120_000);

/** The driver as alertdesk runs it, as the kit's least-privileged user; a minute per request (a slow RT). */
function driverFor(rt: RtInstance, url: string, extra: Partial<RtConfig> = {}, deps: { settleMs?: number } = {}): HelpdeskDriver {
  const config: RtConfig = {
    type: "rt",
    url,
    token: rt.integration.token,
    queue: rt.queue,
    dedup_field: rt.dedupField,
    webhook_secret: DOORBELL_SECRET,
    timeout: 60_000,
    ...extra,
  };
  return createRtDriver("rt", config, deps);
}

/** The agent, acting through RT's REST2 with its own token; each change read back (RT answers 200 to a failed PUT). */
function agentFor(rt: RtInstance): AgentHarness & { api: AxiosInstance } {
  const api = axios.create({
    baseURL: rt.restUrl,
    headers: { Authorization: `token ${rt.agent.token}`, "Content-Type": "application/json" },
    timeout: 60_000,
  });
  const ticket = async (ref: TicketRef) => (await api.get<{ Status: string; Owner: { id: string } }>(`/ticket/${ref.id}`)).data;
  return {
    api,
    author: rt.agent.name,
    assignee: rt.agent.name,
    async comment(ref, text, isPublic) {
      await api.post(`/ticket/${ref.id}/${isPublic ? "correspond" : "comment"}`, { Content: text, ContentType: "text/plain" });
    },
    async assign(ref) {
      const res = await api.put<string[]>(`/ticket/${ref.id}/take`);
      const owner = (await ticket(ref)).Owner.id;
      if (owner !== rt.agent.name) throw new Error(`take did not make ${rt.agent.name} the owner (${owner}): ${JSON.stringify(res.data)}`);
    },
    async setStatus(ref, status, resolution) {
      const wanted = status === "active" ? "open" : status === "pending" ? "stalled" : resolution === "wont_fix" ? "rejected" : "resolved";
      const res = await api.put<string[]>(`/ticket/${ref.id}`, { Status: wanted });
      const now = (await ticket(ref)).Status;
      if (now !== wanted) throw new Error(`status is ${now}, not ${wanted}: ${JSON.stringify(res.data)}`);
    },
  };
}

describeDriverContract(
  "request tracker (real RT 5)",
  async () => {
    const { rt, root } = await sharedRt();
    const proxy = await startFaultProxy(rt.url);
    // A real RT on a slow, busy machine may take seconds per request: a minute each (only a broken RT
    // waits that long). The helpdesk that never answers is the proxy's, so a second is enough there.
    return {
      driver: driverFor(rt, proxy.url),
      hangDriver: driverFor(rt, proxy.url, { timeout: 1000 }),
      proxy,
      secrets: [rt.integration.token, DOORBELL_SECRET],
      missingId: "999999",
      agent: agentFor(rt),
      async inspect(ref) {
        const t = await root.get<{ Status: string }>(`/ticket/${ref.id}`);
        const history = await root.get<{ items: { Type: string }[] }>(`/ticket/${ref.id}/history`, { params: { fields: "Type", per_page: 100 } });
        const status = t.data.Status === "resolved" ? "solved" : t.data.Status === "new" || t.data.Status === "open" ? "open" : "other";
        return { status, updates: history.data.items.filter((i) => i.Type === "Comment").length };
      },
      async countByKey(key) {
        const r = await root.get<{ total: number }>("/tickets", { params: { query: `'CF.{${rt.dedupField}}'='${key}'` } });
        return r.data.total;
      },
      async stop() {
        // RT itself is the file's, stopped after every describe (afterAll above).
        await proxy.close();
      },
    };
  },
  // Installing RT (first run: minutes; the kit allows apt 15 min) and starting it (the kit: 5 min);
  // each test makes up to about 15 requests to RT.
  { setupTimeoutMs: 1_200_000, testTimeoutMs: 300_000 },
);

describe("request tracker specifics", () => {
  it("refuses a key that could break out of TicketSQL", async () => {
    const driver = createRtDriver("rt", { type: "rt", url: "http://127.0.0.1:1", token: "t0ken-value", queue: "General", dedup_field: "DedupKey" });
    await expect(driver.findByKey("x' OR 'a'='a")).rejects.toMatchObject({ retryable: false, reason: "client" });
    expect(openTicket().ticketKey).toMatch(/^[a-z0-9-]+$/);
  });

  it("maps RT's statuses onto the vocabulary (the default lifecycle, and resolutions: for a custom one)", () => {
    const table = ["new", "open", "stalled", "resolved", "rejected", "deleted", "Resolved", "waiting"].map((s) => [s, statusFromRt(s, undefined)]);
    expect(table).toEqual([
      ["new", { status: "new" }],
      ["open", { status: "active" }],
      ["stalled", { status: "pending" }],
      ["resolved", { status: "solved", resolution: "fixed" }],
      ["rejected", { status: "solved", resolution: "wont_fix" }],
      ["deleted", { status: "cancelled" }],
      ["Resolved", { status: "solved", resolution: "fixed" }],
      // A status of a custom lifecycle nobody mapped: neither active nor done as far as alertdesk knows.
      ["waiting", undefined],
    ]);
    const configured = { duplicate: "duplicate", rejected: "cannot_reproduce" } as const;
    expect(statusFromRt("duplicate", configured)).toEqual({ status: "solved", resolution: "duplicate" });
    expect(statusFromRt("rejected", configured)).toEqual({ status: "solved", resolution: "cannot_reproduce" });
    expect(statusFromRt("open", configured)).toEqual({ status: "active" });
  });

  it("reads RT's priority back through the priority map: the nearest, the more urgent on a tie", () => {
    const map = { P1: 100, P2: 75, P3: 50, P4: 25 };
    const table = [255, 100, 88, 87, 75, 63, 62, 50, 38, 37, 25, 0].map((v) => `${v}→${priorityFromRt(v, map)}`);
    expect(table.join(" ")).toBe("255→P1 100→P1 88→P1 87→P2 75→P2 63→P2 62→P3 50→P3 38→P3 37→P4 25→P4 0→P4");
    expect(priorityFromRt(50, { P1: 60, P2: 40, P3: 20, P4: 0 })).toBe("P1");
  });

  it("knows a token's owner from the token, and writes the common cursor as the bare transaction id", () => {
    expect(tokenOwner("1-29-b97e58aa0372a33101dd5a0615fb89af")).toBe(29);
    expect(tokenOwner("not-a-token")).toBeUndefined();
    expect(writeCursor({ after: 42 })).toBe("42");
    expect(readCursor("42")).toEqual({ after: 42 });
    const paging = writeCursor({ after: 42, page: 3, settled: 50 });
    expect(readCursor(paging)).toEqual({ after: 42, page: 3, settled: 50 });
    expect(readCursor(writeCursor({ since: "2026-01-01T00:00:00.000Z" }))).toEqual({ since: "2026-01-01T00:00:00.000Z" });
    // Anything else (another helpdesk's cursor under the same name) starts over from `since`.
    expect(readCursor('{"at":"x"}')).toBeUndefined();
    expect(readCursor("zz")).toBeUndefined();
  });

  it("verifies a doorbell: signed over timestamp and body, within five minutes; without webhook_secret there is none", () => {
    const sync = createRtDriver("rt", {
      type: "rt",
      url: "http://127.0.0.1:1",
      token: "t0ken-value",
      queue: "General",
      dedup_field: "DedupKey",
      webhook_secret: "s3cret",
    }).sync as HelpdeskSync;
    const now = new Date("2026-05-01T10:00:00Z");
    const ts = String(now.getTime() / 1000);
    const body = Buffer.from('{"ticket_id":12,"transaction_id":345,"type":"Comment"}');
    const signed = (secret: string, t: string, b: Buffer) => ({
      headers: { "x-alertdesk-timestamp": t, "x-alertdesk-signature": `sha256=${hmacSha256(secret, Buffer.concat([Buffer.from(`${t}.`), b]), "hex")}` },
      rawBody: b,
    });
    const ring = (r: DoorbellRequest, at = now) => (sync.doorbell as NonNullable<HelpdeskSync["doorbell"]>)(r, at);
    expect(ring(signed("s3cret", ts, body))).toEqual({ deliveryId: "txn:345", ticketIds: ["12"] });
    expect(() => ring(signed("other", ts, body))).toThrow(DoorbellRejected);
    expect(() => ring({ ...signed("s3cret", ts, body), rawBody: Buffer.from('{"ticket_id":13,"transaction_id":345}') })).toThrow(DoorbellRejected);
    expect(() => ring(signed("s3cret", ts, body), new Date(now.getTime() + 301_000))).toThrow(/replay window/);
    expect(() => ring({ headers: {}, rawBody: body })).toThrow(DoorbellRejected);
    expect(() => ring(signed("s3cret", ts, Buffer.from('{"ticket":"x"}')))).toThrow(/ticket_id/);
    const plain = createRtDriver("rt", { type: "rt", url: "http://127.0.0.1:1", token: "t0ken-value", queue: "General", dedup_field: "DedupKey" });
    expect(plain.sync?.doorbell).toBeUndefined();
  });
});

describe("request tracker specifics (real RT 5)", { timeout: 300_000 }, () => {
  let s: Shared;
  let agent: ReturnType<typeof agentFor>;
  const ctx = (k: string) => ({ idempotencyKey: `${k}/1`, attempt: 1, ticketKey: k });
  const para = (text: string) => [{ kind: "paragraph" as const, text }];

  beforeAll(async () => {
    s = await sharedRt();
    agent = agentFor(s.rt);
  }, 1_200_000);

  /** Every event of one round of polls, page after page until RT has no more. */
  async function pollAll(
    sync: HelpdeskSync,
    cursor: string | undefined,
    since: Date,
  ): Promise<{ events: (ObservedEvent & { ticketId: string })[]; cursor: string }> {
    const events: (ObservedEvent & { ticketId: string })[] = [];
    let at = cursor;
    for (let page = 0; page < 200; page++) {
      const got = await sync.poll(at, since);
      for (const a of got.activity) for (const e of a.events) events.push({ ...e, ticketId: a.ticketId });
      at = got.cursor;
      if (!got.more) return { events, cursor: at };
    }
    throw new Error("the poll never caught up");
  }

  it("a poll cursor continues across a new driver (a restart): the new one sees only what happened after", async () => {
    // No settling time here, so that "after" is exact: the cursor is the last transaction id seen.
    const before = driverFor(s.rt, s.rt.url, {}, { settleMs: 0 });
    const t = openTicket();
    const ref = await before.open(t, ctx(t.ticketKey));
    await agent.comment(ref, "Before the restart", false);
    const first = await pollAll(before.sync as HelpdeskSync, undefined, new Date(Date.now() - 3_600_000));
    expect(first.events.filter((e) => e.ticketId === ref.id).map((e) => e.event.kind)).toEqual(["commented"]);
    expect(first.cursor).toMatch(/^\d+$/);

    await agent.comment(ref, "After the restart", true);
    await agent.setStatus(ref, "pending");
    const after = driverFor(s.rt, s.rt.url, {}, { settleMs: 0 });
    const second = await pollAll(after.sync as HelpdeskSync, first.cursor, new Date(Date.now() - 3_600_000));
    // The reply opens the new ticket (RT's scrip), then the agent stalls it.
    expect(second.events.map((e) => [e.ticketId, e.event.kind])).toEqual([
      [ref.id, "commented"],
      [ref.id, "status_changed"],
      [ref.id, "status_changed"],
    ]);
    expect(second.events.map((e) => e.event)).toEqual([
      expect.objectContaining({ kind: "commented", author: s.rt.agent.name, public: true, text: "After the restart" }),
      expect.objectContaining({ kind: "status_changed", author: s.rt.agent.name, status: "active" }),
      expect.objectContaining({ kind: "status_changed", author: s.rt.agent.name, status: "pending" }),
    ]);
    for (const e of second.events) expect(Number(e.id.replace("txn:", ""))).toBeGreaterThan(Number(first.cursor));
    // And caught up: nothing more until somebody acts.
    expect((await pollAll(after.sync as HelpdeskSync, second.cursor, new Date())).events).toEqual([]);
  });

  it("a poll in small pages reports the same as one in large pages, each event once", async () => {
    const t = openTicket();
    const driver = driverFor(s.rt, s.rt.url);
    const ref = await driver.open(t, ctx(t.ticketKey));
    for (const text of ["one", "two", "three"]) await agent.comment(ref, text, false);
    await agent.assign(ref);
    const http = createHttpClient({
      name: "rt test",
      baseURL: s.rt.restUrl,
      headers: { Authorization: `token ${s.rt.integration.token}`, "Content-Type": "application/json" },
      timeoutMs: 60_000,
    });
    const sync = (pageSize: number) =>
      createRtSync({ name: "rt", http, token: s.rt.integration.token, priorities: { P1: 100, P2: 75, P3: 50, P4: 25 }, settleMs: 0, pageSize });
    const since = new Date(Date.now() - 3_600_000);
    const small = await pollAll(sync(3), undefined, since);
    const large = await pollAll(sync(100), undefined, since);
    expect(small.events.map((e) => e.id)).toEqual(large.events.map((e) => e.id));
    expect(new Set(small.events.map((e) => e.id)).size).toBe(small.events.length);
    expect(small.events.filter((e) => e.ticketId === ref.id).map((e) => e.event.kind)).toEqual(["commented", "commented", "commented", "assigned"]);
    expect(small.cursor).toBe(large.cursor);
  });

  it("echo suppression: alertdesk's own open, comments, priority, resolve and reopen are never reported", async () => {
    const driver = driverFor(s.rt, s.rt.url);
    const t = openTicket();
    const ref = await driver.open(t, ctx(t.ticketKey));
    await driver.comment(ref, { op: "comment", body: para("2 alerts joined"), priority: "P1" }, ctx(t.ticketKey));
    await driver.resolve(ref, { op: "resolve", body: para("Resolved"), solve: true }, ctx(t.ticketKey));
    await driver.reopen(ref, { op: "reopen", body: para("Fired again"), priority: "P2" }, ctx(t.ticketKey));
    expect(await (driver.sync as HelpdeskSync).readTicket(ref)).toEqual([]);
    // The agent's reply reopens nothing here (the ticket is open), and is reported with its author.
    await agent.comment(ref, "On it", true);
    const events = await (driver.sync as HelpdeskSync).readTicket(ref);
    expect(events.map((e) => e.event)).toEqual([expect.objectContaining({ kind: "commented", author: s.rt.agent.name, public: true, text: "On it" })]);
  });

  it("a reply that makes RT reopen the ticket (RT_System's scrip) is reported as the agent's doing", async () => {
    const driver = driverFor(s.rt, s.rt.url);
    const t = openTicket();
    const ref = await driver.open(t, ctx(t.ticketKey));
    await driver.resolve(ref, { op: "resolve", body: para("Resolved"), solve: true }, ctx(t.ticketKey));
    await agent.comment(ref, "Still broken for me", true);
    const events = (await (driver.sync as HelpdeskSync).readTicket(ref)).map((e) => e.event);
    expect(events).toEqual([
      expect.objectContaining({ kind: "commented", author: s.rt.agent.name, public: true }),
      expect.objectContaining({ kind: "status_changed", author: s.rt.agent.name, status: "active" }),
    ]);
  });

  it("RT's doorbell scrip rings for an agent's action (signed, verified by the driver), never for alertdesk's own", async () => {
    const driver = driverFor(s.rt, s.rt.url);
    const sync = driver.sync as HelpdeskSync;
    const t = openTicket();
    const ref = await driver.open(t, ctx(t.ticketKey));
    await driver.comment(ref, { op: "comment", body: para("alertdesk's own comment") }, ctx(t.ticketKey));
    const forTicket = () =>
      s.doorbells.flatMap((d) => {
        const bell = (sync.doorbell as NonNullable<HelpdeskSync["doorbell"]>)(d, new Date());
        return bell.ticketIds.includes(ref.id) ? [bell] : [];
      });
    // The scrip runs inside RT's handling of the request, so it has posted before RT answers.
    expect(forTicket()).toEqual([]);
    await agent.comment(ref, "Seen it", false);
    const bells = forTicket();
    expect(bells).toHaveLength(1);
    const deliveryId = bells[0]?.deliveryId as string;
    expect(deliveryId).toMatch(/^txn:\d+$/);
    // The doorbell names the transaction the ticket's history reports under the same id.
    expect((await sync.readTicket(ref)).map((e) => e.id)).toEqual([deliveryId]);
    // One byte more (still JSON) and the signature no longer fits.
    const last = s.doorbells.at(-1) as DoorbellRequest;
    const tampered = { ...last, rawBody: Buffer.concat([last.rawBody, Buffer.from(" ")]) };
    expect(() => (sync.doorbell as NonNullable<HelpdeskSync["doorbell"]>)(tampered, new Date())).toThrow(DoorbellRejected);
  });

  it("a ticket alertdesk's user cannot see, or that is not there, is an error, not an empty history", async () => {
    const sync = driverFor(s.rt, s.rt.url).sync as HelpdeskSync;
    await expect(sync.readTicket({ id: "999999" })).rejects.toMatchObject({ retryable: false, reason: "gone" });
    await expect(sync.readTicket({ id: "1 OR 1" })).rejects.toMatchObject({ retryable: false, reason: "client" });
  });
});
