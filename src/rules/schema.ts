import { z } from "zod";
import { duration } from "../model/duration.js";
import { ACKNOWLEDGING } from "../model/helpdesk-event.js";
import { ON_RESOLVED, TEST_NOTIFICATIONS } from "../model/incident.js";
import { CATEGORIES, LEVELS, PRIORITIES } from "../model/priority.js";

/**
 * The rules YAML, as zod schemas. Unknown keys are errors, so a typo never silently does nothing.
 * Every key is documented in docs/rules.md; schema/rules.schema.json is generated from these.
 */

const level = z.enum(LEVELS);
const priorityOrMatrix = z.enum([...PRIORITIES, "matrix"]).describe("P1..P4, or `matrix` to take it from the impact × urgency matrix.");
const fieldValue = z.union([z.string(), z.number(), z.boolean()]);

/** `after: 100%` (of the response target) or `after: 10m` (after the ticket opened). */
const escalationAfter = z.union([
  z
    .string()
    .regex(/^\d+(\.\d+)?%$/, "must be a share of the response target like 100%, or a duration like 10m")
    .transform((s) => ({ percentOfTarget: Number(s.slice(0, -1)) })),
  duration.transform((ms) => ({ ms })),
]);

const escalationStep = z
  .object({
    after: escalationAfter.describe("When the step comes due without a first response: 100% of the response target, or a duration after the ticket opened."),
    raise: z.boolean().default(false).describe("Raise the priority one step (never above P1, never over a priority an agent set)."),
    notify: z.string().min(1).optional().describe('A configured helpdesk of type webhook that receives {"event": "escalation", …}.'),
  })
  .strict();

const lifecycleKeys = {
  group_by: z.array(z.string()).min(1).optional().describe("Labels that make the dedup key; ['...'] = one ticket per alert."),
  reopen_within: duration.optional().describe("A re-fire within this long after the resolve reopens the same ticket."),
  on_resolved: z.enum(ON_RESOLVED).optional().describe("What the resolve does to the ticket: solve, comment or none."),
  open_after: duration.optional().describe("Open the ticket only if the alert still fires this long after it started; resolved before → no ticket."),
  flap_threshold: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("Re-fires within flap_window that make an incident flapping (0 = never): then cycles become comments."),
  flap_window: duration.optional().describe("The window the flap counter looks back over (default 1h)."),
  escalation: z
    .array(escalationStep)
    .optional()
    .describe("Steps when nobody responds within the response target; default one step at 100% that comments; [] turns it off."),
  on_agent_solved: z
    .enum(["verify", "accept"])
    .optional()
    .describe("An agent solves while alerts still fire: verify (default: checked against the monitoring after verify_after) or accept."),
  verify_after: duration.optional().describe("How long after an agent's solve the monitoring is asked whether the alerts still fire (default 5m)."),
  max_auto_reopens: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("Reopens after a failed verification, per incident (default 3); then a comment asks a person to look."),
  on_wont_fix: z.enum(["mute", "ignore"]).optional().describe("An agent says won't fix: mute (default: re-fires within mute_for change nothing) or ignore."),
  mute_for: duration.optional().describe("How long a won't-fix mutes the incident's re-fires (default 7d)."),
  silence_on_ack: duration
    .optional()
    .describe(
      "On the first response, silence the incident's alerts in every configured Alertmanager this long (unset: no silence); expired when the ticket is reopened or solved.",
    ),
  silence_on_wont_fix: duration
    .optional()
    .describe("On a won't-fix, silence the incident's alerts this long (unset: no silence); expired when the ticket is reopened."),
  first_response: z
    .array(z.enum(ACKNOWLEDGING))
    .min(1)
    .optional()
    .describe("Which agent actions count as the first human response: comment, assignment, active (default all three)."),
  archive_after: duration
    .optional()
    .describe("How long after an incident is over its archive entry is written (default 2m), so that agents' notes written just after the solve get in."),
  similar_incidents: z
    .number()
    .int()
    .min(0)
    .max(20)
    .optional()
    .describe("How many similar archived incidents a new ticket lists under 'Similar past incidents' (default 3; 0 turns the section off)."),
  test_notifications: z
    .enum(TEST_NOTIFICATIONS)
    .optional()
    .describe("A sender's test notification (Grafana's Test button): record (default: counted, no ticket) or ticket."),
};

const routingKeys = {
  helpdesk: z.string().min(1).optional().describe("Which configured helpdesk gets the ticket (default: default_helpdesk)."),
  assignee_group: z.string().min(1).optional().describe("The helpdesk group the ticket is assigned to."),
  tags: z.array(z.string().min(1)).optional().describe("Tags (labels) put on the ticket, besides alertdesk's own."),
  fields: z.record(z.string(), fieldValue).optional().describe("Helpdesk-specific custom fields, passed through to the driver."),
};

export const defaultsSchema = z
  .object({
    priority: priorityOrMatrix.optional(),
    category: z.enum(CATEGORIES).optional(),
    ...lifecycleKeys,
    ...routingKeys,
  })
  .strict();

export const ruleSchema = z
  .object({
    name: z.string().min(1).describe("Unique name, shown on tickets and in metrics."),
    matchers: z.array(z.string()).default([]).describe("Alertmanager matchers on labels: = != =~ !~ (regexes fully anchored)."),
    annotations: z.array(z.string()).default([]).describe("The same matchers, on annotations."),
    when: z.string().min(1).optional().describe("Comparison on the alert's value: `value > 80 and value <= 95`."),
    value_from: z.string().min(1).optional().describe("Where the value comes from: a Grafana refId (B) or an annotation name."),
    continue: z.boolean().default(false).describe("Keep evaluating later rules; they may add tags and raise (never lower) the priority."),
    priority: priorityOrMatrix.optional(),
    impact: level.optional().describe("Impact for the matrix, instead of deriving it."),
    urgency: level.optional().describe("Urgency for the matrix, instead of deriving it."),
    category: z.enum(CATEGORIES).optional(),
    ignore: z.boolean().default(false).describe("Drop matching alerts: no incident, no ticket."),
    title: z.string().min(1).optional().describe("LiquidJS template for the ticket subject."),
    description: z.string().min(1).optional().describe("LiquidJS template for what the ticket says is happening."),
    ...lifecycleKeys,
    ...routingKeys,
  })
  .strict();

const levelSource = z
  .object({
    label: z.string().min(1).optional().describe("Take the level from this label."),
    map: z.record(z.string(), level).optional().describe("Label value → level; without it the label must hold a level name."),
    default: level.optional().describe("The level when nothing else decides."),
  })
  .strict();

const widthRule = z
  .object({
    when: z.string().min(1).describe("Comparison on how wide the incident is: `affected >= 10`, `instances >= 3`."),
    level,
  })
  .strict();

const priorityRow = z.object({ high: z.enum(PRIORITIES), medium: z.enum(PRIORITIES), low: z.enum(PRIORITIES) }).strict();

export const matrixSchema = z
  .object({
    impact: levelSource
      .extend({ width: z.array(widthRule).optional().describe("First match wins; used when the label does not decide.") })
      .strict()
      .default({}),
    urgency: levelSource.default({}),
    priorities: z
      .object({ high: priorityRow, medium: priorityRow, low: priorityRow })
      .strict()
      .optional()
      .describe("impact → urgency → priority; the ITIL table by default."),
  })
  .strict();

export const rulesFileSchema = z
  .object({
    defaults: defaultsSchema.default({}),
    response_targets: z
      .object({ P1: duration.optional(), P2: duration.optional(), P3: duration.optional(), P4: duration.optional() })
      .strict()
      .optional()
      .describe("How long the helpdesk has to respond, per priority (default P1 15m, P2 30m, P3 1h, P4 24h)."),
    matrix: matrixSchema.optional(),
    rules: z.array(ruleSchema).default([]),
  })
  .strict();

export type RulesFile = z.infer<typeof rulesFileSchema>;
export type RuleSpec = z.infer<typeof ruleSchema>;
export type MatrixSpec = z.infer<typeof matrixSchema>;
