/** A fake Zendesk with alertdesk in front of it, for the benchmark's sections that count helpdesk requests. */
import type { ServiceConfig } from "../src/config/service.js";
import { type FakeZendesk, startFakeZendesk } from "../test/fakes/zendesk.js";
import { startTestService, type TestService } from "../test/kit/service.js";

/**
 * Runs `fn` against alertdesk delivering to a fake Zendesk: alertdesk paced at `rateLimit`, the fake
 * answering 429 above `fakePerMinute`; every alert P2 unless `options.rules` says otherwise.
 */
export async function withZendesk<T>(
  rateLimit: string | undefined,
  fakePerMinute: number | undefined,
  fn: (svc: TestService, fake: FakeZendesk) => Promise<T>,
  options: { rules?: string; delivery?: ServiceConfig["delivery"] } = {},
): Promise<T> {
  const fake = await startFakeZendesk();
  if (fakePerMinute) fake.ratePerMinute = fakePerMinute;
  const svc = await startTestService({
    rules: options.rules ?? "rules:\n  - name: all\n    priority: P2\n",
    background: true,
    realClock: true,
    config: {
      defaultHelpdesk: "zendesk",
      helpdesks: {
        zendesk: {
          type: "zendesk",
          url: fake.url,
          email: fake.email,
          token: fake.token,
          ticket_type: "incident",
          public_comments: false,
          ...(rateLimit ? { rate_limit: rateLimit } : {}),
        },
      },
      delivery: options.delivery ?? { pollIntervalMs: 20, baseMs: 200, maxMs: 5000 },
    },
  });
  try {
    return await fn(svc, fake);
  } finally {
    await svc.cleanup();
    await fake.stop();
  }
}

/** The most requests in any window of `windowMs` (times sorted, epoch ms). */
export function peakInWindow(times: readonly number[], windowMs: number): number {
  let peak = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= windowMs) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}
