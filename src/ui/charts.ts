import type { Priority } from "../model/priority.js";
import { type HtmlValue, html, type SafeHtml } from "./html.js";

/**
 * Small SVG charts, server-rendered and dependency-free. Every text in them (labels, names, values,
 * the `<title>` and `<desc>`) goes through the `html` template, so an alert label with markup in it
 * stays text. Colours are presentation attributes (`fill=`, `stroke=`), never `style=`: the console's
 * CSP allows no inline styles. Each chart is an `<svg role="img">` named by its `<title>` and
 * described in words by its `<desc>`, for screen readers; `dataTable` gives the same figures as a
 * table beside it.
 */

/** The priority colours of console.css (--p1…--p4). */
export const PRIORITY_FILL: Record<Priority, string> = { P1: "#b00020", P2: "#c45a00", P3: "#8a6d00", P4: "#4d5660" };

/** Colours for series that are not priorities (a line chart's), in order: distinct, dark enough on white. */
export const SERIES_FILL = ["#0b57a4", "#b00020", "#1b7a3a", "#6a3d9a", "#c45a00", "#4d5660"] as const;

const AXIS = "#9aa4ae";
const GRID = "#e6e9ec";
const INK = "#1d232a";
const PLOT_BACKGROUND = "#fbfcfd";
const DEFAULT_WIDTH = 760;
/** Roughly how wide one character of the 11 px chart text is, to lay out legends and labels. */
const CHAR_PX = 6.5;

/** Where the plot is inside the SVG (the axes' corner is left, top + height). */
interface Plot {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** One decimal is all an SVG coordinate needs; it keeps the markup small. */
function px(n: number): number {
  return Math.round(n * 10) / 10;
}

const numberFormat = new Intl.NumberFormat("en", { maximumFractionDigits: 2 });

/** `1,234.5`: how a value reads in the charts' texts unless a chart is given its own format. */
export function formatNumber(v: number): string {
  return numberFormat.format(v);
}

/** At most `max` characters (code points), `…` when cut: long label values must not run over the plot. */
function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

function finite(v: number | null | undefined): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** An id for the title and desc, stable for the same chart: the title's letters and a short hash of title and desc. */
function chartId(explicit: string | undefined, title: string, desc: string): string {
  if (explicit) return explicit.replace(/[^A-Za-z0-9_-]/g, "-");
  let hash = 0x811c9dc5;
  for (const ch of `${title}\u0000${desc}`) {
    hash ^= ch.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  const slug = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 32);
  return `chart-${slug || "x"}-${hash.toString(36)}`;
}

/**
 * Round tick values from `lo` to at least `hi`, about `count` of them, on steps of 1, 2, 2.5 or 5
 * times a power of ten (whole steps only when `integer`, for counts).
 */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  const top = hi > lo ? hi : lo + 1;
  const raw = (top - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  if (integer) step = Math.max(1, Math.ceil(step));
  const first = Math.floor(lo / step);
  const last = Math.ceil(top / step);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

/** The chart's element: its accessible name and description first, then what it draws. */
function frame(id: string, width: number, height: number, title: string, desc: string, body: HtmlValue): SafeHtml {
  return html`<svg class="chart" role="img" aria-labelledby="${id}-title ${id}-desc" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><title id="${id}-title">${title}</title><desc id="${id}-desc">${desc}</desc>${body}</svg>`;
}

/** What an empty chart shows instead of axes: a sentence, in the middle. */
function noData(width: number, height: number, text: string): SafeHtml {
  return html`<rect x="0" y="0" width="${width}" height="${height}" fill="${PLOT_BACKGROUND}"/><text x="${px(width / 2)}" y="${px(height / 2)}" text-anchor="middle" fill="${INK}">${text}</text>`;
}

interface LegendItem {
  name: string;
  fill: string;
  opacity?: number;
  /** A line swatch (a marker or a line series) instead of a square. */
  line?: boolean;
  dashed?: boolean;
}

/** One row of swatches and names above the plot, left to right from `x`. */
function legend(items: readonly LegendItem[], x: number, y: number): SafeHtml {
  let at = x;
  const parts = items.map((item) => {
    const name = clip(item.name, 32);
    const swatch = item.line
      ? html`<line x1="${px(at)}" y1="${px(y - 4)}" x2="${px(at + 14)}" y2="${px(y - 4)}" stroke="${item.fill}" stroke-width="2.5"${item.dashed ? html` stroke-dasharray="4 3"` : ""}/>`
      : html`<rect x="${px(at)}" y="${px(y - 10)}" width="11" height="11" fill="${item.fill}"${item.opacity !== undefined ? html` fill-opacity="${item.opacity}"` : ""}/>`;
    const text = html`<text x="${px(at + 18)}" y="${px(y)}">${name}${name !== item.name ? html`<title>${item.name}</title>` : ""}</text>`;
    at += 18 + Array.from(name).length * CHAR_PX + 16;
    return html`${swatch}${text}`;
  });
  return html`<g>${parts}</g>`;
}

/** Horizontal grid lines and their values along the left axis, the axes, and the axis labels. */
function yAxis(plot: Plot, ticks: readonly number[], y: (v: number) => number, format: (v: number) => string): SafeHtml {
  const lines = ticks.map(
    (t) =>
      html`<line x1="${plot.left}" y1="${px(y(t))}" x2="${plot.left + plot.width}" y2="${px(y(t))}" stroke="${GRID}"/><text x="${plot.left - 6}" y="${px(y(t) + 4)}" text-anchor="end">${format(t)}</text>`,
  );
  return html`<g>${lines}</g>`;
}

function axes(plot: Plot): SafeHtml {
  const bottom = plot.top + plot.height;
  return html`<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${bottom}" stroke="${AXIS}"/><line x1="${plot.left}" y1="${bottom}" x2="${plot.left + plot.width}" y2="${bottom}" stroke="${AXIS}"/>`;
}

/** The y axis's label above its top end, the x axis's below the plot, in the middle. */
function axisLabels(plot: Plot, totalHeight: number, xLabel: string | undefined, yLabel: string | undefined): SafeHtml {
  return html`${yLabel ? html`<text x="4" y="${plot.top - 10}">${yLabel}</text>` : ""}${
    xLabel ? html`<text x="${px(plot.left + plot.width / 2)}" y="${totalHeight - 6}" text-anchor="middle">${xLabel}</text>` : ""
  }`;
}

/** The background of the plot area, marked so tests (and nothing else) can find where the plot is. */
function plotArea(plot: Plot): SafeHtml {
  return html`<rect data-plot="" x="${plot.left}" y="${plot.top}" width="${plot.width}" height="${plot.height}" fill="${PLOT_BACKGROUND}"/>`;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

// ─── Vertical bars ────────────────────────────────────────────────────────────────────────────────

export interface BarSeries {
  name: string;
  fill: string;
  /** One value per category; negative and missing ones count as 0 (bars are counts). */
  values: readonly number[];
}

export interface BarChartOptions {
  title: string;
  /** The words for screen readers; by default a summary of the data (totals, the highest bar). */
  desc?: string;
  /** The bars' names along the x axis, in order (e.g. days). */
  categories: readonly string[];
  /** One series: plain bars. Several: stacked (or side by side with `stacked: false`), with a legend. */
  series: readonly BarSeries[];
  stacked?: boolean;
  xLabel?: string;
  yLabel?: string;
  format?: (v: number) => string;
  /** What the chart says when there is nothing to draw (no categories, or every value 0). */
  empty?: string;
  width?: number;
  height?: number;
  id?: string;
}

function describeBars(o: BarChartOptions, totals: readonly number[], format: (v: number) => string): string {
  const n = o.categories.length;
  const what = o.yLabel ?? "values";
  const per = o.xLabel ? ` per ${o.xLabel}` : "";
  const all = sum(totals);
  let top = 0;
  totals.forEach((t, i) => {
    if (t > (totals[top] ?? 0)) top = i;
  });
  const bySeries = o.series.length > 1 ? ` (${o.series.map((s) => `${s.name} ${format(sum(s.values.map((v) => Math.max(0, finite(v)))))}`).join(", ")})` : "";
  const span = n > 1 ? `, from ${o.categories[0]} to ${o.categories[n - 1]}` : "";
  return `Bar chart of ${what}${per}: ${n} bar${n === 1 ? "" : "s"}${span}; ${format(all)} in all${bySeries}; the highest is ${o.categories[top]} with ${format(totals[top] ?? 0)}.`;
}

/** Vertical bars, one per category; several series are stacked (incidents per day by priority). */
export function barChart(o: BarChartOptions): SafeHtml {
  const width = o.width ?? DEFAULT_WIDTH;
  const height = o.height ?? 260;
  const format = o.format ?? formatNumber;
  const stacked = o.stacked ?? true;
  const value = (s: BarSeries, i: number) => Math.max(0, finite(s.values[i]));
  const totals = o.categories.map((_, i) => sum(o.series.map((s) => value(s, i))));
  const max = stacked ? Math.max(0, ...totals) : Math.max(0, ...o.series.flatMap((s) => o.categories.map((_, i) => value(s, i))));
  const isEmpty = o.categories.length === 0 || o.series.length === 0 || max <= 0;
  const emptyText = o.empty ?? "No data";
  const desc = o.desc ?? (isEmpty ? `${emptyText}.` : describeBars(o, totals, format));
  const id = chartId(o.id, o.title, desc);
  if (isEmpty) return frame(id, width, height, o.title, desc, noData(width, height, emptyText));

  const withLegend = o.series.length > 1;
  const plot: Plot = { left: 48, top: withLegend ? 44 : 26, width: width - 48 - 12, height: 0 };
  plot.height = height - plot.top - (o.xLabel ? 40 : 24);
  const integer = o.series.every((s) => s.values.every((v) => Number.isInteger(finite(v))));
  const ticks = niceTicks(0, max, 5, integer);
  const yTop = ticks[ticks.length - 1] ?? max;
  const y = (v: number) => plot.top + plot.height - (v / yTop) * plot.height;
  const slot = plot.width / o.categories.length;
  const barWidth = Math.max(1, slot * 0.72);
  const each = stacked ? barWidth : barWidth / o.series.length;

  const bars = o.categories.map((category, i) => {
    const x0 = plot.left + i * slot + (slot - barWidth) / 2;
    let base = 0;
    return o.series.map((s, k) => {
      const v = value(s, i);
      if (v <= 0) return "";
      const from = stacked ? base : 0;
      base += v;
      const x = stacked ? x0 : x0 + k * each;
      const h = (v / yTop) * plot.height;
      const label = o.series.length > 1 ? `${category}, ${s.name}: ${format(v)}` : `${category}: ${format(v)}`;
      return html`<rect x="${px(x)}" y="${px(y(from + v))}" width="${px(each)}" height="${px(h)}" fill="${s.fill}"><title>${label}</title></rect>`;
    });
  });
  // As many category names as fit, evenly spread (every n-th day of thirty).
  const fit = Math.max(1, Math.floor(plot.width / (Math.max(...o.categories.map((c) => Math.min(Array.from(c).length, 14))) * CHAR_PX + 10)));
  const every = Math.ceil(o.categories.length / fit);
  const xLabels = o.categories.map((category, i) =>
    i % every === 0
      ? html`<text x="${px(plot.left + i * slot + slot / 2)}" y="${plot.top + plot.height + 15}" text-anchor="middle">${clip(category, 14)}</text>`
      : "",
  );
  const body = html`${plotArea(plot)}${yAxis(plot, ticks, y, format)}${bars}${axes(plot)}<g>${xLabels}</g>${axisLabels(plot, height, o.xLabel, o.yLabel)}${
    withLegend ? legend(o.series, plot.left, 14) : ""
  }`;
  return frame(id, width, height, o.title, desc, body);
}

// ─── Horizontal bars ──────────────────────────────────────────────────────────────────────────────

export interface HorizontalBar {
  label: string;
  value: number;
  /** What is written after the bar; by default the value. */
  text?: string;
  fill?: string;
}

export interface HorizontalBarsOptions {
  title: string;
  desc?: string;
  /** In the order to draw them, top to bottom. */
  bars: readonly HorizontalBar[];
  xLabel?: string;
  /** The end of the scale (100 for percentages); by default a round number at or above the largest value. */
  max?: number;
  format?: (v: number) => string;
  empty?: string;
  width?: number;
  id?: string;
}

/** Horizontal bars, one per label, largest scale to the right (the noisiest alerts). */
export function horizontalBars(o: HorizontalBarsOptions): SafeHtml {
  const width = o.width ?? DEFAULT_WIDTH;
  const format = o.format ?? formatNumber;
  const values = o.bars.map((b) => Math.max(0, finite(b.value)));
  const largest = Math.max(0, ...values);
  const isEmpty = o.bars.length === 0 || (largest <= 0 && o.max === undefined);
  const emptyText = o.empty ?? "No data";
  const desc =
    o.desc ??
    (isEmpty
      ? `${emptyText}.`
      : `Horizontal bar chart${o.xLabel ? ` of ${o.xLabel}` : ""}: ${o.bars.map((b, i) => `${b.label} ${b.text ?? format(values[i] ?? 0)}`).join("; ")}.`);
  const rowHeight = 24;
  const height = isEmpty ? 120 : 20 + o.bars.length * rowHeight + (o.xLabel ? 44 : 28);
  const id = chartId(o.id, o.title, desc);
  if (isEmpty) return frame(id, width, height, o.title, desc, noData(width, height, emptyText));

  const labelWidth = 200;
  const plot: Plot = { left: labelWidth, top: 14, width: width - labelWidth - 180, height: o.bars.length * rowHeight };
  const integer = values.every((v) => Number.isInteger(v));
  const ticks = o.max !== undefined ? niceTicks(0, o.max, 4, integer).filter((t) => t <= (o.max ?? 0)) : niceTicks(0, largest, 4, integer);
  const end = o.max ?? ticks[ticks.length - 1] ?? largest;
  const x = (v: number) => plot.left + (Math.min(v, end) / end) * plot.width;
  const rows = o.bars.map((b, i) => {
    const v = values[i] ?? 0;
    const top = plot.top + i * rowHeight;
    const label = clip(b.label, 30);
    const text = b.text ?? format(v);
    return html`<text x="${labelWidth - 8}" y="${top + 16}" text-anchor="end">${label}<title>${b.label}</title></text><rect x="${plot.left}" y="${top + 4}" width="${px(x(v) - plot.left)}" height="${rowHeight - 8}" fill="${b.fill ?? SERIES_FILL[0]}"><title>${b.label}: ${text}</title></rect><text x="${px(x(v) + 6)}" y="${top + 16}">${text}</text>`;
  });
  const bottom = plot.top + plot.height;
  const grid = ticks.map(
    (t) =>
      html`<line x1="${px(x(t))}" y1="${plot.top}" x2="${px(x(t))}" y2="${bottom}" stroke="${GRID}"/><text x="${px(x(t))}" y="${bottom + 15}" text-anchor="middle">${format(t)}</text>`,
  );
  const body = html`${plotArea(plot)}<g>${grid}</g><g>${rows}</g><line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${bottom}" stroke="${AXIS}"/>${
    o.xLabel ? html`<text x="${px(plot.left + plot.width / 2)}" y="${height - 6}" text-anchor="middle">${o.xLabel}</text>` : ""
  }`;
  return frame(id, width, height, o.title, desc, body);
}

// ─── Grouped bars with a target marker ────────────────────────────────────────────────────────────

export interface BarGroup {
  label: string;
  fill: string;
  /** One per series; null: no value (nothing to measure), drawn as a dash. */
  values: readonly (number | null)[];
  /** What is written above each bar; by default its value. */
  texts?: readonly (string | null)[];
  /** A line across the group at this value (the target). */
  marker?: number;
  markerText?: string;
}

export interface GroupedBarsOptions {
  title: string;
  desc?: string;
  /** The bars of each group, e.g. median and p90; told apart by opacity (default: the first lighter). */
  series: readonly { name: string; opacity?: number }[];
  groups: readonly BarGroup[];
  /** The legend's name for the marker line (e.g. "response target"). */
  markerName?: string;
  yLabel?: string;
  /** The top of the scale: taller bars are cut there and their text says so with ↑. */
  yMax?: number;
  format?: (v: number) => string;
  empty?: string;
  width?: number;
  height?: number;
  id?: string;
}

function seriesOpacity(o: GroupedBarsOptions, k: number): number {
  return o.series[k]?.opacity ?? (k === o.series.length - 1 ? 1 : 0.5 + (0.5 * k) / Math.max(1, o.series.length - 1));
}

function describeGroups(o: GroupedBarsOptions, format: (v: number) => string): string {
  const groups = o.groups.map((g) => {
    const bars = o.series.map((s, k) => {
      const v = g.values[k];
      return `${s.name} ${v === null || v === undefined ? "none" : (g.texts?.[k] ?? format(v))}`;
    });
    const marker = g.marker !== undefined ? `, ${o.markerName ?? "target"} ${g.markerText ?? format(g.marker)}` : "";
    return `${g.label}: ${bars.join(", ")}${marker}`;
  });
  return `Grouped bar chart${o.yLabel ? ` of ${o.yLabel}` : ""}. ${groups.join("; ")}.`;
}

/** Bars in groups (one group per priority), each group with an optional marker line (its target). */
export function groupedBars(o: GroupedBarsOptions): SafeHtml {
  const width = o.width ?? DEFAULT_WIDTH;
  const height = o.height ?? 280;
  const format = o.format ?? formatNumber;
  const all = o.groups.flatMap((g) => [
    ...g.values.filter((v): v is number => v !== null && Number.isFinite(v)),
    ...(g.marker !== undefined ? [g.marker] : []),
  ]);
  const hasBars = o.groups.some((g) => g.values.some((v) => v !== null && Number.isFinite(v)));
  const isEmpty = o.groups.length === 0 || o.series.length === 0 || !hasBars;
  const emptyText = o.empty ?? "No data";
  const desc = o.desc ?? (isEmpty ? `${emptyText}.` : describeGroups(o, format));
  const id = chartId(o.id, o.title, desc);
  if (isEmpty) return frame(id, width, height, o.title, desc, noData(width, height, emptyText));

  const plot: Plot = { left: 48, top: 44, width: width - 48 - 12, height: height - 44 - 28 };
  const largest = Math.max(0, ...all);
  const ticks = niceTicks(0, o.yMax !== undefined ? Math.min(largest, o.yMax) : largest, 5);
  const yTop = ticks[ticks.length - 1] ?? largest;
  const y = (v: number) => plot.top + plot.height - (Math.min(Math.max(v, 0), yTop) / yTop) * plot.height;
  const slot = plot.width / o.groups.length;
  const groupWidth = slot * 0.7;
  const each = groupWidth / o.series.length;
  const bottom = plot.top + plot.height;
  const groups = o.groups.map((g, i) => {
    const x0 = plot.left + i * slot + (slot - groupWidth) / 2;
    const bars = o.series.map((s, k) => {
      const v = g.values[k];
      const x = x0 + k * each + each * 0.08;
      const w = each * 0.84;
      const cx = px(x + w / 2);
      if (v === null || v === undefined || !Number.isFinite(v)) {
        return html`<text x="${cx}" y="${bottom - 4}" text-anchor="middle">—<title>${g.label}, ${s.name}: none</title></text>`;
      }
      const cut = v > yTop;
      const text = `${g.texts?.[k] ?? format(v)}${cut ? " ↑" : ""}`;
      return html`<rect x="${px(x)}" y="${px(y(v))}" width="${px(w)}" height="${px(bottom - y(v))}" fill="${g.fill}" fill-opacity="${seriesOpacity(o, k)}"><title>${g.label}, ${s.name}: ${text}</title></rect><text x="${cx}" y="${px(Math.max(plot.top + 10, y(v) - 4))}" text-anchor="middle">${text}</text>`;
    });
    const marker =
      g.marker !== undefined
        ? html`<line x1="${px(x0 - 4)}" y1="${px(y(g.marker))}" x2="${px(x0 + groupWidth + 4)}" y2="${px(y(g.marker))}" stroke="${INK}" stroke-width="2" stroke-dasharray="4 3"><title>${g.label}, ${o.markerName ?? "target"}: ${g.markerText ?? format(g.marker)}</title></line>`
        : "";
    return html`<g>${bars}${marker}<text x="${px(plot.left + i * slot + slot / 2)}" y="${bottom + 15}" text-anchor="middle">${g.label}</text></g>`;
  });
  const items: LegendItem[] = o.series.map((s, k) => ({ name: s.name, fill: INK, opacity: seriesOpacity(o, k) }));
  if (o.groups.some((g) => g.marker !== undefined)) items.push({ name: o.markerName ?? "target", fill: INK, line: true, dashed: true });
  const body = html`${plotArea(plot)}${yAxis(plot, ticks, y, format)}${groups}${axes(plot)}${axisLabels(plot, height, undefined, o.yLabel)}${legend(items, plot.left, 14)}`;
  return frame(id, width, height, o.title, desc, body);
}

// ─── Lines over time ──────────────────────────────────────────────────────────────────────────────

export interface LinePoint {
  /** Epoch milliseconds. */
  t: number;
  v: number;
}

export interface LineSeries {
  name: string;
  points: readonly LinePoint[];
  /** By default the next colour of SERIES_FILL. */
  colour?: string;
}

export interface LineChartOptions {
  series: readonly LineSeries[];
  title: string;
  yLabel?: string;
  width?: number;
  height?: number;
  desc?: string;
  empty?: string;
  id?: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
  30 * DAY,
];

/** `2026-11-25 06:04 UTC`, `06:04`, `11-25`: times as the axis and the description read them (UTC). */
function timeText(t: number, form: "full" | "clock" | "day" | "day-clock"): string {
  const iso = new Date(t).toISOString();
  if (form === "clock") return iso.slice(11, 16);
  if (form === "day") return iso.slice(5, 10);
  if (form === "day-clock") return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return `${iso.slice(0, 16).replace("T", " ")} UTC`;
}

/** Ticks on whole minutes, hours or days (UTC), at most about six across the span. */
function timeTicks(from: number, to: number): { ticks: number[]; form: "clock" | "day" | "day-clock" } {
  const span = to - from;
  const step = TIME_STEPS.find((s) => span / s <= 6) ?? Math.ceil(span / 6 / DAY) * DAY;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  const form =
    step >= DAY ? "day" : span > DAY || new Date(from).toISOString().slice(0, 10) !== new Date(to).toISOString().slice(0, 10) ? "day-clock" : "clock";
  return { ticks, form };
}

function describeLines(series: readonly { name: string; points: readonly LinePoint[] }[], yLabel: string | undefined, from: number, to: number): string {
  const each = series.map((s) => {
    if (s.points.length === 0) return `${s.name}: no points`;
    const vs = s.points.map((p) => p.v);
    const last = s.points[s.points.length - 1];
    return `${s.name}: ${s.points.length} point${s.points.length === 1 ? "" : "s"}, from ${formatNumber(Math.min(...vs))} to ${formatNumber(Math.max(...vs))}, the last ${formatNumber(last?.v ?? 0)}`;
  });
  return `Line chart${yLabel ? ` of ${yLabel}` : ""} over time, from ${timeText(from, "full")} to ${timeText(to, "full")}. ${each.join("; ")}.`;
}

/**
 * Lines over time (x: epoch ms, UTC; y: the values), one per series, each point a dot with its
 * time and value as a tooltip: the values of an incident's alerts over its life.
 */
export function lineChart(o: LineChartOptions): SafeHtml {
  const width = o.width ?? DEFAULT_WIDTH;
  const height = o.height ?? 260;
  const series = o.series.map((s, i) => ({
    name: s.name,
    colour: s.colour ?? SERIES_FILL[i % SERIES_FILL.length] ?? INK,
    points: s.points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)).sort((a, b) => a.t - b.t),
  }));
  const points = series.flatMap((s) => s.points);
  const emptyText = o.empty ?? "No data";
  const isEmpty = points.length === 0;
  let from = Math.min(...points.map((p) => p.t));
  let to = Math.max(...points.map((p) => p.t));
  const desc = o.desc ?? (isEmpty ? `${emptyText}.` : describeLines(series, o.yLabel, from, to));
  const id = chartId(o.id, o.title, desc);
  if (isEmpty) return frame(id, width, height, o.title, desc, noData(width, height, emptyText));

  // A single moment still gets a span, so its point sits in the middle.
  if (to - from < MINUTE) {
    from -= MINUTE;
    to += MINUTE;
  }
  let lo = Math.min(...points.map((p) => p.v));
  let hi = Math.max(...points.map((p) => p.v));
  if (hi - lo < 1e-9) {
    const pad = Math.abs(hi) > 0 ? Math.abs(hi) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const withLegend = series.length > 1;
  const plot: Plot = { left: 56, top: withLegend ? 44 : 26, width: width - 56 - 16, height: 0 };
  plot.height = height - plot.top - 40;
  const ticks = niceTicks(lo, hi, 5);
  const yLo = ticks[0] ?? lo;
  const yHi = ticks[ticks.length - 1] ?? hi;
  const y = (v: number) => plot.top + plot.height - ((v - yLo) / (yHi - yLo)) * plot.height;
  const x = (t: number) => plot.left + ((t - from) / (to - from)) * plot.width;
  const time = timeTicks(from, to);
  const bottom = plot.top + plot.height;
  const xTicks = time.ticks.map(
    (t) =>
      html`<line x1="${px(x(t))}" y1="${bottom}" x2="${px(x(t))}" y2="${bottom + 4}" stroke="${AXIS}"/><text x="${px(x(t))}" y="${bottom + 16}" text-anchor="middle">${timeText(t, time.form)}</text>`,
  );
  // Dots (with their tooltip) while there are few enough to tell apart; the line alone beyond.
  const dots = points.length <= 240;
  const lines = series.map((s) => {
    const coords = s.points.map((p) => `${px(x(p.t))},${px(y(p.v))}`).join(" ");
    const line = s.points.length > 1 ? html`<polyline points="${coords}" fill="none" stroke="${s.colour}" stroke-width="2"/>` : "";
    const marks = dots
      ? s.points.map(
          (p) =>
            html`<circle cx="${px(x(p.t))}" cy="${px(y(p.v))}" r="3" fill="${s.colour}"><title>${s.name}, ${timeText(p.t, "full")}: ${formatNumber(p.v)}</title></circle>`,
        )
      : "";
    return html`<g>${line}${marks}</g>`;
  });
  const body = html`${plotArea(plot)}${yAxis(plot, ticks, y, formatNumber)}${axes(plot)}<g>${xTicks}</g>${lines}${axisLabels(plot, height, "time (UTC)", o.yLabel)}${
    withLegend
      ? legend(
          series.map((s) => ({ name: s.name, fill: s.colour, line: true })),
          plot.left,
          14,
        )
      : ""
  }`;
  return frame(id, width, height, o.title, desc, body);
}

// ─── The figures as a table ───────────────────────────────────────────────────────────────────────

/**
 * The figures behind a chart as a table (the first column heads each row), for those who read
 * tables better than bars, and for copying numbers.
 */
export function dataTable(caption: string, head: readonly string[], rows: readonly (readonly HtmlValue[])[]): SafeHtml {
  const headings = head.map((h) => html`<th scope="col">${h}</th>`);
  const body = rows.map((cells) => html`<tr>${cells.map((c, i) => (i === 0 ? html`<th scope="row">${c}</th>` : html`<td>${c}</td>`))}</tr>`);
  return html`<div class="table"><table><caption class="muted">${caption}</caption><thead><tr>${headings}</tr></thead><tbody>${body}</tbody></table></div>`;
}

/** A table folded under a chart: open it with the keyboard or a click, no script. */
export function foldedTable(summary: string, table: SafeHtml): SafeHtml {
  return html`<details><summary>${summary}</summary>${table}</details>`;
}
