// @ts-check
/** The box tool: in the top view a click on empty ground places a box of the
 *  chosen class; in either view a click selects a box and a drag moves it
 *  (one undo step per drag). */

import { CreateBoxCommand, UpdateBoxCommand } from "./commands.js";

export class BoxTool {
  /** @param {import("./app.js").App} app @param {import("./viewer.js").Viewer} viewer
   *  @param {import("./commands.js").Editor} editor */
  constructor(app, viewer, editor) {
    this.app = app;
    this.viewer = viewer;
    this.editor = editor;
    /** @type {{id: string, z: number, grab: number[], start: number[], moved: boolean}|null} */
    this.drag = null;
    /** @type {{x: number, y: number}|null} */ this.down = null;
    const el = viewer.renderer.domElement;
    el.addEventListener("pointerdown", (e) => this.pointerDown(e));
    el.addEventListener("pointermove", (e) => this.pointerMove(e));
    el.addEventListener("pointerup", (e) => this.pointerUp(e));
  }

  /** Absolute -> local coordinates of the current frame. @param {number[]} p */
  toLocal(p) { const o = this.app.offset; return [p[0] - o[0], p[1] - o[1], p[2] - o[2]]; }

  /** @param {PointerEvent} e */
  pointerDown(e) {
    if (e.button !== 0) return;
    this.down = { x: e.clientX, y: e.clientY };
    const id = this.viewer.pickBox(e);
    this.app.select(id);
    if (!id) return;
    const c = /** @type {import("./app.js").Cuboid} */ (this.app.cuboids.get(id));
    const local = this.toLocal(c.center);
    const hit = this.viewer.planePoint(e, local[2]);
    if (!hit) return;
    this.drag = { id, z: local[2], grab: [hit.x - local[0], hit.y - local[1]], start: [...c.center], moved: false };
    this.viewer.perspControls.enabled = false;
    /** @type {Element} */ (e.target).setPointerCapture(e.pointerId);
  }

  /** @param {PointerEvent} e */
  pointerMove(e) {
    if (!this.drag) return;
    const hit = this.viewer.planePoint(e, this.drag.z);
    if (!hit) return;
    const c = /** @type {import("./app.js").Cuboid} */ (this.app.cuboids.get(this.drag.id));
    const o = this.app.offset;
    c.center = [hit.x - this.drag.grab[0] + o[0], hit.y - this.drag.grab[1] + o[1], c.center[2]];
    this.drag.moved = true;
    this.app.signals.cuboidChanged.dispatch(this.drag.id);
  }

  /** @param {PointerEvent} e */
  pointerUp(e) {
    const drag = this.drag;
    this.drag = null;
    this.viewer.perspControls.enabled = this.viewer.mode === "persp";
    if (drag?.moved) {
      const c = /** @type {import("./app.js").Cuboid} */ (this.app.cuboids.get(drag.id));
      this.editor.execute(new UpdateBoxCommand(this.app, drag.id, { center: drag.start }, { center: [...c.center] }));
      return;
    }
    const click = this.down && Math.hypot(e.clientX - this.down.x, e.clientY - this.down.y) < 4;
    if (click && !drag && this.viewer.mode === "top") this.place(e);
  }

  /** A default-size box of the chosen class standing on the ground under the pointer.
   *  @param {PointerEvent} e */
  place(e) {
    const cls = this.app.classInfo(this.app.label);
    const hit = this.viewer.planePoint(e, 0);
    if (!hit || !cls) return;
    const ground = this.viewer.groundAt(hit.x, hit.y) ?? 0;
    const o = this.app.offset;
    const track = { id: crypto.randomUUID(), label: cls.name, attributes: {}, revision: 0 };
    const cuboid = {
      id: crypto.randomUUID(), track_id: track.id, frame: this.app.frame,
      center: [hit.x + o[0], hit.y + o[1], ground + cls.default_size[2] / 2 + o[2]],
      size: [...cls.default_size], yaw: 0, pitch: 0, roll: 0, attributes: {},
      source: "manual", keyframe: true, revision: 0,
    };
    this.editor.execute(new CreateBoxCommand(this.app, track, cuboid));
    this.app.select(cuboid.id);
  }
}
