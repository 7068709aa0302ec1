export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before the next attempt: exponential from `baseMs`, capped at `maxMs`, with jitter in
 * [50 %, 100 %] so retries of many incidents spread out; never earlier than the helpdesk's Retry-After.
 * `random` is injected so the policy can be table-tested.
 */
export function nextDelay(attempt: number, retryAfterMs: number | undefined, policy: BackoffPolicy, random: () => number): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(exp * (0.5 + random() / 2));
  return Math.max(jittered, retryAfterMs ?? 0);
}
