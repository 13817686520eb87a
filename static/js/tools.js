// @ts-check
/** The box tool. In either view a click on a box selects it and a drag moves it
 *  (one undo step per drag; a locked box is selected, never moved). In the top
 *  view, on empty ground, a drag draws a box from the object's back to its front
 *  (heading and length; the class gives width and height) and a Shift+click
 *  places a default-size box of the chosen class; a plain click only clears the
 *  selection. New boxes stand on the ground the server sees under their centre
 *  and get the scene's next track number ("Car 12"). */

import { CreateBoxCommand, UpdateBoxCommand } from "./commands.js";
import { nextTrackNumber } from "./names.js";
import { uuid } from "./store.js";

/** Pointer travel (px) below which a press is a click, not a drag. */
const CLICK_PX = 4;
/** The shortest box a drag draws (m). */
const MIN_LENGTH = 0.2;

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Cuboid} Cuboid */

export class BoxTool {
  /** @param {App} app @param {import("./viewer.js").Viewer} viewer
   *  @param {import("./commands.js").Editor} editor @param {import("./api.js").GeometryApi} api */
  constructor(app, viewer, editor, api) {
    this.app = app;
    this.viewer = viewer;
    this.editor = editor;
    this.api = api;
    /** @type {{id: string, z: number, grab: number[], start: number[], moved: boolean}|null} */
    this.drag = null;
    /** @type {{back: number[], front: number[]|null, z: number}|null} local x, y; z: ground under back */
    this.draw = null;
    /** @type {{x: number, y: number, shift: boolean}|null} */ this.down = null;
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
    this.down = { x: e.clientX, y: e.clientY, shift: e.shiftKey };
    const id = this.viewer.pickBox(e);
    this.app.select(id);
    if (!id) {
      const hit = this.viewer.mode === "top" ? this.viewer.planePoint(e, 0) : null;
      if (hit) {
        this.draw = { back: [hit.x, hit.y], front: null, z: this.viewer.groundAt(hit.x, hit.y) ?? 0 };
        /** @type {Element} */ (e.target).setPointerCapture(e.pointerId);
      }
      return;
    }
    const c = /** @type {Cuboid} */ (this.app.cuboids.get(id));
    if (this.app.isLocked(c.track_id)) return;  // selected, not moved
    const local = this.toLocal(c.center);
    const hit = this.viewer.planePoint(e, local[2]);
    if (!hit) return;
    this.drag = { id, z: local[2], grab: [hit.x - local[0], hit.y - local[1]], start: [...c.center], moved: false };
    this.viewer.perspControls.enabled = false;
    /** @type {Element} */ (e.target).setPointerCapture(e.pointerId);
  }

  /** @param {PointerEvent} e */
  pointerMove(e) {
    if (this.draw) return this.drawTo(e);
    if (!this.drag) return;
    const hit = this.viewer.planePoint(e, this.drag.z);
    if (!hit) return;
    const c = /** @type {Cuboid} */ (this.app.cuboids.get(this.drag.id));
    const o = this.app.offset;
    c.center = [hit.x - this.drag.grab[0] + o[0], hit.y - this.drag.grab[1] + o[1], c.center[2]];
    this.drag.moved = true;
    this.app.signals.cuboidChanged.dispatch(this.drag.id);
  }

  /** @param {PointerEvent} e */
  pointerUp(e) {
    const drag = this.drag, draw = this.draw;
    this.drag = null;
    this.draw = null;
    this.viewer.setDraft(null);
    this.viewer.perspControls.enabled = this.viewer.mode === "persp";
    if (drag?.moved) {
      const c = /** @type {Cuboid} */ (this.app.cuboids.get(drag.id));
      this.editor.execute(new UpdateBoxCommand(this.app, drag.id, { center: drag.start }, { center: [...c.center] }));
      return;
    }
    if (!draw) return;
    const click = !draw.front || (this.down && Math.hypot(e.clientX - this.down.x, e.clientY - this.down.y) < CLICK_PX);
    if (click && !this.down?.shift) return;  // a plain click on the ground creates nothing
    this.editor.prepare(this.place(draw.back, click ? null : draw.front));
  }

  /** @param {PointerEvent} e */
  drawTo(e) {
    const draw = /** @type {{back: number[], front: number[]|null, z: number}} */ (this.draw);
    const hit = this.viewer.planePoint(e, 0);
    const cls = this.app.classInfo(this.app.label);
    if (!hit || !cls) return;
    draw.front = [hit.x, hit.y];
    const shape = drawnShape(draw.back, draw.front, cls.default_size);
    this.viewer.setDraft({ ...shape, center: [shape.center[0], shape.center[1], draw.z + shape.size[2] / 2], color: cls.color });
  }

  /** Create a box of the chosen class: the default one centred on `back`, or the
   *  one drawn from `back` to `front` (local x, y), standing on the ground.
   *  @param {number[]} back @param {number[]|null} front */
  async place(back, front) {
    const cls = this.app.classInfo(this.app.label);
    if (!cls) return;
    const frame = this.app.frame;
    const shape = front ? drawnShape(back, front, cls.default_size)
      : { center: back, size: [...cls.default_size], yaw: 0 };
    const o = this.app.offset;
    const x = shape.center[0] + o[0], y = shape.center[1] + o[1];
    const ground = (await this.api.ground(frame, x, y))
      ?? (this.viewer.groundAt(shape.center[0], shape.center[1]) ?? 0) + o[2];
    if (frame !== this.app.frame) return;
    const track = { id: uuid(), label: cls.name, attributes: { number: nextTrackNumber(this.app) }, revision: 0 };
    const cuboid = {
      id: uuid(), track_id: track.id, frame,
      center: [x, y, ground + shape.size[2] / 2], size: shape.size, yaw: shape.yaw,
      pitch: 0, roll: 0, attributes: {}, source: "manual", keyframe: true, revision: 0,
    };
    this.editor.execute(new CreateBoxCommand(this.app, track, cuboid));
    this.app.select(cuboid.id);
  }
}

/** The box a drag from an object's back to its front outlines (local x, y): its
 *  centre midway, length the drag, heading along it; width and height from `size`.
 *  @param {number[]} back @param {number[]} front @param {number[]} size */
export function drawnShape(back, front, size) {
  const dx = front[0] - back[0], dy = front[1] - back[1];
  return {
    center: [(back[0] + front[0]) / 2, (back[1] + front[1]) / 2],
    size: [Math.max(Math.hypot(dx, dy), MIN_LENGTH), size[1], size[2]],
    yaw: Math.atan2(dy, dx),
  };
}
