import { isOver } from "../lifecycle/archive.js";
import { knowledgeLabel, type NewArchiveEntry } from "../model/archive.js";
import { KNOWLEDGE_BASE_TARGET } from "../model/ticket-operation.js";
import type { SyncTx } from "../store/types.js";
import { buildArchiveEntry, deliveryRecord } from "../templates/archive.js";

/**
 * The archive, inside one store transaction: an incident that is over gets its entry in the
 * built-in archive and, when an external knowledge base is configured, an outbox row that writes it
 * there. The incident remembers that it is archived in the same transaction, so a crash before the
 * commit archives it again from scratch and a crash after it never archives it twice.
 */

export type ArchiveOutcome = "archived" | "not due";

/** The knowledge-base labels of an entry: its keywords as `kind-value` labels, and `alertdesk`. */
export function archiveLabels(entry: NewArchiveEntry): string[] {
  const labels = new Set<string>(["alertdesk"]);
  const add = (kind: string, value: string | null | undefined) => {
    const label = value ? knowledgeLabel(`${kind}-${value}`) : "";
    if (label !== "" && label !== `${kind}-`) labels.add(label);
  };
  add("alertname", entry.alertname);
  add("service", entry.labels.service);
  add("job", entry.labels.job);
  add("priority", entry.priority);
  add("category", entry.category);
  add("outcome", entry.outcome);
  return [...labels];
}

export async function runArchive(tx: SyncTx, incidentId: number, now: Date, options: { external: boolean }): Promise<ArchiveOutcome> {
  const incident = await tx.incidentById(incidentId);
  if (!incident?.archiveAt || Date.parse(incident.archiveAt) > now.getTime()) return "not due";
  const next = { ...incident };
  delete next.archiveAt;
  if (!isOver(incident) || incident.archivedAt !== undefined) {
    await tx.updateIncident(next);
    return "not due";
  }
  const events = (await tx.incidentEvents(incidentId)).map((e) => e.event);
  const deliveries = (await tx.incidentDeliveries(incidentId)).map(deliveryRecord);
  // The same title as an earlier entry of the incident: its alerts may have changed since (a re-fire
  // with another instance), and the external knowledge base finds the page by its title.
  const entry = buildArchiveEntry({ incident, agentEvents: events, deliveries, ...(incident.archiveTitle ? { title: incident.archiveTitle } : {}) });
  const entryId = await tx.saveArchiveEntry(entry, now);
  next.archivedAt = now.toISOString();
  next.archiveTitle = entry.title;
  await tx.updateIncident(next);
  if (options.external) {
    await tx.enqueue(
      incidentId,
      [{ helpdesk: KNOWLEDGE_BASE_TARGET, operation: { op: "archive", entryId, title: entry.title, body: entry.doc, labels: archiveLabels(entry) } }],
      now,
    );
  }
  return "archived";
}
