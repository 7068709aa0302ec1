import { execFileSync } from "node:child_process";
import { lstatSync, readFileSync, readlinkSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The repository stands on its own: a clean clone in CI has nothing next to it. No file that is or
 * would be committed (tracked, or untracked and not ignored) may name the old sibling folder, an
 * absolute path into somebody's workspace or home, or a relative path that climbs out of the
 * repository. System paths (under usr, etc, tmp, proc, dev, var, bin, opt, run, …) are fine.
 *
 * The patterns are assembled at run time, so that this file does not match them itself.
 */

const ROOT = resolve(new URL("../../", import.meta.url).pathname);
const UP = "..";

/** Top-level directories where checkouts and workspaces live, never a system path. */
const WORKSPACE_DIRS = ["work", "workspace", "workspaces", "home", "root", "Users", "mnt", "media"];
/** Files never scanned: generated, or data that only quotes paths. */
const SKIP = new Set(["package-lock.json"]);

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** The sibling folder `shared` next to the checkout, which the tests and docs used to read. */
const SIBLING = new RegExp(`${escapeRe(UP)}[\\\\/]shared\\b`);
/** An absolute path under one of WORKSPACE_DIRS (also as a file URL); not when part of a URL or a longer path. */
const WORKSPACE_PATH = new RegExp(`(?<![\\w.~:/@%\\\\-])(?:file://)?/(?:${WORKSPACE_DIRS.join("|")})(?![\\w.-])`);
/** This checkout's own absolute path and the directory holding it (wherever it was cloned). */
const OWN_PATHS = [ROOT, dirname(ROOT)].filter((p) => p !== "/" && p.split("/").length > 2);
/** A relative path: one or more `./` or `../` steps, then the rest of the path. */
const RELATIVE_PATH = /(?<![\w.~$/\\-])(?:\.\.?\/)+[^\s"'`()<>[\]{},;|*?\\]*/g;

interface Hit {
  file: string;
  line: number;
  why: string;
  text: string;
}

/** Whether `target`, taken relative to the directory of `file` (both repository paths), leaves the repository. */
function escapes(file: string, target: string): boolean {
  const rel = relative(ROOT, resolve(ROOT, dirname(file), target));
  return rel === UP || rel.startsWith(`${UP}/`) || isAbsolute(rel);
}

/** Every reference in `text` (the content of repository file `file`) that points outside the repository. */
function scan(file: string, text: string): Hit[] {
  const hits: Hit[] = [];
  text.split("\n").forEach((content, i) => {
    const hit = (why: string) => hits.push({ file, line: i + 1, why, text: content.trim().slice(0, 160) });
    const sibling = SIBLING.test(content);
    if (sibling) hit(`names the sibling folder ${UP}/shared`);
    const abs = WORKSPACE_PATH.exec(content);
    if (abs) hit(`absolute path into a workspace or home directory (${abs[0]})`);
    for (const own of OWN_PATHS) if (content.includes(`${own}/`) || content.endsWith(own)) hit(`absolute path of a checkout (${own})`);
    if (sibling) return; // one report per line for the usual case
    for (const m of content.matchAll(RELATIVE_PATH)) if (m[0].startsWith(`${UP}/`) && escapes(file, m[0])) hit(`relative path ${m[0]} leaves the repository`);
  });
  return hits;
}

/** The files a commit would hold: tracked, plus untracked ones that are not ignored. */
function repositoryFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  return [...new Set(out.toString("utf8").split("\0").filter(Boolean))].sort();
}

const isGitCheckout = (() => {
  try {
    execFileSync("git", ["rev-parse", "--show-toplevel"], { cwd: ROOT, stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
})();

describe("the repository is self-contained", () => {
  it.skipIf(!isGitCheckout)("no file refers outside the repository (the sibling folder, workspace paths, relative paths that climb out)", () => {
    const files = repositoryFiles();
    expect(files.length).toBeGreaterThan(10);
    const hits: Hit[] = [];
    for (const file of files) {
      if (SKIP.has(file.split("/").at(-1) as string)) continue;
      const path = join(ROOT, file);
      let stat: ReturnType<typeof lstatSync>;
      try {
        stat = lstatSync(path);
      } catch {
        continue; // tracked but deleted in the work tree (a move not yet committed)
      }
      if (stat.isSymbolicLink()) {
        const target = readlinkSync(path);
        if (isAbsolute(target) ? !`${target}/`.startsWith(`${ROOT}/`) : escapes(file, target)) {
          hits.push({ file, line: 0, why: `symbolic link to ${target}, outside the repository`, text: "" });
        }
        continue;
      }
      if (!stat.isFile()) continue;
      const data = readFileSync(path);
      if (data.subarray(0, 8000).includes(0)) continue; // binary
      hits.push(...scan(file, data.toString("utf8")));
    }
    expect(hits.map((h) => `${h.file}:${h.line}: ${h.why}${h.text ? `: ${h.text}` : ""}`)).toEqual([]);
  });
});

describe("the scanner itself", () => {
  // Built from pieces, like the patterns, so that this file stays clean.
  const sibling = `${UP}/shared`;
  const ws = (dir: string, rest: string) => `/${dir}/${rest}`;

  it("finds the sibling folder, workspace paths and relative paths that climb out, with their line", () => {
    const text = [
      "fine line",
      `curl --data @${sibling}/fixtures/a.json`,
      `const x = new URL("${UP}/${UP}/${UP}/elsewhere/", import.meta.url);`,
      `cd ${ws("work", "main")} && npm test`,
      `see file://${ws("root", "notes.md")}`,
      `HOME=${ws("home", "someone-else")}`,
    ].join("\n");
    const hits = scan("test/kit/x.ts", text);
    expect(hits.map((h) => h.line)).toEqual([2, 3, 4, 5, 6]);
    expect(hits[0]?.why).toContain("sibling");
    expect(hits[1]?.why).toContain("leaves the repository");
  });

  it("leaves alone paths inside the repository, system paths, URLs and words", () => {
    const text = [
      `import { a } from "${UP}/${UP}/src/a.js";`,
      `const rules = new URL("${UP}/${UP}/rules/00-defaults.yaml", import.meta.url);`,
      "[rules](./rules.md) and ./data and ./rules",
      "/usr/share/request-tracker5/libexec/rt-server --pidfile /tmp/x /var/log /etc/hosts /proc/1/stat /dev/null /bin/sh /opt/alertdesk",
      "http://example.test/home/index.html and https://h/api/Users and /workers and /rooted",
      "run as root in the home directory; shared transaction",
      `$schema=${UP}/schema/rules.schema.json`,
    ].join("\n");
    expect(scan("test/e2e/x.test.ts", text)).toEqual([]);
  });

  it("judges a relative path from the directory of the file that holds it", () => {
    const twoUp = `"${UP}/${UP}/x"`;
    expect(scan("test/kit/a.ts", twoUp)).toEqual([]);
    expect(scan("test/a.ts", twoUp)).toHaveLength(1);
    expect(scan("README.md", `[x](${UP}/x)`)).toHaveLength(1);
  });
});
