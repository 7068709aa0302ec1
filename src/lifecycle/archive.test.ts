import { describe, expect, it } from "vitest";
import { UNKNOWN_HELPDESK_STATE } from "../model/helpdesk-event.js";
import type { Incident } from "../model/incident.js";
import { ARCHIVE_GRACE_MS, archiveScheduled, isOver } from "./archive.js";
import { scheduled } from "./escalation.js";

const T0 = Date.parse("2026-12-01T10:00:00Z");
const iso = (min: number) => new Date(T0 + min * 60_000).toISOString();
const at = (min: number) => new Date(T0 + min * 60_000);

/** A P2 incident whose alerts resolved at minute 40 and whose ticket alertdesk solved then (on_resolved: solve). */
function resolved(o: Partial<Incident> = {}): Incident {
  return {
    id: 1,
    dedupKey: "k",
    seq: 1,
    ticketKey: "ad-k-1",
    state: "resolved",
    priority: "P2",
    category: "performance",
    rule: null,
    helpdesk: "builtin",
    onResolved: "solve",
    reopenWithinMs: 86_400_000,
    source: "alertmanager",
    receiver: "r",
    groupLabels: {},
    externalURL: "",
    truncatedAlerts: 0,
    alerts: [],
    openedAt: iso(0),
    updatedAt: iso(40),
    resolvedAt: iso(40),
    dueAt: iso(30),
    recurrences: 0,
    ...o,
  };
}
const helpdesk = (status: "active" | "solved" | "closed" | "pending", resolution: "fixed" | "wont_fix" | null = null) => ({
  ...UNKNOWN_HELPDESK_STATE,
  status,
  resolution,
});

describe("isOver", () => {
  const cases: [string, Partial<Incident>, boolean][] = [
    ["alertdesk solved it (on_resolved: solve), nothing known of the helpdesk", {}, true],
    ["still firing", { state: "firing" }, false],
    ["resolved, but on_resolved: comment leaves the ticket to an agent", { onResolved: "comment" }, false],
    ["on_resolved: comment, and an agent solved it", { onResolved: "comment", helpdeskState: helpdesk("solved", "fixed") }, true],
    ["on_resolved: none, and an agent closed it", { onResolved: "none", helpdeskState: helpdesk("closed") }, true],
    ["a verification of an agent's solve is pending", { helpdeskState: helpdesk("solved"), verifyAt: iso(45) }, false],
    ["kept open because it flaps", { keptOpen: true }, false],
    ["never had a ticket (resolved before open_after)", { cancelled: true }, false],
    ["its open is still deferred", { deferredUntil: iso(50) }, false],
    ["an agent took the ticket back after alertdesk solved it", { helpdeskState: helpdesk("active"), helpdeskVersions: { status_changed: iso(41) } }, false],
    ["an agent had the ticket active before alertdesk solved it", { helpdeskState: helpdesk("active"), helpdeskVersions: { status_changed: iso(10) } }, true],
    ["an agent solved it as won't fix", { onResolved: "none", helpdeskState: helpdesk("solved", "wont_fix") }, true],
  ];
  it.each(cases)("%s → %s", (_name, o, over) => {
    expect(isOver(resolved(o))).toBe(over);
  });
});

describe("archiveScheduled", () => {
  it("sets the archive time a grace period after the end, and keeps it on later writes", () => {
    const first = archiveScheduled(resolved(), at(40));
    expect(first.archiveAt).toBe(new Date(T0 + 40 * 60_000 + ARCHIVE_GRACE_MS).toISOString());
    expect(archiveScheduled(first, at(41)).archiveAt).toBe(first.archiveAt);
  });

  it("sets nothing while the incident is not over, and clears an archive that no longer stands", () => {
    expect(archiveScheduled(resolved({ state: "firing" }), at(40)).archiveAt).toBeUndefined();
    const reopened = archiveScheduled(resolved({ state: "firing", archivedAt: iso(45), archiveAt: iso(42) }), at(50));
    expect(reopened.archivedAt).toBeUndefined();
    expect(reopened.archiveAt).toBeUndefined();
  });

  it("an archived incident that is still over is not due again", () => {
    const done = archiveScheduled(resolved({ archivedAt: iso(43) }), at(60));
    expect(done.archivedAt).toBe(iso(43));
    expect(done.archiveAt).toBeUndefined();
  });

  it("rides along with every write through scheduled()", () => {
    expect(scheduled(resolved(), at(40)).archiveAt).toBeDefined();
    expect(scheduled(resolved({ state: "firing", alerts: [] }), at(40)).archiveAt).toBeUndefined();
  });
});
