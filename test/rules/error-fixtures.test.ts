import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { checkHelpdesks, loadRules, RulesError } from "../../src/rules/load.js";

/**
 * One fixture per rules error message: each file's first line says the exact message alertdesk must
 * print for it (`# error: …`), position included.
 */
const DIR = new URL("../fixtures/rules-errors/", import.meta.url).pathname;

function problemsOf(file: string): string[] {
  try {
    const rules = loadRules(file);
    return checkHelpdesks(rules, "builtin", new Set(["builtin"]));
  } catch (err) {
    if (err instanceof RulesError) return err.problems;
    throw err;
  }
}

describe("rules error messages", () => {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith(".yaml"))
    .sort();
  it("there is a fixture for every kind of message", () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });
  it.each(files)("%s", (name) => {
    const file = join(DIR, name);
    const expected = /^# error: (.*)$/m.exec(readFileSync(file, "utf8"))?.[1];
    expect(expected, "the fixture's first line names its message").toBeDefined();
    expect(relative(process.cwd(), file)).toBe(`test/fixtures/rules-errors/${name}`);
    expect(problemsOf(file)).toEqual([expected]);
  });
});
