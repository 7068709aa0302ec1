import type pg from "pg";
import type { HelpdeskEvent } from "../../model/helpdesk-event.js";
import type { Incident } from "../../model/incident.js";
import { DOORBELL_MEMORY_MS, type IncidentRow, toIncident } from "../rows.js";
import type { DoorbellRow, SyncStore, SyncTx } from "../types.js";

type Q = Pick<pg.PoolClient, "query">;

/**
 * The incident with this id or ticket, under the same advisory lock per dedup key as the ingest
 * path: an agent's event and a notification for one incident never interleave, on any replica.
 */
async function lockedIncident(c: Q, where: string, params: unknown[]): Promise<(Incident & { id: number }) | undefined> {
  const found = await c.query<{ dedup_key: string }>(`SELECT dedup_key FROM incidents WHERE ${where} ORDER BY id DESC LIMIT 1`, params);
  const key = found.rows[0]?.dedup_key;
  if (key === undefined) return undefined;
  await c.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key]);
  const res = await c.query<IncidentRow>(`SELECT id, ticket_id, ticket_url, data FROM incidents WHERE ${where} ORDER BY id DESC LIMIT 1`, params);
  const row = res.rows[0];
  return row ? (toIncident(row) as Incident & { id: number }) : undefined;
}

/** The way-back methods of one PostgreSQL transaction (the ingest transaction's update and enqueue added by the store). */
export function pgSyncTx(c: Q): Omit<SyncTx, "updateIncident" | "enqueue" | "incidentDeliveries" | "saveArchiveEntry" | "similarIncidents" | "cancelArchive"> {
  return {
    async incidentEvents(incidentId) {
      const res = await c.query<{ event_id: string; ticket_id: string; data: string; received_at: string }>(
        "SELECT event_id, ticket_id, data, received_at FROM helpdesk_events WHERE incident_id = $1 ORDER BY id",
        [incidentId],
      );
      return res.rows.map((e) => ({ eventId: e.event_id, ticketId: e.ticket_id, event: JSON.parse(e.data) as HelpdeskEvent, receivedAt: e.received_at }));
    },
    incidentByTicket: async (helpdesk, ticketId, ticketKey) =>
      (await lockedIncident(c, "helpdesk = $1 AND ticket_id = $2", [helpdesk, ticketId])) ??
      (ticketKey === undefined ? undefined : await lockedIncident(c, "helpdesk = $1 AND ticket_key = $2", [helpdesk, ticketKey])),
    incidentById: (id) => lockedIncident(c, "id = $1", [id]),
    async recordEvent(incidentId, helpdesk, ticketId, observed, now) {
      const res = await c.query(
        `INSERT INTO helpdesk_events (helpdesk, event_id, ticket_id, incident_id, kind, data, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (helpdesk, event_id) DO NOTHING`,
        [helpdesk, observed.id, ticketId, incidentId, observed.event.kind, JSON.stringify(observed.event), now.toISOString()],
      );
      return (res.rowCount ?? 0) > 0;
    },
    async saveCursor(helpdesk, owner, cursor, now) {
      const res = await c.query("UPDATE helpdesk_sync SET cursor = $1, synced_at = $2, last_error = NULL WHERE helpdesk = $3 AND lease_owner = $4", [
        cursor,
        now.toISOString(),
        helpdesk,
        owner,
      ]);
      return (res.rowCount ?? 0) > 0;
    },
  };
}

/** The way back's bookkeeping on PostgreSQL: leases by conditional UPDATE, doorbells claimed with SKIP LOCKED. */
export function pgSyncStore(
  pool: pg.Pool,
  inTransaction: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>,
): Omit<SyncStore, "syncTransaction" | "dueArchives"> {
  return {
    takePollLease: (helpdesk, owner, now, leaseMs) =>
      inTransaction(async (c) => {
        await c.query("INSERT INTO helpdesk_sync (helpdesk) VALUES ($1) ON CONFLICT (helpdesk) DO NOTHING", [helpdesk]);
        const res = await c.query<{ cursor: string | null }>(
          `UPDATE helpdesk_sync SET lease_owner = $2, lease_until = $3
           WHERE helpdesk = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until <= $4) RETURNING cursor`,
          [helpdesk, owner, now.getTime() + leaseMs, now.getTime()],
        );
        const row = res.rows[0];
        return row ? { cursor: row.cursor } : undefined;
      }),
    async releasePollLeases(owner) {
      await pool.query("UPDATE helpdesk_sync SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1", [owner]);
    },
    async notePoll(helpdesk, error, now) {
      await pool.query("UPDATE helpdesk_sync SET last_error = $1, synced_at = CASE WHEN $1::text IS NULL THEN $2 ELSE synced_at END WHERE helpdesk = $3", [
        error,
        now.toISOString(),
        helpdesk,
      ]);
    },
    recordDoorbell: (helpdesk, deliveryId, ticketIds, now) =>
      inTransaction(async (c) => {
        let fresh = false;
        for (const id of new Set(ticketIds)) {
          const res = await c.query(
            `INSERT INTO helpdesk_doorbells (helpdesk, delivery_id, ticket_id, next_attempt_at, received_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (helpdesk, delivery_id, ticket_id) DO NOTHING`,
            [helpdesk, deliveryId, id, now.getTime()],
          );
          fresh = (res.rowCount ?? 0) > 0 || fresh;
        }
        return fresh;
      }),
    claimDoorbells: (now, limit, leaseMs) =>
      inTransaction(async (c) => {
        const res = await c.query<{ id: number; helpdesk: string; ticket_id: string; attempts: number }>(
          `UPDATE helpdesk_doorbells SET lease_until = $2, attempts = attempts + 1 WHERE id IN (
             SELECT id FROM helpdesk_doorbells WHERE state = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
             ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING id, helpdesk, ticket_id, attempts`,
          [now.getTime(), now.getTime() + leaseMs, limit],
        );
        return res.rows.map((d): DoorbellRow => ({ id: Number(d.id), helpdesk: d.helpdesk, ticketId: d.ticket_id, attempts: d.attempts }));
      }),
    async finishDoorbell(id, now) {
      await pool.query("UPDATE helpdesk_doorbells SET state = 'done', done_at = $2, lease_until = NULL WHERE id = $1", [id, now.getTime()]);
      await pool.query("DELETE FROM helpdesk_doorbells WHERE state = 'done' AND done_at < $1", [now.getTime() - DOORBELL_MEMORY_MS]);
    },
    async retryDoorbell(id, nextAttemptAt) {
      await pool.query("UPDATE helpdesk_doorbells SET next_attempt_at = $2, lease_until = NULL WHERE id = $1", [id, nextAttemptAt.getTime()]);
    },
    async dueVerifications(now, limit) {
      const res = await pool.query<{ id: number }>("SELECT id FROM incidents WHERE verify_at IS NOT NULL AND verify_at <= $1 ORDER BY verify_at LIMIT $2", [
        now.getTime(),
        limit,
      ]);
      return res.rows.map((r) => Number(r.id));
    },
    async dueEscalations(now, limit) {
      const res = await pool.query<{ id: number }>(
        "SELECT id FROM incidents WHERE escalate_at IS NOT NULL AND escalate_at <= $1 ORDER BY escalate_at LIMIT $2",
        [now.getTime(), limit],
      );
      return res.rows.map((r) => Number(r.id));
    },
    async nextVerificationAt() {
      const res = await pool.query<{ t: number | null }>("SELECT min(verify_at) AS t FROM incidents WHERE verify_at IS NOT NULL");
      const t = res.rows[0]?.t;
      return t === null || t === undefined ? undefined : Number(t);
    },
    async syncStatus() {
      const res = await pool.query<{ helpdesk: string; cursor: string | null; synced_at: string | null; last_error: string | null }>(
        "SELECT helpdesk, cursor, synced_at, last_error FROM helpdesk_sync ORDER BY helpdesk",
      );
      return res.rows.map((s) => ({ helpdesk: s.helpdesk, cursor: s.cursor, syncedAt: s.synced_at, lastError: s.last_error }));
    },
    async helpdeskEvents(incidentId) {
      const res = await pool.query<{ event_id: string; ticket_id: string; data: string; received_at: string }>(
        "SELECT event_id, ticket_id, data, received_at FROM helpdesk_events WHERE incident_id = $1 ORDER BY id",
        [incidentId],
      );
      return res.rows.map((e) => ({ eventId: e.event_id, ticketId: e.ticket_id, event: JSON.parse(e.data) as HelpdeskEvent, receivedAt: e.received_at }));
    },
  };
}
