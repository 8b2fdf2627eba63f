// Duration per run over time, one uPlot series per outcome (points only), click a point to open it.
import { h } from "./dom.js";
import { OUTCOMES } from "./format.js";

const COLOURS = {
  passed: "#1a7f37", failed: "#cf222e", errored: "#8250df", timeout: "#9a6700", cancelled: "#6e7781",
};

function padded(min, max) {
  const pad = max > min ? (max - min) * 0.05 : 60;
  return [min - pad, max + pad];
}

export function durationChart(runs, onOpen) {
  const box = h("div", { class: "chart", role: "img" });
  const sorted = [...runs]
    .filter((r) => r.completedAt)
    .sort((a, b) => new Date(a.completedAt) - new Date(b.completedAt));
  box.setAttribute("aria-label", `Duration per run, coloured by outcome: ${sorted.length} runs. The run list below has the same runs.`);
  box.dataset.points = String(sorted.length);
  box.runs = sorted;
  if (typeof window.uPlot !== "function") {
    box.append(h("p", { class: "error", role: "alert" }, "the chart library did not load (vendor/uPlot.iife.min.js)"));
    return box;
  }
  const xs = sorted.map((r) => new Date(r.completedAt).getTime() / 1000);
  const xRange = padded(Math.min(...xs), Math.max(...xs));
  const present = OUTCOMES.filter((o) => sorted.some((r) => r.outcome === o));
  const series = present.map((o) => sorted.map((r) => (r.outcome === o ? (r.durationMs ?? 0) / 1000 : null)));
  const options = {
    width: 600,
    height: 220,
    legend: { show: true, live: false },
    cursor: { points: { size: 10 }, drag: { x: false, y: false } },
    // Padded so no point sits on the plot's edge (half hidden, hard to click).
    // The x range comes from the runs themselves: with a single point uPlot hands the range callback
    // a span of its own (years wide), so one run would sit alone on a years-long axis.
    scales: { x: { time: true, range: () => xRange }, y: { range: (u, min, max) => [0, (max || 1) * 1.15] } },
    axes: [{}, { label: "seconds", values: (u, ticks) => ticks.map((t) => `${t}s`) }],
    series: [
      { label: "completed" },
      ...present.map((o) => ({
        label: o,
        stroke: COLOURS[o],
        fill: COLOURS[o],
        width: 0,
        paths: () => null,
        points: { show: true, size: 9, stroke: COLOURS[o], fill: COLOURS[o] },
        value: (u, v) => (v == null ? "–" : `${v.toFixed(1)} s`),
      })),
    ],
  };
  // uPlot needs a size: draw once the box is in the page, and follow its width.
  requestAnimationFrame(() => {
    options.width = Math.max(280, box.clientWidth || 600);
    const plot = new window.uPlot(options, [xs, ...series], box);
    box.uplot = plot;
    plot.over.addEventListener("click", () => {
      const idx = plot.cursor.idx;
      if (idx != null && sorted[idx]) onOpen(sorted[idx]);
    });
    plot.over.style.cursor = "pointer";
    plot.over.title = "Click a point to open that run";
    const resize = new ResizeObserver(() => {
      const width = Math.max(280, box.clientWidth);
      if (Math.abs(width - plot.width) > 4) plot.setSize({ width, height: options.height });
    });
    resize.observe(box);
    box.dataset.ready = "true";
  });
  return box;
}
