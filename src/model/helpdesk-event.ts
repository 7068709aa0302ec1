import { z } from "zod";
import { PRIORITIES } from "./priority.js";

/**
 * What agents do in a helpdesk, in one small vocabulary for every helpdesk: each driver maps its
 * own statuses, resolutions and events onto these (docs/helpdesks.md), and the lifecycle reacts to
 * them the same way whatever the helpdesk.
 */

/** A ticket's status, as alertdesk understands it. `closed` is final: a re-fire opens a follow-up ticket. */
export const TICKET_STATUSES = ["new", "active", "pending", "solved", "closed", "cancelled"] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** The statuses that end the agents' work on a ticket (a solve, in the lifecycle's eyes). */
export function isSolvedStatus(status: TicketStatus | null | undefined): boolean {
  return status === "solved" || status === "closed" || status === "cancelled";
}

/** Why a ticket was solved, each helpdesk's own names mapped onto these in its config. */
export const RESOLUTIONS = ["fixed", "wont_fix", "duplicate", "cannot_reproduce"] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

/** The kinds of agent action that count as the first human response (all three by default). */
export const ACKNOWLEDGING = ["comment", "assignment", "active"] as const;
export type Acknowledging = (typeof ACKNOWLEDGING)[number];

/** The agent-facing knobs of the governing rule (docs/rules.md, "Agents' decisions"). */
export interface AgentPolicy {
  /** verify: a solve while alerts still fire is checked against the monitoring after verifyAfterMs; accept: trusted. */
  onAgentSolved: "verify" | "accept";
  verifyAfterMs: number;
  /** Reopens after a failed verification, per incident; then a comment asks a person to look. */
  maxAutoReopens: number;
  /** mute: re-fires within muteForMs change nothing after a won't-fix; ignore: a won't-fix is any solve. */
  onWontFix: "mute" | "ignore";
  muteForMs: number;
  /** Which agent actions count as the first human response. */
  acknowledging: readonly Acknowledging[];
  /** An Alertmanager silence of the incident this long on the first response (unset: none). */
  silenceOnAckMs?: number;
  /** An Alertmanager silence this long on a won't-fix (unset: none). */
  silenceOnWontFixMs?: number;
}

export const DEFAULT_AGENT_POLICY: AgentPolicy = {
  onAgentSolved: "verify",
  verifyAfterMs: 5 * 60_000,
  maxAutoReopens: 3,
  onWontFix: "mute",
  muteForMs: 7 * 24 * 3_600_000,
  acknowledging: ["comment", "assignment", "active"],
};

const at = z
  .string()
  .refine((t) => !Number.isNaN(Date.parse(t)), "must be a time (ISO 8601)")
  .describe("When the agent did it (ISO 8601).");
const author = z.string().min(1).describe("Who did it, as the helpdesk names them.");

/** One agent action on a ticket. */
export const helpdeskEventSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("commented"), at, author, public: z.boolean(), text: z.string() }),
  z.object({ kind: z.literal("assigned"), at, author: author.optional(), assignee: z.string().min(1).nullable() }),
  z.object({ kind: z.literal("status_changed"), at, author: author.optional(), status: z.enum(TICKET_STATUSES), resolution: z.enum(RESOLUTIONS).optional() }),
  z.object({ kind: z.literal("priority_changed"), at, author: author.optional(), priority: z.enum(PRIORITIES) }),
]);
export type HelpdeskEvent = z.infer<typeof helpdeskEventSchema>;

/** What alertdesk knows of its ticket in the helpdesk (`helpdeskState` in GET /api/incidents); null until known. */
export interface HelpdeskState {
  status: TicketStatus | null;
  assignee: string | null;
  /** The first human response: the end of the response clock. */
  firstResponseAt: string | null;
  resolution: Resolution | null;
  /** When alertdesk last learnt anything of the ticket. */
  syncedAt: string | null;
}

export const UNKNOWN_HELPDESK_STATE: HelpdeskState = { status: null, assignee: null, firstResponseAt: null, resolution: null, syncedAt: null };

/**
 * One agent action as a helpdesk reported it, with the helpdesk's own id for it (an audit, a
 * changelog entry, a transaction, a journal entry): the store keeps each id once, so the same action
 * seen by a poll and by a doorbell, or read twice, takes effect once.
 */
export interface ObservedEvent {
  id: string;
  event: HelpdeskEvent;
}

/** What agents did on one ticket, oldest first; alertdesk's own writes are never in it (echo suppression). */
export interface TicketActivity {
  ticketId: string;
  /** The ticket's correlation key, when the helpdesk knows it: finds the incident before the ticket's id is recorded on it. */
  ticketKey?: string;
  events: ObservedEvent[];
}

/** An inbound helpdesk webhook, as the intake hands it to the helpdesk's driver to verify. */
export interface DoorbellRequest {
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
}

/**
 * A verified doorbell: which tickets to read again. A webhook is only a doorbell: alertdesk stores
 * it, answers at once, and re-reads the tickets through the helpdesk's API.
 */
export interface Doorbell {
  /** The helpdesk's delivery id (or a digest of the body): a repeated delivery is stored once. */
  deliveryId: string;
  ticketIds: string[];
  /** A helpdesk with no API to read back (the generic webhook) sends the events themselves. */
  activity?: TicketActivity[];
}

/** A doorbell that failed verification (bad or missing signature, outside the replay window): 401, nothing stored. */
export class DoorbellRejected extends Error {
  override readonly name = "DoorbellRejected";
  /** 401: not from the helpdesk (signature, replay window); 400: signed, but a body alertdesk cannot use. */
  readonly status: 400 | 401;
  constructor(message: string, options: { status?: 400 | 401; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.status = options.status ?? 401;
  }
}

/** What alertdesk answers a doorbell: verified and stored (or a repeat), rejected, or for no such helpdesk. */
export type DoorbellAnswer = { status: 202; outcome: "accepted" | "repeated"; tickets: number } | { status: 400 | 401 | 404 | 409; error: string };
