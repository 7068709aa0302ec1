import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Dependencies run one way. The allowed imports are the table in docs/architecture.md ("Allowed
 * imports"); this test reads that table and checks every import of every src/ file against it, so the
 * documented direction and the code cannot drift apart.
 */

const ROOT = new URL("../../", import.meta.url).pathname;
const SRC = join(ROOT, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
}

/** The table under "## Allowed imports": `| \`folder/\` | \`a/\`, \`b/\` |` rows; `—` for none, `everything` for all. */
function allowedTable(): Map<string, Set<string> | "everything"> {
  const doc = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");
  const section = doc.split(/^## Allowed imports$/m)[1]?.split(/^## /m)[0];
  if (!section) throw new Error('docs/architecture.md has no "## Allowed imports" section');
  const table = new Map<string, Set<string> | "everything">();
  for (const line of section.split("\n")) {
    const m = /^\|\s*`([\w.-]+)\/?`\s*\|\s*(.*?)\s*\|/.exec(line);
    if (!m) continue;
    const [, from, targets] = m as unknown as [string, string, string];
    table.set(from, targets === "everything" ? "everything" : new Set([...targets.matchAll(/`([\w.-]+)\/?`/g)].map((t) => t[1] as string)));
  }
  return table;
}

/** `drivers`, `store`, … for src/drivers/jira/driver.ts; `main.ts` for the files at the top. */
function layerOf(file: string): string {
  return relative(SRC, file).split("/")[0] as string;
}

function importsOf(file: string): { target: string; line: number }[] {
  const text = readFileSync(file, "utf8");
  const found: { target: string; line: number }[] = [];
  text.split("\n").forEach((line, i) => {
    for (const m of line.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)"(\.[^"]+)"/g)) {
      found.push({ target: normalize(join(dirname(file), (m[1] as string).replace(/\.js$/, ".ts"))), line: i + 1 });
    }
  });
  return found;
}

describe("import direction", () => {
  const table = allowedTable();
  const files = sourceFiles(SRC);

  it("the documented table names every folder of src/", () => {
    const layers = [...new Set(files.map(layerOf))].sort();
    expect(layers.filter((l) => !table.has(l))).toEqual([]);
    expect(table.get("model")).toEqual(new Set());
  });

  it("every import of src/ goes where the table allows", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      const allowed = table.get(from);
      for (const { target, line } of importsOf(file)) {
        const rel = relative(SRC, target);
        if (rel.startsWith("..")) {
          wrong.push(`src/${relative(SRC, file)}:${line}: imports ${relative(ROOT, target)}, outside src/`);
          continue;
        }
        const to = layerOf(target);
        if (to === from || allowed === "everything" || allowed?.has(to)) continue;
        wrong.push(`src/${relative(SRC, file)}:${line}: ${from}/ may not import ${to}/ (${rel})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("a helpdesk's folder imports only itself and the shared driver files, never another helpdesk", () => {
    const wrong: string[] = [];
    for (const file of files.filter((f) => relative(SRC, f).split("/").length === 3 && relative(SRC, f).startsWith("drivers/"))) {
      const own = dirname(file);
      for (const { target, line } of importsOf(file)) {
        const rel = relative(join(SRC, "drivers"), target);
        if (rel.startsWith("..") || !rel.includes("/") || dirname(target) === own) continue;
        wrong.push(`src/${relative(SRC, file)}:${line}: imports another helpdesk's ${rel}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("the SQLite and PostgreSQL stores share only the store's own files", () => {
    const wrong: string[] = [];
    for (const file of files.filter((f) => /^store\/(sqlite|postgres)\//.test(relative(SRC, f)))) {
      const own = dirname(file);
      for (const { target, line } of importsOf(file)) {
        const rel = relative(join(SRC, "store"), target);
        if (rel.startsWith("..") || !rel.includes("/") || dirname(target) === own) continue;
        wrong.push(`src/${relative(SRC, file)}:${line}: imports the other store's ${rel}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
