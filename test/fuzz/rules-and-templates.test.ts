import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Doc, escapeHtml, toAdf, toHtml, toWiki } from "../../src/model/doc.js";
import { compileRules, RulesError } from "../../src/rules/load.js";

/** Rules files and rendered bodies under arbitrary input: clear errors, bounded cost, escaped output. */

const RUNS = Number(process.env.ALERTDESK_FUZZ_RUNS ?? 2500);

function load(text: string): "ok" | "error" {
  try {
    compileRules([{ file: "fuzz.yaml", text }]);
    return "ok";
  } catch (err) {
    // Every failure is a RulesError whose problems name the file, never a crash of another kind.
    expect(err).toBeInstanceOf(RulesError);
    for (const p of (err as RulesError).problems) expect(p).toMatch(/^fuzz\.yaml(:\d+:\d+)?: /);
    return "error";
  }
}

const yamlish = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          "rules:",
          "  - name: a",
          "    priority: P2",
          "    matchers: ['a=\"b\"']",
          "    when: value > 1",
          "defaults:",
          "  priority: matrix",
          "&x [1]",
          "*x",
          "- ",
          ": ",
          '    title: "{{ x }}"',
          "\t",
          "{",
          "[",
        ),
        fc.string(),
      ),
      { maxLength: 12 },
    )
    .map((lines) => lines.join("\n")),
);

describe("rules files, property-based", () => {
  it(`arbitrary text loads or fails with positioned errors, never otherwise (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(yamlish, (text) => void load(text)),
      { numRuns: RUNS },
    );
  });

  it("a billion-laughs alias bomb is refused quickly, with a clear error", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      ...Array.from(
        { length: 9 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(", ")}]`,
      ),
      "rules: []",
    ].join("\n");
    const started = Date.now();
    expect(load(bomb)).toBe("error");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("a huge rules file (5,000 rules) loads, in time that grows linearly with the rules", () => {
    const rulesText = (n: number) =>
      `rules:\n${Array.from({ length: n }, (_, i) => `  - name: r${i}\n    matchers: ['alertname="A${i}"', 'severity=~"warning|critical"']\n    when: value > ${i}\n    priority: P${(i % 4) + 1}\n`).join("")}`;
    const timed = (n: number) => {
      const text = rulesText(n);
      const started = performance.now();
      expect(compileRules([{ file: "big.yaml", text }]).rules).toHaveLength(n);
      return performance.now() - started;
    };
    timed(500); // warm-up
    // A ratio in one run, not a deadline: a busy machine slows both. Linear is 5×, quadratic 25×.
    const small = Math.min(timed(1000), timed(1000));
    const large = timed(5000);
    expect(large / small).toBeLessThan(15);
  });
});

const hostile = fc.oneof(
  fc.string(),
  fc.constantFrom(
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ [l](javascript:alert(1))",
    "{code}x{code} [x|http://evil] *b* {{macro}}",
    "a^ORDERBYx^NQb",
    '" OR labels = "x',
    "\\",
    "h1. heading\nbq. quote",
    "line\n h2. indented heading",
  ),
);
const doc = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant("heading" as const), text: hostile }),
    fc.record({ kind: fc.constant("paragraph" as const), text: hostile }),
    fc.record({ kind: fc.constant("fields" as const), rows: fc.array(fc.tuple(hostile, hostile), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant("list" as const), items: fc.array(hostile, { maxLength: 3 }) }),
    fc.record({ kind: fc.constant("links" as const), links: fc.array(fc.record({ label: hostile, url: fc.oneof(fc.webUrl(), hostile) }), { maxLength: 3 }) }),
  ),
  { maxLength: 5 },
);

function texts(d: Doc): string[] {
  return d.flatMap((b) =>
    b.kind === "fields" ? b.rows.flat() : b.kind === "list" ? b.items : b.kind === "links" ? b.links.flatMap((l) => [l.label]) : [b.text],
  );
}

describe("rendered bodies escape label values for every format", () => {
  it(`HTML (Zendesk): no raw tag or attribute from a value; only http(s) links (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(doc, (d) => {
        const html = toHtml(d);
        for (const t of texts(d)) if (t.length > 0) expect(html).toContain(escapeHtml(t).replace(/\n/g, "<br>").split("<br>")[0] as string);
        const tags = [...html.matchAll(/<\/?([a-zA-Z0-9]+)/g)].map((m) => m[1]);
        for (const tag of tags) expect(["h3", "p", "br", "table", "tr", "th", "td", "ul", "li", "a"]).toContain(tag);
        for (const href of html.matchAll(/href="([^"]*)"/g)) expect(href[1]).toMatch(/^https?:\/\//i);
      }),
      { numRuns: RUNS },
    );
  });

  it(`Jira wiki (Data Center): every markup character of a value is escaped (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(doc, (d) => {
        const wiki = toWiki(d);
        // Unescaped markup can only be alertdesk's own: h3., *label:*, list bullets, and [label|url] of http(s) links.
        const stripped = wiki
          .replace(/\\./g, "")
          .replace(/^h3\. /gm, "")
          .replace(/^\* /gm, "")
          .replace(/\[[^|\]]*\|https?:\/\/[^\]]*\]/g, "")
          .replace(/\*:\*/g, "")
          .replace(/^\*/gm, "");
        expect(stripped).not.toMatch(/[{}[\]|!^~+?#_]/);
        // No line of a value starts a heading or a quote (alertdesk's own headings are `h3. ` + escaped text).
        for (const line of wiki.split("\n")) expect(line.replace(/^h3\. /, "")).not.toMatch(/^\s*(h[1-6]|bq)\./i);
      }),
      { numRuns: RUNS },
    );
  });

  it("Jira wiki: h1. … h6. and bq. at the start of a value's line stay text", () => {
    const wiki = toWiki([{ kind: "paragraph", text: "h1. Big\n  bq. quoted\nH6. shouting\nnot h2. here" }]);
    expect(wiki).toBe("h1\\. Big\n  bq\\. quoted\nH6\\. shouting\nnot h2. here");
  });

  it(`ADF (Jira Cloud): values only ever appear as text nodes (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(doc, (d) => {
        const adf = toAdf(d);
        const walk = (n: { type: string; text?: string; content?: unknown[]; marks?: { type: string; attrs?: Record<string, unknown> }[] }): void => {
          expect(["doc", "heading", "paragraph", "text", "hardBreak", "bulletList", "listItem"]).toContain(n.type);
          if (n.text !== undefined) expect(n.type).toBe("text");
          for (const m of n.marks ?? []) if (m.type === "link") expect(String(m.attrs?.href)).toMatch(/^https?:\/\//i);
          for (const c of n.content ?? []) walk(c as typeof n);
        };
        walk(adf);
      }),
      { numRuns: RUNS },
    );
  });
});
