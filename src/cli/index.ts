import { Command, Option } from "commander";
import { SOURCES, type Source } from "../model/alert.js";
import { check } from "./check.js";
import { kbSearch } from "./kb.js";
import { replay } from "./replay.js";
import { serve } from "./serve.js";
import { simulate } from "./simulate.js";
import { testRules } from "./test.js";

const program = new Command();
program
  .name("alertdesk")
  .description("Turns Prometheus Alertmanager, Grafana and Zabbix alerts into helpdesk tickets: one incident, one ticket, nothing lost.")
  .showHelpAfterError();

program
  .command("serve")
  .description(
    "Run the service: webhooks on PORT (default 9095), state in ALERTDESK_DATA_DIR (default ./data), rules from ALERTDESK_RULES (default ./rules). SIGHUP reloads the rules. It also learns what agents do on its tickets: doorbells at POST /webhooks/helpdesk/{name}, a poller per helpdesk, the built-in helpdesk's agent API (docs/helpdesks.md). With SQLite, webhooks are read and committed on a second thread (ALERTDESK_INGEST_THREAD=false keeps them on the main one).",
  )
  .option("-c, --config <file>", "config file (overrides ALERTDESK_CONFIG)")
  .action(async (opts: { config?: string }) => {
    await serve(opts);
  });

program
  .command("check")
  .description("Validate rules files or directories (default ALERTDESK_RULES or ./rules) and the config file; exit 1 listing every problem as file:line:col.")
  .argument("[paths...]", "rules files or directories")
  .option("-c, --config <file>", "also validate this config file (default ALERTDESK_CONFIG)")
  .action((paths: string[], opts: { config?: string }) => {
    process.exitCode = check(paths, opts);
  });

program
  .command("test")
  .description("Run rule unit tests (YAML files naming their rule_files and cases); exit 1 if any fails. See docs/rules.md.")
  .argument("<paths...>", "test files, or directories searched for *.yaml / *.yml")
  .action(async (paths: string[]) => {
    process.exitCode = await testRules(paths);
  });

program
  .command("simulate")
  .description(
    "Dry run: feed webhook payloads, in order, through the server's pipeline on a fresh in-memory state and print the plan: rules matched, incidents, and the helpdesk operations that would be made.",
  )
  .argument("<payloads...>", "webhook payload files (JSON), in the order they arrive")
  .option("-r, --rules <path>", "rules file or directory (default ALERTDESK_RULES or ./rules)")
  .option("--json", "print the plan as JSON")
  .addOption(new Option("--source <source>", "payload format (default: detected)").choices(SOURCES))
  .action(async (files: string[], opts: { rules?: string; json?: boolean; source?: Source }) => {
    process.exitCode = await simulate(files, opts);
  });

program
  .command("replay")
  .description("Queue dead letters again (by id, or --all) in the store of ALERTDESK_DATA_DIR; a running alertdesk delivers them.")
  .argument("[ids...]", "delivery ids, from GET /api/deliveries?state=dead")
  .option("--all", "every dead letter")
  .option("-c, --config <file>", "config file (overrides ALERTDESK_CONFIG)")
  .action(async (ids: string[], opts: { all?: boolean; config?: string }) => {
    process.exitCode = await replay(ids, opts);
  });

const kb = program.command("kb").description("The built-in knowledge base: every incident that is over, archived with its timeline and resolution.");
kb.command("search")
  .description("Search the archive in the store of ALERTDESK_DATA_DIR (or the config's database) like GET /api/kb?q=: every word first, else any; best first.")
  .argument("[words...]", "what to look for, like: disk full (none: the newest entries)")
  .option("-n, --limit <n>", "at most this many entries (1-100, default 10)")
  .option("--json", "print the entries as JSON, as GET /api/kb answers them")
  .option("-c, --config <file>", "config file (overrides ALERTDESK_CONFIG)")
  .action(async (words: string[], opts: { limit?: string; json?: boolean; config?: string }) => {
    process.exitCode = await kbSearch(words, opts);
  });

await program.parseAsync(process.argv);
