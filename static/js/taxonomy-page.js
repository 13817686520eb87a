// @ts-check
/** The lead's taxonomy page (docs/taxonomy.md): published versions and their diffs,
 *  the draft with usage counts, changes, a size-prior editor over a histogram of the
 *  class's existing box sizes (plain SVG), dry run, publish, JSON import and export. */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const message = $("message");

/** JSON from the API; a refusal shows its message and throws.
 *  @param {string} url @param {string} [method] @param {any} [body] @returns {Promise<any>} */
async function api(url, method = "GET", body = undefined) {
  const r = await fetch(url, {
    method, headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    message.textContent = `${data.code || r.status}: ${data.message || ""}`;
    throw new Error(data.code);
  }
  return data;
}

/** @param {string} tag @param {Record<string, string>} [attrs] @param {(string|Node)[]} children */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/** @type {any} */ let draft = null;

async function loadVersions() {
  const versions = await api("/api/taxonomy/versions");
  const body = /** @type {HTMLElement} */ (document.querySelector("[data-testid=versions] tbody"));
  body.replaceChildren(...versions.map((/** @type {any} */ v) => el("tr", { "data-version": String(v.number) },
    el("td", {}, `v${v.number}`), el("td", {}, (v.published_at || "").slice(0, 16).replace("T", " ")),
    el("td", {}, String(v.tasks)), el("td", {}, el("pre", {}, v.changelog)),
    el("td", {}, el("a", { href: `/api/taxonomy/versions/${v.id}`, download: `taxonomy-v${v.number}.json` }, "JSON")))));
  for (const id of ["diff-from", "diff-to"]) {
    const select = /** @type {HTMLSelectElement} */ ($(id));
    select.replaceChildren(...versions.map((/** @type {any} */ v) => new Option(`v${v.number}`, String(v.id))));
  }
  if (versions.length > 1) /** @type {HTMLSelectElement} */ ($("diff-from")).selectedIndex = 1;
}

async function loadDraft(/** @type {any} */ data = null) {
  draft = data || await api("/api/taxonomy/draft");
  $("draft-base").textContent = `(from ${draft.base_version})`;
  const used = draft.usage;
  const fmt = (/** @type {number[]} */ s) => s.map((x) => x.toFixed(2)).join("×");
  const classes = /** @type {HTMLElement} */ (document.querySelector("[data-testid=draft-classes] tbody"));
  classes.replaceChildren(...draft.taxonomy.classes.map((/** @type {any} */ c) => el("tr", { "data-class": c.name },
    el("td", {}, el("span", { class: "swatch", style: `display:inline-block;background:${c.color}` }), ` ${c.name}`),
    el("td", {}, c.group), el("td", {}, String(used.classes[c.name] || 0)),
    el("td", {}, `${fmt(c.min_size)} / ${fmt(c.default_size)} / ${fmt(c.max_size)}`),
    el("td", {}, c.deprecated ? "deprecated" : ""))));
  const tags = /** @type {HTMLElement} */ (document.querySelector("[data-testid=draft-tags] tbody"));
  tags.replaceChildren(...draft.taxonomy.tags.map((/** @type {any} */ t) => el("tr", { title: t.definition },
    el("td", {}, t.name), el("td", {}, String(used.tags[t.name] || 0)), el("td", {}, t.subjects.join(", ")),
    el("td", {}, t.classes.join(", ") || "any"),
    el("td", {}, t.related === "none" ? "-" : `${t.related}${t.related_ego ? ", may be ego" : ""}`))));
  $("changes").replaceChildren(...draft.changes.map((/** @type {any} */ c) => el("li", {}, c.describe)));
  const sizeClass = /** @type {HTMLSelectElement} */ ($("size-class"));
  const keep = sizeClass.value;
  sizeClass.replaceChildren(...draft.taxonomy.classes.map((/** @type {any} */ c) => new Option(c.name, c.name)));
  if (keep) sizeClass.value = keep;
  showPrior();
}

/** The chosen class's prior in the three fields. */
function showPrior() {
  const name = /** @type {HTMLSelectElement} */ ($("size-class")).value;
  const c = draft.taxonomy.classes.find((/** @type {any} */ x) => x.name === name);
  if (!c) return;
  /** @type {HTMLInputElement} */ ($("prior-min")).value = c.min_size.join(", ");
  /** @type {HTMLInputElement} */ ($("prior-typ")).value = c.default_size.join(", ");
  /** @type {HTMLInputElement} */ ($("prior-max")).value = c.max_size.join(", ");
}

/** One dimension's histogram as SVG bars, with the prior's min and max as red lines.
 *  @param {string} dim @param {{edges: number[], counts: number[]}} h @param {number} lo @param {number} hi */
function histogram(dim, h, lo, hi) {
  const W = 300, H = 90, ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", String(W)); svg.setAttribute("height", String(H + 16));
  svg.setAttribute("aria-label", `${dim} histogram`);
  if (!h.counts.length) return el("p", { class: "muted" }, `${dim}: no boxes`);
  const x0 = Math.min(h.edges[0], lo), x1 = Math.max(h.edges[h.edges.length - 1], hi);
  const sx = (/** @type {number} */ v) => ((v - x0) / (x1 - x0 || 1)) * (W - 2) + 1;
  const top = Math.max(...h.counts);
  const add = (/** @type {string} */ tag, /** @type {Record<string, any>} */ a) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(a)) n.setAttribute(k, String(v));
    svg.append(n);
    return n;
  };
  h.counts.forEach((n, i) => {
    const h1 = (n / top) * H;
    add("rect", { x: sx(h.edges[i]), y: H - h1, width: Math.max(1, sx(h.edges[i + 1]) - sx(h.edges[i]) - 1), height: h1, fill: "#4fc3f7" });
  });
  for (const v of [lo, hi]) add("line", { x1: sx(v), x2: sx(v), y1: 0, y2: H, stroke: "#e53935", "stroke-width": 2 });
  add("text", { x: 2, y: H + 13, fill: "currentColor", "font-size": 11 }).textContent =
    `${dim}: ${x0.toFixed(2)}–${x1.toFixed(2)} m, prior ${lo}–${hi} m`;
  return svg;
}

async function showSizes() {
  const name = /** @type {HTMLSelectElement} */ ($("size-class")).value;
  const c = draft.taxonomy.classes.find((/** @type {any} */ x) => x.name === name);
  const data = await api(`/api/taxonomy/sizes?label=${encodeURIComponent(name)}`);
  $("histogram").replaceChildren(el("p", {}, `${data.boxes} ${name} boxes`),
    ...["length", "width", "height"].map((d, k) => histogram(d, data[d], c.min_size[k], c.max_size[k])));
}

/** @param {any} change */
async function addChange(change) {
  await loadDraft(await api("/api/taxonomy/draft/changes", "POST", change));
  message.textContent = `added: ${draft.changes[draft.changes.length - 1].describe}`;
}

$("change-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(/** @type {HTMLFormElement} */ (e.target));
  const get = (/** @type {string} */ k) => String(f.get(k) || "").trim();
  const kind = get("kind"), name = get("name"), target = get("target");
  /** @type {Record<string, any>} */ const change = { kind, name };
  if (kind === "rename_class") change.to = target;
  if (kind === "merge_class") change.into = target;
  if (kind === "split_class") change.into = target.split(",").map((s) => s.trim()).filter(Boolean);
  if (kind === "rename_value" || kind === "merge_value") {
    Object.assign(change, { attribute: get("attribute"), value: get("value") });
    change[kind === "rename_value" ? "to" : "into"] = target;
  }
  addChange(change).catch(() => {});
});
$("size-class").addEventListener("change", showPrior);
$("size-show").addEventListener("click", () => showSizes().catch(() => {}));
$("size-apply").addEventListener("click", () => {
  const read = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id)).value.split(",").map(Number);
  addChange({ kind: "size_prior", name: /** @type {HTMLSelectElement} */ ($("size-class")).value,
    min_size: read("prior-min"), default_size: read("prior-typ"), max_size: read("prior-max") })
    .then(showSizes).catch(() => {});
});
$("dry-run").addEventListener("click", async () => {
  const dry = await api("/api/taxonomy/draft/dry-run");
  const body = /** @type {HTMLElement} */ (document.querySelector("[data-testid=dry-run-table] tbody"));
  const counts = (/** @type {any} */ o) => Object.entries(o).map(([k, v]) => `${v} ${k}`).join(", ") || "nothing";
  body.replaceChildren(...dry.changes.map((/** @type {any} */ c) => el("tr", {},
    el("td", {}, c.describe), el("td", {}, counts(c.total)),
    el("td", {}, Object.entries(c.by_task).map(([t, n]) => `task ${t}: ${counts(n)}`).join("; ")))));
  message.textContent = `dry run over ${dry.tasks} task(s)`;
});
$("publish").addEventListener("click", async () => {
  const changelog = /** @type {HTMLTextAreaElement} */ ($("changelog")).value.trim();
  if (!changelog) { message.textContent = "write a changelog first"; return; }
  const out = await api("/api/taxonomy/draft/publish", "POST", { changelog });
  const refused = out.moved.filter((/** @type {any} */ m) => m.result !== "ack");
  message.textContent = `published v${out.number}: ${out.moved.length} task(s) moved` +
    (refused.length ? `, ${refused.length} refused (tasks ${refused.map((/** @type {any} */ m) => m.task_id).join(", ")})` : "");
  /** @type {HTMLTextAreaElement} */ ($("changelog")).value = "";
  await loadVersions();
  await loadDraft();
});
$("discard").addEventListener("click", async () => {
  await api("/api/taxonomy/draft", "DELETE", {});
  await loadDraft();
  message.textContent = "draft discarded";
});
$("export-draft").addEventListener("click", () => {
  const blob = new Blob([JSON.stringify(draft.taxonomy, null, 1)], { type: "application/json" });
  const a = el("a", { href: URL.createObjectURL(blob), download: "taxonomy-draft.json" });
  a.click();
});
$("import").addEventListener("change", async (e) => {
  const file = /** @type {HTMLInputElement} */ (e.target).files?.[0];
  if (!file) return;
  const taxonomy = JSON.parse(await file.text());
  await loadDraft(await api("/api/taxonomy/draft", "PUT", { taxonomy }));
  message.textContent = `imported ${file.name} into the draft`;
});
$("diff-show").addEventListener("click", async () => {
  const from = /** @type {HTMLSelectElement} */ ($("diff-from")).value;
  const to = /** @type {HTMLSelectElement} */ ($("diff-to")).value;
  const d = await api(`/api/taxonomy/diff?from_id=${from}&to_id=${to}`);
  const lines = [`${d.from} → ${d.to}`];
  for (const part of ["classes", "tags"]) {
    if (d[part].added.length) lines.push(`${part} added: ${d[part].added.join(", ")}`);
    if (d[part].removed.length) lines.push(`${part} removed: ${d[part].removed.join(", ")}`);
    for (const [name, fields] of Object.entries(d[part].changed)) {
      lines.push(`${name}: ${Object.entries(/** @type {any} */ (fields)).map(([k, v]) => `${k} ${JSON.stringify(v.from)} → ${JSON.stringify(v.to)}`).join("; ")}`);
    }
  }
  $("diff").textContent = lines.length > 1 ? lines.join("\n") : `${d.from} → ${d.to}: no differences`;
});

await loadVersions();
await loadDraft();
export {};
