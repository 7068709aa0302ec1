import { afterEach, describe, expect, it } from "vitest";
import type { BuiltinTicket } from "../../src/model/builtin-tickets.js";
import { startTestService, type TestService } from "../kit/service.js";

/**
 * The console's helpdesk pages, through the whole service with an injected clock: an alert opens a
 * built-in ticket, the list and the ticket page show it (its hostile label as text), and an agent's
 * comment, assignment and status change through the forms reach the ticket as the JSON API shows it.
 */

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.cleanup();
  svc = undefined;
});

const HOSTILE = "<img src=x onerror=alert(1)>";
const T0 = "2026-11-25T06:00:00.000Z";

/** One Alertmanager notification of HostHighCpu on `instance`, firing. */
function cpu(instance: string): string {
  const labels = { alertname: "HostHighCpu", instance, job: "node" };
  return JSON.stringify({
    receiver: "alertdesk",
    status: "firing",
    alerts: [
      {
        status: "firing",
        labels,
        annotations: { summary: `CPU usage above 80% on ${instance}`, value: "91.5" },
        startsAt: T0,
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "http://prom/graph",
        fingerprint: `cpu-${instance.length}`,
      },
    ],
    groupLabels: { alertname: "HostHighCpu", instance },
    commonLabels: labels,
    commonAnnotations: {},
    externalURL: "http://am",
    version: "4",
    groupKey: `{}:{alertname="HostHighCpu", instance=${JSON.stringify(instance)}}`,
    truncatedAlerts: 0,
  });
}

/** A service with one ticket, opened by an alert whose instance label is hostile markup. */
async function serviceWithTicket(options: Parameters<typeof startTestService>[0] = {}): Promise<{ s: TestService; ticket: BuiltinTicket }> {
  const s = await startTestService(options);
  svc = s;
  s.now = new Date(T0);
  const headers: Record<string, string> = options.config?.webhookToken ? { authorization: `Bearer ${options.config.webhookToken}` } : {};
  expect((await s.post("/webhooks/alertmanager", cpu(HOSTILE), headers)).status).toBe(200);
  await s.sync();
  const [ticket] = await s.tickets();
  if (!ticket) throw new Error("the alert opened no ticket");
  return { s, ticket };
}

/** The value of the page's hidden `_csrf` field. */
function csrfOf(page: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!m?.[1]) throw new Error("no _csrf field on the page");
  return m[1];
}

async function getPage(s: TestService, path: string, cookie?: string): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${s.url}${path}`, { headers: cookie ? { cookie } : {}, redirect: "manual" });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function postForm(s: TestService, path: string, fields: Record<string, string>, cookie?: string): Promise<Response> {
  return fetch(`${s.url}${path}`, {
    method: "POST",
    body: new URLSearchParams(fields),
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    redirect: "manual",
  });
}

/** The ticket as `GET /api/tickets` answers it. */
async function apiTicket(s: TestService, id: number, cookie?: string): Promise<BuiltinTicket> {
  const res = await fetch(`${s.url}/api/tickets`, { headers: cookie ? { cookie } : {} });
  expect(res.status).toBe(200);
  const found = ((await res.json()) as { tickets: BuiltinTicket[] }).tickets.find((t) => t.id === id);
  if (!found) throw new Error(`no ticket ${id} in /api/tickets`);
  return found;
}

describe("the console's helpdesk pages", () => {
  it("lists the open tickets with their priority, subject link, status and due time; the hostile label is text", async () => {
    const { s, ticket } = await serviceWithTicket();
    const list = await getPage(s, "/ui/tickets");
    expect(list.status).toBe(200);
    expect(list.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(list.text).toContain("<h1>Helpdesk</h1>");
    expect(list.text).toContain("<h2>Open tickets</h2>");
    expect(list.text).toContain("<h2>Pending tickets</h2>");
    expect(list.text).toContain(`<a href="/ui/tickets/${ticket.id}">`);
    expect(list.text).toContain(`<span class="prio ${ticket.priority}">${ticket.priority}</span>`);
    expect(list.text).toMatch(/class="clock ok">\d+m left</);
    expect(list.text).not.toContain(HOSTILE);
    expect(list.text).toContain("&#60;img src=x onerror=alert(1)&#62;");
    expect(list.text).not.toMatch(/style=|<script>/);
    // The finished ones are a link away; a status that does not exist is a 400 naming the field.
    expect((await getPage(s, "/ui/tickets?status=solved")).text).toContain("No solved tickets.");
    expect((await getPage(s, "/ui/tickets?status=open")).text).toContain(`<a href="/ui/tickets/${ticket.id}">`);
    const bad = await getPage(s, "/ui/tickets?status=gone");
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("<strong>status</strong>");
  });

  it("shows one ticket with its body, comments and labelled forms; unknown ids are 404, bad ones 400", async () => {
    const { s, ticket } = await serviceWithTicket();
    const one = await getPage(s, `/ui/tickets/${ticket.id}`);
    expect(one.status).toBe(200);
    expect(one.text).toMatch(/<h1><span class="prio P\d">P\d<\/span> .*&#60;img src=x onerror=alert\(1\)&#62;/);
    expect(one.text).not.toContain(HOSTILE);
    expect(one.text).toContain("<h2>Description</h2>\n<pre>");
    expect(one.text).toContain("<h2>Comments</h2>");
    // alertdesk's own comment (the ticket's opening note, if any) shows its author; every field has its label.
    for (const id of [
      "comment-author",
      "comment-body",
      "comment-public",
      "assign-author",
      "assign-assignee",
      "status-author",
      "status-status",
      "status-resolution",
    ]) {
      expect(one.text).toContain(`<label for="${id}">`);
      expect(one.text).toContain(`id="${id}"`);
    }
    expect(one.text).toContain('name="author" autocomplete="name" required');
    expect((one.text.match(/name="_csrf"/g) ?? []).length).toBeGreaterThanOrEqual(3);
    expect((await getPage(s, "/ui/tickets/999999")).status).toBe(404);
    const bad = await getPage(s, "/ui/tickets/abc");
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("<strong>id</strong>");
  });

  it("comments, assigns and changes the status through the forms, like the agent API; bad input is a 400 naming the field", async () => {
    const { s, ticket } = await serviceWithTicket();
    const path = `/ui/tickets/${ticket.id}`;
    const token = csrfOf((await getPage(s, path)).text);
    const before = await apiTicket(s, ticket.id);

    // No token: refused before the handler, and nothing changes.
    expect((await postForm(s, `${path}/comment`, { author: "alice", body: "forged", public: "on" })).status).toBe(403);
    expect((await apiTicket(s, ticket.id)).comments).toHaveLength(before.comments.length);

    s.now = new Date(Date.parse(T0) + 5 * 60_000);
    const commented = await postForm(s, `${path}/comment`, { _csrf: token, author: "alice", body: `Looking into it ${HOSTILE}`, public: "on" });
    expect(commented.status).toBe(303);
    expect(commented.headers.get("location")).toBe(`${path}?done=commented`);
    const afterComment = await apiTicket(s, ticket.id);
    expect(afterComment.comments.at(-1)).toMatchObject({ author: "alice", public: true, body: `Looking into it ${HOSTILE}` });
    expect(afterComment.firstResponseAt).toBe(s.now.toISOString());
    const shown = await getPage(s, `${path}?done=commented`);
    expect(shown.text).toContain('<p class="notice" role="status">Comment added.</p>');
    expect(shown.text).toContain(
      '<strong>alice</strong> <span class="muted">public reply</span><pre>Looking into it &#60;img src=x onerror=alert(1)&#62;</pre>',
    );
    expect(shown.text).toContain('<span class="clock stopped">responded</span>');

    // An internal note: the checkbox left unticked.
    expect((await postForm(s, `${path}/comment`, { _csrf: token, author: "alice", body: "note to self" })).status).toBe(303);
    expect((await apiTicket(s, ticket.id)).comments.at(-1)).toMatchObject({ body: "note to self", public: false });

    // Bad input: the agent API's rules and messages, the field named, nothing changed.
    const asAlertdesk = await postForm(s, `${path}/comment`, { _csrf: token, author: "alertdesk", body: "hi", public: "on" });
    expect(asAlertdesk.status).toBe(400);
    const asAlertdeskPage = await asAlertdesk.text();
    expect(asAlertdeskPage).toContain("<strong>author</strong>: &#34;alertdesk&#34; is alertdesk&#39;s own name; agents act under theirs");
    expect(asAlertdeskPage).toContain('role="alert"');
    const empty = await postForm(s, `${path}/comment`, { _csrf: token, author: "alice", body: "   " });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain("<strong>body</strong>: must not be empty");
    const noName = await postForm(s, `${path}/update`, { _csrf: token, assignee: "bob" });
    expect(noName.status).toBe(400);
    expect(await noName.text()).toContain("<strong>author</strong>: must not be empty");
    const resolvedOpen = await postForm(s, `${path}/update`, { _csrf: token, author: "alice", status: "open", resolution: "fixed" });
    expect(resolvedOpen.status).toBe(400);
    expect(await resolvedOpen.text()).toContain("<strong>resolution</strong>: a resolution goes with status solved or closed");
    const unknownStatus = await postForm(s, `${path}/update`, { _csrf: token, author: "alice", status: "done" });
    expect(unknownStatus.status).toBe(400);
    expect(await unknownStatus.text()).toContain("<strong>status</strong>");
    expect((await apiTicket(s, ticket.id)).comments).toHaveLength(afterComment.comments.length + 1);

    // Assign, unassign, assign again.
    const assigned = await postForm(s, `${path}/update`, { _csrf: token, author: "alice", assignee: " bob " });
    expect(assigned.status).toBe(303);
    expect(assigned.headers.get("location")).toBe(`${path}?done=assigned`);
    expect((await apiTicket(s, ticket.id)).assignee).toBe("bob");
    expect((await getPage(s, `${path}?done=assigned`)).text).toContain('value="bob"');
    const unassigned = await postForm(s, `${path}/update`, { _csrf: token, author: "alice", assignee: "" });
    expect(unassigned.headers.get("location")).toBe(`${path}?done=unassigned`);
    expect((await apiTicket(s, ticket.id)).assignee).toBeNull();
    expect((await postForm(s, `${path}/update`, { _csrf: token, author: "alice", assignee: "carol" })).status).toBe(303);

    // Status: pending (no resolution), then solved as a duplicate; the list shows it under solved.
    const pending = await postForm(s, `${path}/update`, { _csrf: token, author: "alice", status: "pending", resolution: "" });
    expect(pending.status).toBe(303);
    expect(pending.headers.get("location")).toBe(`${path}?done=status`);
    expect((await apiTicket(s, ticket.id)).status).toBe("pending");
    expect((await getPage(s, "/ui/tickets")).text).toMatch(/<h2>Pending tickets<\/h2><div class="table">[\s\S]*\/ui\/tickets\/\d+/);
    expect((await postForm(s, `${path}/update`, { _csrf: token, author: "alice", status: "solved", resolution: "duplicate" })).status).toBe(303);
    expect(await apiTicket(s, ticket.id)).toMatchObject({ status: "solved", resolution: "duplicate", assignee: "carol" });
    expect((await getPage(s, "/ui/tickets?status=solved")).text).toContain(`<a href="/ui/tickets/${ticket.id}">`);
    await s.sync();

    // Closed is final: the page offers only the comment form, and a change anyway is a 409.
    expect((await postForm(s, `${path}/update`, { _csrf: token, author: "alice", status: "closed" })).status).toBe(303);
    const closedPage = (await getPage(s, path)).text;
    expect(closedPage).toContain("a closed ticket is final");
    expect(closedPage).not.toContain('id="status-status"');
    const refused = await postForm(s, `${path}/update`, { _csrf: token, author: "alice", assignee: "dave" });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("the ticket is closed: a closed ticket is final");
    expect((await apiTicket(s, ticket.id)).assignee).toBe("carol");
    expect((await postForm(s, `${path}/comment`, { _csrf: token, author: "alice", body: "post-mortem written" })).status).toBe(303);
    expect((await postForm(s, "/ui/tickets/999999/comment", { _csrf: token, author: "alice", body: "hi" })).status).toBe(404);
  });

  it("acts as the logged-in user, without an author field", async () => {
    const adminToken = "console-test-admin-token-0123456789";
    const { s, ticket } = await serviceWithTicket({ config: { adminToken } });
    // Logging in: the login form's token, then the session cookie.
    const login = await getPage(s, "/ui/login");
    const loggedIn = await postForm(s, "/ui/login", { _csrf: csrfOf(login.text), user: "admin", password: adminToken, next: `/ui/tickets/${ticket.id}` });
    expect(loggedIn.status).toBe(303);
    const cookie = (loggedIn.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    expect(cookie).toMatch(/^alertdesk_session=/);
    expect((await getPage(s, `/ui/tickets/${ticket.id}`)).status).toBe(303);

    const one = await getPage(s, `/ui/tickets/${ticket.id}`, cookie);
    expect(one.status).toBe(200);
    expect(one.text).not.toContain('name="author"');
    const token = csrfOf(one.text);
    // Without the session cookie the token is no good: the guard refuses first.
    expect((await postForm(s, `/ui/tickets/${ticket.id}/comment`, { _csrf: token, body: "hi" })).status).toBe(401);
    // With the cookie but without the token: the CSRF check refuses.
    expect((await postForm(s, `/ui/tickets/${ticket.id}/comment`, { body: "hi" }, cookie)).status).toBe(403);
    // A name in the form is not who acts: the session's user is.
    const commented = await postForm(s, `/ui/tickets/${ticket.id}/comment`, { _csrf: token, body: "On it.", public: "on", author: "mallory" }, cookie);
    expect(commented.status).toBe(303);
    expect((await postForm(s, `/ui/tickets/${ticket.id}/update`, { _csrf: token, assignee: "admin" }, cookie)).status).toBe(303);
    const seen = await apiTicket(s, ticket.id, cookie);
    expect(seen.comments.at(-1)).toMatchObject({ author: "admin", body: "On it.", public: true });
    expect(seen.assignee).toBe("admin");
  });
});
