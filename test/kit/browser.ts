/**
 * A real, headless Chromium for the web console's tests: Debian's package `chromium`, driven by
 * playwright-core (pinned in devDependencies). No browser is ever downloaded: playwright-core only
 * gets `executablePath`, and ensurePackages (./apt.ts) installs the Debian package when it is missing.
 *
 * Facts (Debian 12 bookworm, playwright-core 1.65.1, Node 20; read from node_modules/playwright-core
 * and checked by running this kit):
 * - Packages: `chromium` and `fonts-liberation`. apt-get --no-install-recommends (see apt.ts) pulled in
 *   chromium-common, GTK 3, PulseAudio, codec and Wayland client libraries, xdg-utils: 26 packages on
 *   this machine (which already had X11, NSS and fontconfig libraries), 416 MB on disk; the .debs of
 *   chromium and chromium-common alone are 113 MB. Installed in 32 s here, as root; with only those
 *   three packages missing (the libraries still there), the test's first run installed them in 17 s.
 *   Text renders without fonts-liberation too: chromium needs libfontconfig1, whose fontconfig-config
 *   depends on fonts-dejavu-core. fonts-liberation is one of chromium-common's Recommends that
 *   --no-install-recommends leaves out: fonts with the metrics of Arial, Times and Courier, so a page
 *   laid out for those fonts looks the same as in a desktop browser (0.8 MB, 2 MB installed).
 * - The package is checked through dpkg, not through `commands`: some other `chromium` on PATH (a
 *   snap, a wrapper) would not prove that /usr/bin/chromium is there.
 * - Debian's Chromium 156.0.8078.114 (bookworm-security). playwright-core 1.65.1 was built against
 *   Chromium 159 (its browsers.json). Everything this kit and its test do works with 156 over the CDP
 *   pipe. Keep an eye on that gap when playwright-core is upgraded.
 * - /usr/bin/chromium is Debian's shell wrapper. It sources /etc/chromium.d/* (adds
 *   --enable-gpu-rasterization, --disable-pings, --load-extension= and more) and execs
 *   /usr/lib/chromium/chromium with the same PID, so Playwright's pipe (fds 3 and 4) survives.
 *   On this machine its /etc/chromium.d/dev-shm prints "[: …: unexpected operator" to stderr
 *   (findmnt lists /dev/shm twice). That is harmless: Playwright passes --disable-dev-shm-usage anyway.
 * - launch() versus launchPersistentContext(): launch() refuses a `--user-data-dir` argument
 *   ("Pass userDataDir parameter to `browserType.launchPersistentContext(userDataDir, options)`…").
 *   It always creates its own fresh profile, os.tmpdir()/playwright_chromiumdev_profile-XXXXXX, one per
 *   launch, and deletes it when the browser closes or is killed. That is the fresh temporary
 *   --user-data-dir the team's notes ask for. This kit uses launch(), because only launch() gives
 *   every page its own BrowserContext (no cookies or storage shared between pages). A persistent
 *   context has just the one. The kit finds the profile's path on the browser's command line, and close()
 *   deletes it should Playwright not have done so.
 * - Flags: the team's `--no-sandbox --disable-gpu --disable-background-networking
 *   --disable-component-update --disable-sync --no-first-run`. Playwright adds all of these itself except
 *   --disable-gpu (--no-sandbox appears twice; harmless), plus --headless, --remote-debugging-pipe,
 *   --no-startup-window and its own list. --no-sandbox is a must as root: Chromium refuses to start
 *   without it.
 * - Not everything lands in the profile. Crashpad keeps its database in $XDG_CONFIG_HOME/chromium/Crash
 *   Reports (default ~/.config), dconf writes $XDG_CACHE_HOME/dconf, and Chromium puts its singleton
 *   socket in $TMPDIR. So the browser gets XDG_CONFIG_HOME, XDG_CACHE_HOME and TMPDIR inside this kit's
 *   own temp dir (os.tmpdir()/alertdesk-browser-XXXXXX, also Playwright's artifactsDir), and
 *   nothing is left in the home directory.
 * - Processes: the browser is /usr/lib/chromium/chromium, a child of the test process and leader of
 *   its own process group, with zygotes, GPU, utility and renderer processes under it. Two
 *   chrome_crashpad_handler processes are reparented to PID 1, each in a process group of its own, so
 *   Playwright's kill of the browser's group does not reach them. They exit by themselves when the
 *   browser goes. The zygotes and everything under them rewrite their process title. Their
 *   /proc/PID/cmdline is then one string of space-separated arguments, not one NUL-terminated
 *   string per argument, and their /proc/PID/environ may no longer show the environment. Each one still
 *   has the profile's --user-data-dir among those words. So close() treats a process as this kit's
 *   when its environment carries ALERTDESK_BROWSER_KIT=<temp dir> (the browser, the crashpad
 *   handlers), or when its command line names the profile or the temp dir.
 * - A wedged browser (every process SIGSTOPped, tried by hand) answers neither context.close() nor
 *   browser.close(). close() gives up on them after 30 s, kills all 11 processes (TERM, then KILL)
 *   and removes both dirs, in 38 s in all.
 * - `errors`: headless Chromium asks for /favicon.ico by itself. On a 404 that gives the console error
 *   "Failed to load resource: … 404 (Not Found) (…/favicon.ico:1)", without any Playwright response
 *   event. A page under test should declare its icon (the test's pages use `<link rel="icon"
 *   href="data:,">`) or its server should answer /favicon.ico. Any other subresource that gets a 404
 *   shows up twice, once as "http 404: GET …" and once as Chromium's console error.
 * - Timing here (2 CPUs): a launch takes 0.7-1 s on its own and up to 2.1 s inside vitest; close()
 *   takes about 0.4 s. Once the packages are installed, ensurePackages costs one dpkg-query. The
 *   timeouts below are generous anyway, for a slow machine's first start.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { ensurePackages } from "./apt.js";
import { alive } from "./daemon.js";

/** Debian's launcher script of the `chromium` package. */
const CHROMIUM = "/usr/bin/chromium";
/** chromium: the browser; fonts-liberation: Arial/Times/Courier metrics (see above). */
const PACKAGES = ["chromium", "fonts-liberation"];
/** The team's known-good headless flags; --user-data-dir is Playwright's own (see above). */
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
/** The environment variable that marks the processes of one kit's browser. */
const MARK = "ALERTDESK_BROWSER_KIT";
/** Where screenshots go: test-artifacts/screenshots/ at the repository's root (ignored by git). */
export const SCREENSHOT_DIR = new URL("../../test-artifacts/screenshots/", import.meta.url).pathname;
/** Seconds allowed for the browser to start: generous, for a slow machine's first start. */
const LAUNCH_TIMEOUT_MS = Number(process.env.BROWSER_LAUNCH_TIMEOUT ?? 180) * 1000;
/** Default for every page action and expectation wait (Playwright's own default is 30 s). */
const ACTION_TIMEOUT_MS = Number(process.env.BROWSER_ACTION_TIMEOUT ?? 60) * 1000;
/** Default for navigations. */
const NAVIGATION_TIMEOUT_MS = Number(process.env.BROWSER_NAVIGATION_TIMEOUT ?? 120) * 1000;
/** How long close() lets Playwright close the browser before it kills what is left. */
const CLOSE_TIMEOUT_MS = 30_000;

/** A headless Chromium that a test started, with everything it created removed by close(). */
export interface TestBrowser {
  browser: Browser;
  /** Chromium's version, e.g. "156.0.8078.114". */
  version: string;
  /**
   * A new page in a fresh context of its own (no cookies or storage shared with other pages).
   * `errors` fills up as the page runs. It gets console messages of type "error", uncaught errors
   * (`pageerror`), requests that failed (network errors, aborts) and responses with status 400 or
   * more. A test that wants "no console errors" expects it to be `[]`.
   */
  newPage(): Promise<{ page: Page; errors: string[] }>;
  /** Writes a full-page PNG to test-artifacts/screenshots/<name>.png and returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  /** Closes the browser, kills any process of it still running, and removes its temp dirs. Idempotent. */
  close(): Promise<void>;
}

/** What identifies the processes and files of one browser of this kit. */
interface Owned {
  /** This kit's temp dir: artifacts, XDG dirs, TMPDIR. */
  dir: string;
  /** Playwright's profile (--user-data-dir), once known. */
  profile?: string;
}

/** /proc/PID/<file>, "" when unreadable or gone. */
function procFile(pid: string, file: "cmdline" | "environ"): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

/**
 * The words of a command line. Chromium's child processes rewrite their title: their
 * /proc/PID/cmdline is one string of space-separated arguments, not one NUL-terminated string per
 * argument. So both separators split here (this kit's paths have no spaces).
 */
function words(cmdline: string): string[] {
  return cmdline.split(/[\0 ]/).filter(Boolean);
}

/** PIDs of the live processes that belong to `owned`'s browser (see the header). */
function ownedPids(owned: Owned): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = procFile(entry, "cmdline");
    const mine =
      procFile(entry, "environ").split("\0").includes(`${MARK}=${owned.dir}`) ||
      cmdline.includes(`${owned.dir}/`) ||
      (owned.profile !== undefined && words(cmdline).includes(`--user-data-dir=${owned.profile}`));
    if (mine && alive(Number(entry))) pids.push(Number(entry));
  }
  return pids;
}

/** The profile on the command line of the browser's own process (the one without --type=…). */
function findProfile(owned: Owned): string | undefined {
  for (const pid of ownedPids(owned)) {
    const args = words(procFile(String(pid), "cmdline"));
    if (args.some((a) => a.startsWith("--type="))) continue;
    const arg = args.find((a) => a.startsWith("--user-data-dir="));
    if (arg) return arg.slice("--user-data-dir=".length);
  }
  return undefined;
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone meanwhile
    }
  }
}

/** Removes the kit's temp dir, and the profile when it is Playwright's temporary one (and still there). */
function removeDirs(owned: Owned): void {
  const { profile } = owned;
  if (profile && dirname(profile) === tmpdir() && basename(profile).startsWith("playwright_chromiumdev_profile-")) {
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
  }
  rmSync(owned.dir, { recursive: true, force: true, maxRetries: 3 });
}

/** TERM, then KILL after `graceMs`, for every process of `owned` still there. */
async function killLeftovers(owned: Owned, graceMs: number): Promise<number> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Right after browser.close(), the crashpad handlers may still be on their way out.
  for (const end = Date.now() + 3000; Date.now() < end && ownedPids(owned).length > 0; ) await sleep(100);
  const left = ownedPids(owned);
  if (left.length === 0) return 0;
  signal(left, "SIGTERM");
  for (const end = Date.now() + graceMs; Date.now() < end && ownedPids(owned).length > 0; ) await sleep(100);
  signal(ownedPids(owned), "SIGKILL");
  for (const end = Date.now() + 5000; Date.now() < end && ownedPids(owned).length > 0; ) await sleep(100);
  return left.length;
}

/** Browsers not closed yet: the test process's exit kills what is left of them and removes their dirs. */
const open = new Set<Owned>();
let exitHook = false;

function onExit(): void {
  for (const owned of open) {
    try {
      signal(ownedPids(owned), "SIGKILL");
      removeDirs(owned);
    } catch {
      // best effort while exiting
    }
  }
}

/** One line for `errors` from a console message's location. */
function where(location: { url: string; lineNumber: number }): string {
  return location.url ? ` (${location.url}:${location.lineNumber + 1})` : "";
}

/**
 * Installs Debian's chromium when missing (apt.ts: root or password-less sudo), then launches it
 * headless through playwright-core with the team's flags. On failure nothing it started is left
 * running or on disk.
 */
export async function startBrowser(options: { log?: (m: string) => void } = {}): Promise<TestBrowser> {
  const log = options.log ?? ((m: string) => process.stderr.write(`[browser] ${m}\n`));
  await ensurePackages(PACKAGES, options.log ? { log: options.log } : {});
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing although the package chromium is installed`);

  const owned: Owned = { dir: await mkdtemp(join(tmpdir(), "alertdesk-browser-")) };
  open.add(owned);
  if (!exitHook) {
    exitHook = true;
    process.once("exit", onExit);
  }
  const sub = async (name: string) => {
    const path = join(owned.dir, name);
    await mkdir(path);
    return path;
  };
  const started = Date.now();
  let browser: Browser;
  try {
    const env = {
      ...process.env,
      [MARK]: owned.dir,
      XDG_CONFIG_HOME: await sub("config"),
      XDG_CACHE_HOME: await sub("cache"),
      TMPDIR: await sub("tmp"),
    };
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      env,
      artifactsDir: await sub("artifacts"),
      timeout: LAUNCH_TIMEOUT_MS,
    });
  } catch (err) {
    await killLeftovers(owned, 2000);
    removeDirs(owned);
    open.delete(owned);
    throw err;
  }
  const profile = findProfile(owned);
  if (profile) owned.profile = profile;
  else log("the browser's --user-data-dir was not found: close() can only find its processes by their environment");
  const version = browser.version();
  log(`chromium ${version} launched in ${Date.now() - started} ms`);

  const contexts = new Set<BrowserContext>();
  let closed: Promise<void> | undefined;

  return {
    browser,
    version,
    async newPage() {
      const context = await browser.newContext();
      contexts.add(context);
      context.setDefaultTimeout(ACTION_TIMEOUT_MS);
      context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`console.error: ${message.text()}${where(message.location())}`);
      });
      page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
      page.on("requestfailed", (request) => errors.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText ?? "?"}`));
      page.on("response", (response) => {
        if (response.status() >= 400) errors.push(`http ${response.status()}: ${response.request().method()} ${response.url()}`);
      });
      page.once("close", () => {
        contexts.delete(context);
        context.close().catch(() => undefined);
      });
      return { page, errors };
    },
    async screenshot(page, name) {
      const file = `${name.replace(/\.png$/i, "").replace(/[^\w.-]+/g, "-")}.png`;
      await mkdir(SCREENSHOT_DIR, { recursive: true });
      const path = join(SCREENSHOT_DIR, file);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close() {
      closed ??= (async () => {
        // All of the graceful part is under the timeout: a wedged browser answers neither
        // context.close() nor browser.close(), and is then killed below.
        const graceful = async () => {
          for (const context of contexts) await context.close().catch(() => undefined);
          contexts.clear();
          await browser.close();
        };
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          graceful().catch(() => undefined),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
        const killed = await killLeftovers(owned, 5000);
        if (killed > 0) log(`killed ${killed} chromium process(es) left after close`);
        removeDirs(owned);
        open.delete(owned);
      })();
      return closed;
    },
  };
}
