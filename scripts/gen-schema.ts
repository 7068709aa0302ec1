// Writes schema/*.schema.json from the zod schemas: `npm run schema`.
import { writeFileSync } from "node:fs";
import { jsonSchemas, schemaText } from "../src/rules/json-schema.js";

for (const [name, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(new URL(`../schema/${name}`, import.meta.url), schemaText(schema));
  process.stdout.write(`schema/${name}\n`);
}
