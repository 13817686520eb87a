// @ts-check
/** The server's validation warnings where the work is (docs/workspace.md): a
 *  badge in the header ("3 warnings") that opens each in turn, a marker over
 *  each warned box of the frame in the viewport, the selected object's warnings
 *  in the side panel, and a per-track count for the object list. The list is
 *  `GET /api/tasks/{id}/warnings` (the last accepted edit of every object),
 *  fetched again after every change. */

import { displayName } from "./names.js";

/** @typedef {{kind: string, id: string, frame: number|null, code: string, message: string}} Warning */

/** How long after a change the list is fetched again (ms): a burst of edits is one fetch. */
const REFETCH_MS = 250;

export class Warnings {
  /** @param {{app: import("./app.js").App, viewer: import("./viewer.js").Viewer, taskId: number,
   *   badge: HTMLElement, selection: HTMLElement, overlay: HTMLElement}} o */
  constructor(o) {
    this.app = o.app; this.viewer = o.viewer; this.taskId = o.taskId;
    this.badge = o.badge; this.selection = o.selection; this.overlay = o.overlay;
    /** @type {Warning[]} */ this.list = [];
    /** @type {Map<string, Warning[]>} track id -> the warnings of it, its boxes and its tags */ this.byTrack = new Map();
    this.next = 0;
    /** @type {Set<() => void>} called when the list changed */ this.changed = new Set();
    /** @type {ReturnType<typeof setTimeout>|undefined} */ this.timer = undefined;
    this.badge.onclick = () => this.openNext();
    const s = this.app.signals;
    for (const sig of [s.annotationsReset, s.cuboidChanged]) sig.add(() => this.refetch());
    for (const sig of [s.frameChanged, s.selectionChanged, s.cuboidChanged, s.annotationsReset, s.viewChanged]) sig.add(() => this.draw());
    this.viewer.cameraChanged.add(() => this.placeMarkers());
  }

  refetch() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), REFETCH_MS);
  }

  async load() {
    try {
      const r = await fetch(`/api/tasks/${this.taskId}/warnings`);
      if (!r.ok) return;
      this.list = await r.json();
    } catch { return; }  // offline: keep the last list
    this.index();
    this.draw();
    for (const fn of this.changed) fn();
  }

  /** Which track each warning is about. */
  index() {
    const app = this.app;
    this.byTrack = new Map();
    for (const w of this.list) {
      const track = w.kind === "track" ? w.id : w.kind === "cuboid" ? app.cuboids.get(w.id)?.track_id
        : app.tags.get(w.id)?.track_id;
      if (!track) continue;
      const list = this.byTrack.get(track) ?? [];
      list.push(w);
      this.byTrack.set(track, list);
    }
  }

  /** @param {string} trackId */
  of(trackId) { return this.byTrack.get(trackId) ?? []; }

  /** The warnings of a box: its own and its track's. @param {string} cuboidId */
  ofBox(cuboidId) {
    const c = this.app.cuboids.get(cuboidId);
    return this.list.filter((w) => w.id === cuboidId || (c && w.kind === "track" && w.id === c.track_id));
  }

  /** Open the next warning's object: its frame, selected. */
  openNext() {
    if (!this.list.length) return;
    const w = this.list[this.next++ % this.list.length];
    this.open(w);
  }

  /** @param {Warning} w */
  open(w) {
    const app = this.app;
    if (w.kind === "cuboid") {
      const c = app.cuboids.get(w.id);
      if (!c) return;
      if (c.frame !== app.frame) app.setFrame(c.frame);
      app.select(c.id);
    } else if (w.kind === "track") {
      app.selectTrack(w.id);
    } else {
      const t = app.tags.get(w.id);
      if (t?.track_id) app.selectTrack(t.track_id);
      if (t) app.selectTag(t.id);
    }
  }

  draw() {
    const n = this.list.length;
    this.badge.hidden = n === 0;
    this.badge.textContent = `⚠ ${n} warning${n === 1 ? "" : "s"}`;
    this.badge.title = n ? "Open the next warning's object" : "";
    this.badge.dataset.count = String(n);
    const sel = this.app.selected ? this.ofBox(this.app.selected) : this.app.selectedTrack ? this.of(this.app.selectedTrack) : [];
    this.selection.hidden = !sel.length;
    this.selection.replaceChildren(...sel.map((w) => {
      const li = document.createElement("li");
      li.dataset.testid = "selection-warning";
      li.dataset.code = w.code;
      li.textContent = `⚠ ${w.message}`;
      return li;
    }));
    this.drawMarkers();
  }

  /** A marker over each warned, visible box of the frame, saying what is wrong. */
  drawMarkers() {
    const app = this.app;
    if (!app.scene) return;
    const boxes = app.frameCuboids().filter((c) => !app.isHidden(c.track_id));
    const marks = [];
    for (const c of boxes) {
      const ws = this.ofBox(c.id);
      if (!ws.length) continue;
      const el = document.createElement("div");
      el.className = "box-warning";
      el.dataset.testid = "box-warning";
      el.dataset.cuboidId = c.id;
      el.textContent = `⚠ ${displayName(app, c.track_id)}: ${ws.map((w) => w.message).join("; ")}`;
      el.onclick = () => app.select(c.id);
      marks.push(el);
    }
    this.overlay.replaceChildren(...marks);
    this.placeMarkers();
  }

  placeMarkers() {
    if (!this.app.scene) return;
    const r = this.viewer.renderer.domElement.getBoundingClientRect();
    const o = this.app.offset;
    for (const el of /** @type {HTMLElement[]} */ ([...this.overlay.children])) {
      const c = this.app.cuboids.get(el.dataset.cuboidId ?? "");
      if (!c) continue;
      const p = this.viewer.screenPoint([c.center[0] - o[0], c.center[1] - o[1], c.center[2] - o[2] + c.size[2] / 2]);
      el.style.left = `${p.x - r.left}px`;
      el.style.top = `${p.y - r.top}px`;
    }
  }
}
