import { Command } from "commander";
import { serve } from "./serve.js";

const program = new Command();
program
  .name("alertdesk")
  .description("Turns Prometheus Alertmanager and Grafana alerts into helpdesk tickets: one incident, one ticket, nothing lost.")
  .showHelpAfterError();

program
  .command("serve")
  .description(
    "Run the service: webhooks on PORT (default 9095), state in ALERTDESK_DATA_DIR (default ./data), rules from ALERTDESK_RULES (default ./rules).",
  )
  .option("-c, --config <file>", "config file (overrides ALERTDESK_CONFIG)")
  .action(async (opts: { config?: string }) => {
    await serve(opts);
  });

await program.parseAsync(process.argv);
