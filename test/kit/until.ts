/**
 * Waits until `probe` gives a value (anything but undefined or false) and returns it; polls every
 * `intervalMs`, and gives up after `timeoutMs` naming what it waited for. Limits are generous: on a
 * slow, busy machine a wait may take long, and only a broken system reaches them. With
 * `retryErrors`, a probe that throws (a server not up yet) counts as "not yet", and the last error
 * is in the timeout's message.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number; retryErrors?: boolean } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const got = await probe();
      if (got !== undefined && got !== false) return got;
    } catch (err) {
      if (!options.retryErrors) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}
