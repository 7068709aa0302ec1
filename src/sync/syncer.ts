import { randomUUID } from "node:crypto";
import { type AlertmanagerClient, matchersFor } from "../alertmanagers/client.js";
import type { HelpdeskDriver, HelpdeskSync } from "../drivers/types.js";
import { type DoorbellAnswer, DoorbellRejected, type DoorbellRequest, type TicketActivity } from "../model/helpdesk-event.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { SyncStore } from "../store/types.js";
import { silenceLabels } from "../templates/render.js";
import { type ActivityOutcome, applyActivity, type MonitoredAlert, runEscalation, runVerification } from "./apply.js";
import { runArchive } from "./archive.js";

/**
 * The way back's loop: polls every helpdesk that can tell (one replica at a time, by lease), answers
 * doorbells by reading their tickets again, and runs due verifications of agents' solves. Everything
 * it learns goes through one store transaction per ticket, so a crash at any point loses nothing and
 * repeats nothing (event ids are stored once; the cursor is saved after the events).
 */

export interface SyncerOptions {
  store: SyncStore;
  drivers: ReadonlyMap<string, HelpdeskDriver>;
  metrics: Metrics;
  log: Logger;
  clock: () => Date;
  /** Wakes the outbox worker after a verification enqueued a reopen or a comment. */
  kickOutbox: () => void;
  /** An external knowledge base is configured: archive entries also go there (through the outbox). */
  externalKnowledgeBase?: boolean;
  /** The Alertmanagers a verification asks what still fires (silenced alerts included). */
  alertmanagers?: readonly AlertmanagerClient[];
  /** This replica's name in the poll leases (default: a random id). */
  owner?: string;
  /** How often the loop looks for due work (default 1 s). */
  tickMs?: number;
  /** The first poll of a helpdesk reads this far back (default 1 h). */
  lookbackMs?: number;
}

export interface Syncer {
  start(): void;
  /** Waits for the round in progress, then stops. */
  stop(): Promise<void>;
  /** Polls `helpdesk` (or every one) and works off doorbells and verifications, soon. */
  kick(helpdesk?: string): void;
  /** One round now: polls that are due (or kicked), doorbells, verifications. */
  runOnce(): Promise<void>;
  /** An inbound webhook for the helpdesk `name`: verified and stored before it is answered. */
  receiveDoorbell(name: string, request: DoorbellRequest): Promise<DoorbellAnswer>;
}

const DOORBELLS_PER_ROUND = 10;
const VERIFICATIONS_PER_ROUND = 100;
const ESCALATIONS_PER_ROUND = 100;
const ARCHIVES_PER_ROUND = 50;
/** An archive entry the store refused is tried again this much later. */
const ARCHIVE_RETRY_MS = 5 * 60_000;
/** Pages of one helpdesk's activity per round, so one busy helpdesk cannot hold the loop. */
const PAGES_PER_ROUND = 20;
/** A doorbell whose ticket cannot be read is tried this often, then left to the poller. */
const DOORBELL_ATTEMPTS = 10;

export function createSyncer(options: SyncerOptions): Syncer {
  const { store, drivers, metrics, log, clock } = options;
  const alertmanagers = options.alertmanagers ?? [];
  const owner = options.owner ?? randomUUID();
  const tickMs = options.tickMs ?? 1000;
  const lookbackMs = options.lookbackMs ?? 3_600_000;
  const syncs = [...drivers.values()].flatMap((d) => (d.sync ? [{ name: d.name, sync: d.sync }] : []));
  const nextPollAt = new Map<string, number>();
  const kicked = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  // Repeats are counted for doorbells only: a poll reads events again by design (overlapping
  // windows, whole histories), and counting those would drown the repeats that mean something.
  const count = (helpdesk: string, outcome: ActivityOutcome, rung: boolean) => {
    for (const a of outcome.applied) metrics.helpdeskEvents.inc({ helpdesk, event: a.event });
    if (rung && outcome.repeated > 0) metrics.helpdeskEvents.inc({ helpdesk, event: "repeated" }, outcome.repeated);
    if (outcome.late > 0) metrics.helpdeskEvents.inc({ helpdesk, event: "late" }, outcome.late);
    if (outcome.firstResponse) metrics.timeToFirstResponse.observe({ priority: outcome.firstResponse.priority }, outcome.firstResponse.seconds);
    if (outcome.applied.length > 0)
      log.info({ helpdesk, ticket: outcome.ticketId, incident: outcome.incidentId, applied: outcome.applied }, "agents' actions applied");
  };

  /** Applies each ticket's events; returns the tickets no incident has (a ticket alertdesk did not open, or not yet recorded). */
  async function applyAll(helpdesk: string, activity: readonly TicketActivity[], rung = false): Promise<string[]> {
    const unknown: string[] = [];
    let enqueued = false;
    for (const a of activity) {
      if (a.events.length === 0) continue;
      const outcome = await store.syncTransaction((tx) => applyActivity(tx, helpdesk, a, clock()));
      if (outcome.incidentId === undefined) unknown.push(a.ticketId);
      enqueued ||= (outcome.enqueued ?? 0) > 0;
      count(helpdesk, outcome, rung);
    }
    if (enqueued) options.kickOutbox();
    return unknown;
  }

  async function poll(name: string, sync: HelpdeskSync): Promise<void> {
    const now = clock();
    // The lease outlives a slow poll, and a dead replica's lease runs out so another takes over.
    const lease = await store.takePollLease(name, owner, now, Math.max(60_000, 3 * sync.pollIntervalMs));
    if (!lease) return;
    let cursor = lease.cursor ?? undefined;
    try {
      for (let page = 0; page < PAGES_PER_ROUND; page++) {
        const got = await sync.poll(cursor, new Date(now.getTime() - lookbackMs));
        await applyAll(name, got.activity);
        const saved = await store.syncTransaction((tx) => tx.saveCursor(name, owner, got.cursor, clock()));
        if (!saved) return; // another replica took the lease: it polls from here
        cursor = got.cursor;
        if (!got.more) break;
      }
      await store.notePoll(name, null, clock());
    } catch (err) {
      metrics.helpdeskSyncErrors.inc({ helpdesk: name });
      log.warn({ helpdesk: name, err: (err as Error).message }, "poll of the helpdesk failed; retried at the next interval");
      await store.notePoll(name, (err as Error).message, clock()).catch(() => {});
    }
  }

  async function answerDoorbells(): Promise<void> {
    // A lease long enough for the round's reads on a slow helpdesk, so no other replica reads them meanwhile.
    const due = await store.claimDoorbells(clock(), DOORBELLS_PER_ROUND, 5 * 60_000);
    for (const d of due) {
      const sync = drivers.get(d.helpdesk)?.sync;
      try {
        if (sync) await applyAll(d.helpdesk, [{ ticketId: d.ticketId, events: await sync.readTicket({ id: d.ticketId }) }], true);
        await store.finishDoorbell(d.id, clock());
      } catch (err) {
        metrics.helpdeskSyncErrors.inc({ helpdesk: d.helpdesk });
        const giveUp = d.attempts >= DOORBELL_ATTEMPTS;
        log.warn(
          { helpdesk: d.helpdesk, ticket: d.ticketId, attempts: d.attempts, err: (err as Error).message },
          giveUp ? "doorbell given up; the poller repairs it" : "ticket read failed; retried",
        );
        if (giveUp) await store.finishDoorbell(d.id, clock());
        else await store.retryDoorbell(d.id, new Date(clock().getTime() + Math.min(300_000, 2 ** d.attempts * 1000)));
      }
    }
  }

  /**
   * What the Alertmanagers say still fires for the incident, silenced and inhibited alerts included
   * (alertdesk's own silence hides an alert, it does not fix it); undefined without Alertmanagers or
   * when none answers: then alertdesk's own view decides.
   */
  async function monitored(id: number): Promise<MonitoredAlert[] | undefined> {
    if (alertmanagers.length === 0) return undefined;
    const incident = await store.syncTransaction((tx) => tx.incidentById(id));
    if (!incident) return undefined;
    const matchers = matchersFor(silenceLabels(incident));
    if (matchers.length === 0) return undefined;
    const found = new Map<string, MonitoredAlert>();
    let answered = false;
    for (const am of alertmanagers) {
      try {
        for (const a of await am.alerts(matchers)) found.set(a.fingerprint, { fingerprint: a.fingerprint, labels: a.labels, startsAt: a.startsAt });
        answered = true;
      } catch (err) {
        log.warn(
          { alertmanager: am.name, incident: id, err: (err as Error).message },
          "Alertmanager not asked for the verification; alertdesk's own view decides",
        );
      }
    }
    return answered ? [...found.values()] : undefined;
  }

  async function verify(): Promise<void> {
    const due = await store.dueVerifications(clock(), VERIFICATIONS_PER_ROUND);
    let enqueued = false;
    for (const id of due) {
      const fromMonitoring = await monitored(id);
      const outcome = await store.syncTransaction((tx) => runVerification(tx, id, clock(), fromMonitoring));
      if (outcome === "not due") continue;
      metrics.verifications.inc({ outcome });
      log.info({ incident: id, outcome }, "verification of an agent's solve");
      enqueued ||= outcome !== "passed";
    }
    if (enqueued) options.kickOutbox();
  }

  async function escalate(): Promise<void> {
    const due = await store.dueEscalations(clock(), ESCALATIONS_PER_ROUND);
    let enqueued = false;
    for (const id of due) {
      const outcome = await store.syncTransaction((tx) => runEscalation(tx, id, clock()));
      if (!outcome) continue;
      if (outcome.breached) metrics.slaBreaches.inc({ priority: outcome.priority, helpdesk: outcome.helpdesk });
      for (const step of outcome.steps) {
        metrics.escalations.inc({ priority: outcome.priority, helpdesk: outcome.helpdesk, step: String(step.step) });
        log.info({ incident: id, step: step.step, raisedTo: step.raisedTo, notify: step.notify, lateMs: step.lateMs }, "escalated: no first response");
      }
      enqueued ||= outcome.steps.length > 0 || outcome.renewed;
    }
    if (enqueued) options.kickOutbox();
  }

  async function archive(): Promise<void> {
    const due = await store.dueArchives(clock(), ARCHIVES_PER_ROUND);
    let enqueued = false;
    for (const id of due) {
      let outcome: Awaited<ReturnType<typeof runArchive>>;
      try {
        outcome = await store.syncTransaction((tx) => runArchive(tx, id, clock(), { external: options.externalKnowledgeBase === true }));
      } catch (err) {
        // One incident the store refuses must not hold up the others, nor the polls and doorbells after.
        log.error({ incident: id, err: (err as Error).message }, "archive entry not written; tried again in 5 minutes");
        await store
          .syncTransaction(async (tx) => {
            const incident = await tx.incidentById(id);
            if (incident?.archiveAt) await tx.updateIncident({ ...incident, archiveAt: new Date(clock().getTime() + ARCHIVE_RETRY_MS).toISOString() });
          })
          .catch(() => {});
        continue;
      }
      if (outcome !== "archived") continue;
      metrics.archived.inc();
      log.info({ incident: id }, "incident archived");
      enqueued ||= options.externalKnowledgeBase === true;
    }
    if (enqueued) options.kickOutbox();
  }

  // Timed work first (escalations, verifications, archives), then doorbells, then polls: a slow
  // helpdesk's poll must not delay what is due.
  async function round(): Promise<void> {
    // Each kind of work on its own: one that fails (the store refuses a write) must not stop the rest.
    for (const [what, work] of [
      ["escalations", escalate],
      ["verifications", verify],
      ["archives", archive],
      ["doorbells", answerDoorbells],
    ] as const) {
      await work().catch((err: unknown) => log.error({ err: (err as Error).message }, `way-back round: ${what} failed; retried next round`));
    }
    const now = clock().getTime();
    for (const { name, sync } of syncs) {
      if (!kicked.has(name) && (nextPollAt.get(name) ?? 0) > now) continue;
      kicked.delete(name);
      nextPollAt.set(name, now + sync.pollIntervalMs);
      await poll(name, sync);
    }
  }

  function runOnce(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await round().catch((err: unknown) => log.error({ err: (err as Error).message }, "way-back round failed"));
        } while (again && !stopped);
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().finally(schedule);
    }, tickMs);
    timer.unref();
  };

  return {
    start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await store.releasePollLeases(owner).catch((err: unknown) => log.warn({ err: (err as Error).message }, "poll leases not released; they run out"));
    },
    kick(helpdesk) {
      for (const s of syncs) if (helpdesk === undefined || s.name === helpdesk) kicked.add(s.name);
      if (!stopped) void runOnce();
    },
    runOnce,
    async receiveDoorbell(name, request) {
      const driver = drivers.get(name);
      if (!driver) {
        metrics.doorbells.inc({ helpdesk: "(unknown)", outcome: "unknown_helpdesk" });
        return { status: 404, error: `no helpdesk named "${name}" is configured` };
      }
      const sync = driver.sync;
      if (!sync?.doorbell) return { status: 404, error: `helpdesk "${name}" (${driver.type}) takes no webhooks; its activity is polled` };
      let doorbell: ReturnType<NonNullable<HelpdeskSync["doorbell"]>>;
      try {
        doorbell = sync.doorbell(request, clock());
      } catch (err) {
        if (!(err instanceof DoorbellRejected)) throw err;
        metrics.doorbells.inc({ helpdesk: name, outcome: "rejected" });
        return { status: err.status, error: err.message };
      }
      // Stored before the answer: a doorbell acknowledged is never lost, even if alertdesk dies now.
      // Events carried in the body are applied first: if that fails the sender retries, and the
      // events are stored once however often it does.
      if (doorbell.activity) {
        const unknown = await applyAll(name, doorbell.activity, true);
        // Not acknowledged: the sender retries, and by then the ticket's id may be recorded (its
        // create's answer can take a while after a lost one). What was applied is stored once.
        if (unknown.length > 0) {
          metrics.doorbells.inc({ helpdesk: name, outcome: "unknown_ticket" });
          return { status: 409, error: `no incident has ticket ${unknown.join(", ")} (yet); send it again later` };
        }
      }
      const tickets = doorbell.ticketIds.length > 0 ? doorbell.ticketIds : (doorbell.activity ?? []).map((a) => a.ticketId);
      const fresh = await store.recordDoorbell(name, doorbell.deliveryId, tickets, clock());
      metrics.doorbells.inc({ helpdesk: name, outcome: fresh ? "accepted" : "repeated" });
      if (fresh) void runOnce();
      return { status: 202, outcome: fresh ? "accepted" : "repeated", tickets: tickets.length };
    },
  };
}
