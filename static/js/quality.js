// @ts-check
/** The quality dashboard: p-charts of the review defect rate (uPlot, served locally), the
 *  signals they raise, and the review issues behind a signal or a point, each linking to
 *  the workspace on its object. */
import uPlot from "uplot";

const by = /** @type {HTMLSelectElement} */ (document.getElementById("quality-by"));
const csv = /** @type {HTMLAnchorElement} */ (document.getElementById("quality-csv"));
const status = /** @type {HTMLElement} */ (document.getElementById("quality-status"));
const signalsTable = /** @type {HTMLTableElement} */ (document.querySelector('[data-testid="quality-signals"]'));
const rowsSection = /** @type {HTMLElement} */ (document.getElementById("quality-rows-section"));
const rowsTitle = /** @type {HTMLElement} */ (document.getElementById("quality-rows-title"));
const rowsTable = /** @type {HTMLTableElement} */ (document.querySelector('[data-testid="quality-rows"]'));
const chartsBox = /** @type {HTMLElement} */ (document.getElementById("quality-charts"));

/** @typedef {{task_id: number, at: string, t: number, objects: number, defects: number,
 *    rate: number, lower: number, upper: number, taxonomy: string}} Point */
/** @typedef {{series: string, task_id: number, at: string, rules: number[], rule_text: string,
 *    side: string, kind: string|null, share: number, objects: number, defects: number,
 *    taxonomy: string, classes: string[]}} QualitySignal */
/** @typedef {{by: string, centre: number|null, series: {key: string, points: Point[]}[],
 *    signals: QualitySignal[]}} Charts */

/** @type {uPlot[]} */
let plots = [];

/** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node|string)[]} kids */
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...kids);
  return el;
}

/** @param {number} p a fraction @returns {string} */
const pct = (p) => `${(100 * p).toFixed(1)} %`;

/** @param {string} url @returns {Promise<any>} */
async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || body.code || `HTTP ${r.status}`);
  return body;
}

/** The signals table: one row per signalled sample, newest first.
 *  @param {Charts} data */
function renderSignals(data) {
  signalsTable.replaceChildren();
  const head = signalsTable.createTHead().insertRow();
  for (const name of ["When", by.value === "annotator" ? "Annotator" : "Series", "Kind", "Rate", "Rules", "Classes", ""]) {
    head.appendChild(h("th", {}, name));
  }
  const body = signalsTable.createTBody();
  const rows = [...data.signals].reverse();
  if (!rows.length) {
    body.insertRow().appendChild(h("td", { colspan: "7", class: "muted" }, "no signal: every chart is in control"));
  }
  for (const s of rows) {
    const tr = body.insertRow();
    tr.dataset.testid = "signal-row";
    tr.dataset.kind = s.kind ?? "";
    tr.dataset.series = s.series;
    const kind = s.kind ? h("span", { class: `kind-${s.kind}` }, s.kind) : "";
    const show = h("button", { type: "button", "data-testid": "signal-open" }, "Show issues");
    show.onclick = () => { pick(tr); showRows(s.task_id, s.series, s.at); };
    tr.append(h("td", {}, s.at.slice(0, 10)), h("td", {}, s.series), h("td", {}, kind),
      h("td", { title: `${s.defects} of ${s.objects} objects, ${s.side} the centre line` }, `${pct(s.defects / s.objects)} (${s.side})`),
      h("td", { title: s.rule_text }, s.rules.join(", ")), h("td", {}, s.classes.join(", ")), h("td", {}, show));
  }
}

/** @param {HTMLTableRowElement|null} tr */
function pick(tr) {
  for (const r of signalsTable.querySelectorAll("tr.picked")) r.classList.remove("picked");
  tr?.classList.add("picked");
}

/** The review issues behind one task's sample, with links into the workspace.
 *  @param {number} taskId @param {string} series @param {string} at */
async function showRows(taskId, series, at) {
  const cls = by.value === "class" ? `?class=${encodeURIComponent(series)}` : "";
  status.textContent = "loading…";
  try {
    /** @type {any[]} */
    const rows = await getJson(`/api/quality/tasks/${taskId}/defects${cls}`);
    rowsTitle.textContent = `Review issues of task ${taskId} (${series}, ${at.slice(0, 10)})`;
    rowsTable.replaceChildren();
    const head = rowsTable.createTHead().insertRow();
    for (const name of ["Class", "Object", "Error type", "Frame", "Status", "Comment", ""]) head.appendChild(h("th", {}, name));
    const body = rowsTable.createTBody();
    for (const r of rows) {
      const link = h("a", { href: r.link, "data-testid": "defect-link" }, "Open in the workspace");
      const tr = body.insertRow();
      tr.dataset.testid = "defect-row";
      tr.append(h("td", {}, r.class), h("td", {}, r.track_id ?? r.object_id ?? "point"), h("td", {}, r.error_type),
        h("td", {}, r.frame === null ? "" : String(r.frame)), h("td", {}, r.status), h("td", {}, r.comment), h("td", {}, link));
    }
    if (!rows.length) body.insertRow().appendChild(h("td", { colspan: "7", class: "muted" }, "no review issue on this task"));
    rowsSection.hidden = false;
    status.textContent = "";
    rowsSection.scrollIntoView({ block: "nearest" });
  } catch (e) {
    status.textContent = `could not load the issues: ${/** @type {Error} */ (e).message}`;
  }
}

/** One p-chart: the rate, its limits, the centre line and the signalled points.
 *  @param {{key: string, points: Point[]}} series @param {number} centre @param {QualitySignal[]} signals */
function chart(series, centre, signals) {
  const box = h("div", { class: "quality-chart", "data-testid": "quality-chart", "data-series": series.key });
  box.appendChild(h("h3", {}, `${series.key} · ${series.points.length} tasks`));
  chartsBox.appendChild(box);
  const flagged = new Set(signals.filter((s) => s.series === series.key).map((s) => s.task_id));
  const pts = series.points;
  const data = /** @type {uPlot.AlignedData} */ ([
    pts.map((p) => p.t), pts.map((p) => p.rate), pts.map((p) => p.upper), pts.map((p) => p.lower),
    pts.map(() => centre), pts.map((p) => (flagged.has(p.task_id) ? p.rate : null)),
  ]);
  const opts = {
    width: 520, height: 200,
    cursor: { drag: { x: false, y: false } },
    scales: { y: { range: /** @type {uPlot.Range.MinMax} */ ([0, Math.max(0.2, ...pts.map((p) => Math.max(p.rate, p.upper)))]) } },
    axes: [{ stroke: "#aab" }, { stroke: "#aab", values: (/** @type {uPlot} */ _u, /** @type {number[]} */ v) => v.map((x) => `${Math.round(x * 100)}%`) }],
    series: [{}, { label: "defect rate", stroke: "#4fc3f7", points: { show: true, size: 4 } },
      { label: "upper limit", stroke: "#ef5350", dash: [4, 4], width: 1, points: { show: false } },
      { label: "lower limit", stroke: "#ef5350", dash: [4, 4], width: 1, points: { show: false } },
      { label: "centre", stroke: "#8a8", width: 1, points: { show: false } },
      { label: "signal", stroke: "#ffb74d", width: 0, paths: () => null, points: { show: true, size: 9, fill: "#ffb74d" } }],
  };
  const u = new uPlot(/** @type {any} */ (opts), data, box);
  u.over.addEventListener("click", () => {
    const i = u.cursor.idx;
    if (i === null || i === undefined) return;
    pick(null);
    showRows(pts[i].task_id, series.key, pts[i].at);
  });
  plots.push(u);
}

async function load() {
  status.textContent = "loading…";
  csv.href = `/api/quality/charts.csv?by=${by.value}`;
  try {
    /** @type {Charts} */
    const data = await getJson(`/api/quality/charts?by=${by.value}`);
    for (const u of plots) u.destroy();
    plots = [];
    chartsBox.replaceChildren();
    renderSignals(data);
    rowsSection.hidden = true;
    if (data.centre === null) {
      status.textContent = "no reviewed task yet";
      return;
    }
    for (const s of data.series) chart(s, data.centre, data.signals);
    status.textContent = `centre line ${pct(data.centre)} (the team's rate over each series' first samples)`;
  } catch (e) {
    status.textContent = `could not load the charts: ${/** @type {Error} */ (e).message}`;
  }
}

by.onchange = load;
load();
