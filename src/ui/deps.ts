import type { ConsoleSessions } from "../http/session.js";
import type { BuiltinTicketBook } from "../model/builtin-tickets.js";
import type { Priority } from "../model/priority.js";
import type { TicketOperation } from "../model/ticket-operation.js";
import type { ReloadStatus, RuleSet } from "../rules/load.js";
import type { KnowledgeStore, QueryStore, ReplayStore, SyncStore } from "../store/types.js";

/**
 * The plan `alertdesk simulate` prints for one notification (pipeline/dry-run.ts's NotificationPlan,
 * by shape: the read side does not import the write path).
 */
export interface PlaygroundPlan {
  alerts: {
    fingerprint: string;
    alertname: string;
    status: string;
    rule: string | null;
    matched: string[];
    ignore: boolean;
    priority: Priority;
    category: string;
    dedupKey: string | null;
    value: number | null;
  }[];
  incidents: {
    dedupKey: string;
    reason: string;
    priority: Priority | null;
    rule: string | null;
    operations: (TicketOperation & { helpdesk: string; notBefore?: string })[];
  }[];
  templateFailures: { rule: string; template: string; error: string }[];
}

/** What the playground answers for a pasted notification: the plan, or why it cannot. */
export type PlaygroundAnswer =
  | { ok: true; source: string; receivedAt: string; plan: PlaygroundPlan }
  | { ok: false; problems: { field: string; message: string }[] };

/** What the console's pages read and do; main.ts wires it. The console writes only through these. */
export interface UiDeps {
  store: QueryStore &
    ReplayStore &
    KnowledgeStore &
    Pick<SyncStore, "helpdeskEvents" | "syncStatus"> &
    Pick<BuiltinTicketBook, "pageTickets" | "getTicket" | "agentAct">;
  sessions: ConsoleSessions;
  clock: () => Date;
  /** The rules in force and how the last reload went. */
  rules: () => { rules: RuleSet; lastReload: ReloadStatus };
  /** The same code as `alertdesk simulate`, on a fresh in-memory state, with the rules in force. */
  simulate: (payload: unknown) => Promise<PlaygroundAnswer>;
  /** The folder of example notifications the playground offers (`examples/`). */
  examplesDir: string;
  /** Wakes the outbox worker (after a replay). */
  kick: () => void;
  /** Wakes the way back (after an agent acted through the console). */
  onAgentAct: () => void;
}
