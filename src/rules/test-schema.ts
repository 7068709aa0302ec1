import { z } from "zod";
import { CATEGORIES, PRIORITIES } from "../model/priority.js";

/** Rule unit test files (`alertdesk test`), as zod schemas; documented in docs/rules.md. */

const alertInput = z
  .object({
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()).default({}),
    value: z.number().optional().describe("The alert's value, as the `value` annotation carries it."),
    values: z.record(z.string(), z.number()).optional().describe("Grafana refId → value; makes the alert a Grafana alert."),
    status: z.enum(["firing", "resolved"]).default("firing"),
  })
  .strict();

const expectation = z
  .object({
    rule: z.string().nullable().optional(),
    priority: z.enum(PRIORITIES).optional(),
    category: z.enum(CATEGORIES).optional(),
    dedup_key: z.string().optional(),
    title: z.string().optional(),
    ignore: z.boolean().optional(),
    ticket: z.boolean().optional(),
    helpdesk: z.string().optional(),
    tags: z.array(z.string()).optional(),
    assignee_group: z.string().nullable().optional(),
  })
  .strict();

const testCase = z
  .object({
    name: z.string().min(1),
    alerts: z.array(alertInput).min(1).optional(),
    payload: z.string().optional().describe("A webhook payload file, relative to the test file."),
    group_labels: z.record(z.string(), z.string()).optional(),
    expect: expectation,
  })
  .strict()
  .refine((c) => (c.alerts === undefined) !== (c.payload === undefined), { message: "give either alerts or payload" });

/** A rule test file: the rules it tests (relative to the file) and its cases. */
export const ruleTestFileSchema = z.object({ rule_files: z.array(z.string()).min(1), tests: z.array(testCase).min(1) }).strict();

export type Expectation = z.infer<typeof expectation>;
export type TestCase = z.infer<typeof testCase>;
