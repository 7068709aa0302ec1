import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HelpdeskDriver } from "../../src/drivers/types.js";
import type { FailureReason } from "../../src/model/delivery-error.js";
import { DeliveryError } from "../../src/model/delivery-error.js";
import type { HelpdeskEvent, ObservedEvent, Resolution } from "../../src/model/helpdesk-event.js";
import type { TicketRef } from "../../src/model/incident.js";
import type { OpenTicket } from "../../src/model/ticket-operation.js";
import { type FaultProxy, status } from "../fakes/fault-proxy.js";

/**
 * The contract every helpdesk driver passes, against a local fake or the real helpdesk, with a fault
 * proxy in front of it: the round trip, the retry table, Retry-After, no secret in errors, and one
 * ticket after an unknown outcome.
 */

export interface DriverHarness {
  /**
   * The driver, pointed at `proxy`. Against a fake, a request timeout of about a second; against a
   * real helpdesk, one that allows for a slow, busy machine (a minute).
   */
  driver: HelpdeskDriver;
  /**
   * The same driver with a request timeout of about a second, for the helpdesk that never answers
   * (the proxy holds the request, so nothing real is waited for). Default: `driver`.
   */
  hangDriver?: HelpdeskDriver;
  proxy: FaultProxy;
  /** Every credential the driver was given. */
  secrets: string[];
  /** The helpdesk's own view of a ticket. */
  inspect(ref: TicketRef): Promise<{ status: "open" | "solved" | "other"; updates: number }>;
  /** How many tickets carry the key. */
  countByKey(key: string): Promise<number>;
  /** A ticket id the helpdesk does not have. */
  missingId: string;
  /** An agent acting in the helpdesk through its own API, for the way back (absent: the driver has no `sync`). */
  agent?: AgentHarness;
  stop(): Promise<void>;
}

/** A second user of the helpdesk (not alertdesk's), acting on a ticket the way an agent would. */
export interface AgentHarness {
  /** Who alertdesk should see as the author of the agent's actions. */
  author: string;
  /** Who alertdesk should see as the assignee after `assign`. */
  assignee: string;
  comment(ref: TicketRef, text: string, isPublic: boolean): Promise<void>;
  /** Assigns the ticket to the agent. */
  assign(ref: TicketRef): Promise<void>;
  /** Moves the ticket to the status, in the helpdesk's own terms (and its own name for the resolution). */
  setStatus(ref: TicketRef, status: "active" | "pending" | "solved", resolution?: Resolution): Promise<void>;
}

let sequence = 0;

/** An open operation with a fresh key, as the outbox would hand it to a driver. */
export function openTicket(overrides: Partial<OpenTicket> = {}): OpenTicket {
  const key = `ad-contract${Date.now().toString(36)}-${++sequence}`;
  return {
    op: "open",
    ticketKey: key,
    dedupKey: `{alertname="Contract${sequence}"}`,
    title: `Contract test ${sequence}: <b>HostHighCpu</b> & "quotes"`,
    body: [
      { kind: "heading", text: "What is happening" },
      { kind: "paragraph", text: "CPU <script>alert(1)</script> at 93 % ^ ORDER BY | [link|http://x] *bold*" },
      { kind: "fields", rows: [["Priority", "P2"]] },
    ],
    priority: "P2",
    category: "performance",
    dueAt: "2026-11-25T06:00:00.000Z",
    labels: { alertname: "HostHighCpu" },
    tags: ["team-infra"],
    fields: {},
    ...overrides,
  };
}

const para = (text: string) => [{ kind: "paragraph" as const, text }];
let row = 0;
/** Each outbox row has its own idempotency key; a retry of the same row (attempt > 1) reuses it. */
const ctx = (key: string, attempt = 1) => ({ idempotencyKey: `${key}/${attempt > 1 ? row : ++row}`, attempt, ticketKey: key });

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error("expected the call to fail");
}

/** Limits for a real helpdesk on a slow, busy machine (they only matter when something is wrong). */
export interface ContractOptions {
  /** Each test (default: vitest's testTimeout). */
  testTimeoutMs?: number;
  /** setup(), which may install and start the helpdesk (default 180 s). */
  setupTimeoutMs?: number;
  /**
   * Why the "way back" cases do not apply: a helpdesk with no API to read back (the generic webhook;
   * its callbacks carry the events themselves, tested in its own file). Default: they apply.
   */
  wayBack?: { notApplicable: string };
}

export function describeDriverContract(name: string, setup: () => Promise<DriverHarness>, options: ContractOptions = {}): void {
  describe(`${name}: driver contract`, options.testTimeoutMs ? { timeout: options.testTimeoutMs } : {}, () => {
    let h: DriverHarness;
    beforeAll(async () => {
      h = await setup();
    }, options.setupTimeoutMs ?? 180_000);
    afterAll(async () => {
      await h?.stop();
    });

    it("round trip: open, comment, resolve (solve), reopen", async () => {
      h.proxy.disarm();
      const t = openTicket();
      const ref = await h.driver.open(t, ctx(t.ticketKey));
      expect(ref.id).toBeTruthy();
      expect(await h.inspect(ref)).toMatchObject({ status: "open", updates: 0 });
      await h.driver.comment(ref, { op: "comment", body: para("1 alert joined"), priority: "P1" }, ctx(t.ticketKey));
      expect((await h.inspect(ref)).updates).toBe(1);
      await h.driver.resolve(ref, { op: "resolve", body: para("Resolved after 5m"), solve: true }, ctx(t.ticketKey));
      expect((await h.inspect(ref)).status).toBe("solved");
      const reopened = await h.driver.reopen(ref, { op: "reopen", body: para("Fired again"), priority: "P2" }, ctx(t.ticketKey));
      expect(reopened.id).toBe(ref.id);
      expect((await h.inspect(ref)).status).toBe("open");
      expect(await h.countByKey(t.ticketKey)).toBe(1);
    });

    it("a resolve with on_resolved: comment only comments", async () => {
      h.proxy.disarm();
      const t = openTicket();
      const ref = await h.driver.open(t, ctx(t.ticketKey));
      await h.driver.resolve(ref, { op: "resolve", body: para("Resolved"), solve: false }, ctx(t.ticketKey));
      expect(await h.inspect(ref)).toMatchObject({ status: "open", updates: 1 });
    });

    it("finds a ticket by its key, and nothing for an unknown key", async () => {
      h.proxy.disarm();
      const t = openTicket();
      const ref = await h.driver.open(t, ctx(t.ticketKey));
      const found = await h.driver.findByKey(t.ticketKey);
      if (found !== undefined) expect(found.id).toBe(ref.id);
      else expect(h.driver.type).toBe("webhook"); // a webhook cannot be asked; its receiver dedups by idempotencyKey
      expect(await h.driver.findByKey("ad-0000000000000000-1")).toBeUndefined();
    });

    const table: [string, () => ReturnType<typeof status>, boolean, FailureReason][] = [
      ["500 is retried (server)", () => status(500), true, "server"],
      ["502 is retried (server)", () => status(502), true, "server"],
      ["503 is retried (server)", () => status(503), true, "server"],
      ["429 is retried (rateLimited)", () => status(429), true, "rateLimited"],
      ["408 is retried (timeout)", () => status(408), true, "timeout"],
      ["400 is not retried (client)", () => status(400), false, "client"],
      ["422 is not retried (client)", () => status(422), false, "client"],
      ["401 is not retried (auth)", () => status(401), false, "auth"],
      ["403 is not retried (auth)", () => status(403), false, "auth"],
    ];
    it.each(table)("retry table: %s", async (_why, fault, retryable, reason) => {
      h.proxy.disarm();
      h.proxy.arm(fault());
      const e = await failure(h.driver.open(openTicket(), ctx("x")));
      expect({ retryable: e.retryable, reason: e.reason }).toEqual({ retryable, reason });
      h.proxy.disarm();
    });

    it("a refused connection is retried (network); a helpdesk that never answers is a timeout", async () => {
      h.proxy.disarm();
      h.proxy.arm({ kind: "refuse" });
      expect(await failure(h.driver.open(openTicket(), ctx("x")))).toMatchObject({ retryable: true, reason: "network" });
      h.proxy.arm({ kind: "hang" });
      expect(await failure((h.hangDriver ?? h.driver).open(openTicket(), ctx("x")))).toMatchObject({ retryable: true, reason: "timeout" });
      h.proxy.disarm();
    });

    it("honours Retry-After: the error carries it, and no request reaches the helpdesk before it passed", async () => {
      h.proxy.disarm();
      h.proxy.arm(status(429, { "Retry-After": "1" }));
      const e = await failure(h.driver.open(openTicket(), ctx("x")));
      expect(e.retryAfterMs).toBe(1000);
      const limitedAt = (h.proxy.requests.at(-1) as { at: number }).at;
      const t = openTicket();
      await h.driver.open(t, ctx(t.ticketKey));
      const next = h.proxy.requests.find((r) => r.at > limitedAt);
      expect(next).toBeDefined();
      expect((next as { at: number }).at - limitedAt).toBeGreaterThanOrEqual(990);
    });

    it("never puts a credential into an error message", async () => {
      for (const secret of h.secrets) {
        h.proxy.disarm();
        // A helpdesk that echoes what it was sent, in an error body.
        h.proxy.arm(status(500, {}, { error: `bad request from ${secret}` }));
        const e = await failure(h.driver.open(openTicket(), ctx("x")));
        expect(e.message).not.toContain(secret);
        expect(String(e.stack)).not.toContain(secret);
      }
      h.proxy.disarm();
      h.proxy.arm(status(401));
      const e = await failure(h.driver.open(openTicket(), ctx("x")));
      for (const secret of h.secrets) expect(e.message).not.toContain(secret);
      h.proxy.disarm();
    });

    it("after an unknown outcome (created, then the answer was lost), there is still exactly one ticket", async () => {
      h.proxy.disarm();
      const t = openTicket();
      h.proxy.arm({ kind: "drop-after-forward" }, { method: "POST" });
      const e = await failure(h.driver.open(t, ctx(t.ticketKey)));
      expect(e.retryable).toBe(true);
      // What the outbox does on the next attempt: look before creating again.
      const found = await h.driver.findByKey(t.ticketKey);
      if (!found) await h.driver.open(t, ctx(t.ticketKey, 2));
      expect(await h.countByKey(t.ticketKey)).toBe(1);
    });

    /** The events of `ref` in every page of polls from `cursor` until the helpdesk has no more. */
    async function pollAll(cursor: string | undefined, since: Date, ticketId: string): Promise<{ events: ObservedEvent[]; cursor: string }> {
      const sync = h.driver.sync;
      if (!sync) throw new Error("no sync");
      const events: ObservedEvent[] = [];
      let at = cursor;
      for (let page = 0; page < 50; page++) {
        const got = await sync.poll(at, since);
        for (const a of got.activity) if (a.ticketId === ticketId) events.push(...a.events);
        at = got.cursor;
        if (!got.more) break;
      }
      return { events, cursor: at as string };
    }
    const kinds = (events: ObservedEvent[]) => events.map((e) => e.event.kind);
    const find = <K extends HelpdeskEvent["kind"]>(events: ObservedEvent[], kind: K) =>
      events.map((e) => e.event).filter((e): e is Extract<HelpdeskEvent, { kind: K }> => e.kind === kind);

    // Registered only where they apply: a skipped test is a failure here, not a pass.
    const wayBack = (title: string, fn: () => Promise<void>) => {
      if (options.wayBack === undefined) it(title, fn);
    };
    wayBack("way back: an agent comments, takes and solves a ticket → the driver reports each, and none of alertdesk's own writes", async () => {
      if (!h.agent || !h.driver.sync) throw new Error("the harness has no agent, or the driver no sync");
      h.proxy.disarm();
      const open = openTicket();
      const ref = await h.driver.open(open, ctx(open.ticketKey));
      await h.driver.comment(ref, { op: "comment", body: para("alertdesk's own comment: 1 alert joined") }, ctx(open.ticketKey));
      await h.agent.comment(ref, "Looking into it", false);
      await h.agent.assign(ref);
      await h.agent.setStatus(ref, "solved", "wont_fix");
      const events = await h.driver.sync.readTicket(ref);
      const comments = find(events, "commented");
      expect(comments.map((c) => ({ author: c.author, public: c.public, looking: c.text.includes("Looking into it") }))).toEqual([
        { author: h.agent.author, public: false, looking: true },
      ]);
      expect(find(events, "assigned").map((e) => e.assignee)).toContain(h.agent.assignee);
      expect(find(events, "status_changed").at(-1)).toMatchObject({ status: "solved", resolution: "wont_fix" });
      for (const e of events) expect(Number.isNaN(Date.parse(e.event.at))).toBe(false);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      // Reading again reports the same actions under the same ids: the store keeps each once.
      expect((await h.driver.sync.readTicket(ref)).map((e) => e.id)).toEqual(events.map((e) => e.id));
    });

    wayBack("way back: a poll sees what agents did, and its cursor moves on to what they do next", async () => {
      if (!h.agent || !h.driver.sync) throw new Error("the harness has no agent, or the driver no sync");
      h.proxy.disarm();
      const since = new Date(Date.now() - 120_000);
      const open = openTicket();
      const ref = await h.driver.open(open, ctx(open.ticketKey));
      await h.agent.comment(ref, "First look", true);
      await h.agent.setStatus(ref, "active");
      const first = await pollAll(undefined, since, ref.id);
      expect(find(first.events, "commented").map((c) => [c.author, c.public, c.text.includes("First look")])).toEqual([[h.agent.author, true, true]]);
      expect(kinds(first.events)).toContain("status_changed");
      await h.agent.comment(ref, "Second look", false);
      const second = await pollAll(first.cursor, since, ref.id);
      const seen = new Set(first.events.map((e) => e.id));
      const fresh = second.events.filter((e) => !seen.has(e.id));
      expect(find(fresh, "commented").map((c) => c.text.includes("Second look"))).toEqual([true]);
    });

    it("an update to a ticket the helpdesk no longer has is not retried forever", async () => {
      h.proxy.disarm();
      const e = await failure(h.driver.comment({ id: h.missingId }, { op: "comment", body: para("x") }, ctx("x")));
      expect(e.retryable).toBe(false);
      expect(["gone", "client"]).toContain(e.reason);
    });
  });
}
