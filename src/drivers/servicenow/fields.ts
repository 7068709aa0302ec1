import type { Resolution, TicketStatus } from "../../model/helpdesk-event.js";
import { type Level, PRIORITIES, type Priority } from "../../model/priority.js";

/**
 * The incident field values both ways go through (docs/helpdesk-apis.md §3, docs/helpdesks/servicenow.md):
 * what the driver writes, and how the sync reads the same fields back. One file, so the two cannot drift.
 */

/** Impact and urgency of the matrix's levels (1 high … 3 low). */
export const LEVEL: Record<Level, string> = { high: "1", medium: "2", low: "3" };

/** Impact and urgency whose base-system lookup gives the priority (1 Critical … 4 Low). */
export const PAIR: Record<Priority, [string, string]> = { P1: ["1", "1"], P2: ["1", "2"], P3: ["2", "2"], P4: ["2", "3"] };

/** The base-system priority lookup: impact and urgency → priority 1 Critical … 5 Planning. */
const BASE_LOOKUP: Record<string, string> = { "11": "1", "12": "2", "21": "2", "13": "3", "22": "3", "31": "3", "23": "4", "32": "4", "33": "5" };

/**
 * ServiceNow's computed priority back in alertdesk's terms: the inverse of PAIR through the base
 * lookup (1 → P1 … 4 → P4). 5 Planning is below anything alertdesk sets, so it is P4 too.
 */
export const PRIORITY_FROM_SERVICENOW: Readonly<Record<string, Priority>> = Object.freeze({
  ...Object.fromEntries(PRIORITIES.map((p) => [BASE_LOOKUP[PAIR[p].join("")] as string, p])),
  "5": "P4",
});

/** Closed (7) and Canceled (8) cannot be written to: a re-fire opens a follow-up incident. */
export const FINAL_STATES = new Set(["7", "8"]);

/**
 * The base-system incident states. An instance upgraded from before Helsinki, or one with its own
 * states, may have other values: those are not reported (docs/helpdesks/servicenow.md, "Limits").
 */
export const STATUS_FROM_STATE: Readonly<Record<string, TicketStatus>> = Object.freeze({
  "1": "new",
  "2": "active",
  "3": "pending",
  "6": "solved",
  "7": "closed",
  "8": "cancelled",
});

/**
 * Resolution codes (`close_code`) of the base system, old and new choice lists, in the vocabulary.
 * A code that is neither here nor in the config's `resolutions` counts as `fixed` (resolutionFor).
 */
export const DEFAULT_RESOLUTIONS: Readonly<Record<string, Resolution>> = Object.freeze({
  // The choice list of older releases.
  "Solved (Permanently)": "fixed",
  "Solved (Work Around)": "fixed",
  "Solved Remotely (Permanently)": "fixed",
  "Solved Remotely (Work Around)": "fixed",
  "Closed/Resolved by Caller": "fixed",
  "Not Solved (Not Reproducible)": "cannot_reproduce",
  "Not Solved (Too Costly)": "wont_fix",
  // The choice list of current releases.
  "Solution provided": "fixed",
  "Workaround provided": "fixed",
  "Resolved by caller": "fixed",
  "Resolved by change": "fixed",
  "Resolved by problem": "fixed",
  "Resolved by request": "fixed",
  "Known error": "fixed",
  "No resolution provided": "wont_fix",
  Duplicate: "duplicate",
});
