import { type AlertmanagerClient, equalityMatchers } from "../alertmanagers/client.js";
import { UNRANKED_REQUEST, withDeliveryRank } from "../drivers/rate-limit.js";
import type { HelpdeskDriver } from "../drivers/types.js";
import type { KnowledgeBaseDriver } from "../knowledge/types.js";
import { DeliveryError } from "../model/delivery-error.js";
import { formatDuration } from "../model/duration.js";
import type { TicketRef } from "../model/incident.js";
import {
  type ArchiveOperation,
  DELIVERY_AGING_MS,
  deliveryRank,
  KNOWLEDGE_BASE_TARGET,
  SILENCES_TARGET,
  type SilenceOperation,
} from "../model/ticket-operation.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { DeliveryOrder, OutboxRow, OutboxStore } from "../store/types.js";
import { type BackoffPolicy, nextDelay } from "./backoff.js";

export interface RetryPolicy extends BackoffPolicy {
  /** Give up (dead letter) after this many attempts… */
  maxAttempts: number;
  /** …or once the operation is this old. */
  maxAgeMs: number;
}

export interface OutboxWorkerOptions {
  store: OutboxStore;
  drivers: ReadonlyMap<string, HelpdeskDriver>;
  /** Where silence operations go (the `alertmanagers:` list); none: they are done at once. */
  alertmanagers?: readonly AlertmanagerClient[];
  /** Where archive operations go (`knowledge_base:`); none: the built-in archive is the only one, and they are done at once. */
  knowledgeBase?: KnowledgeBaseDriver;
  metrics: Metrics;
  log: Logger;
  clock: () => Date;
  pollIntervalMs?: number;
  /** How long a claim is held; a crashed worker's claims are picked up again after it. */
  leaseMs?: number;
  /** Deliveries in progress at most (at most one per incident); a finished one makes room for the next claim. */
  batchSize?: number;
  /** Which due rows go first (default priority: docs/reliability.md "Delivery order"). */
  order?: DeliveryOrder;
  retry?: Partial<RetryPolicy>;
  random?: () => number;
  /** Finished rows older than this are deleted (default 7 days), checked every `pruneIntervalMs` (default 1 h). */
  retentionMs?: number;
  pruneIntervalMs?: number;
}

export interface OutboxWorker {
  start(): void;
  /** Stops claiming and waits for deliveries in progress. */
  stop(): Promise<void>;
  /** Wakes the worker now (called after a commit enqueued something). */
  kick(): void;
  /** One round: claim due rows (as many as there is room for) and deliver them; returns how many were claimed. */
  runOnce(): Promise<number>;
  /** Deletes finished rows older than the retention; returns how many. */
  prune(): Promise<number>;
}

const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000;

const notADriver = () => Promise.reject(new DeliveryError("alertmanagers: not a helpdesk", { retryable: false, reason: "client" }));
const SILENCES: HelpdeskDriver = {
  name: SILENCES_TARGET,
  type: "alertmanager",
  open: notADriver,
  comment: notADriver,
  resolve: notADriver,
  reopen: notADriver,
  findByKey: notADriver,
};
const KNOWLEDGE_BASE: HelpdeskDriver = { ...SILENCES, name: KNOWLEDGE_BASE_TARGET, type: "knowledge base" };
const PRUNE_BATCH = 500;
/** A rate-limited helpdesk gets rows claimed for what its limiter sends in this long. */
const CLAIM_AHEAD_MS = 2_000;

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1000, maxMs: 5 * 60_000, maxAttempts: 50, maxAgeMs: 24 * 3_600_000 };

const ACTION_OF_OP = {
  open: "opened",
  comment: "updated",
  resolve: "resolved",
  reopen: "reopened",
  notify: "notified",
  silence: "silenced",
  archive: "archived",
} as const;

/**
 * The delivery stage: claims due outbox rows (by rank, one per incident so order holds),
 * calls the incident's helpdesk driver, and records the outcome: done, retry later (backoff,
 * Retry-After) or dead letter (permanent error, too many attempts, too old).
 */
export function createOutboxWorker(options: OutboxWorkerOptions): OutboxWorker {
  const { store, drivers, metrics, log, clock } = options;
  const alertmanagers = options.alertmanagers ?? [];
  /** Where each archive row's entry is kept in the external knowledge base, until the row is completed. */
  const archived = new Map<number, { entryId: number; url: string | null }>();
  /** What each silence row's Alertmanagers answered, until the row is completed. */
  const silences = new Map<number, { alertmanager: string; silenceId: string | null }[]>();
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const leaseMs = options.leaseMs ?? 60_000;
  const batchSize = options.batchSize ?? 16;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const random = options.random ?? Math.random;
  let stopped = true;
  let loopDone: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let kicked = false;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const pruneIntervalMs = options.pruneIntervalMs ?? 3_600_000;
  let pruneTimer: NodeJS.Timeout | undefined;
  let pruning: Promise<void> | undefined;
  let renewTimer: NodeJS.Timeout | undefined;
  let renewing: Promise<void> | undefined;
  const order: DeliveryOrder = options.order ?? "priority";
  /** Deliveries in progress, and how many of them each helpdesk has. */
  const inFlight = new Map<Promise<void>, OutboxRow>();
  const perHelpdesk = new Map<string, number>();

  /**
   * A silence operation, in every configured Alertmanager. Safe to repeat: a create looks for
   * alertdesk's live silence by its marker (the ticket key in its comment) first, and an expire finds
   * every live one by the marker (an already expired one counts as done).
   */
  async function silence(op: SilenceOperation, incidentId: number): Promise<{ alertmanager: string; silenceId: string | null }[]> {
    const matchers = equalityMatchers(op.matchers);
    const stored = await store.silenceIds(incidentId);
    const done: { alertmanager: string; silenceId: string | null }[] = [];
    for (const am of alertmanagers) {
      if (op.action === "create") {
        const spec = { matchers, endsAt: new Date(op.endsAt ?? clock().getTime() + 3_600_000), comment: op.comment };
        // The id Alertmanager answered last time first; else its live silence found by the marker (an
        // earlier attempt's whose answer was lost): updated in place, never a second one beside it.
        let id: string | undefined;
        const known = stored[am.name];
        if (known !== undefined) {
          id = await am.updateSilence(known, spec).catch((err: unknown) => {
            if (err instanceof DeliveryError && err.reason === "gone") return undefined; // expired meanwhile: make a new one
            throw err;
          });
        }
        if (id === undefined) {
          const found = await am.findSilence(op.marker, { matchers });
          id = found ? await am.updateSilence(found.id, spec) : await am.createSilence(spec);
        }
        done.push({ alertmanager: am.name, silenceId: id });
        log.info({ alertmanager: am.name, silence: id, marker: op.marker, endsAt: op.endsAt }, "silence in force");
      } else {
        const known = stored[am.name];
        if (known !== undefined) await am.expireSilence(known);
        for (let n = 0; n < 10; n++) {
          const live = await am.findSilence(op.marker);
          if (!live) break;
          await am.expireSilence(live.id);
        }
        done.push({ alertmanager: am.name, silenceId: null });
        log.info({ alertmanager: am.name, silence: known, marker: op.marker }, "silence expired");
      }
    }
    return done;
  }

  /** An archive entry into the external knowledge base: its driver looks the title up first, so a repeat is one page. */
  async function archive(op: ArchiveOperation, row: OutboxRow): Promise<void> {
    const kb = options.knowledgeBase;
    if (!kb) {
      // Done without a page: where an earlier write put the entry stays recorded.
      log.info({ outboxId: row.id, title: op.title }, "no external knowledge base configured now; the built-in archive keeps the entry");
      return;
    }
    const page = await kb.archive({ title: op.title, doc: op.body, labels: op.labels, incidentId: row.incidentId, ticketKey: row.ticketKey });
    archived.set(row.id, { entryId: op.entryId, url: page.url ?? null });
    log.info({ outboxId: row.id, knowledgeBase: kb.type, page: page.id, url: page.url }, "archive entry written");
  }

  async function callDriver(driver: HelpdeskDriver, row: OutboxRow): Promise<TicketRef | undefined> {
    const op = row.operation;
    if (op.op === "archive") {
      await archive(op, row);
      return undefined;
    }
    const ctx = { idempotencyKey: `${row.ticketKey}/${row.id}`, attempt: row.attempts, ticketKey: row.ticketKey };
    if (op.op === "open") {
      if (row.ticket) return row.ticket;
      // A previous attempt may have created the ticket before we lost track of it: look first.
      const found = row.attempts > 1 ? await driver.findByKey(row.ticketKey) : undefined;
      return found ?? (await driver.open(op, ctx));
    }
    if (op.op === "silence") {
      silences.set(row.id, await silence(op, row.incidentId));
      return undefined;
    }
    if (op.op === "notify") {
      // Another helpdesk than the incident's: nothing to find, and no ticket to record.
      if (!driver.notify) throw new DeliveryError(`[${driver.name}] a ${driver.type} helpdesk cannot be notified`, { retryable: false, reason: "client" });
      await driver.notify(op, ctx);
      return undefined;
    }
    const ticket = row.ticket ?? (await driver.findByKey(row.ticketKey));
    if (!ticket) {
      throw new DeliveryError(`[${driver.name}] no ticket for ${row.ticketKey}: its create was never delivered`, {
        retryable: false,
        reason: "noTicket",
      });
    }
    if (op.op === "comment") await driver.comment(ticket, op, ctx);
    else if (op.op === "resolve") await driver.resolve(ticket, op, ctx);
    else {
      const reopened = await driver.reopen(ticket, op, ctx);
      if (reopened.id !== ticket.id) return reopened;
    }
    return row.ticket ? undefined : ticket;
  }

  /**
   * Whether the row must wait for its ticket's update budget (Zendesk: 30 updates per ticket per 10
   * minutes). Counted from the updates delivered to the ticket (shared by every replica); over it, the
   * row goes back unsent until the earliest of them leaves the window, and the comments queued behind
   * it by then go out with it as one (claim-time coalescing), so the helpdesk has no reason to answer
   * 429 (one it still sends, for an update it applied whose answer was lost, delays only that row).
   */
  async function overBudget(driver: HelpdeskDriver, row: OutboxRow, fields: Record<string, unknown>): Promise<boolean> {
    const budget = driver.ticketUpdateBudget;
    const op = row.operation.op;
    // Not a reopen: on a closed ticket it is a new follow-up ticket, and a re-fire must not wait.
    if (!budget || (op !== "comment" && op !== "resolve")) return false;
    const now = clock().getTime();
    const used = await store.ticketUpdatesSince(row.incidentId, row.helpdesk, new Date(now - budget.windowMs));
    if (used.count < budget.updates) return false;
    // A second after the earliest leaves the window: the helpdesk's clock and ours need not agree to the ms.
    const until = new Date(Math.max(now, used.earliestAt ?? now) + budget.windowMs + 1000);
    const why = `the ticket took ${used.count} updates in ${formatDuration(budget.windowMs)} (its budget: ${budget.updates}); waits, and what is queued behind goes out with it`;
    await store.defer(row.id, why, until);
    metrics.deliveriesDeferred.inc({ helpdesk: row.helpdesk });
    log.info({ ...fields, until: until.toISOString(), updates: used.count, budget: budget.updates }, "delivery waits for the ticket's update budget");
    return true;
  }

  async function deliver(row: OutboxRow): Promise<void> {
    const driver = drivers.get(row.helpdesk) ?? (row.operation.op === "silence" ? SILENCES : row.operation.op === "archive" ? KNOWLEDGE_BASE : undefined);
    const op = row.operation.op;
    const fields = { outboxId: row.id, incidentId: row.incidentId, ticketKey: row.ticketKey, helpdesk: row.helpdesk, op, attempt: row.attempts };
    if (!driver) {
      await store.deadLetter(row.id, `unknown helpdesk "${row.helpdesk}"`, clock());
      metrics.deliveryDeadLetters.inc({ helpdesk: row.helpdesk });
      log.error(fields, "delivery dead: unknown helpdesk");
      return;
    }
    if (await overBudget(driver, row, fields)) return;
    metrics.deliveryAttempts.inc({ helpdesk: row.helpdesk, op });
    let ticket: TicketRef | undefined;
    try {
      // Aged as the claim aged it, so a row that waited long in the outbox does not start over among the waiters for a slot.
      const rank = order === "oldest" ? UNRANKED_REQUEST : deliveryRank(row.operation) - (clock().getTime() - row.createdAt.getTime()) / DELIVERY_AGING_MS;
      ticket = await withDeliveryRank(rank, () => callDriver(driver, row));
    } catch (err) {
      const failure =
        err instanceof DeliveryError ? err : new DeliveryError(`[${driver.name}] ${(err as Error).message}`, { retryable: true, reason: "server", cause: err });
      metrics.deliveryFailures.inc({ helpdesk: row.helpdesk, reason: failure.reason });
      const now = clock();
      const tooOld = now.getTime() - row.createdAt.getTime() >= retry.maxAgeMs;
      if (!failure.retryable || row.attempts >= retry.maxAttempts || tooOld) {
        await store.deadLetter(row.id, failure.message, now);
        metrics.deliveryDeadLetters.inc({ helpdesk: row.helpdesk });
        log.error({ ...fields, reason: failure.reason, err: failure.message }, "delivery dead");
      } else {
        const delay = nextDelay(row.attempts, failure.retryAfterMs, retry, random);
        await store.reschedule(row.id, failure.message, new Date(now.getTime() + delay));
        log.warn({ ...fields, reason: failure.reason, retryInMs: delay, err: failure.message }, "delivery failed, will retry");
      }
      return;
    }
    const now = clock();
    const silenced = silences.get(row.id);
    silences.delete(row.id);
    const page = archived.get(row.id);
    archived.delete(row.id);
    await store.complete(row.id, { ...(ticket ? { ticket } : {}), ...(silenced ? { silences: silenced } : {}), ...(page ? { archived: page } : {}) }, now);
    metrics.tickets.inc({ helpdesk: row.helpdesk, action: ACTION_OF_OP[op] });
    metrics.deliveryLatency.observe({ helpdesk: row.helpdesk, op }, Math.max(0, now.getTime() - row.createdAt.getTime()) / 1000);
    log.info({ ...fields, ticket: ticket?.id }, "delivered");
  }

  /**
   * How many rows of each rate-limited helpdesk may be in progress at once: what its limiter sends
   * in CLAIM_AHEAD_MS. Claiming further ahead would only queue rows in the limiter, where a P1 open
   * that arrives later waits behind them; left in the outbox, they are claimed in rank order.
   */
  const caps = new Map<string, number>();
  for (const [name, driver] of drivers)
    if (driver.requestsPerSecond !== undefined) caps.set(name, Math.max(1, Math.ceil((driver.requestsPerSecond * CLAIM_AHEAD_MS) / 1000)));

  /** Starts delivering a claimed row; a finished delivery makes room for the next claim. */
  function start(row: OutboxRow): Promise<void> {
    perHelpdesk.set(row.helpdesk, (perHelpdesk.get(row.helpdesk) ?? 0) + 1);
    const delivery: Promise<void> = deliver(row)
      .catch((err: unknown) =>
        log.error(
          { outboxId: row.id, err: (err as Error).message },
          "delivery failed outside the helpdesk call (the store?); it goes again once its lease ends",
        ),
      )
      .finally(() => {
        inFlight.delete(delivery);
        const left = (perHelpdesk.get(row.helpdesk) ?? 1) - 1;
        if (left > 0) perHelpdesk.set(row.helpdesk, left);
        else perHelpdesk.delete(row.helpdesk);
        // Room for the next claim (also when the loop is busy claiming right now): at once where a
        // rate limit makes the order matter, else once half the room is free, so that fast
        // deliveries (the built-in helpdesk) are claimed in batches, not one transaction each.
        if (caps.has(row.helpdesk) || inFlight.size <= batchSize / 2) {
          kicked = true;
          wake?.();
        }
      });
    inFlight.set(delivery, row);
    return delivery;
  }

  /**
   * Claims as many due rows as there is room for and starts delivering them. Rows of rate-limited
   * helpdesks are claimed apart, each helpdesk no further ahead than its cap, so a slow helpdesk
   * never narrows the claims of the others. Incidents with a delivery in progress here are never
   * claimed again (not even when a slow delivery outlives its lease).
   */
  async function claimAndStart(): Promise<{ started: Promise<void>[]; more: boolean; held: boolean }> {
    let room = batchSize - inFlight.size;
    if (room <= 0) return { started: [], more: false, held: true };
    const now = clock();
    const busy = [...inFlight.values()].map((r) => r.incidentId);
    const rows = await store.claimDue(now, room, leaseMs, { skipHelpdesks: [...caps.keys()], skipIncidents: busy, order });
    const more = rows.length === room;
    room -= rows.length;
    let held = false;
    for (const [helpdesk, cap] of caps) {
      const free = Math.min(room, cap - (perHelpdesk.get(helpdesk) ?? 0));
      if (free <= 0) {
        held = true;
        continue;
      }
      const got = await store.claimDue(now, free, leaseMs, { onlyHelpdesk: helpdesk, skipIncidents: busy, order });
      rows.push(...got);
      room -= got.length;
      if (got.length === free) held = true; // more may be due: claimed when one of these finishes
    }
    // more: there may be more due right now; held: some wait only for room, which a finished delivery makes.
    return { started: rows.map(start), more, held };
  }

  /** Keeps the claims of deliveries in progress, so a slow one is never claimed by another replica meanwhile. */
  function renewLeases(): void {
    const ids = [...inFlight.values()].map((r) => r.id);
    if (ids.length === 0 || renewing) return;
    renewing = store
      .extendLeases(ids, new Date(clock().getTime() + leaseMs))
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, "outbox leases not renewed; will retry"))
      .finally(() => {
        renewing = undefined;
      });
  }

  async function runOnce(): Promise<number> {
    const { started } = await claimAndStart();
    await Promise.all(started);
    return started.length;
  }

  /** In small batches, so ingest never waits long behind one big delete. */
  async function prune(): Promise<number> {
    const before = new Date(clock().getTime() - retentionMs);
    let total = 0;
    for (;;) {
      const n = await store.pruneFinished(before, PRUNE_BATCH);
      total += n;
      if (n < PRUNE_BATCH || stopped) break;
    }
    if (total > 0) {
      metrics.outboxPruned.inc(total);
      log.info({ rows: total, before: before.toISOString() }, "outbox pruned");
    }
    return total;
  }

  function prunePeriodically(): void {
    if (pruning) return;
    pruning = prune()
      .then(() => undefined)
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, "outbox pruning failed; will retry"))
      .finally(() => {
        pruning = undefined;
      });
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (kicked || stopped) {
        kicked = false;
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        kicked = false;
        resolve();
      }
      wake = done;
    });
  }

  /** Claims whenever there is room (a delivery finished, a commit kicked, a row fell due); deliveries run side by side. */
  async function loop(): Promise<void> {
    while (!stopped) {
      let claim: Awaited<ReturnType<typeof claimAndStart>>;
      try {
        claim = await claimAndStart();
      } catch (err) {
        log.error({ err: (err as Error).message }, "outbox round failed; retrying");
        await sleep(pollIntervalMs);
        continue;
      }
      if (claim.more) continue;
      if (claim.held) {
        // A delivery that finishes wakes the loop (and a commit, and a row falling due within the interval).
        await sleep(pollIntervalMs);
        continue;
      }
      const next = await store.nextDueAt().catch(() => undefined);
      const wait = next === undefined ? pollIntervalMs : Math.min(pollIntervalMs, Math.max(10, next - clock().getTime()));
      await sleep(wait);
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loopDone = loop();
      prunePeriodically();
      pruneTimer = setInterval(prunePeriodically, pruneIntervalMs);
      pruneTimer.unref();
      renewTimer = setInterval(renewLeases, Math.max(50, Math.floor(leaseMs / 3)));
      renewTimer.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(pruneTimer);
      wake?.();
      await loopDone;
      clearInterval(renewTimer);
      await Promise.all(inFlight.keys());
      await renewing;
      await pruning;
    },
    kick() {
      kicked = true;
      wake?.();
    },
    runOnce,
    prune,
  };
}
