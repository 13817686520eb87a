// @ts-check
/** Wires the workspace together: the only module that knows all the others. */

import { App } from "./app.js";
import { DeleteBoxCommand, Editor } from "./commands.js";
import { Sync } from "./sync.js";
import { TileLoader } from "./tiles.js";
import { BoxTool } from "./tools.js";
import { Viewer } from "./viewer.js";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const root = $("workspace");
const app = new App(Number(root.dataset.sceneId));
const viewer = new Viewer($("viewport"));
const sync = new Sync(app.sceneId);
const editor = new Editor(app, sync);
const loader = new TileLoader(app.sceneId);
new BoxTool(app, viewer, editor);
/** @type {any} */ (window).pointlabel = { app, viewer, sync, editor };

/** Apply protocol ops to the local state: event ops carry `state`, our own
 *  unacknowledged ops carry `data`. @param {any[]} ops */
function applyOps(ops) {
  for (const op of ops) {
    const map = op.kind === "cuboid" ? app.cuboids : op.kind === "track" ? app.tracks : null;
    if (!map) continue;
    if (op.op === "delete") map.delete(op.id);
    else if (op.state) map.set(op.id, op.state);
    else map.set(op.id, { ...(map.get(op.id) ?? { id: op.id, revision: 0 }), ...structuredClone(op.data) });
  }
}

sync.onSnapshot.add((/** @type {any} */ snap) => {
  app.tracks = new Map(snap.tracks.map((/** @type {any} */ t) => [t.id, t]));
  app.cuboids = new Map(snap.cuboids.map((/** @type {any} */ c) => [c.id, c]));
  for (const p of sync.pending.values()) applyOps(/** @type {any} */ (p.msg).ops);
  if (app.selected && !app.cuboids.has(app.selected)) app.select(null);
  app.signals.annotationsReset.dispatch();
});
sync.onEvent.add((/** @type {any} */ ev) => { applyOps(ev.ops); app.signals.annotationsReset.dispatch(); });
sync.onPresence.add((/** @type {any[]} */ clients) => {
  const others = clients.filter((c) => c.client_id !== sync.clientId);
  app.othersSelected = new Set(others.map((c) => c.selected).filter(Boolean));
  $("presence").textContent = others.length
    ? `${others.length} other${others.length > 1 ? "s" : ""} here: ${[...new Set(others.map((c) => c.user))].join(", ")}`
    : "only you";
  drawBoxes();
});
sync.onState.add((/** @type {string} */ state, /** @type {string} */ message) => {
  const el = $("save-state");
  el.dataset.state = state;
  el.textContent = message ? `${state}: ${message}` : state;
  el.title = message;
});

function drawBoxes() {
  const o = app.offset;
  const boxes = app.frameCuboids().map((c) => {
    const label = app.tracks.get(c.track_id)?.label ?? "Other";
    return { id: c.id, center: [c.center[0] - o[0], c.center[1] - o[1], c.center[2] - o[2]],
      size: c.size, yaw: c.yaw, color: app.classInfo(label)?.color ?? "#bdbdbd" };
  });
  viewer.setBoxes(boxes, app.selected, app.othersSelected);
  $("box-count").textContent = String(boxes.length);
  const list = $("box-list");
  list.replaceChildren(...app.frameCuboids().map((c) => {
    const li = document.createElement("li");
    li.textContent = `${app.tracks.get(c.track_id)?.label ?? "?"} · ${c.track_id.slice(0, 8)}`;
    li.classList.toggle("selected", c.id === app.selected);
    li.onclick = () => app.select(c.id);
    return li;
  }));
  showSelection();
}

function showSelection() {
  const c = app.selected ? app.cuboids.get(app.selected) : null;
  const el = $("selection");
  if (!c) { el.textContent = "Nothing selected"; return; }
  const f = (/** @type {number[]} */ v) => v.map((x) => x.toFixed(2)).join(", ");
  el.textContent = `${app.tracks.get(c.track_id)?.label} · centre ${f(c.center)} · size ${f(c.size)} · yaw ${c.yaw.toFixed(2)}`;
}

let loadToken = 0;
async function loadFrame(/** @type {number} */ index) {
  const token = ++loadToken;
  const frame = app.scene.frames[index];
  $("frame-label").textContent = `frame ${index + 1} / ${app.scene.frames.length}`;
  /** @type {HTMLInputElement} */ ($("frame-slider")).value = String(index);
  viewer.clearPoints();
  drawBoxes();
  const stats = await loader.load(index, (_node, data) => viewer.addTile(data), () => token !== loadToken);
  if (token !== loadToken) return;
  $("point-stats").textContent = `${stats.loaded.toLocaleString()} of ${frame.points.toLocaleString()} points drawn (${stats.nodes} tiles)`;
  root.dataset.loadedFrame = String(index);
  app.signals.pointsLoaded.dispatch(stats);
}

function setView(/** @type {"top"|"persp"} */ mode) {
  viewer.setMode(mode);
  $("view-top").classList.toggle("active", mode === "top");
  $("view-persp").classList.toggle("active", mode === "persp");
}

function bindKeys() {
  window.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    const k = e.key;
    if ((e.ctrlKey || e.metaKey) && k.toLowerCase() === "z") { e.shiftKey ? editor.redo() : editor.undo(); }
    else if ((e.ctrlKey || e.metaKey) && k.toLowerCase() === "y") editor.redo();
    else if (k === "t" || k === "T") setView("top");
    else if (k === "p" || k === "P") setView("persp");
    else if (k === ",") app.setFrame(app.frame - 1);
    else if (k === ".") app.setFrame(app.frame + 1);
    else if (k === "Escape") app.select(null);
    else if ((k === "Delete" || k === "Backspace") && app.selected) editor.execute(new DeleteBoxCommand(app, app.selected));
    else if (/^[1-9]$/.test(k) && app.taxonomy.classes[Number(k) - 1]) setClass(app.taxonomy.classes[Number(k) - 1].name);
    else return;
    e.preventDefault();
  });
}

function setClass(/** @type {string} */ name) {
  app.label = name;
  /** @type {HTMLSelectElement} */ ($("class-select")).value = name;
}

async function start() {
  const [scene, taxonomy] = await Promise.all([
    fetch(`/api/scenes/${app.sceneId}`).then((r) => r.json()),
    fetch("/api/taxonomy").then((r) => r.json()),
  ]);
  app.scene = scene;
  app.taxonomy = taxonomy;
  const select = /** @type {HTMLSelectElement} */ ($("class-select"));
  select.replaceChildren(...taxonomy.classes.map((/** @type {any} */ c, /** @type {number} */ i) => new Option(`${i + 1} ${c.name}`, c.name)));
  select.onchange = () => setClass(select.value);
  setClass(taxonomy.classes[0].name);
  const f0 = scene.frames[0];
  const o = f0.offset;
  viewer.frameBounds(f0.min.map((/** @type {number} */ v, /** @type {number} */ i) => v - o[i]),
    f0.max.map((/** @type {number} */ v, /** @type {number} */ i) => v - o[i]),
    o.some((/** @type {number} */ v) => v !== 0));
  $("view-top").onclick = () => setView("top");
  $("view-persp").onclick = () => setView("persp");
  $("prev-frame").onclick = () => app.setFrame(app.frame - 1);
  $("next-frame").onclick = () => app.setFrame(app.frame + 1);
  $("frame-slider").oninput = (e) => app.setFrame(Number(/** @type {HTMLInputElement} */ (e.target).value));
  app.signals.frameChanged.add(loadFrame);
  app.signals.cuboidChanged.add(drawBoxes);
  app.signals.annotationsReset.add(drawBoxes);
  app.signals.selectionChanged.add(drawBoxes);
  app.signals.selectionChanged.add((/** @type {string|null} */ id) => sync.select(id));
  bindKeys();
  setView("top");
  sync.connect();
  await loadFrame(0);
}

start();
