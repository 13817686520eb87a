// @ts-check
/** The dashboard's review sampling panel (effective rate, defect rate with confidence
 *  intervals, lots, the policy form for leads), annotators' accuracy against gold, and
 *  consensus (send a scene to k annotators, agreement per pair / class / object, promote).
 *  docs/quality.md. */
import uPlot from "uplot";
import { csrfToken } from "./session.js";

/** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node|string)[]} kids */
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...kids);
  return el;
}

/** @param {string} id @returns {HTMLTableElement} */
const table = (id) => /** @type {HTMLTableElement} */ (document.querySelector(`[data-testid="${id}"]`));
/** @param {number|null|undefined} v @returns {string} */
const num = (v) => (v === null || v === undefined ? "–" : v.toFixed(2));
/** @param {number|null|undefined} v @returns {string} */
const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)} %`);

/** @param {HTMLTableElement} t @param {string[]} head @param {(Node|string)[][]} rows @param {string} [empty] */
function fill(t, head, rows, empty = "") {
  t.replaceChildren();
  const tr = t.createTHead().insertRow();
  for (const name of head) tr.appendChild(h("th", {}, name));
  const body = t.createTBody();
  for (const row of rows) {
    const r = body.insertRow();
    for (const cell of row) r.appendChild(h("td", {}, cell));
  }
  if (!rows.length && empty) body.insertRow().appendChild(h("td", { colspan: String(head.length), class: "muted" }, empty));
}

/** @param {string} url @param {string} [method] @param {any} [body] @returns {Promise<any>} */
async function call(url, method = "GET", body = undefined) {
  /** @type {RequestInit} */
  const init = { method, headers: { Accept: "application/json" } };
  if (method !== "GET") {
    init.headers = { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() };
    init.body = JSON.stringify(body ?? {});
  }
  const r = await fetch(url, init);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.message || data.code || `HTTP ${r.status}`);
  return data;
}

/** @param {number[]|null} ci @returns {string} */
const interval = (ci) => (ci ? `${pct(ci[0])} – ${pct(ci[1])}` : "–");

async function loadSampling() {
  const d = await call("/api/quality/sampling");
  const p = d.policy;
  const plan = p.plan ? `; lots of ${p.plan.lot_size}: review n=${p.plan.n}, accept at most c=${p.plan.c} rejected` : "";
  /** @type {HTMLElement} */ (document.querySelector('[data-testid="sampling-summary"]')).textContent =
    `Effective sampling rate ${pct(d.effective_rate)} (${d.decisions.sampled} reviewed, ${d.decisions.not_sampled} not sampled, ` +
    `${d.decisions.held} held). Policy: first ${p.first_n} tasks, then ${p.mode === "aql" ? `AQL ${p.aql}, LTPD ${p.ltpd}` : `rate ${p.rate}`}` +
    `${p.stratify !== "none" ? `, stratified by ${p.stratify}` : ""}${plan}.`;
  const row = (/** @type {string} */ name, /** @type {any} */ r) =>
    [name, `${r.defects} / ${r.of}`, pct(r.rate), interval(r.wilson), interval(r.clopper_pearson)];
  fill(table("sampling-defects"), ["Defect rate", "Defects / reviewed", "Rate", "95 % CI (Wilson)", "95 % CI (Clopper-Pearson)"],
    [row("tasks rejected at first review", d.task_defect_rate), row("objects with an issue", d.object_defect_rate)]);
  fill(table("sampling-annotators"), ["Annotator", "Reviewed", "Not sampled", "Held", "Effective rate"],
    d.annotators.map((/** @type {any} */ a) => [a.annotator, String(a.sampled), String(a.not_sampled), String(a.held), pct(a.effective_rate)]),
    "No task submitted under a policy yet.");
  fill(table("sampling-lots"), ["Lot", "State", "Size", "n", "c", "Rejected"],
    d.lots.map((/** @type {any} */ l) => [String(l.id), l.state, String(l.size), String(l.n), String(l.c), String(l.defects)]),
    "No lots (mode rate).");
  const form = /** @type {HTMLFormElement|null} */ (document.getElementById("policy-form"));
  if (form && !form.dataset.loaded) {
    form.dataset.loaded = "1";
    for (const [k, v] of Object.entries(p)) {
      const input = /** @type {HTMLInputElement|null} */ (form.elements.namedItem(k));
      if (input) input.value = k === "strata" ? JSON.stringify(v) : String(v);
    }
  }
}

async function savePolicy(/** @type {SubmitEvent} */ ev) {
  ev.preventDefault();
  const form = /** @type {HTMLFormElement} */ (ev.target);
  const out = /** @type {HTMLElement} */ (form.querySelector('[data-testid="policy-status"]'));
  const f = new FormData(form);
  try {
    const body = {
      first_n: Number(f.get("first_n")), rate: Number(f.get("rate")), seed: Number(f.get("seed")),
      stratify: f.get("stratify"), strata: JSON.parse(String(f.get("strata") || "{}")), mode: f.get("mode"),
      lot_size: Number(f.get("lot_size")), aql: Number(f.get("aql")), ltpd: Number(f.get("ltpd")),
      golden_rate: Number(f.get("golden_rate")),
    };
    await call("/api/quality/policy", "PUT", body);
    out.textContent = "Saved.";
    await loadSampling();
  } catch (e) {
    out.textContent = `Not saved: ${/** @type {Error} */ (e).message}`;
  }
}

async function loadGolden() {
  const d = await call("/api/quality/golden");
  fill(table("golden-annotators"), ["Annotator", "Golden runs", "Mean F1 @ IoU 0.5", "Mean IoU", "Class accuracy"],
    d.annotators.map((/** @type {any} */ a) => [a.annotator, String(a.runs.length), num(a.mean_f1), num(a.mean_iou), num(a.class_accuracy)]),
    d.golden.length ? "No golden copy submitted yet." : "No golden task yet.");
  drawGoldenChart(d.annotators);
  const runs = d.annotators.flatMap((/** @type {any} */ a) => a.runs.map((/** @type {any} */ r) => ({ ...r, annotator: a.annotator })))
    .sort((/** @type {any} */ x, /** @type {any} */ y) => (x.at < y.at ? 1 : -1));
  fill(table("golden-runs"), ["Scored", "Annotator", "Golden task", "F1", "Mean IoU", "Class accuracy", "Boxes / gold", ""],
    runs.slice(0, 50).map((/** @type {any} */ r) => [r.at.slice(0, 16).replace("T", " "), r.annotator, String(r.golden_task_id),
      num(r.f1), num(r.mean_iou), num(r.class_accuracy), `${r.boxes} / ${r.gold_boxes}`, h("a", { href: r.link }, "Open")]));
}

const PALETTE = ["#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176", "#90a4ae", "#f06292"];

/** Each annotator's F1 against gold (IoU 0.5) over time: one line per annotator, a point
 *  per scored golden copy. @param {any[]} annotators as GET /api/quality/golden gives them */
function drawGoldenChart(annotators) {
  const box = /** @type {HTMLElement} */ (document.getElementById("golden-chart"));
  box.replaceChildren();
  const times = [...new Set(annotators.flatMap((a) => a.runs.map((/** @type {any} */ r) => Date.parse(r.at) / 1000)))]
    .sort((x, y) => x - y);
  box.hidden = times.length === 0;
  if (!times.length) return;
  const index = new Map(times.map((t, i) => [t, i]));
  const ys = annotators.map((a) => {
    const y = /** @type {(number|null)[]} */ (times.map(() => null));
    for (const r of a.runs) y[/** @type {number} */ (index.get(Date.parse(r.at) / 1000))] = r.f1;
    return y;
  });
  const opts = {
    width: 560, height: 200, title: "F1 against gold (IoU 0.5)",
    scales: {
      // one run: a week either side, not uPlot's years
      x: times.length > 1 ? { time: true } : { time: true, range: /** @type {uPlot.Range.MinMax} */ ([times[0] - 7 * 86400, times[0] + 7 * 86400]) },
      y: { range: /** @type {uPlot.Range.MinMax} */ ([0, 1]) },
    },
    axes: [{ stroke: "#aab" }, { stroke: "#aab" }],
    series: [{}, ...annotators.map((a, i) => ({ label: a.annotator, stroke: PALETTE[i % PALETTE.length], width: 2,
      spanGaps: true, points: { show: true, size: 6 } }))],
  };
  new uPlot(/** @type {any} */ (opts), /** @type {uPlot.AlignedData} */ ([times, ...ys]), box);
}

async function markGolden(/** @type {SubmitEvent} */ ev) {
  ev.preventDefault();
  const form = /** @type {HTMLFormElement} */ (ev.target);
  const out = /** @type {HTMLElement} */ (form.querySelector('[data-testid="golden-status"]'));
  const id = Number(new FormData(form).get("task_id"));
  try {
    await call(`/api/quality/golden/${id}`, "PUT");
    out.textContent = `Task ${id} is golden.`;
    await loadGolden();
  } catch (e) {
    out.textContent = `Not marked: ${/** @type {Error} */ (e).message}`;
  }
}

/** @type {number|null} */
let shown = null;

async function loadGroups() {
  const groups = await call("/api/quality/consensus");
  fill(table("consensus-groups"), ["Consensus", "Scene", "Tasks", "Reference", ""],
    groups.map((/** @type {any} */ g) => {
      const open = h("button", { type: "button", "data-group": String(g.id) }, "Show agreement");
      open.addEventListener("click", () => showGroup(g.id));
      const ref = g.reference_task_id ? h("a", { href: `/tasks/${g.reference_task_id}` }, `task ${g.reference_task_id}`) : "–";
      return [String(g.id), String(g.scene_id), g.tasks.map((/** @type {any} */ t) => `${t.annotator} (${t.state})`).join(", "), ref, open];
    }), "No consensus yet.");
}

/** @param {number} id */
async function showGroup(id) {
  shown = id;
  const d = await call(`/api/quality/consensus/${id}`);
  const box = /** @type {HTMLElement} */ (document.getElementById("consensus-results"));
  box.hidden = false;
  /** @type {HTMLElement} */ (document.getElementById("consensus-title")).textContent =
    `Agreement of consensus ${id} (scene ${d.scene_id}, k = ${d.k}, ${d.object_count} objects)`;
  fill(table("consensus-pairs"), ["Annotators", "F1 @ IoU 0.5", "Mean IoU", "Same class", "Cohen's kappa"],
    d.pairs.map((/** @type {any} */ p) => [`${p.a} – ${p.b}`, num(p.f1), num(p.mean_iou), pct(p.same_class), num(p.kappa)]));
  fill(table("consensus-classes"), ["Class", "Objects", "Agreement (mean IoU)", "Class agreement"],
    d.classes.map((/** @type {any} */ c) => [c.class, String(c.objects), num(c.agreement), pct(c.class_agreement)]));
  fill(table("consensus-objects"), ["Frame", "Class", "Agreement", "Class agreement", "Drawn by", "Missed by", ""],
    d.objects.slice(0, 50).map((/** @type {any} */ o) => [String(o.frame), o.class, num(o.agreement), pct(o.class_agreement),
      o.boxes.map((/** @type {any} */ b) => `${b.annotator} (${b.class})`).join(", "), o.missing.join(", ") || "–",
      h("a", { href: o.link }, "Open in the workspace")]), "No boxes drawn yet.");
}

async function sendConsensus(/** @type {SubmitEvent} */ ev) {
  ev.preventDefault();
  const form = /** @type {HTMLFormElement} */ (ev.target);
  const out = /** @type {HTMLElement} */ (form.querySelector('[data-testid="consensus-status"]'));
  const f = new FormData(form);
  const annotators = String(f.get("annotators") || "").split(",").map((s) => s.trim()).filter(Boolean);
  try {
    const g = await call("/api/quality/consensus", "POST", { scene_id: Number(f.get("scene_id")), annotators });
    out.textContent = `Sent: ${g.k} tasks (${g.tasks.map((/** @type {any} */ t) => t.task_id).join(", ")}).`;
    await loadGroups();
    await showGroup(g.id);
  } catch (e) {
    out.textContent = `Not sent: ${/** @type {Error} */ (e).message}`;
  }
}

async function promote() {
  if (shown === null) return;
  const out = /** @type {HTMLElement} */ (document.getElementById("consensus-title"));
  try {
    const r = await call(`/api/quality/consensus/${shown}/promote`, "POST");
    await loadGroups();
    out.textContent = `Promoted: reference task ${r.task_id} with ${r.tracks} objects.`;
  } catch (e) {
    out.textContent = `Not promoted: ${/** @type {Error} */ (e).message}`;
  }
}

document.getElementById("policy-form")?.addEventListener("submit", savePolicy);
document.getElementById("golden-form")?.addEventListener("submit", markGolden);
document.getElementById("consensus-form")?.addEventListener("submit", sendConsensus);
document.getElementById("consensus-promote")?.addEventListener("click", promote);
for (const load of [loadSampling, loadGolden, loadGroups]) {
  load().catch((e) => console.error(e));
}
