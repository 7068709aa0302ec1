import type { Router } from "express";
import { z } from "zod";
import { badRequest } from "../http/respond.js";
import { UNKNOWN_HELPDESK_STATE } from "../model/helpdesk-event.js";
import type { Incident } from "../model/incident.js";
import { RESPONSE_TARGET_MS } from "../model/priority.js";
import type { RuleSet } from "../rules/load.js";
import type { QueryStore, SyncStore } from "../store/types.js";
import { deliveryRecord, incidentTimeline, type TimelineItem } from "../templates/archive.js";
import { renderTitle } from "../templates/render.js";
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
    targetMs: i.responseTargetMs ?? RESPONSE_TARGET_MS[i.priority],
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
    title: renderTitle(i),
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

/** The rule of the incident as it is in force now, and what it says: why the incident got its priority. */
function ruleWhy(rules: RuleSet, name: string | null) {
  if (name === null) return { name: null, matchers: [], when: null, priority: rules.defaults.priority, category: rules.defaults.category, inForce: true };
  const r = rules.rules.find((x) => x.name === name);
  if (!r) return { name, matchers: [], when: null, priority: null, category: null, inForce: false };
  return { name, matchers: r.matchers.map((m) => m.text), when: r.whenText ?? null, priority: r.priority ?? null, category: r.category ?? null, inForce: true };
}

/**
 * One incident with what the console's incident page shows (`GET /api/incidents/{id}`): its view,
 * its timeline (alerts, alertdesk's deliveries, agents' acts), the ticket text as the helpdesk got
 * it (the open delivery, while delivery.retention keeps it), each alert's values over time, and the
 * rule that matched.
 */
export async function incidentDetail(
  store: Pick<QueryStore, "getIncident" | "deliveriesOf"> & Pick<SyncStore, "helpdeskEvents">,
  rules: RuleSet,
  id: number,
  now: Date,
) {
  const incident = await store.getIncident(id);
  if (!incident) return undefined;
  const deliveries = await store.deliveriesOf(id);
  const events = (await store.helpdeskEvents(id)).map((e) => e.event);
  const timeline: TimelineItem[] = incidentTimeline({ incident: { ...incident, id }, agentEvents: events, deliveries: deliveries.map(deliveryRecord) });
  const open = deliveries.find((d) => d.operation.op === "open");
  const ticketText =
    open?.operation.op === "open"
      ? { title: open.operation.title, body: open.operation.body, helpdesk: open.helpdesk, state: open.state, createdAt: open.createdAt }
      : null;
  return {
    incident: incidentView(incident, now),
    timeline,
    ticketText,
    rule: ruleWhy(rules, incident.rule),
    alerts: incident.alerts.slice(0, VIEW_FIRING_ALERTS).map((a) => ({
      fingerprint: a.fingerprint,
      status: a.status,
      labels: a.labels,
      priority: a.priority,
      rule: a.rule,
      startsAt: a.startsAt,
      endsAt: a.endsAt ?? null,
      value: a.value ?? null,
      firstValue: a.firstValue ?? a.value ?? null,
      peakValue: a.peakValue ?? a.value ?? null,
      samples: a.samples ?? (a.value !== undefined ? [[a.startsAt, a.value]] : []),
    })),
    archivedAt: incident.archivedAt ?? null,
  };
}

/** `GET /api/incidents?state=&key=&limit=&before=`: a page of incidents, newest first (paging.ts). */
const incidentId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export function addIncidentRoutes(
  router: Router,
  store: Pick<QueryStore, "pageIncidents" | "getIncident" | "deliveriesOf"> & Pick<SyncStore, "helpdeskEvents">,
  clock: () => Date = () => new Date(),
  rules: () => RuleSet,
): void {
  router.get("/api/incidents/:id", async (req, res) => {
    const id = incidentId.safeParse(req.params.id);
    if (!id.success)
      return badRequest(
        res,
        "invalid incident id",
        id.error.issues.map((i) => ({ ...i, path: ["id"] })),
      );
    const detail = await incidentDetail(store, rules(), id.data, clock());
    if (!detail) return void res.status(404).json({ error: `no incident ${id.data}` });
    res.json(detail);
  });
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
