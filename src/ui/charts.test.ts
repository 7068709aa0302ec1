import { describe, expect, it } from "vitest";
import { barChart, dataTable, groupedBars, horizontalBars, lineChart, niceTicks, PRIORITY_FILL } from "./charts.js";
import type { SafeHtml } from "./html.js";

const HOSTILE = `<img src=x onerror=alert(1)>`;

/** The attributes of an element's opening tag, by name. */
function attrs(tag: string): Record<string, string> {
  return Object.fromEntries([...tag.matchAll(/([a-z-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

/** The data bars: rects with a tooltip (the plot background and legend swatches have none). */
function bars(svg: SafeHtml): Record<string, string>[] {
  return [...svg.value.matchAll(/<rect ([^>]*)><title>/g)].map((m) => attrs(m[1] ?? ""));
}

function plotArea(svg: SafeHtml): { x: number; y: number; width: number; height: number } {
  const tag = /<rect data-plot="" ([^>]*)\/>/.exec(svg.value)?.[1];
  if (!tag) throw new Error("no plot area");
  const a = attrs(tag);
  return { x: Number(a.x), y: Number(a.y), width: Number(a.width), height: Number(a.height) };
}

function expectAccessible(svg: SafeHtml, title: string) {
  const open = /^<svg ([^>]*)>/.exec(svg.value)?.[1] ?? "";
  const a = attrs(open);
  expect(a.class).toBe("chart");
  expect(a.role).toBe("img");
  const [titleId, descId] = (a["aria-labelledby"] ?? "").split(" ");
  expect(svg.value).toContain(`<title id="${titleId}">${title}</title>`);
  expect(svg.value).toMatch(new RegExp(`<desc id="${descId}">[^<]+</desc>`));
  expect(svg.value).not.toContain("style=");
}

describe("barChart", () => {
  it("draws bars proportional to their values, on a named, described SVG", () => {
    const svg = barChart({ title: "Per day", categories: ["a", "b", "c"], series: [{ name: "n", fill: "#123456", values: [1, 2, 4] }] });
    expectAccessible(svg, "Per day");
    const heights = bars(svg).map((b) => Number(b.height));
    expect(heights).toHaveLength(3);
    expect((heights[1] ?? 0) / (heights[0] ?? 1)).toBeCloseTo(2, 1);
    expect((heights[2] ?? 0) / (heights[0] ?? 1)).toBeCloseTo(4, 1);
    expect(bars(svg).every((b) => b.fill === "#123456")).toBe(true);
    expect(svg.value).toContain("the highest is c with 4");
  });

  it("stacks series: each day's bars add up to its total, coloured by priority, with a legend", () => {
    const svg = barChart({
      title: "By priority",
      categories: ["d1", "d2"],
      series: [
        { name: "P1", fill: PRIORITY_FILL.P1, values: [1, 3] },
        { name: "P2", fill: PRIORITY_FILL.P2, values: [1, 0] },
      ],
    });
    const drawn = bars(svg);
    expect(drawn.map((b) => b.fill)).toEqual(["#b00020", "#c45a00", "#b00020"]);
    const [d1p1, d1p2, d2p1] = drawn.map((b) => Number(b.height));
    expect(((d1p1 ?? 0) + (d1p2 ?? 0)) / (d2p1 ?? 1)).toBeCloseTo(2 / 3, 1);
    // The P2 bar sits on top of the P1 bar of the same day.
    expect(Number(drawn[1]?.y) + Number(drawn[1]?.height)).toBeCloseTo(Number(drawn[0]?.y), 0);
    expect(svg.value).toMatch(/<text [^>]*>P2<\/text>/);
    expect(svg.value).toContain("(P1 4, P2 1)");
  });

  it("escapes markup in categories, series names and the title", () => {
    const svg = barChart({
      title: `t ${HOSTILE}`,
      categories: [HOSTILE],
      series: [
        { name: HOSTILE, fill: "#000", values: [2] },
        { name: "x", fill: "#111", values: [1] },
      ],
    });
    expect(svg.value).not.toContain("<img");
    expect(svg.value).toContain("&#60;img src=x onerror=alert(1)&#62;");
  });

  it.each([
    ["no categories", [], []],
    ["only zeros", ["a", "b"], [0, 0]],
  ])("%s: a clear no-data text instead of bars", (_why, categories, values) => {
    const svg = barChart({ title: "Empty", categories, series: [{ name: "n", fill: "#000", values }], empty: "No incidents in the period" });
    expectAccessible(svg, "Empty");
    expect(bars(svg)).toEqual([]);
    expect(svg.value).toMatch(/<text [^>]*>No incidents in the period<\/text>/);
    expect(svg.value).toContain("<desc");
  });
});

describe("horizontalBars", () => {
  it("draws bar lengths proportional to the values and writes each bar's text", () => {
    const svg = horizontalBars({
      title: "Noisy",
      bars: [
        { label: "A", value: 6, text: "6 incidents" },
        { label: HOSTILE, value: 3 },
      ],
      xLabel: "incidents",
    });
    expectAccessible(svg, "Noisy");
    const widths = bars(svg).map((b) => Number(b.width));
    expect((widths[0] ?? 0) / (widths[1] ?? 1)).toBeCloseTo(2, 1);
    expect(svg.value).toContain(">6 incidents</text>");
    expect(svg.value).not.toContain("<img");
    expect(svg.value).toContain("&#60;img");
  });

  it("with a fixed scale (percent), a value's length is its share of it; none: no data", () => {
    const svg = horizontalBars({ title: "Share", bars: [{ label: "P1", value: 50 }], max: 100 });
    const area = plotArea(svg);
    expect(Number(bars(svg)[0]?.width) / area.width).toBeCloseTo(0.5, 2);
    expect(horizontalBars({ title: "None", bars: [] }).value).toContain(">No data</text>");
  });
});

describe("groupedBars", () => {
  it("draws each group's bars, a target marker line per group, and cuts a bar over the scale with ↑", () => {
    const svg = groupedBars({
      title: "Response",
      series: [{ name: "median" }, { name: "p90" }],
      groups: [
        { label: "P1", fill: PRIORITY_FILL.P1, values: [50, 1000], texts: ["5m", "2h"], marker: 100, markerText: "10m" },
        { label: "P2", fill: PRIORITY_FILL.P2, values: [null, null], marker: 100 },
      ],
      markerName: "response target",
      yMax: 400,
    });
    expectAccessible(svg, "Response");
    expect(bars(svg).map((b) => [b.fill, b["fill-opacity"]])).toEqual([
      ["#b00020", "0.5"],
      ["#b00020", "1"],
    ]);
    expect(svg.value.match(/<line [^>]*stroke-dasharray="4 3"><title>/g)).toHaveLength(2);
    expect(svg.value).toContain(">2h ↑</text>");
    expect(svg.value).toContain("P1: median 5m, p90 2h, response target 10m; P2: median none, p90 none");
  });

  it("no values at all: no data", () => {
    const svg = groupedBars({ title: "x", series: [{ name: "median" }], groups: [{ label: "P1", fill: "#000", values: [null] }], empty: "No first responses" });
    expect(svg.value).toContain(">No first responses</text>");
  });
});

describe("lineChart", () => {
  const T = Date.parse("2026-11-25T06:00:00Z");

  it.each([
    ["one series", [{ name: "cpu", points: [0, 5, 10, 30].map((m, k) => ({ t: T + m * 60_000, v: 80 + k * 5 })) }]],
    [
      "two series, one of a single point, one constant",
      [
        { name: "a", points: [{ t: T, v: 3 }] },
        {
          name: "b",
          points: [
            { t: T - 3_600_000, v: 7 },
            { t: T + 3_600_000, v: 7 },
          ],
        },
      ],
    ],
    ["negative values over days", [{ name: "temp", points: [0, 1, 2, 3].map((d) => ({ t: T + d * 86_400_000, v: -10 + d * 7.5 })) }]],
  ])("%s: every point inside the plot area", (_why, series) => {
    const svg = lineChart({ series, title: "Values", yLabel: "value" });
    expectAccessible(svg, "Values");
    const area = plotArea(svg);
    const inside = (x: number, y: number) => x >= area.x - 0.1 && x <= area.x + area.width + 0.1 && y >= area.y - 0.1 && y <= area.y + area.height + 0.1;
    const circles = [...svg.value.matchAll(/<circle ([^>]*)>/g)].map((m) => attrs(m[1] ?? ""));
    expect(circles).toHaveLength(series.reduce((n, s) => n + s.points.length, 0));
    for (const c of circles) expect(inside(Number(c.cx), Number(c.cy))).toBe(true);
    for (const m of svg.value.matchAll(/<polyline points="([^"]*)"/g)) {
      for (const pair of (m[1] ?? "").split(" ")) {
        const [x, y] = pair.split(",").map(Number);
        expect(inside(x ?? Number.NaN, y ?? Number.NaN)).toBe(true);
      }
    }
    expect(svg.value).toContain("time (UTC)");
  });

  it("later points are further right, higher values higher up", () => {
    const svg = lineChart({
      series: [
        {
          name: "v",
          points: [
            { t: T + 60_000, v: 2 },
            { t: T, v: 1 },
          ],
        },
      ],
      title: "Order",
    });
    const [first, second] = [...svg.value.matchAll(/<circle ([^>]*)>/g)].map((m) => attrs(m[1] ?? ""));
    expect(Number(second?.cx)).toBeGreaterThan(Number(first?.cx));
    expect(Number(second?.cy)).toBeLessThan(Number(first?.cy));
  });

  it("escapes series names and says so in words; no points: no data", () => {
    const svg = lineChart({
      series: [
        { name: HOSTILE, points: [{ t: T, v: 1 }] },
        { name: "b", points: [{ t: T, v: 2 }] },
      ],
      title: HOSTILE,
    });
    expect(svg.value).not.toContain("<img");
    expect(svg.value).toContain("&#60;img src=x onerror=alert(1)&#62;: 1 point, from 1 to 1, the last 1");
    const empty = lineChart({ series: [{ name: "a", points: [] }], title: "Nothing" });
    expectAccessible(empty, "Nothing");
    expect(empty.value).toContain(">No data</text>");
    expect(empty.value).not.toContain("<circle");
  });
});

describe("niceTicks and dataTable", () => {
  it.each([
    [0, 4, 5, true, [0, 1, 2, 3, 4]],
    [0, 7, 5, true, [0, 2, 4, 6, 8]],
    [0, 100, 5, false, [0, 20, 40, 60, 80, 100]],
    [0, 0.3, 5, false, [0, 0.1, 0.2, 0.3]],
    [80, 95, 5, false, [80, 85, 90, 95]],
    [80, 92, 5, false, [80, 82.5, 85, 87.5, 90, 92.5]],
  ])("niceTicks(%d, %d) → round steps", (lo, hi, count, integer, ticks) => {
    expect(niceTicks(lo, hi, count, integer)).toEqual(ticks);
  });

  it("a table heads each row with its first cell and escapes the cells", () => {
    const t = dataTable("Caption", ["Name", "Count"], [[HOSTILE, 3]]).value;
    expect(t).toContain('<th scope="col">Name</th>');
    expect(t).toContain('<th scope="row">&#60;img src=x onerror=alert(1)&#62;</th><td>3</td>');
  });
});
