import type { Router } from "express";
import { z } from "zod";
import { badRequest, limitParam } from "../http/respond.js";
import type { Incident } from "../model/incident.js";
import type { QueryStore } from "../store/types.js";

const incidentsQuery = z.object({ state: z.enum(["firing", "resolved"]).optional(), key: z.string().optional(), limit: limitParam }).strict();

/** The view of an incident that /api/incidents shows. */
export function incidentView(i: Incident) {
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
    firingAlerts: i.alerts.filter((a) => a.status === "firing"),
    resolvedAlerts: i.alerts.filter((a) => a.status === "resolved").length,
    recurrences: i.recurrences,
    openedAt: i.openedAt,
    updatedAt: i.updatedAt,
    resolvedAt: i.resolvedAt ?? null,
    dueAt: i.dueAt,
    deferredUntil: i.deferredUntil ?? null,
    cancelled: i.cancelled ?? false,
    keptOpenFlapping: i.keptOpen ?? false,
  };
}

/** `GET /api/incidents?state=&key=&limit=`: incidents, newest first. */
export function addIncidentRoutes(router: Router, store: Pick<QueryStore, "listIncidents">): void {
  router.get("/api/incidents", async (req, res) => {
    const q = incidentsQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, "invalid query", q.error.issues);
    const incidents = await store.listIncidents({
      limit: q.data.limit,
      ...(q.data.state ? { state: q.data.state } : {}),
      ...(q.data.key ? { dedupKey: q.data.key } : {}),
    });
    res.json({ incidents: incidents.map(incidentView) });
  });
}
