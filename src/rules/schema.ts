import { z } from "zod";
import { parseDuration } from "./duration.js";
import { CATEGORIES, PRIORITIES } from "./priority.js";

/**
 * The rules YAML, as zod schemas. Unknown keys are errors, so a typo never silently does nothing.
 * Every key is documented in docs/rules.md.
 */

const duration = z.string().refine((s) => parseDuration(s) !== undefined, {
  message: "must be a duration like 30s, 10m, 1h, 24h or 7d",
});

export const ON_RESOLVED = ["solve", "comment", "none"] as const;
export type OnResolved = (typeof ON_RESOLVED)[number];

const lifecycleKeys = {
  group_by: z.array(z.string()).min(1).optional().describe("Labels that make the dedup key; ['...'] = one ticket per alert."),
  reopen_within: duration.optional().describe("A re-fire within this long after the resolve reopens the same ticket."),
  on_resolved: z.enum(ON_RESOLVED).optional().describe("What the resolve does to the ticket."),
  helpdesk: z.string().min(1).optional().describe("Which configured helpdesk gets the ticket."),
};

export const defaultsSchema = z
  .object({
    priority: z.enum(PRIORITIES).optional(),
    category: z.enum(CATEGORIES).optional(),
    ...lifecycleKeys,
  })
  .strict();

export const ruleSchema = z
  .object({
    name: z.string().min(1).describe("Unique name, shown on tickets and in metrics."),
    matchers: z.array(z.string()).default([]).describe('Alertmanager matchers on labels: = != =~ !~.'),
    when: z.string().min(1).optional().describe("Comparison on the alert's value: value > 80."),
    priority: z.enum(PRIORITIES).optional(),
    category: z.enum(CATEGORIES).optional(),
    ignore: z.boolean().default(false).describe("Drop matching alerts: no incident, no ticket."),
    ...lifecycleKeys,
  })
  .strict();

export const rulesFileSchema = z
  .object({
    defaults: defaultsSchema.default({}),
    rules: z.array(ruleSchema).default([]),
  })
  .strict();

export type RulesFile = z.infer<typeof rulesFileSchema>;
export type RuleSpec = z.infer<typeof ruleSchema>;
