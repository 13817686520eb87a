// @ts-check
/** The dashboard's "evaluators of the evaluators": the behaviour detector scored on a
 *  golden task (scores, calibration curve, proposals) and reviewers' catch rates on
 *  planted errors. */
import uPlot from "uplot";

const box = document.getElementById("detector");
const noise = /** @type {HTMLSelectElement|null} */ (document.getElementById("detector-noise"));
const scores = /** @type {HTMLTableElement|null} */ (document.querySelector('[data-testid="detector-scores"]'));
const proposals = /** @type {HTMLTableElement|null} */ (document.querySelector('[data-testid="detector-proposals"]'));
const calBox = /** @type {HTMLElement|null} */ (document.getElementById("detector-calibration"));
const catchTable = /** @type {HTMLTableElement} */ (document.querySelector('[data-testid="catch-rates"]'));
/** @type {uPlot|null} */
let calPlot = null;

/** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node|string)[]} kids */
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...kids);
  return el;
}

/** @param {number|null} v @returns {string} */
const num = (v) => (v === null ? "–" : v.toFixed(2));

/** @param {HTMLTableElement} table @param {string[]} head @param {(Node|string)[][]} rows */
function fill(table, head, rows) {
  table.replaceChildren();
  const tr = table.createTHead().insertRow();
  for (const name of head) tr.appendChild(h("th", {}, name));
  const body = table.createTBody();
  for (const row of rows) {
    const r = body.insertRow();
    for (const cell of row) r.appendChild(h("td", {}, cell));
  }
}

/** @param {string} url @returns {Promise<any>} */
async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || body.code || `HTTP ${r.status}`);
  return body;
}

async function loadDetector() {
  if (!box || !noise || !scores || !proposals || !calBox) return;
  const d = await getJson(`/api/quality/tasks/${box.dataset.golden}/detector?noise_m=${noise.value}`);
  fill(scores, ["Temporal IoU ≥", "Precision", "Recall", "F1"],
    d.scores.map((/** @type {any} */ s) => [String(s.tiou), num(s.precision), num(s.recall), num(s.f1)]));
  const foot = scores.createTFoot().insertRow();
  foot.appendChild(h("td", { colspan: "4", class: "muted" },
    `${d.proposals.length} proposals, ${d.references} reference tags; mean temporal IoU ${num(d.mean_tiou)}; calibration error ${num(d.ece)}`));
  fill(proposals, ["Tag", "Track", "Frames", "Confidence", "Matches a golden tag", ""],
    d.proposals.slice(0, 25).map((/** @type {any} */ p) => [p.tag, p.track_id, `${p.first}–${p.last}`, num(p.confidence),
      p.matched ? "yes" : "no", h("a", { href: p.link }, "Open")]));
  if (d.proposals.length > 25) {
    proposals.createTFoot().insertRow().appendChild(h("td", { colspan: "6", class: "muted" },
      `the 25 most confident of ${d.proposals.length}`));
  }
  const bins = d.calibration.filter((/** @type {any} */ b) => b.count > 0);
  calPlot?.destroy();
  calBox.replaceChildren(h("h3", {}, "Calibration: share of proposals that match, per confidence bin"));
  const data = /** @type {uPlot.AlignedData} */ ([bins.map((/** @type {any} */ b) => b.confidence),
    bins.map((/** @type {any} */ b) => b.hit_rate), bins.map((/** @type {any} */ b) => b.confidence)]);
  const opts = { width: 360, height: 220, scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
    series: [{ label: "confidence" }, { label: "matched", stroke: "#ffb74d", points: { show: true, size: 8 } },
      { label: "perfect", stroke: "#8a8", dash: [4, 4], points: { show: false } }],
    axes: [{ stroke: "#aab" }, { stroke: "#aab" }] };
  calPlot = new uPlot(/** @type {any} */ (opts), data, calBox);
}

async function loadCatchRates() {
  const r = await getJson("/api/quality/reviewers");
  /** @param {{caught: number, planted: number}} c */
  const cell = (c) => (c.planted ? `${c.caught} / ${c.planted}` : "–");
  fill(catchTable, ["Reviewer", ...r.kinds.map((/** @type {string} */ k) => k.replace("_", " ")), "Caught"],
    r.reviewers.map((/** @type {any} */ v) => [v.reviewer, ...r.kinds.map((/** @type {string} */ k) => cell(v.by_kind[k])),
      `${Math.round((100 * v.caught) / v.planted)} %`]));
  if (!r.reviewers.length) {
    catchTable.createTBody().insertRow().appendChild(h("td", { colspan: "6", class: "muted" }, "no copy of a golden task reviewed yet"));
  }
}

if (noise) noise.onchange = () => loadDetector();
loadDetector();
loadCatchRates();
