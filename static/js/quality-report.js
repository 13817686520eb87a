// @ts-check
/** The weekly quality report (templates/quality_report.html): draws the trend of the
 *  defect rate with uPlot (served locally) at a fixed width, so that it prints as it
 *  shows, and prints the page on request. */

import uPlot from "uplot";

const WIDTH = 640;
const HEIGHT = 220;

const box = /** @type {HTMLElement} */ (document.getElementById("report-trend"));
const trend = /** @type {{monday: string, rate: number|null}[]} */ (
  JSON.parse(/** @type {HTMLElement} */ (document.getElementById("report-data")).textContent || "[]"));
const x = trend.map((w) => Date.parse(`${w.monday}T00:00:00Z`) / 1000);
const y = trend.map((w) => w.rate);
const top = Math.max(0.1, ...y.map((v) => v ?? 0)) * 1.15;
const opts = {
  width: WIDTH, height: HEIGHT,
  scales: { x: { time: true }, y: { range: /** @type {uPlot.Range.MinMax} */ ([0, top]) } },
  axes: [{ stroke: "#667" }, { stroke: "#667", values: (/** @type {uPlot} */ _u, /** @type {number[]} */ v) => v.map((r) => `${Math.round(r * 100)}%`) }],
  series: [{}, { label: "defect rate", stroke: "#e65100", width: 2, points: { show: true, size: 6 }, spanGaps: false }],
  legend: { show: false },
};
new uPlot(/** @type {any} */ (opts), /** @type {uPlot.AlignedData} */ ([x, y]), box);
box.dataset.drawn = "true";

document.getElementById("report-print")?.addEventListener("click", () => window.print());
