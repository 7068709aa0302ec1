import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PAGE } from "../../src/api/paging.js";
import { LISTED_COMMENTS } from "../../src/api/tickets.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * Every list endpoint answers a page: `?limit=` (default 100, at most 1,000) and `?before=` (the
 * previous page's `next`), and fewer rows once they hold 1 MiB of stored text, so that no answer
 * grows with what is stored.
 */

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc.cleanup();
});

function notification(group: string, alerts = 1, annotations: Record<string, string> = {}): string {
  return JSON.stringify({
    receiver: "ops",
    status: "firing",
    groupKey: `{}:{alertname="${group}"}`,
    groupLabels: { alertname: group },
    alerts: Array.from({ length: alerts }, (_, i) => ({
      status: "firing",
      labels: { alertname: group, instance: `host-${i}` },
      annotations: { summary: group, ...annotations },
      startsAt: "2026-11-25T05:46:52Z",
    })),
  });
}

type Answer = Record<string, unknown> & { next?: number };

/** Follows `next` from the first page; the ids of every page. */
async function walk(path: string, name: string): Promise<number[][]> {
  const pages: number[][] = [];
  let url = path;
  for (let n = 0; n < 100; n++) {
    const res = await svc.get(url);
    expect(res.status, url).toBe(200);
    const answer = (await res.json()) as Answer;
    const items = answer[name] as { id: number }[];
    pages.push(items.map((i) => i.id));
    if (answer.next === undefined) return pages;
    expect(answer.next).toBe(items.at(-1)?.id);
    url = `${path}${path.includes("?") ? "&" : "?"}before=${answer.next}`;
  }
  throw new Error("no last page");
}

describe("paging the read APIs", () => {
  beforeAll(async () => {
    for (let i = 0; i < 7; i++) expect((await svc.post("/webhooks/alertmanager", notification(`Paged${i}`))).status).toBe(200);
    await svc.deliverAll();
  });

  it.each([
    ["/api/incidents", "incidents"],
    ["/api/deliveries", "deliveries"],
    ["/api/tickets", "tickets"],
    ["/api/deliveries?state=done", "deliveries"],
    ["/api/incidents?state=firing", "incidents"],
    ["/api/tickets?status=open", "tickets"],
  ])("%s: ?limit=3 and next walk every row once, newest first", async (path, name) => {
    const pages = await walk(`${path}${path.includes("?") ? "&" : "?"}limit=3`, name);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const ids = pages.flat();
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const whole = (await (await svc.get(path)).json()) as Answer;
    expect(whole.next).toBeUndefined(); // one page holds all 7: the answer is the shape it always was
    expect((whole[name] as { id: number }[]).map((i) => i.id)).toEqual(ids);
  });

  it("a limit over 1,000 is read as 1,000; 0, a non-number or a bad cursor is a 400 naming the parameter", async () => {
    expect((await svc.get("/api/incidents?limit=10000")).status).toBe(200);
    for (const [path, field] of [
      ["/api/incidents?limit=0", "limit"],
      ["/api/tickets?before=abc", "before"],
      ["/api/deliveries?before=-1", "before"],
      ["/tickets?before=x", "before"],
    ]) {
      const res = await svc.get(path as string);
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { issues: { field: string }[] }).issues.map((i) => i.field)).toEqual([field]);
    }
    expect(PAGE).toEqual({ defaultLimit: 100, maxLimit: 1000, maxBytes: 1024 * 1024 });
  });
});

describe("bounded answers", () => {
  it("the default page is 100 rows; /tickets shows one page and links the older ones", async () => {
    for (let i = 0; i < PAGE.defaultLimit + 5; i++) {
      await svc.store.createTicket(
        { key: `ad-many-${i}`, subject: `many ${i}`, body: "b", priority: "P4", category: "function", dueAt: "d", labels: {}, tags: [], fields: {} },
        svc.now,
      );
    }
    const first = (await (await svc.get("/api/tickets")).json()) as { tickets: { id: number }[]; next: number };
    expect(first.tickets).toHaveLength(PAGE.defaultLimit);
    expect(first.next).toBe(first.tickets.at(-1)?.id);
    const html = await (await svc.get("/tickets")).text();
    expect(html.match(/<tr id="ticket-/g)).toHaveLength(PAGE.defaultLimit);
    expect(html).toContain(`<a href="tickets?before=${first.next}">Older tickets</a>`);
    const older = await (await svc.get(`/tickets?before=${first.next}`)).text();
    expect(older).toContain('id="ticket-1"');
    expect(older).not.toContain("Older tickets");
  });

  it("a page holds at most 1 MiB of stored text: large incidents come a few at a time", async () => {
    const annotations = Object.fromEntries(
      Array.from({ length: 5 }, (_, i) => [
        `a${i}`,
        String(i)
          .repeat(60 * 1024)
          .slice(0, 60 * 1024),
      ]),
    );
    for (let i = 0; i < 6; i++) expect((await svc.post("/webhooks/alertmanager", notification(`Heavy${i}`, 1, annotations))).status).toBe(200);
    const res = await svc.get("/api/incidents?limit=6");
    const text = await res.text();
    const answer = JSON.parse(text) as { incidents: unknown[]; next?: number };
    // 300 KiB each: three fit in 1 MiB, the fourth would not.
    expect(answer.incidents).toHaveLength(3);
    expect(answer.next).toBeDefined();
    expect(text.length).toBeLessThan(PAGE.maxBytes + 64 * 1024);
  });

  it("an incident lists its first 100 firing alerts and says how many there are", async () => {
    expect((await svc.post("/webhooks/alertmanager", notification("Wide", 150))).status).toBe(200);
    const { incidents } = (await (await svc.get(`/api/incidents?limit=1`)).json()) as { incidents: { firingAlerts: unknown[]; firingAlertCount: number }[] };
    expect(incidents[0]?.firingAlerts).toHaveLength(100);
    expect(incidents[0]?.firingAlertCount).toBe(150);
  });

  it("a ticket lists its latest 100 comments and how many older ones it leaves out", async () => {
    const { id } = await svc.store.createTicket(
      { key: "ad-chatty", subject: "chatty", body: "b", priority: "P4", category: "function", dueAt: "d", labels: {}, tags: [], fields: {} },
      svc.now,
    );
    for (let n = 1; n <= LISTED_COMMENTS + 5; n++) await svc.store.updateTicket(id, { comment: `c${n}`, idempotencyKey: `chatty/${n}` }, svc.now);
    const { tickets } = (await (await svc.get("/api/tickets?limit=1")).json()) as { tickets: { comments: { body: string }[]; commentsOmitted: number }[] };
    expect(tickets[0]?.comments).toHaveLength(LISTED_COMMENTS);
    expect(tickets[0]?.comments[0]?.body).toBe("c6");
    expect(tickets[0]?.comments.at(-1)?.body).toBe(`c${LISTED_COMMENTS + 5}`);
    expect(tickets[0]?.commentsOmitted).toBe(5);
    expect(await (await svc.get("/tickets")).text()).toContain("5 older comment(s) not shown");
  });
});
