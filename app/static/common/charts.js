// Line charts drawn as SVG by hand: no chart library. `series` is a list of
// { name, color, points: [[x, y], ...] } with numeric x (epochs, or times in ms).

import { svg } from "/static/common/ui.js";

const W = 480;
const H = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 34 };
export const PALETTE = ["#3b4a8f", "#d9822b", "#1f7a4d", "#b3261e", "#6a3b8f", "#4f5d6e"];

function ticks(low, high, count = 4) {
  if (low === high) return [low];
  const step = (high - low) / count;
  return Array.from({ length: count + 1 }, (_, i) => low + i * step);
}

// `yMin`/`yMax`: bounds the axis always includes (rates: 0, and a small top so that a flat
// zero line sits at the bottom rather than in the middle of a symmetric range).
export function lineChart(series, { title, xLabel = "", yLabel = "", xFormat = (x) => String(Math.round(x)), yFormat = (y) => y.toFixed(3), yMin = null, yMax = null } = {}) {
  const points = series.flatMap((s) => s.points);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title || "chart" });
  if (title) root.append(svg("title", {}, title));
  if (!points.length) {
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#5b6477", "font-size": 13 }, "No data yet"));
    return root;
  }
  let [x0, x1] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (yMin !== null) y0 = Math.min(y0, yMin);
  if (yMax !== null) y1 = Math.max(y1, yMax);
  if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const margin = (y1 - y0) * 0.05;
  y0 = yMin !== null && y0 >= yMin ? y0 : y0 - margin;
  y1 += margin;
  const sx = (x) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const axis = svg("g", { "font-size": 11, fill: "#5b6477" });
  for (const y of ticks(y0, y1)) {
    axis.append(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: sy(y), y2: sy(y), stroke: "#ebe7de" }),
      svg("text", { x: PAD.left - 6, y: sy(y) + 4, "text-anchor": "end" }, yFormat(y)));
  }
  const xTicks = ticks(x0, x1, Math.min(5, Math.max(1, points.length - 1)));
  xTicks.forEach((x, i) => {
    const anchor = xTicks.length > 1 && i === xTicks.length - 1 ? "end" : i === 0 && xTicks.length > 1 ? "start" : "middle";
    axis.append(svg("text", { x: sx(x), y: H - PAD.bottom + 16, "text-anchor": anchor }, xFormat(x)));
  });
  axis.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom, stroke: "#b9b3a6" }));
  if (xLabel) axis.append(svg("text", { x: (W + PAD.left) / 2, y: H - 4, "text-anchor": "middle" }, xLabel));
  if (yLabel) axis.append(svg("text", { x: 12, y: PAD.top + (H - PAD.top - PAD.bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${PAD.top + (H - PAD.top - PAD.bottom) / 2})` }, yLabel));
  root.append(axis);
  series.forEach((s, i) => {
    const color = s.color || PALETTE[i % PALETTE.length];
    const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
    if (sorted.length > 1) {
      root.append(svg("polyline", {
        points: sorted.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" "),
        fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "5 4" : null,
        "data-series": s.name,
      }));
    }
    for (const [x, y] of sorted) {
      root.append(svg("circle", { cx: sx(x), cy: sy(y), r: 2.5, fill: color }, svg("title", {}, `${s.name}: ${xFormat(x)}, ${yFormat(y)}`)));
    }
  });
  return root;
}
