import { type Logger, pino } from "pino";

export type { Logger };

/** Paths pino blanks out wherever they appear, so a credential that reaches a log line is never printed. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-api-key"]',
  "headers.authorization",
  "*.token",
  "*.password",
  "*.secret",
  "*.webhookToken",
  "config.webhook_token",
];

export interface LoggerOptions {
  level?: string;
  /** A stream to write to instead of stdout (tests use it to scan log output for secrets). */
  destination?: NodeJS.WritableStream;
}

/** Creates the service's JSON logger with secret redaction on. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? process.env.ALERTDESK_LOG_LEVEL ?? "info",
    base: { service: "alertdesk" },
    redact: { paths: REDACTED_PATHS, censor: "<secret>" },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
