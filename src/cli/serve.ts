import { ConfigError, loadServiceConfig } from "../config/service.js";
import { startService } from "../main.js";
import { createLogger } from "../observability/logger.js";
import { RulesError } from "../rules/load.js";

/** `alertdesk serve`: runs the service until SIGTERM or SIGINT, then drains and exits. */
export async function serve(options: { config?: string }): Promise<void> {
  let service: Awaited<ReturnType<typeof startService>>;
  let log: ReturnType<typeof createLogger>;
  try {
    const config = loadServiceConfig(process.env, options.config ? { configPath: options.config } : {});
    // After the config: a bad ALERTDESK_LOG_LEVEL is a config error, not pino's stack trace.
    log = createLogger(config.logLevel ? { level: config.logLevel } : {});
    // Acknowledged webhooks are on disk and leases are released at the next start: exiting loses nothing.
    service = await startService({ config, log, onFatal: () => process.exit(1) });
  } catch (err) {
    if (err instanceof RulesError || err instanceof ConfigError) {
      process.stderr.write(`alertdesk: ${err.message}\n`);
    } else {
      process.stderr.write(`alertdesk: cannot start: ${(err as Error).message}\n`);
    }
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down");
    service.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  // SIGHUP reloads the rules, like Prometheus and Alertmanager.
  process.on("SIGHUP", () => service.reload("SIGHUP"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}
