// @ts-check
/** The frame, the view (top or 3D) and both cameras survive a reload of the tab
 *  (docs/workspace.md): kept in sessionStorage per task, so a reload comes back
 *  where it was and a new tab opens fresh on frame 1. */

const SAVE_MS = 300;

export class ViewState {
  /** @param {import("./app.js").App} app @param {import("./viewer.js").Viewer} viewer @param {number} taskId */
  constructor(app, viewer, taskId) {
    this.app = app;
    this.viewer = viewer;
    this.key = `pointlabel:view-state:${taskId}`;
    /** @type {ReturnType<typeof setTimeout>|undefined} */ this.timer = undefined;
    this.ready = false;
  }

  /** Start saving after every camera move, view change and frame change. */
  watch() {
    this.ready = true;
    const later = () => { clearTimeout(this.timer); this.timer = setTimeout(() => this.save(), SAVE_MS); };
    this.viewer.cameraChanged.add(later);
    this.app.signals.frameChanged.add(later);
    window.addEventListener("pagehide", () => this.save());
  }

  save() {
    if (!this.ready || !this.app.scene) return;
    const state = { frame: this.app.frame, ...cameraOf(this.viewer) };
    try { sessionStorage.setItem(this.key, JSON.stringify(state)); } catch { /* storage full or off */ }
  }

  /** Put the cameras back; returns the saved frame and view, or null.
   *  @returns {{frame: number, mode: "top"|"persp"}|null} */
  restore() {
    /** @type {any} */ let s;
    try { s = JSON.parse(sessionStorage.getItem(this.key) ?? "null"); } catch { return null; }
    if (!applyCamera(this.viewer, s)) return null;
    const frames = this.app.scene.frames.length;
    const frame = Number.isInteger(s.frame) ? Math.max(0, Math.min(frames - 1, s.frame)) : 0;
    return { frame, mode: s.mode === "persp" ? "persp" : "top" };
  }
}

/** The view (top or 3D) and both cameras, as plain numbers.
 *  @param {import("./viewer.js").Viewer} v */
export function cameraOf(v) {
  return {
    mode: /** @type {"top"|"persp"} */ (v.mode),
    top: { p: v.top.position.toArray(), t: v.topControls.target.toArray(), zoom: v.top.zoom },
    persp: { p: v.persp.position.toArray(), t: v.perspControls.target.toArray() },
  };
}

/** Put both cameras where `s` (from cameraOf) says; false, changing nothing, when
 *  `s` is not such a record. @param {import("./viewer.js").Viewer} v @param {any} s */
export function applyCamera(v, s) {
  const nums = (/** @type {any} */ a) => Array.isArray(a) && a.length === 3 && a.every(Number.isFinite);
  if (!s || !nums(s.top?.p) || !nums(s.top?.t) || !nums(s.persp?.p) || !nums(s.persp?.t)) return false;
  v.top.position.fromArray(s.top.p);
  v.topControls.target.fromArray(s.top.t);
  if (Number.isFinite(s.top.zoom) && s.top.zoom > 0) v.top.zoom = s.top.zoom;
  v.top.updateProjectionMatrix();
  v.persp.position.fromArray(s.persp.p);
  v.perspControls.target.fromArray(s.persp.t);
  v.topControls.update();
  v.perspControls.update();
  v.moved();
  return true;
}
