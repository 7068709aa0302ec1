import { isSolvedStatus } from "../model/helpdesk-event.js";
import type { Incident } from "../model/incident.js";

/**
 * When an incident is over, and so due for its archive entry. Pure: the incident and the time in,
 * the incident with its archive timer set or cleared out. Every write of an incident goes through
 * this (by way of `scheduled()`), so the store's index always says which incidents are due.
 */

/**
 * How long after the end the entry is written by default (rule key `archive_after`): agents often solve first and write the note a
 * moment later (Jira's resolve transition, then a comment), and the sync reads the helpdesk about
 * once a minute; the entry should carry that note.
 */
export const ARCHIVE_GRACE_MS = 2 * 60_000;

/**
 * Over: no alert of it fires, its ticket is solved or closed (by an agent, or by alertdesk when
 * `on_resolved: solve`), no verification of a solve is pending, and it is not kept open as
 * flapping. An incident that never had a ticket (resolved before open_after) has nothing to archive.
 */
export function isOver(incident: Incident): boolean {
  if (incident.state !== "resolved" || incident.cancelled || incident.keptOpen) return false;
  if (incident.verifyAt !== undefined) return false;
  if (incident.deferredUntil !== undefined) return false;
  const status = incident.helpdeskState?.status ?? null;
  if (isSolvedStatus(status)) return true;
  if (incident.onResolved !== "solve") return false;
  // alertdesk solved the ticket (its own writes never come back as agents' events), unless an agent
  // took the ticket back after that solve.
  const changedAt = incident.helpdeskVersions?.status_changed;
  if (status === null || changedAt === undefined || incident.resolvedAt === undefined) return true;
  return Date.parse(changedAt) <= Date.parse(incident.resolvedAt);
}

/**
 * The incident with `archiveAt` set while it is over and not archived yet (kept when already set:
 * a later write does not push the entry back), and `archivedAt` cleared once it is no longer over, so
 * that the next end writes the entry again (the entry is updated, never duplicated).
 */
export function archiveScheduled(incident: Incident, now: Date): Incident {
  const next: Incident = { ...incident };
  if (!isOver(incident)) {
    delete next.archiveAt;
    delete next.archivedAt;
    return next;
  }
  if (next.archivedAt !== undefined) delete next.archiveAt;
  else next.archiveAt ??= new Date(now.getTime() + (incident.archiveAfterMs ?? ARCHIVE_GRACE_MS)).toISOString();
  return next;
}
