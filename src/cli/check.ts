import { ConfigError, loadServiceConfig } from "../config/service.js";
import { checkHelpdesks, loadRules, type RuleSet, RulesError } from "../rules/load.js";

export interface CheckOptions {
  config?: string;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

/**
 * `alertdesk check [paths...]`: validates rules files (and the config file, when one is named), like
 * `amtool check-config`. Prints every problem as `file:line:col: path: message`; returns the exit code.
 */
export function check(paths: string[], options: CheckOptions = {}): number {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const env = process.env;
  let failed = false;
  let defaultHelpdesk = "builtin";
  let helpdesks = new Set(["builtin"]);
  const configPath = options.config ?? env.ALERTDESK_CONFIG;
  if (configPath) {
    try {
      // The whole config as serve loads it: environment, secrets, and every helpdesk's driver built.
      const config = loadServiceConfig(env, { configPath });
      defaultHelpdesk = config.defaultHelpdesk;
      helpdesks = new Set(["builtin", ...Object.keys(config.helpdesks)]);
      out.write(`${configPath}: config OK\n`);
    } catch (e) {
      failed = true;
      err.write(`${e instanceof ConfigError ? e.message : `${configPath}: ${(e as Error).message}`}\n`);
    }
  }
  const targets = paths.length > 0 ? paths : [env.ALERTDESK_RULES || "./rules"];
  for (const path of targets) {
    let rules: RuleSet;
    try {
      rules = loadRules(path);
    } catch (e) {
      failed = true;
      err.write(`${e instanceof RulesError ? e.message : `${path}: ${(e as Error).message}`}\n`);
      continue;
    }
    const problems = checkHelpdesks(rules, defaultHelpdesk, helpdesks);
    if (problems.length > 0) {
      failed = true;
      err.write(`${problems.join("\n")}\n`);
      continue;
    }
    out.write(
      `${path}: ${rules.rules.length} rule${rules.rules.length === 1 ? "" : "s"} in ${rules.files.length} file${rules.files.length === 1 ? "" : "s"}, OK\n`,
    );
  }
  return failed ? 1 : 0;
}
