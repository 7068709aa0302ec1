/** Reasons a delivery fails; every helpdesk × reason series exists at zero from the start. */
export const FAILURE_REASONS = ["auth", "rateLimited", "client", "server", "network", "timeout", "noTicket", "gone"] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** The one failure type of every driver: why it failed and whether retrying can help. */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  readonly reason: FailureReason;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryable: boolean; reason: FailureReason; retryAfterMs?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DeliveryError";
    this.retryable = options.retryable;
    this.reason = options.reason;
    this.retryAfterMs = options.retryAfterMs;
  }
}
