import { describe, expect, it } from "vitest";
import { knowledgeLabel, labelOverlap, rankSimilar, type SimilarCandidate, searchTerms } from "./archive.js";

let n = 0;
function candidate(o: Partial<SimilarCandidate>): SimilarCandidate {
  n++;
  return {
    entryId: n,
    incidentId: 100 + n,
    alertname: "HostHighCpu",
    labels: { alertname: "HostHighCpu" },
    hasResolution: false,
    createdAt: "2026-11-01T00:00:00.000Z",
    ...o,
  };
}

describe("labelOverlap", () => {
  it.each([
    [{ a: "1", b: "2" }, { a: "1", b: "2" }, 1],
    [{ a: "1", b: "2" }, { a: "1", c: "3" }, 1 / 3],
    [{ a: "1" }, { a: "2" }, 0],
    [{}, {}, 0],
    [{ a: "x".repeat(201) }, { a: "x".repeat(201) }, 0],
  ] as const)("%j vs %j → %d", (a, b, expected) => {
    expect(labelOverlap(a, b)).toBeCloseTo(expected, 6);
  });
});

describe("rankSimilar", () => {
  const query = { alertname: "HostHighCpu", labels: { alertname: "HostHighCpu", instance: "db-1", job: "node" }, limit: 3 };

  it("same alertname first, then label overlap, then a written resolution, then recency", () => {
    const otherName = candidate({ alertname: "HostDiskFull", labels: { alertname: "HostDiskFull", instance: "db-1", job: "node" } });
    const sameNameFar = candidate({ labels: { alertname: "HostHighCpu", instance: "web-9" } });
    const sameNameNear = candidate({ labels: { alertname: "HostHighCpu", instance: "db-1", job: "node" } });
    const sameNameNearNotes = candidate({ labels: { alertname: "HostHighCpu", instance: "db-1", job: "node" }, hasResolution: true });
    const newer = candidate({ labels: { alertname: "HostHighCpu", instance: "web-9" }, createdAt: "2026-11-20T00:00:00.000Z" });
    const ranked = rankSimilar({ ...query, limit: 10 }, [otherName, sameNameFar, sameNameNear, sameNameNearNotes, newer]);
    expect(ranked.map((r) => r.entryId)).toEqual([sameNameNearNotes.entryId, sameNameNear.entryId, newer.entryId, sameNameFar.entryId, otherName.entryId]);
    expect(ranked[0]).toMatchObject({ sameAlertname: true, overlap: 1 });
  });

  it("leaves out what shares nothing, the incident itself and repeats; at most `limit`", () => {
    const nothing = candidate({ alertname: "Other", labels: { alertname: "Other", instance: "x" } });
    const itself = candidate({ incidentId: 7 });
    const a = candidate({});
    const ranked = rankSimilar({ ...query, excludeIncidentId: 7, limit: 3 }, [nothing, itself, a, a]);
    expect(ranked.map((r) => r.entryId)).toEqual([a.entryId]);
    const many = Array.from({ length: 6 }, () => candidate({}));
    expect(rankSimilar(query, many)).toHaveLength(3);
  });

  it("an incident with several alertnames ranks by labels alone", () => {
    const c = candidate({ labels: { alertname: "HostHighCpu", instance: "db-1" } });
    const ranked = rankSimilar({ alertname: null, labels: { instance: "db-1" }, limit: 3 }, [c]);
    expect(ranked[0]).toMatchObject({ sameAlertname: false });
    expect(ranked[0]?.overlap).toBeGreaterThan(0);
  });
});

describe("searchTerms and knowledgeLabel", () => {
  it.each([
    ["disk full", ["disk", "full"]],
    ['"disk" OR full*', ["disk", "or", "full"]],
    ["NEAR(a b) -- ; DROP", ["near", "a", "b", "drop"]],
    ["Überlauf 100%", ["überlauf", "100"]],
    ["  ", []],
  ])("searchTerms(%j) → %j", (text, terms) => {
    expect(searchTerms(text)).toEqual(terms);
  });

  it.each([
    ["alertname-HostHighCpu", "alertname-hosthighcpu"],
    ["service-check out/api", "service-check-out-api"],
    ["outcome-won't fix", "outcome-won-t-fix"],
    ["<img src=x>", "img-src-x"],
  ])("knowledgeLabel(%j) → %j", (keyword, label) => {
    expect(knowledgeLabel(keyword)).toBe(label);
  });
});
