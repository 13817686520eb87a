// @ts-check
/** Wires the workspace together: the only module that knows all the others.
 *  Loaded by first-frame.js once frame 0 is streaming. */

import { GeometryApi } from "./api.js";
import { AttributePanel } from "./attributes.js";
import { BoxActions } from "./box-actions.js";
import { CameraColors } from "./camera-colors.js";
import { CameraPanel } from "./cameras.js";
import { installConsensusOverlay } from "./consensus-overlay.js";
import { Editor } from "./commands.js";
import { HelpOverlay } from "./help.js";
import { Keyboard } from "./keys.js";
import { app, firstFrame, stream, viewer } from "./first-frame.js";  // frame 0 streams already
import { Notices } from "./notices.js";
import { ObjectList } from "./object-list.js";
import { displayName } from "./names.js";
import { boxName, renderPanel } from "./panel.js";
import { initHistory } from "./history.js";
import { installSequence } from "./sequence.js";
import { installPrelabels, isPending } from "./prelabels.js";
import { Outbox } from "./store.js";
import { Markers } from "./markers.js";
import { ReviewPanel } from "./review.js";
import { SubViews } from "./subviews.js";
import { Sync } from "./sync.js";
import { BoxTool } from "./tools.js";
import { ViewControls } from "./view-controls.js";
import { ViewState } from "./view-state.js";
import { installViewTools } from "./view-tools.js";
import { Warnings } from "./warnings.js";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const root = $("workspace");
viewer.topControls.zoomToCursor = viewer.perspControls.zoomToCursor = true;  // the wheel zooms toward the pointer
const taskId = Number(root.dataset.taskId);
const sync = new Sync(taskId, await Outbox.open(`${taskId}/${root.dataset.user}`));
const editor = new Editor(app, sync);
const viewControls = new ViewControls(app, viewer, stream);
const api = new GeometryApi(app.sceneId);
const notices = new Notices($("toast"), $("conflict"));
const actions = new BoxActions(app, editor, viewer, api, (m) => notices.toast(m));
new BoxTool(app, viewer, editor, api);
const subviews = new SubViews(app, viewer, editor, $("subviews"));
const cameras = new CameraPanel(app, viewer, $("camera-panel"));
const cameraColors = new CameraColors(app, viewer, cameras, /** @type {HTMLSelectElement} */ ($("color-mode")));
const mode = root.dataset.mode ?? "view";
if (mode !== "edit") editor.readOnly = `this task is ${root.dataset.taskState?.replace("_", " ")}: ${mode === "review" ? "review" : "view"} only`;
editor.onReadOnly = (why) => notices.toast(why);
const review = new ReviewPanel({ app, markers: new Markers(viewer), taskId, mode,
  user: root.dataset.user ?? "", el: $("review"), tell: (m) => notices.toast(m) });
const warnings = new Warnings({ app, viewer, taskId, badge: $("warning-badge"), selection: $("selection-warnings"),
  overlay: $("box-warnings") });
/** @type {any} */ (window).pointlabel = { app, viewer, sync, editor, actions, stream, subviews, cameras, cameraColors, review, warnings };

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
sync.onAck.add((/** @type {any} */ ack) => { editor.acknowledged(ack); warnings.refetch(); });
sync.onRefused.add((/** @type {any} */ msg, /** @type {any} */ batch) => {
  editor.refused();
  if (msg.type !== "conflict") { notices.refusal(msg, batch, objectName); return; }
  const name = msg.kind === "cuboid" ? `${boxName(app, msg.id)} box` : objectName(msg.id);
  notices.conflict(msg, name, batch ? () => reapply(batch.ops) : null);
  // Show the server's version at once; the snapshot that follows confirms it.
  applyOps([{ op: msg.current ? "update" : "delete", kind: msg.kind, id: msg.id, state: msg.current }]);
  app.signals.annotationsReset.dispatch();
});
initHistory(app, taskId);
sync.onTaxonomy.add((/** @type {any} */ taxonomy) => {
  // Comes before the migration's events, so every class they name is known.
  setTaxonomy(taxonomy);
  drawBoxes();
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

/** What an object is, in words. @param {string} id */
function objectName(id) {
  if (app.cuboids.has(id)) return `${boxName(app, id)} box`;
  if (app.tracks.has(id)) return displayName(app, id);
  return app.tags.has(id) ? `tag ${app.tags.get(id)?.tag}` : "an object";
}

/** "Re-apply mine" after a conflict: the refused batch again, on the revisions the
 *  server has now. @param {any[]} ops */
function reapply(ops) {
  const now = (/** @type {string} */ id) => (app.cuboids.get(id) ?? app.tracks.get(id) ?? app.tags.get(id))?.revision;
  const again = structuredClone(ops).filter((/** @type {any} */ op) => op.op === "create" || now(op.id) !== undefined);
  for (const op of again) if ("base_revision" in op) op.base_revision = now(op.id);
  if (!again.length) { notices.toast("Nothing to re-apply: the objects are gone"); return; }
  applyOps(again);
  app.signals.annotationsReset.dispatch();
  sync.submit(again);
}

function drawBoxes() {
  const o = app.offset;
  const boxes = app.frameCuboids().filter((c) => !app.isHidden(c.track_id)).map((c) => {
    const label = app.tracks.get(c.track_id)?.label ?? "Other";
    return { id: c.id, center: [c.center[0] - o[0], c.center[1] - o[1], c.center[2] - o[2]],
      size: c.size, yaw: c.yaw, color: app.classInfo(label)?.color ?? "#bdbdbd", dim: isPending(c) };
  });
  viewer.setBoxes(boxes, app.selected, app.othersSelected);
  renderPanel(app);
}

/** @param {number} index @param {Promise<import("./stream.js").StreamStats|null>|null} [started]
 *  the frame's showFrame, when it was started already */
async function loadFrame(index, started = null) {
  $("frame-label").textContent = `frame ${index + 1} / ${app.scene.frames.length}`;
  /** @type {HTMLInputElement} */ ($("frame-slider")).value = String(index);
  drawBoxes();
  const stats = await (started ?? stream.showFrame(index, app.scene.frames.length));  // null: superseded
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
  keys.bind("ctrl+z", () => editor.undo(), "undo").bind("ctrl+shift+z ctrl+y", () => editor.redo(), "redo")
    .bind("t", () => setView("top"), "top view").bind("p", () => setView("persp"), "3D view")
    .bind("v", () => viewControls.toggleFollow(), "follow the selected box across frames")
    .bind(",", () => app.setFrame(app.frame - 1), "previous frame").bind(".", () => app.setFrame(app.frame + 1), "next frame")
    .bind("escape", () => app.select(null), "deselect")
    .bind("tab", () => actions.cycle(1), "next box").bind("shift+tab", () => actions.cycle(-1), "previous box")
    .bind("delete backspace", () => actions.remove(), "delete the selected box")
    .bind("q shift+q", (e) => actions.rotate(step(e, 1, 15)), "rotate left 1° (Shift: 15°)")
    .bind("e shift+e", (e) => actions.rotate(-step(e, 1, 15)), "rotate right 1° (Shift: 15°)")
    .bind("x", () => actions.flip(), "flip heading").bind("f", () => actions.fit(), "auto-fit to the points")
    .bind("g", () => actions.snapToGround(), "stand it on the ground");
  /** @type {[string, number, number, string][]} */
  const moves = [["arrowup w", 0, 1, "up"], ["arrowdown s", 0, -1, "down"], ["arrowleft a", -1, 0, "left"], ["arrowright d", 1, 0, "right"]];
  for (const [combos, right, up, way] of moves) {
    const all = combos.split(" ").flatMap((k) => [k, `shift+${k}`]).join(" ");
    keys.bind(all, (e) => actions.nudge(right * step(e, 0.1, 1), up * step(e, 0.1, 1)), `move ${way} 0.1 m on screen (Shift: 1 m)`);
  }
  /** @type {[string, 0|1|2, number, string][]} */
  const sizes = [["i", 0, 1, "length +"], ["k", 0, -1, "length −"], ["l", 1, 1, "width +"], ["j", 1, -1, "width −"],
    ["o", 2, 1, "height + (bottom stays)"], ["u", 2, -1, "height − (bottom stays)"]];
  for (const [key, axis, sign, what] of sizes) {
    keys.bind(`${key} shift+${key}`, (e) => actions.resize(axis, sign * step(e, 0.1, 0.5)), `${what} 0.1 m (Shift: 0.5 m)`);
  }
  for (let i = 0; i < 9; i++) {
    // With a box selected a number changes its track's class; otherwise the class of new boxes.
    // Read at key time: the task's taxonomy version may change while the page is open.
    keys.bind(String(i + 1), () => {
      const c = usableClasses()[i];
      if (c) app.selected ? actions.relabel(c.name) : setClass(c.name);
    }, `class number ${i + 1} in the picker: of the selected track (none selected: of new boxes)`);
  }
  return keys;
}

function setClass(/** @type {string} */ name) {
  app.label = name;
  /** @type {HTMLSelectElement} */ ($("class-select")).value = name;
}

/** The classes new tracks may take (not deprecated), in the taxonomy's order. @returns {any[]} */
function usableClasses() {
  return app.taxonomy.classes.filter((/** @type {any} */ c) => !c.deprecated);
}

/** Use a taxonomy version: the class picker lists its classes (deprecated ones take no
 *  new tracks, so they are left out); the chosen class stays when it still exists.
 *  @param {any} taxonomy as /api/taxonomy answers */
function setTaxonomy(taxonomy) {
  app.taxonomy = taxonomy;
  const usable = usableClasses();
  const select = /** @type {HTMLSelectElement} */ ($("class-select"));
  select.replaceChildren(...usable.map((/** @type {any} */ c, /** @type {number} */ i) =>
    new Option(`${i + 1} ${c.display_name || c.name}`, c.name)));
  select.onchange = () => { setClass(select.value); select.blur(); };
  const keep = usable.some((/** @type {any} */ c) => c.name === app.label);
  setClass(keep ? app.label : usable[0].name);
  app.signals.annotationsReset.dispatch();
}

/** The page opened on one object (`?object=ID&frame=N`, as the quality dashboard links):
 *  at that frame at once, then, when the label set has arrived, the box (or the track, at
 *  its nearest box) is selected.
 *  @param {{tracks: {jumpTo: (id: string) => void}}} sequence */
function focusFromUrl(sequence) {
  const params = new URLSearchParams(location.search);
  const id = params.get("object"), frame = Number(params.get("frame") ?? NaN);
  if (Number.isInteger(frame) && frame >= 0 && frame < app.scene.frames.length) app.frame = frame;
  if (!id) return;
  const stop = app.signals.annotationsReset.add(() => {
    const box = app.cuboids.get(id);
    if (!box && !app.tracks.has(id)) return;
    stop();
    if (box) { app.setFrame(box.frame); app.select(id); } else sequence.tracks.jumpTo(id);
  });
}

async function start() {
  setTaxonomy(app.taxonomy);  // the task's version, inlined in the page
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
  const sequence = installSequence({ app, editor, keys, actions, tell: (m) => notices.toast(m) });
  new HelpOverlay(keys, $("help"), $("help-button"));
  const objects = new ObjectList({ app, editor, viewer, jumpTo: (id) => sequence.tracks.jumpTo(id),
    warningsOf: (id) => warnings.of(id), tell: (m) => notices.toast(m), root: $("objects"), storageKey: `pointlabel:view:${taskId}` });
  editor.guard = (cmd) => objects.guard(cmd);
  warnings.changed.add(() => objects.schedule());
  app.signals.viewChanged.add(drawBoxes);
  const tools = installViewTools({ app, viewer, stream, editor, keys, taskId, setView, tell: (m) => notices.toast(m) });
  installConsensusOverlay({ app, viewer, taskId });
  Object.assign(/** @type {any} */ (window).pointlabel, { sequence, objects, keys, tools });
  objects.refresh();
  warnings.load();
  installPrelabels({ app, editor, keys, tell: (m) => notices.toast(m), user: root.dataset.user ?? "", taskId });
  setView("top");
  const views = new ViewState(app, viewer, taskId);
  const saved = views.restore();  // after a reload: the frame, view and cameras it had
  if (saved) { setView(saved.mode); app.frame = saved.frame; }
  focusFromUrl(sequence);
  views.watch();
  sync.connect();
  review.load();
  await loadFrame(app.frame, app.frame === 0 ? firstFrame : null);  // frame 0 is streaming already
}

start();
