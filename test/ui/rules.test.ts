import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { jsonErrorOffset, listExamples } from "../../src/ui/rules.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The console's rules page through the whole service: the rules in force (the repository's, or a
 * test's), the defaults, the files and the last reload (a failed one shown with its problems); and
 * the playground, which runs `alertdesk simulate`'s code on a listed example or pasted JSON, every
 * value escaped, the pasted text kept for the next try.
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

const HOSTILE = "<img src=x onerror=alert(1)>";

function csrfOf(page: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!m?.[1]) throw new Error("no _csrf field on the page");
  return m[1];
}

async function rulesPage(s: TestService): Promise<string> {
  const res = await s.get("/ui/rules");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
  return res.text();
}

function playground(s: TestService, fields: Record<string, string>): Promise<Response> {
  return fetch(`${s.url}/ui/rules/playground`, {
    method: "POST",
    body: new URLSearchParams(fields),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    redirect: "manual",
  });
}

/** One firing Alertmanager notification of HostHighCpu at `value`, with a hostile label. */
function cpu(value: string): string {
  const labels = { alertname: "HostHighCpu", instance: "db-1", job: "node", team: HOSTILE };
  return JSON.stringify({
    receiver: "alertdesk",
    status: "firing",
    alerts: [
      {
        status: "firing",
        labels,
        annotations: { summary: "CPU usage above 80% on db-1", value },
        startsAt: "2026-11-25T05:40:00Z",
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "http://prom/graph",
        fingerprint: "cpu-db-1",
      },
    ],
    groupLabels: { alertname: "HostHighCpu" },
    commonLabels: labels,
    commonAnnotations: {},
    externalURL: "http://am",
    version: "4",
    groupKey: '{}:{alertname="HostHighCpu"}',
    truncatedAlerts: 0,
  });
}

describe("console: rules", () => {
  it("shows the repository's rules in force, the defaults, the files, the last reload and the examples", async () => {
    const s = await startTestService();
    svc = s;
    const page = await rulesPage(s);
    expect(page).toContain("<h1>Rules</h1>");
    expect(page).not.toContain("data-live");
    for (const id of ["reload", "in-force", "defaults", "files", "playground"]) expect(page).toContain(`<section aria-labelledby="${id}">`);
    // The rules, in order, with their matchers, conditions, priorities and flags.
    expect(page).toMatch(/<th scope="row">cpu-critical<br>[\s\S]*<th scope="row">cpu-high<br>/);
    expect(page).toContain("<code>alertname=~&#34;HostHighCpu|HighCpuUsage|CPUThrottlingHigh|(.+: )?High CPU utilization.*&#34;</code>");
    expect(page).toContain("<code>value &#62; 80</code>");
    expect(page).toContain('<span class="prio P2">P2</span>');
    expect(page).toMatch(/<th scope="row">info-chatter<br>[\s\S]*?<td>ignore<\/td><\/tr>/);
    // Defaults and response targets.
    expect(page).toContain("<dt>Reopen within</dt><dd>1d</dd>");
    expect(page).toMatch(/<span class="prio P1">P1<\/span><\/th><td>15m<\/td>/);
    // Files and the last reload.
    expect(page).toMatch(/<li><code>[^<]*00-defaults\.yaml<\/code><\/li>/);
    expect(page).toMatch(/<p class="notice" role="status">Loaded at <time datetime="[^"]+">/);
    // The playground lists the examples (not their captured headers) and carries the token.
    expect(page).toContain('<option value="alertmanager/09-cpu-firing.json">alertmanager/09-cpu-firing.json</option>');
    expect(page).toContain('<option value="grafana/01-firing-cpu.json">');
    expect(page).not.toContain(".headers.json");
    expect(page).toContain('<select id="example" name="example"');
    expect(page).toContain('<textarea id="payload" name="payload"');
    expect(page).toContain('name="_csrf"');
  });

  it("escapes what the rules say, and shows a failed reload's problems", async () => {
    const rules = `defaults:\n  priority: P3\n  category: function\nrules:\n  - name: hostile\n    matchers: ['team="${HOSTILE}"']\n    priority: P4\n    category: network\n    continue: true\n`;
    const s = await startTestService({ rules, config: { watchRules: false } });
    svc = s;
    let page = await rulesPage(s);
    expect(page).not.toContain(HOSTILE);
    expect(page).toContain("team=&#34;&#60;img src=x onerror=alert(1)&#62;&#34;");
    expect(page).toMatch(/<th scope="row">hostile<br>[\s\S]*?<td>continue<\/td><\/tr>/);

    writeFileSync(join(s.dataDir, "rules.yaml"), "rules:\n  - name: broken\n    matchers: ['alertname=~\"(\"']\n    priority: P9\n");
    expect((await fetch(`${s.url}/-/reload`, { method: "POST" })).status).toBe(400);
    page = await rulesPage(s);
    const reload = page.slice(page.indexOf('<section aria-labelledby="reload">'), page.indexOf('<section aria-labelledby="in-force">'));
    expect(reload).toContain('<div class="error" role="alert">');
    expect(reload).toContain("failed; the previous rules keep running");
    expect(reload).toMatch(/<li><code>[^<]*rules\.yaml:\d+:\d+: [^<]+<\/code><\/li>/);
    // The previous rules keep running, and the page still shows them.
    expect(page).toContain('<th scope="row">hostile<br>');
  });

  it("simulates a listed example: the rule, the priority and the ticket it would open", async () => {
    const s = await startTestService();
    svc = s;
    const csrf = csrfOf(await rulesPage(s));
    const res = await playground(s, { example: "alertmanager/09-cpu-firing.json", payload: "", _csrf: csrf });
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain("<title>Rules playground · alertdesk</title>");
    expect(page).toContain('<option value="alertmanager/09-cpu-firing.json" selected>');
    expect(page).toContain('<h3 id="answer">What the rules in force would do</h3>');
    const answer = page.slice(page.indexOf('<h3 id="answer">'));
    // The alert: rule cpu-high (cpu-critical's `when` does not hold at 83 %), P2, performance.
    expect(answer).toMatch(/<th scope="row">HostHighCpu<br>[\s\S]*?<td>cpu-high<\/td><td><span class="prio P2">P2<\/span><\/td><td>performance<\/td><td>83\.4/);
    // The incident and the ticket it opens, with its text rendered.
    expect(answer).toContain("<dt>Reason</dt><dd>first notification</dd>");
    expect(answer).toContain("<dt>Operation</dt><dd>open</dd>");
    expect(answer).toContain("<dt>Helpdesk</dt><dd>builtin</dd>");
    expect(answer).toMatch(/<dt>Due<\/dt><dd><time datetime="[^"]+">/);
    expect(answer).toContain("High CPU usage on 127.0.0.1:19100");
    expect(answer).not.toContain('<p class="error"');
    // Nothing was stored or delivered.
    expect(((await (await s.get("/api/incidents")).json()) as { incidents: unknown[] }).incidents).toEqual([]);
  });

  it("simulates pasted JSON, escaped, and keeps it in the text area", async () => {
    const rules = `rules:
  - name: hostile-team
    matchers: ['team="${HOSTILE}"']
    continue: true
    tags: [hostile]
  - name: cpu-very-high
    matchers: ['alertname="HostHighCpu"']
    when: value > 95
    priority: P1
    category: performance
`;
    const s = await startTestService({ rules });
    svc = s;
    const csrf = csrfOf(await rulesPage(s));
    const pasted = cpu("97");
    const res = await playground(s, { example: "", payload: pasted, _csrf: csrf });
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).not.toContain("<img");
    expect(page).toContain("&#60;img src=x onerror=alert(1)&#62;");
    expect(page).toMatch(
      /<td>(cpu-very-high<br><span class="muted">also matched: hostile-team|hostile-team<br><span class="muted">also matched: cpu-very-high)<\/span><\/td><td><span class="prio P1">P1<\/span>/,
    );
    expect(page).toContain(`spellcheck="false">${pasted.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)}</textarea>`);
  });

  it("answers 400 for broken JSON (saying where), a notification that does not parse, an unlisted example, and 403 without the token", async () => {
    const s = await startTestService();
    svc = s;
    const csrf = csrfOf(await rulesPage(s));

    const broken = '{\n  "receiver": "x",\n  "alerts": [}\n';
    let res = await playground(s, { example: "", payload: broken, _csrf: csrf });
    expect(res.status).toBe(400);
    let page = await res.text();
    expect(page).toMatch(/<p class="error" role="alert"><strong>payload<\/strong>: not JSON at line 3, column 14/);
    expect(page).toContain(`spellcheck="false">{\n  &#34;receiver&#34;: &#34;x&#34;,\n  &#34;alerts&#34;: [}\n</textarea>`);

    res = await playground(s, { example: "", payload: '{"receiver": 1, "alerts": "none"}', _csrf: csrf });
    expect(res.status).toBe(400);
    page = await res.text();
    expect(page).toContain("The notification does not parse");
    expect(page).toMatch(/<div class="error" role="alert"><ul><li><strong>[^<]+<\/strong>: /);

    res = await playground(s, { example: "", payload: "  ", _csrf: csrf });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("<strong>payload</strong>: paste a notification");

    res = await playground(s, { example: "../package.json", payload: "", _csrf: csrf });
    expect(res.status).toBe(400);
    page = await res.text();
    expect(page).toContain("<strong>example</strong>: no such example");
    expect(page).not.toContain("devDependencies");

    expect((await playground(s, { example: "alertmanager/09-cpu-firing.json", payload: "" })).status).toBe(403);
  });
});

describe("listExamples", () => {
  it("lists *.json but not *.headers.json, at the top and one folder down, by relative path", () => {
    const dir = mkdtempSync(join(tmpdir(), "alertdesk-examples-"));
    try {
      mkdirSync(join(dir, "alertmanager", "deeper"), { recursive: true });
      writeFileSync(join(dir, "top.json"), "{}");
      writeFileSync(join(dir, "README.md"), "");
      writeFileSync(join(dir, "alertmanager", "b.json"), "{}");
      writeFileSync(join(dir, "alertmanager", "a.json"), "{}");
      writeFileSync(join(dir, "alertmanager", "a.headers.json"), "{}");
      writeFileSync(join(dir, "alertmanager", "deeper", "c.json"), "{}");
      expect(listExamples(dir)).toEqual(["alertmanager/a.json", "alertmanager/b.json", "top.json"]);
      expect(listExamples(join(dir, "missing"))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("jsonErrorOffset", () => {
  it("names the character where JSON.parse stops, also where V8 names no position", () => {
    expect(jsonErrorOffset('{"a": 1}')).toBeUndefined();
    expect(jsonErrorOffset("[}")).toBe(1);
    expect(jsonErrorOffset('{"a": 1}x')).toBe(8);
    expect(jsonErrorOffset('{"a" 1}')).toBe(5);
    expect(jsonErrorOffset('{"a": tru }')).toBe(9);
    // Ending early: the mistake is the end.
    expect(jsonErrorOffset('{"a": [1, 2')).toBe(11);
    expect(jsonErrorOffset("")).toBe(0);
  });
});
