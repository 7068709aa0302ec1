/**
 * Section 8 of `npm run bench`, the priority storm (docs/performance.md): a fake Zendesk answering
 * 429 above 100 requests/min, alertdesk configured with `rate_limit: 100/min`; 200 P3 groups keep
 * changing for two minutes (every group every 10 s: an alert joins, or one resolves), and 30 s in,
 * 5 new P1 groups arrive. Run twice, with `delivery.order: priority` and `oldest` (the order before
 * ranks), and reported side by side: per P1 group, webhook acknowledged → ticket at the helpdesk.
 */
import type { FakeZendesk } from "../test/fakes/zendesk.js";
import type { TestService } from "../test/kit/service.js";
import { payload } from "./payloads.js";
import { peakInWindow, withZendesk } from "./zendesk.js";

const RULES = `
rules:
  - name: outage
    matchers: ['alertname=~"Outage.*"']
    priority: P1
  - name: the-rest
    priority: P3
`;

const P3_GROUPS = 200;
const P1_GROUPS = 5;
const LOAD_MS = 120_000;
const ROUND_MS = 10_000;
const P1_AT_MS = 30_000;

export interface PriorityStormRun {
  order: "priority" | "oldest";
  /** Webhook acknowledged → its ticket at the helpdesk, per P1 group (ms). */
  p1TicketMs: number[];
  /** P3 tickets that existed before the first P1 ticket. */
  p3TicketsBeforeFirstP1: number;
  peakRequestsPerMinute: number;
  rateLimited: number;
  commentsCoalesced: number;
  commentsDelivered: number;
  ticketsOpened: number;
  groups: number;
  duplicates: number;
  /** Deliveries still queued (durably) when the run stopped watching. */
  pendingAtEnd: number;
  webhooksAccepted: number;
  webhooksSent: number;
}

async function run(order: "priority" | "oldest", log: (s: string) => void): Promise<PriorityStormRun> {
  const delivery = { pollIntervalMs: 50, baseMs: 500, maxMs: 10_000, order };
  return withZendesk("100/min", 100, (svc, fake) => storm(order, svc, fake, log), { rules: RULES, delivery });
}

async function storm(order: "priority" | "oldest", svc: TestService, fake: FakeZendesk, log: (s: string) => void): Promise<PriorityStormRun> {
  const started = Date.now();
  const acknowledged = new Map<string, number>();
  let accepted = 0;
  let sent = 0;
  const posts: Promise<void>[] = [];
  const post = (group: string, body: string, p1 = false) => {
    sent++;
    posts.push(
      svc.post("/webhooks/alertmanager", body).then((r) => {
        if (r.status !== 200) return;
        accepted++;
        if (p1 && !acknowledged.has(group)) acknowledged.set(group, Date.now());
      }),
    );
  };
  // Round k sends every P3 group once, spread over the round: alerts 1..3 firing, then one more joins
  // or the newest resolves, so every notification after the first is a change (a comment).
  const rounds = LOAD_MS / ROUND_MS;
  let p1Sent = false;
  for (let k = 0; k < rounds; k++) {
    for (let g = 0; g < P3_GROUPS; g++) {
      const due = started + k * ROUND_MS + (g * ROUND_MS) / P3_GROUPS;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      if (!p1Sent && Date.now() - started >= P1_AT_MS) {
        p1Sent = true;
        for (let p = 0; p < P1_GROUPS; p++) post(`Outage${p}`, payload(`Outage${p}`, [1, 2]), true);
      }
      const instances = [1, 2, 3, ...Array.from({ length: Math.ceil(k / 2) }, (_, i) => 4 + i)];
      const resolved = k % 2 === 0 && k > 0 ? [instances.at(-1) as number] : [];
      post(`Storm${g}`, payload(`Storm${g}`, instances, resolved));
    }
  }
  await Promise.all(posts);
  const groups = P3_GROUPS + P1_GROUPS;
  // Until every P1 group has its ticket and every group one (the comments behind may still be queued).
  const deadline = Date.now() + 8 * 60_000;
  const p1Ticket = (group: string) => fake.tickets.find((t) => t.subject.includes(group));
  while (Date.now() < deadline) {
    const p1Done = [...acknowledged.keys()].every((g) => p1Ticket(g) !== undefined);
    if (p1Done && fake.tickets.length >= groups) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const p1TicketMs = [...acknowledged].map(([g, at]) => {
    const t = p1Ticket(g);
    return t ? t.createdAtMs - at : Number.NaN;
  });
  const firstP1 = Math.min(...[...acknowledged.keys()].map((g) => p1Ticket(g)?.id ?? Number.POSITIVE_INFINITY));
  const times = fake.requestTimes.filter((t) => t >= started).sort((a, b) => a - b);
  const peak = peakInWindow(times, 60_000);
  const deliveries = await svc.store.listDeliveries({ limit: 100_000 });
  const keys = fake.tickets.map((t) => t.external_id);
  const result: PriorityStormRun = {
    order,
    p1TicketMs,
    p3TicketsBeforeFirstP1: fake.tickets.filter((t) => t.id < firstP1 && t.subject.includes("Storm")).length,
    peakRequestsPerMinute: peak,
    rateLimited: fake.rateLimited,
    commentsCoalesced: deliveries.filter((d) => d.state === "coalesced").length,
    commentsDelivered: fake.tickets.reduce((n, t) => n + t.comments.length - 1, 0),
    ticketsOpened: fake.tickets.length,
    groups,
    duplicates: keys.length - new Set(keys).size,
    pendingAtEnd: deliveries.filter((d) => d.state === "pending").length,
    webhooksAccepted: accepted,
    webhooksSent: sent,
  };
  log(
    `   ${order.padEnd(8)} P1 tickets ${p1TicketMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ")} after their webhooks; ` +
      `${result.p3TicketsBeforeFirstP1} P3 tickets before the first; peak ${peak}/min; 429s ${result.rateLimited}; ` +
      `tickets ${result.ticketsOpened}/${groups}, duplicates ${result.duplicates}; comments ${result.commentsDelivered} delivered, ` +
      `${result.commentsCoalesced} coalesced, ${result.pendingAtEnd} still queued; webhooks ${accepted}/${sent}`,
  );
  return result;
}

export async function priorityStorm(log: (s: string) => void): Promise<{ priority: PriorityStormRun; oldest: PriorityStormRun }> {
  log(
    `8. priority storm: ${P3_GROUPS} P3 groups changing for ${LOAD_MS / 60_000} min, ${P1_GROUPS} P1 groups ${P1_AT_MS / 1000} s in; helpdesk limited to 100 requests/min`,
  );
  const priority = await run("priority", log);
  const oldest = await run("oldest", log);
  return { priority, oldest };
}
