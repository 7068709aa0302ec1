/**
 * A budget for log lines of one kind: at most `perWindow` lines per window; the rest are counted,
 * not written, and once the window is over one line says how many were left out. A flood of bad
 * webhooks (every one a 4xx, every one a log line) then costs the disk a few lines a second, not one
 * line per request; the metrics still count every request.
 */
export interface LogLimiter {
  /** Whether this line may be written now; if not, it is counted for the summary. */
  allow(): boolean;
  /** Lines left out of the current window so far. */
  readonly suppressed: number;
}

export interface LogLimiterOptions {
  perWindow: number;
  windowMs: number;
  /** Says how many lines the window left out (called once per window that left any out). */
  onSuppressed: (count: number, windowMs: number) => void;
  /** A monotonic clock in ms (real time: this limits a disk, not a decision). */
  now?: () => number;
  /** Runs `fn` after `ms` (setTimeout, unref'd, by default). */
  schedule?: (fn: () => void, ms: number) => void;
}

export function createLogLimiter(options: LogLimiterOptions): LogLimiter {
  const now = options.now ?? (() => performance.now());
  const schedule =
    options.schedule ??
    ((fn: () => void, ms: number) => {
      setTimeout(fn, ms).unref();
    });
  let windowStart = Number.NEGATIVE_INFINITY;
  let written = 0;
  let suppressed = 0;
  const report = () => {
    const n = suppressed;
    suppressed = 0;
    if (n > 0) options.onSuppressed(n, options.windowMs);
  };
  return {
    allow() {
      const t = now();
      if (t - windowStart >= options.windowMs) {
        if (suppressed > 0) report(); // the scheduled report has not run yet (a busy event loop)
        windowStart = t;
        written = 0;
      }
      if (written < options.perWindow) {
        written++;
        return true;
      }
      if (suppressed++ === 0) schedule(report, Math.max(0, windowStart + options.windowMs - t));
      return false;
    },
    get suppressed() {
      return suppressed;
    },
  };
}
