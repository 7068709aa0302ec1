import { createHash } from "node:crypto";
import type { Alert, LabelSet, Source } from "./alert.js";
import type { AgentPolicy, HelpdeskState } from "./helpdesk-event.js";
import type { Category, EscalationStep, Level, Priority } from "./priority.js";

/** What the resolve of an incident does to its ticket (the `on_resolved` rule key). */
export const ON_RESOLVED = ["solve", "comment", "none"] as const;
export type OnResolved = (typeof ON_RESOLVED)[number];

/** What a sender's test notification does (the `test_notifications` rule key): recorded only, or ticketed like any alert. */
export const TEST_NOTIFICATIONS = ["record", "ticket"] as const;
export type TestNotifications = (typeof TEST_NOTIFICATIONS)[number];

/** A helpdesk custom field's value, as rules set it (`fields:`). */
export type FieldValue = string | number | boolean;

/** An alert as its incident remembers it: the latest episode seen for one fingerprint, with what the rules decided. */
export interface AlertRecord extends Alert {
  priority: Priority;
  rule: string | null;
  /** The first and the highest value seen in this episode (`value` is the latest), for the archive. */
  firstValue?: number;
  peakValue?: number;
  /** On incidents of a few alerts: values seen in this episode with when (ISO), the first and the latest 59, for a chart. */
  samples?: [string, number][];
}

/** A helpdesk's handle for a ticket. */
export interface TicketRef {
  id: string;
  url?: string;
}

/**
 * One incident: everything alertdesk knows about one dedup key between its first firing and its
 * resolution (and any reopen within the window). One incident ↔ one ticket. A re-fire after the
 * window starts a new incident with the next `seq`, which links the previous ticket.
 */
export interface Incident {
  /** Assigned by the store. */
  id?: number;
  dedupKey: string;
  /** 1 for the key's first incident, +1 for each new ticket after a reopen window passed. */
  seq: number;
  /** Correlation key stamped on the helpdesk ticket, so it can be found again after a crash. */
  ticketKey: string;
  state: "firing" | "resolved";
  priority: Priority;
  category: Category;
  rule: string | null;
  helpdesk: string;
  onResolved: OnResolved;
  reopenWithinMs: number;
  source: Source;
  receiver: string;
  groupLabels: LabelSet;
  externalURL: string;
  truncatedAlerts: number;
  alerts: AlertRecord[];
  /** alertdesk's clock, ISO. */
  openedAt: string;
  updatedAt: string;
  resolvedAt?: string;
  /** When the helpdesk should have responded, from the priority's response target. */
  dueAt: string;
  /** The response target behind `dueAt`, in ms (absent on incidents stored before targets were configurable). */
  responseTargetMs?: number;
  /** The priority whose target that is (an escalation's raise does not move the target). */
  targetPriority?: Priority;
  /** Matrix levels, when the priority came from the impact × urgency matrix (ServiceNow takes them as they are). */
  impact?: Level;
  urgency?: Level;
  /** Routing from the rules, passed through to the helpdesk driver. */
  assigneeGroup?: string;
  tags?: string[];
  fields?: Record<string, FieldValue>;
  /** How many times the incident fired again and reopened its ticket. */
  recurrences: number;
  previousTicketKey?: string;
  /** Lifecycle knobs of the governing rule (absent on incidents stored before they existed). */
  openAfterMs?: number;
  flapThreshold?: number;
  flapWindowMs?: number;
  /** open_after: the ticket is opened no earlier than this (ISO); absent once it is due. */
  deferredUntil?: string;
  /** The incident resolved before open_after passed: it never had a ticket. */
  cancelled?: boolean;
  /** When the incident re-fired within reopen_within, recent ones only (the flap counter). */
  refiredAt?: string[];
  /** The last resolve left the ticket open because the incident was flapping. */
  keptOpen?: boolean;
  /** Set once the helpdesk confirmed the ticket. */
  ticket?: TicketRef;
  /** What alertdesk knows of its ticket in the helpdesk (agents' actions, from the two-way sync). */
  helpdeskState?: HelpdeskState;
  /** A priority an agent set on the ticket: alertdesk never raises over it. */
  agentPriority?: Priority;
  /** When an agent solved the ticket while it was theirs to solve (ISO). */
  agentSolvedAt?: string;
  /** An agent solved while alerts still fired: the solve is checked against the monitoring then (ISO). */
  verifyAt?: string;
  /** How many times a failed verification reopened the ticket. */
  autoReopens?: number;
  /** An agent said won't fix: re-fires until then change nothing (ISO). */
  mutedUntil?: string;
  /** The Alertmanager silence alertdesk keeps for the incident (silence_on_ack, silence_on_wont_fix), until it is expired. */
  silence?: {
    reason: "ack" | "wont_fix";
    until: string /** Its length: an acknowledgement's is extended by this while the ticket stays active. */;
    forMs?: number;
  };
  /** The governing rule's agent-facing knobs (absent on incidents stored before they existed: the defaults). */
  agentPolicy?: AgentPolicy;
  /**
   * Per kind of change (status, assignment, priority), the time of the latest one applied from the
   * helpdesk or made by alertdesk (a reopen): an older one of that kind arriving late changes nothing.
   */
  helpdeskVersions?: Partial<Record<"status_changed" | "assigned" | "priority_changed", string>>;
  /** The governing rule's escalation steps (absent on incidents stored before escalation existed: the default). */
  escalation?: EscalationStep[];
  /** When the response clock started: the ticket's open, or its latest reopen (ISO). */
  clockStartedAt?: string;
  /** The escalation steps done on the current clock, each once. */
  escalations?: { step: number; at: string }[];
  /** When the current clock passed its response target without a first response (counted once per clock). */
  breachedAt?: string;
  /** The governing rule's `similar_incidents` (absent on incidents stored before it existed: 3). */
  similarIncidents?: number;
  /** The governing rule's `archive_after` (absent on incidents stored before it existed: 2 minutes). */
  archiveAfterMs?: number;
  /** The incident is over and its archive entry is due then (ISO); absent while it is not over, or once archived. */
  archiveAt?: string;
  /** The title its first archive entry got: a later entry of the incident keeps it (external knowledge bases find the page by title). */
  archiveTitle?: string;
  /** When its archive entry was written; cleared when the incident is no longer over (a reopen), so the next end writes it again. */
  archivedAt?: string;
  /** When the escalation scheduler must look at the incident next: its next step, or its target (ISO); absent when the clock stopped. */
  escalateAt?: string;
}

/** The correlation key for a dedup key's n-th incident: short, stable, safe in every helpdesk's search syntax. */
export function ticketKeyFor(dedupKey: string, seq: number): string {
  return `ad-${createHash("sha256").update(dedupKey).digest("hex").slice(0, 16)}-${seq}`;
}
