import { isOver } from "../lifecycle/archive.js";
import { knowledgeLabel, type NewArchiveEntry } from "../model/archive.js";
import type { Doc } from "../model/doc.js";
import { KNOWLEDGE_BASE_TARGET, type TicketOperation } from "../model/ticket-operation.js";
import type { IncidentDelivery, SyncTx } from "../store/types.js";
import { buildArchiveEntry, type DeliveryRecord } from "../templates/archive.js";

/**
 * The archive, inside one store transaction: an incident that is over gets its entry in the
 * built-in archive and, when an external knowledge base is configured, an outbox row that writes it
 * there. The incident remembers that it is archived in the same transaction, so a crash before the
 * commit archives it again from scratch and a crash after it never archives it twice.
 */

export type ArchiveOutcome = "archived" | "not due";

/** What the timeline shows of one delivery. */
function toRecord(d: IncidentDelivery): DeliveryRecord {
  const op: TicketOperation = d.operation;
  const first = op.body.find((b) => b.kind === "paragraph") as Extract<Doc[number], { kind: "paragraph" }> | undefined;
  const record: DeliveryRecord = {
    op: op.op,
    helpdesk: d.helpdesk,
    state: d.state,
    createdAt: d.createdAt,
    doneAt: d.doneAt,
    firstLine: (first?.text.split("\n")[0] ?? "").slice(0, 200),
  };
  if (op.op === "silence") record.action = op.action;
  return record;
}

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
  const deliveries = (await tx.incidentDeliveries(incidentId)).map(toRecord);
  const entry = buildArchiveEntry({ incident, agentEvents: events, deliveries });
  const entryId = await tx.saveArchiveEntry(entry, now);
  next.archivedAt = now.toISOString();
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
