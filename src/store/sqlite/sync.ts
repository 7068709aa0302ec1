import type Database from "better-sqlite3";
import type { HelpdeskEvent } from "../../model/helpdesk-event.js";
import type { Incident } from "../../model/incident.js";
import { DOORBELL_MEMORY_MS, type IncidentRow, toIncident } from "../rows.js";
import type { DoorbellRow, StoredHelpdeskEvent, SyncStatus, SyncStore, SyncTx } from "../types.js";

interface EventRow {
  event_id: string;
  ticket_id: string;
  data: string;
  received_at: string;
}

/**
 * The way back on SQLite: the SyncTx methods (run inside the single writer's transaction, so they
 * need no locks) and the SyncStore bookkeeping. `write` is the store's writer.
 */
export function createSqliteSync(
  db: Database.Database,
  reader: Database.Database,
  write: <T>(fn: () => T | Promise<T>) => Promise<T>,
  updateIncident: (incident: Incident & { id: number }) => void,
  enqueue: SyncTx["enqueue"],
): {
  tx: Omit<SyncTx, "incidentDeliveries" | "saveArchiveEntry" | "similarIncidents" | "cancelArchive">;
  store: Omit<SyncStore, "syncTransaction" | "dueArchives">;
} {
  const q = {
    byTicket: db.prepare<[string, string], IncidentRow>(
      "SELECT id, ticket_id, ticket_url, data FROM incidents WHERE helpdesk = ? AND ticket_id = ? ORDER BY id DESC LIMIT 1",
    ),
    byId: db.prepare<[number], IncidentRow>("SELECT id, ticket_id, ticket_url, data FROM incidents WHERE id = ?"),
    byKey: db.prepare<[string, string], IncidentRow>("SELECT id, ticket_id, ticket_url, data FROM incidents WHERE ticket_key = ? AND helpdesk = ?"),
    recordEvent: db.prepare(
      `INSERT INTO helpdesk_events (helpdesk, event_id, ticket_id, incident_id, kind, data, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (helpdesk, event_id) DO NOTHING`,
    ),
    saveCursor: db.prepare("UPDATE helpdesk_sync SET cursor = ?, synced_at = ?, last_error = NULL WHERE helpdesk = ? AND lease_owner = ?"),
    ensureSync: db.prepare("INSERT INTO helpdesk_sync (helpdesk) VALUES (?) ON CONFLICT (helpdesk) DO NOTHING"),
    takeLease: db.prepare(
      "UPDATE helpdesk_sync SET lease_owner = @owner, lease_until = @until WHERE helpdesk = @helpdesk AND (lease_owner IS NULL OR lease_owner = @owner OR lease_until <= @now)",
    ),
    releaseLeases: db.prepare("UPDATE helpdesk_sync SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?"),
    cursor: db.prepare<[string], { cursor: string | null }>("SELECT cursor FROM helpdesk_sync WHERE helpdesk = ?"),
    notePoll: db.prepare("UPDATE helpdesk_sync SET last_error = ?, synced_at = CASE WHEN ? IS NULL THEN ? ELSE synced_at END WHERE helpdesk = ?"),
    recordDoorbell: db.prepare(
      `INSERT INTO helpdesk_doorbells (helpdesk, delivery_id, ticket_id, next_attempt_at, received_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (helpdesk, delivery_id, ticket_id) DO NOTHING`,
    ),
    dueDoorbells: db.prepare<[number, number, number], { id: number; helpdesk: string; ticket_id: string; attempts: number }>(
      `SELECT id, helpdesk, ticket_id, attempts FROM helpdesk_doorbells
       WHERE state = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT ?`,
    ),
    leaseDoorbell: db.prepare("UPDATE helpdesk_doorbells SET lease_until = ?, attempts = attempts + 1 WHERE id = ?"),
    finishDoorbell: db.prepare("UPDATE helpdesk_doorbells SET state = 'done', done_at = ?, lease_until = NULL WHERE id = ?"),
    forgetDoorbells: db.prepare("DELETE FROM helpdesk_doorbells WHERE state = 'done' AND done_at < ?"),
    retryDoorbell: db.prepare("UPDATE helpdesk_doorbells SET next_attempt_at = ?, lease_until = NULL WHERE id = ?"),
    events: db.prepare<[number], EventRow>("SELECT event_id, ticket_id, data, received_at FROM helpdesk_events WHERE incident_id = ? ORDER BY id"),
  };
  const r = {
    anyDueDoorbell: reader.prepare<[number, number], { id: number }>(
      "SELECT id FROM helpdesk_doorbells WHERE state = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) LIMIT 1",
    ),
    dueVerifications: reader.prepare<[number, number], { id: number }>(
      "SELECT id FROM incidents WHERE verify_at IS NOT NULL AND verify_at <= ? ORDER BY verify_at LIMIT ?",
    ),
    dueEscalations: reader.prepare<[number, number], { id: number }>(
      "SELECT id FROM incidents WHERE escalate_at IS NOT NULL AND escalate_at <= ? ORDER BY escalate_at LIMIT ?",
    ),
    nextVerification: reader.prepare<[], { t: number | null }>("SELECT MIN(verify_at) AS t FROM incidents WHERE verify_at IS NOT NULL"),
    status: reader.prepare<[], { helpdesk: string; cursor: string | null; synced_at: string | null; last_error: string | null }>(
      "SELECT helpdesk, cursor, synced_at, last_error FROM helpdesk_sync ORDER BY helpdesk",
    ),
    events: reader.prepare<[number], EventRow>("SELECT event_id, ticket_id, data, received_at FROM helpdesk_events WHERE incident_id = ? ORDER BY id"),
  };
  const toStored = (e: EventRow): StoredHelpdeskEvent => ({
    eventId: e.event_id,
    ticketId: e.ticket_id,
    event: JSON.parse(e.data) as HelpdeskEvent,
    receivedAt: e.received_at,
  });
  const locked = (row: IncidentRow | undefined) => (row ? (toIncident(row) as Incident & { id: number }) : undefined);

  const tx: Omit<SyncTx, "incidentDeliveries" | "saveArchiveEntry" | "similarIncidents" | "cancelArchive"> = {
    async incidentEvents(incidentId) {
      return q.events.all(incidentId).map(toStored);
    },
    async incidentByTicket(helpdesk, ticketId, ticketKey) {
      return locked(q.byTicket.get(helpdesk, ticketId) ?? (ticketKey === undefined ? undefined : q.byKey.get(ticketKey, helpdesk)));
    },
    async incidentById(id) {
      return locked(q.byId.get(id));
    },
    async recordEvent(incidentId, helpdesk, ticketId, observed, now) {
      const info = q.recordEvent.run(helpdesk, observed.id, ticketId, incidentId, observed.event.kind, JSON.stringify(observed.event), now.toISOString());
      return info.changes > 0;
    },
    async updateIncident(incident) {
      updateIncident(incident);
    },
    enqueue,
    async saveCursor(helpdesk, owner, cursor, now) {
      return q.saveCursor.run(cursor, now.toISOString(), helpdesk, owner).changes > 0;
    },
  };

  const store: Omit<SyncStore, "syncTransaction" | "dueArchives"> = {
    takePollLease: (helpdesk, owner, now, leaseMs) =>
      write(() => {
        q.ensureSync.run(helpdesk);
        const taken = q.takeLease.run({ helpdesk, owner, until: now.getTime() + leaseMs, now: now.getTime() }).changes > 0;
        return taken ? { cursor: q.cursor.get(helpdesk)?.cursor ?? null } : undefined;
      }),
    releasePollLeases: (owner) => write(() => void q.releaseLeases.run(owner)),
    notePoll: (helpdesk, error, now) => write(() => void q.notePoll.run(error, error, now.toISOString(), helpdesk)),
    recordDoorbell: (helpdesk, deliveryId, ticketIds, now) =>
      write(() => {
        let fresh = false;
        for (const id of new Set(ticketIds)) fresh = q.recordDoorbell.run(helpdesk, deliveryId, id, now.getTime(), now.getTime()).changes > 0 || fresh;
        return fresh;
      }),
    async claimDoorbells(now, limit, leaseMs) {
      // The sync loop asks every second; almost always nothing is due. A look on the reader first
      // keeps that from being a write transaction (and an fsync) on the writer webhooks wait for.
      if (!r.anyDueDoorbell.get(now.getTime(), now.getTime())) return [];
      return write(() =>
        q.dueDoorbells.all(now.getTime(), now.getTime(), limit).map((d): DoorbellRow => {
          q.leaseDoorbell.run(now.getTime() + leaseMs, d.id);
          return { id: Number(d.id), helpdesk: d.helpdesk, ticketId: d.ticket_id, attempts: d.attempts + 1 };
        }),
      );
    },
    finishDoorbell: (id, now) =>
      write(() => {
        q.finishDoorbell.run(now.getTime(), id);
        q.forgetDoorbells.run(now.getTime() - DOORBELL_MEMORY_MS);
      }),
    retryDoorbell: (id, nextAttemptAt) => write(() => void q.retryDoorbell.run(nextAttemptAt.getTime(), id)),
    async dueVerifications(now, limit) {
      return r.dueVerifications.all(now.getTime(), limit).map((row) => Number(row.id));
    },
    async dueEscalations(now, limit) {
      return r.dueEscalations.all(now.getTime(), limit).map((row) => Number(row.id));
    },
    async nextVerificationAt() {
      return r.nextVerification.get()?.t ?? undefined;
    },
    async syncStatus(): Promise<SyncStatus[]> {
      return r.status.all().map((s) => ({ helpdesk: s.helpdesk, cursor: s.cursor, syncedAt: s.synced_at, lastError: s.last_error }));
    },
    async helpdeskEvents(incidentId): Promise<StoredHelpdeskEvent[]> {
      return r.events.all(incidentId).map(toStored);
    },
  };
  return { tx, store };
}
