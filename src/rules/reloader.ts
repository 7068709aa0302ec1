import { type FSWatcher, watch } from "node:fs";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { checkHelpdesks, loadRules, type ReloadStatus, type RuleSet, RulesError } from "./load.js";

export interface RulesReloaderOptions {
  /** A rules file or a directory of them. */
  path: string;
  /** The helpdesk of rules that name none, and every helpdesk a rule may name. */
  defaultHelpdesk: string;
  helpdesks: ReadonlySet<string>;
  /** Reload when the files change (default true); SIGHUP and POST /-/reload reload either way. */
  watch?: boolean;
  clock: () => Date;
  log: Logger;
  metrics: Pick<Metrics, "rulesLoaded" | "rulesLastReloadSuccess" | "rulesLastReloadTimestamp">;
  /** How long a burst of file events must settle before the reload (editors save by rename or several writes). */
  settleMs?: number;
}

/** The rules in force, and the one way to replace them. */
export interface RulesReloader {
  current(): RuleSet;
  lastReload(): ReloadStatus;
  /** Loads the rules again; they replace the running ones only if every file loads and every helpdesk exists. */
  reload(reason: string): ReloadStatus;
  close(): void;
}

function load(options: RulesReloaderOptions): RuleSet {
  const rules = loadRules(options.path);
  const problems = checkHelpdesks(rules, options.defaultHelpdesk, options.helpdesks);
  if (problems.length > 0) throw new RulesError(problems);
  return rules;
}

/**
 * Loads the rules (throwing a RulesError when they do not load: the service must not start on bad
 * rules) and keeps them current: on file change, on SIGHUP and on POST /-/reload, through `reload`.
 * A failed reload keeps the previous rules running and says why in the status and the metrics.
 */
export function createRulesReloader(options: RulesReloaderOptions): RulesReloader {
  const { clock, log, metrics } = options;
  let rules = load(options);
  let lastReload: ReloadStatus = { success: true, at: clock().toISOString() };
  const loaded = () => {
    metrics.rulesLoaded.set(rules.rules.length);
    metrics.rulesLastReloadSuccess.set(1);
    metrics.rulesLastReloadTimestamp.set(clock().getTime() / 1000);
  };
  loaded();

  function reload(reason: string): ReloadStatus {
    const at = clock().toISOString();
    try {
      rules = load(options);
      lastReload = { success: true, at };
      loaded();
      log.info({ reason, rules: rules.rules.length, files: rules.files.length }, "rules reloaded");
    } catch (err) {
      lastReload = { success: false, at, error: (err as Error).message };
      metrics.rulesLastReloadSuccess.set(0);
      log.error({ reason, err: (err as Error).message }, "rules reload failed; the previous rules keep running");
    }
    return lastReload;
  }

  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (options.watch !== false) {
    try {
      watcher = watch(options.path, () => {
        clearTimeout(timer);
        timer = setTimeout(() => reload("file change"), options.settleMs ?? 300);
      });
      watcher.on("error", (err) => log.warn({ err: err.message }, "rules watch failed; reload with SIGHUP or POST /-/reload"));
    } catch (err) {
      log.warn({ err: (err as Error).message }, "cannot watch the rules; reload with SIGHUP or POST /-/reload");
    }
  }

  return {
    current: () => rules,
    lastReload: () => lastReload,
    reload,
    close() {
      watcher?.close();
      clearTimeout(timer);
    },
  };
}
