import type { Router } from "express";
import { z } from "zod";
import { badRequest } from "../http/respond.js";
import { UNKNOWN_HELPDESK_STATE } from "../model/helpdesk-event.js";
import type { Incident } from "../model/incident.js";
import { RESPONSE_TARGET_MS } from "../model/priority.js";
import type { QueryStore } from "../store/types.js";
import { pageAnswer, pageParams, pageQuery } from "./paging.js";

const incidentsQuery = z.object({ state: z.enum(["firing", "resolved"]).optional(), key: z.string().optional(), ...pageParams }).strict();

/** Firing alerts an incident's view lists: a group of 80,000 alerts is one incident, not an 80,000-entry answer. */
export const VIEW_FIRING_ALERTS = 100;

/**
 * The response clock as `sla` shows it: when the first response is due on the current clock (the
 * ticket's open or latest reopen), whether one came, and whether the target was missed.
 */
function slaView(i: Incident, now: Date) {
  const start = Date.parse(i.clockStartedAt ?? i.openedAt);
  const due = start + (i.responseTargetMs ?? RESPONSE_TARGET_MS[i.priority]);
  const responded = i.helpdeskState?.firstResponseAt ?? null;
  const firstResponseAt = responded !== null && Date.parse(responded) >= start ? responded : null;
  const late = firstResponseAt !== null ? Date.parse(firstResponseAt) > due : i.state === "firing" && !i.cancelled && now.getTime() > due;
  return {
    responseDueAt: new Date(due).toISOString(),
    firstResponseAt,
    breached: i.breachedAt !== undefined || late,
    escalations: i.escalations ?? [],
  };
}

/** The view of an incident that /api/incidents shows. */
export function incidentView(i: Incident, now: Date = new Date()) {
  const firing = i.alerts.filter((a) => a.status === "firing");
  return {
    id: i.id,
    dedupKey: i.dedupKey,
    seq: i.seq,
    state: i.state,
    priority: i.priority,
    category: i.category,
    rule: i.rule,
    helpdesk: i.helpdesk,
    ticketKey: i.ticketKey,
    ticket: i.ticket ?? null,
    previousTicketKey: i.previousTicketKey ?? null,
    firingAlerts: firing.slice(0, VIEW_FIRING_ALERTS),
    firingAlertCount: firing.length,
    resolvedAlerts: i.alerts.filter((a) => a.status === "resolved").length,
    recurrences: i.recurrences,
    openedAt: i.openedAt,
    updatedAt: i.updatedAt,
    resolvedAt: i.resolvedAt ?? null,
    dueAt: i.dueAt,
    deferredUntil: i.deferredUntil ?? null,
    cancelled: i.cancelled ?? false,
    keptOpenFlapping: i.keptOpen ?? false,
    /** What the two-way sync knows of the ticket (null fields until something is known). */
    helpdeskState: { ...UNKNOWN_HELPDESK_STATE, ...i.helpdeskState },
    agentPriority: i.agentPriority ?? null,
    agentSolvedAt: i.agentSolvedAt ?? null,
    verifyAt: i.verifyAt ?? null,
    autoReopens: i.autoReopens ?? 0,
    mutedUntil: i.mutedUntil ?? null,
    sla: slaView(i, now),
  };
}

/** `GET /api/incidents?state=&key=&limit=&before=`: a page of incidents, newest first (paging.ts). */
export function addIncidentRoutes(router: Router, store: Pick<QueryStore, "pageIncidents">, clock: () => Date = () => new Date()): void {
  router.get("/api/incidents", async (req, res) => {
    const q = incidentsQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const page = await store.pageIncidents({
      ...pageQuery(q.data),
      ...(q.data.state ? { state: q.data.state } : {}),
      ...(q.data.key ? { dedupKey: q.data.key } : {}),
    });
    const now = clock();
    res.json(
      pageAnswer(
        "incidents",
        page.items.map((i) => incidentView(i, now)),
        page.next,
      ),
    );
  });
}
