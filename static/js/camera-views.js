// @ts-check
/** Saved camera views (docs/workspace.md): Shift+V, or "Save view" in the side
 *  panel, keeps the view (top or 3D) and both cameras under a name ("View 1");
 *  clicking a saved view, or ` (backquote) for the next one, goes back to it;
 *  × forgets it. Kept in this browser (localStorage, per task), like hidden
 *  and locked objects. */

import { applyCamera, cameraOf } from "./view-state.js";

/** @typedef {{name: string, mode: "top"|"persp", top: any, persp: any}} SavedView */

export class CameraViews {
  /** @param {{viewer: import("./viewer.js").Viewer, taskId: number, root: HTMLElement,
   *   setView: (mode: "top"|"persp") => void}} deps */
  constructor({ viewer, taskId, root, setView }) {
    this.viewer = viewer;
    this.root = root;
    this.setView = setView;
    this.key = `pointlabel:camera-views:${taskId}`;
    /** @type {SavedView[]} */ this.views = [];
    try { this.views = JSON.parse(localStorage.getItem(this.key) ?? "[]").filter((/** @type {any} */ v) => v && v.name); } catch { /* none */ }
    this.next = 0;
    this.render();
  }

  save() {
    const used = new Set(this.views.map((v) => v.name));
    let n = this.views.length + 1;
    while (used.has(`View ${n}`)) n++;
    this.views.push({ name: `View ${n}`, ...cameraOf(this.viewer) });
    this.store();
  }

  /** @param {number} i */
  go(i) {
    const v = this.views[i];
    if (!v) return;
    this.setView(v.mode);
    applyCamera(this.viewer, v);
    this.next = (i + 1) % this.views.length;
  }

  cycle() { if (this.views.length) this.go(this.next % this.views.length); }

  /** @param {number} i */
  forget(i) { this.views.splice(i, 1); this.store(); }

  store() {
    try { localStorage.setItem(this.key, JSON.stringify(this.views)); } catch { /* storage full or off */ }
    this.render();
  }

  render() {
    const save = document.createElement("button");
    save.textContent = "Save view";
    save.title = "Keep this camera view (Shift+V)";
    save.dataset.testid = "save-view";
    save.onclick = () => { this.save(); save.blur(); };
    const items = this.views.map((v, i) => {
      const li = document.createElement("li");
      const go = document.createElement("button");
      go.textContent = v.name;
      go.dataset.testid = "saved-view";
      go.title = `Go to ${v.name} (${v.mode === "top" ? "top" : "3D"} view; \` cycles)`;
      go.onclick = () => { this.go(i); go.blur(); };
      const drop = document.createElement("button");
      drop.textContent = "×";
      drop.title = `Forget ${v.name}`;
      drop.setAttribute("aria-label", `Forget ${v.name}`);
      drop.onclick = () => this.forget(i);
      li.append(go, drop);
      return li;
    });
    const list = document.createElement("ul");
    list.className = "saved-views";
    list.append(...items);
    this.root.replaceChildren(save, list);
  }
}
