import { z } from "zod";
import { rulesFileSchema } from "./schema.js";
import { ruleTestFileSchema } from "./test-schema.js";

/**
 * JSON Schemas for editors (yaml-language-server), generated from the zod schemas the loader uses,
 * so completion and validation in the editor cannot drift from what alertdesk accepts.
 * `npm run schema` writes them; a test fails when the committed copies are stale.
 */
export function jsonSchemas(): Record<string, unknown> {
  const generate = (schema: z.ZodType, title: string) => ({ title, ...z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) });
  return {
    "rules.schema.json": generate(rulesFileSchema, "alertdesk rules"),
    "rule-tests.schema.json": generate(ruleTestFileSchema, "alertdesk rule tests"),
  };
}

/** The text of a schema file as committed: pretty JSON with a trailing newline. */
export function schemaText(schema: unknown): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
