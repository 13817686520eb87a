// @ts-check
/** Wires the workspace together: the only module that knows all the others. */

import { GeometryApi } from "./api.js";
import { App } from "./app.js";
import { AttributePanel } from "./attributes.js";
import { BoxActions } from "./box-actions.js";
import { Editor } from "./commands.js";
import { Keyboard } from "./keys.js";
import { Notices } from "./notices.js";
import { boxName, renderPanel } from "./panel.js";
import { installSequence } from "./sequence.js";
import { installPrelabels, isPending } from "./prelabels.js";
import { Outbox } from "./store.js";
import { Markers } from "./markers.js";
import { ReviewPanel } from "./review.js";
import { PointStream } from "./stream.js";
import { SubViews } from "./subviews.js";
import { Sync } from "./sync.js";
import { TileLoader } from "./tiles.js";
import { BoxTool } from "./tools.js";
import { ViewControls } from "./view-controls.js";
import { Viewer } from "./viewer.js";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const root = $("workspace");
const app = new App(Number(root.dataset.sceneId));
const loader = new TileLoader(app.sceneId);
loader.prefetch(0);  // hierarchy and root tile of the first frame, while the page starts
const viewer = new Viewer($("viewport"));
const taskId = Number(root.dataset.taskId);
const sync = new Sync(taskId, await Outbox.open(`${taskId}/${root.dataset.user}`));
const editor = new Editor(app, sync);
const stream = new PointStream(loader, viewer);
const viewControls = new ViewControls(app, viewer, stream);
const api = new GeometryApi(app.sceneId);
const notices = new Notices($("toast"), $("conflict"));
const actions = new BoxActions(app, editor, viewer, api, (m) => notices.toast(m));
new BoxTool(app, viewer, editor, api);
const subviews = new SubViews(app, viewer, editor, $("subviews"));
const mode = root.dataset.mode ?? "view";
if (mode !== "edit") editor.readOnly = `this task is ${root.dataset.taskState?.replace("_", " ")}: ${mode === "review" ? "review" : "view"} only`;
editor.onReadOnly = (why) => notices.toast(why);
const review = new ReviewPanel({ app, markers: new Markers(viewer), taskId, mode,
  user: root.dataset.user ?? "", el: $("review"), tell: (m) => notices.toast(m) });
/** @type {any} */ (window).pointlabel = { app, viewer, sync, editor, actions, stream, subviews, review };

/** Apply protocol ops to the local state: event ops carry `state`, our own
 *  unacknowledged ops carry `data`. @param {any[]} ops */
function applyOps(ops) {
  for (const op of ops) {
    const map = op.kind === "cuboid" ? app.cuboids : op.kind === "track" ? app.tracks
      : op.kind === "tag" ? app.tags : null;
    if (!map) continue;
    if (op.op === "delete") map.delete(op.id);
    else if (op.state) map.set(op.id, op.state);
    else map.set(op.id, { ...(map.get(op.id) ?? { id: op.id, revision: 0 }), ...structuredClone(op.data) });
  }
  if (app.selected && !app.cuboids.has(app.selected)) app.select(null);
}

sync.onSnapshot.add((/** @type {any} */ snap) => {
  app.tracks = new Map(snap.tracks.map((/** @type {any} */ t) => [t.id, t]));
  app.cuboids = new Map(snap.cuboids.map((/** @type {any} */ c) => [c.id, c]));
  app.tags = new Map(snap.tags.map((/** @type {any} */ t) => [t.id, t]));
  // Our edits the server has not acknowledged yet stay visible on top of it.
  for (const msg of sync.pending) applyOps(msg.ops);
  app.signals.annotationsReset.dispatch();
});
sync.onEvent.add((/** @type {any} */ ev) => { applyOps(ev.ops); app.signals.annotationsReset.dispatch(); });
sync.onAck.add((/** @type {any} */ ack) => editor.acknowledged(ack));
sync.onRefused.add((/** @type {any} */ msg) => {
  editor.refused();
  if (msg.type !== "conflict") return;
  const name = msg.kind === "cuboid" ? `${boxName(app, msg.id)} box` : `${msg.kind} ${msg.id.slice(0, 8)}`;
  notices.conflict(msg, name);
  // Show the server's version at once; the snapshot that follows confirms it.
  applyOps([{ op: msg.current ? "update" : "delete", kind: msg.kind, id: msg.id, state: msg.current }]);
  app.signals.annotationsReset.dispatch();
});
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
      size: c.size, yaw: c.yaw, color: app.classInfo(label)?.color ?? "#bdbdbd", dim: isPending(c) };
  });
  viewer.setBoxes(boxes, app.selected, app.othersSelected);
  renderPanel(app);
}

async function loadFrame(/** @type {number} */ index) {
  $("frame-label").textContent = `frame ${index + 1} / ${app.scene.frames.length}`;
  /** @type {HTMLInputElement} */ ($("frame-slider")).value = String(index);
  drawBoxes();
  const stats = await stream.showFrame(index, app.scene.frames.length);  // null: superseded
  if (!stats) return;
  root.dataset.loadedFrame = String(index);
  app.signals.pointsLoaded.dispatch(stats);
}

function setView(/** @type {"top"|"persp"} */ mode) {
  viewer.setMode(mode);
  $("view-top").classList.toggle("active", mode === "top");
  $("view-persp").classList.toggle("active", mode === "persp");
}

function bindKeys() {
  const step = (/** @type {KeyboardEvent} */ e, /** @type {number} */ small, /** @type {number} */ big) => (e.shiftKey ? big : small);
  const keys = new Keyboard(window);
  keys.bind("ctrl+z", () => editor.undo()).bind("ctrl+shift+z ctrl+y", () => editor.redo())
    .bind("t", () => setView("top")).bind("v", () => viewControls.toggleFollow()).bind("p", () => setView("persp"))
    .bind(",", () => app.setFrame(app.frame - 1)).bind(".", () => app.setFrame(app.frame + 1))
    .bind("escape", () => app.select(null))
    .bind("tab", () => actions.cycle(1)).bind("shift+tab", () => actions.cycle(-1))
    .bind("delete backspace", () => actions.remove())
    .bind("q shift+q", (e) => actions.rotate(step(e, 1, 15))).bind("e shift+e", (e) => actions.rotate(-step(e, 1, 15)))
    .bind("x", () => actions.flip()).bind("f", () => actions.fit()).bind("g", () => actions.snapToGround());
  /** @type {[string, number, number][]} */
  const moves = [["arrowup w", 0, 1], ["arrowdown s", 0, -1], ["arrowleft a", -1, 0], ["arrowright d", 1, 0]];
  for (const [combos, right, up] of moves) {
    const all = combos.split(" ").flatMap((k) => [k, `shift+${k}`]).join(" ");
    keys.bind(all, (e) => actions.nudge(right * step(e, 0.1, 1), up * step(e, 0.1, 1)));
  }
  /** @type {[string, 0|1|2, number][]} */
  const sizes = [["i", 0, 1], ["k", 0, -1], ["l", 1, 1], ["j", 1, -1], ["o", 2, 1], ["u", 2, -1]];
  for (const [key, axis, sign] of sizes) keys.bind(`${key} shift+${key}`, (e) => actions.resize(axis, sign * step(e, 0.1, 0.5)));
  app.taxonomy.classes.slice(0, 9).forEach((/** @type {any} */ c, /** @type {number} */ i) => {
    // With a box selected a number changes its track's class; otherwise the class of new boxes.
    keys.bind(String(i + 1), () => (app.selected ? actions.relabel(c.name) : setClass(c.name)));
  });
  return keys;
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
  new AttributePanel(app, editor, $("attributes"));
  const keys = bindKeys();
  installPrelabels({ app, editor, keys, tell: (m) => notices.toast(m), user: root.dataset.user ?? "", taskId });
  /** @type {any} */ (window).pointlabel.sequence = installSequence({ app, editor, keys, actions, tell: (m) => notices.toast(m) });
  setView("top");
  sync.connect();
  review.load();
  await loadFrame(0);
}

start();
