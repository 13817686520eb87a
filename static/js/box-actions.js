// @ts-check
/** Keyboard actions on the selected box: rotate, nudge, resize, flip, delete,
 *  change its track's class, auto-fit, snap to ground, and moving the selection
 *  through the frame's boxes. Each is one undoable command; repeated presses on
 *  the same box and property within MERGE_MS are one undo step. */

import { DeleteBoxCommand, UpdateBoxCommand, UpdateTrackCommand } from "./commands.js";

/** The smallest edge a resize leaves (m). */
export const MIN_EDGE = 0.1;

/** An angle in (-pi, pi]. @param {number} a */
export const wrapAngle = (a) => {
  const t = a - 2 * Math.PI * Math.floor((a + Math.PI) / (2 * Math.PI));
  return t === -Math.PI ? Math.PI : t;
};

/** @typedef {import("./app.js").Cuboid} Cuboid */

export class BoxActions {
  /** @param {import("./app.js").App} app @param {import("./commands.js").Editor} editor
   *  @param {import("./viewer.js").Viewer} viewer @param {import("./api.js").GeometryApi} api
   *  @param {(message: string) => void} tell shows a short message to the user */
  constructor(app, editor, viewer, api, tell) {
    this.app = app;
    this.editor = editor;
    this.viewer = viewer;
    this.api = api;
    this.tell = tell;
  }

  /** The selected cuboid, if any. */
  get box() { return this.app.selected ? this.app.cuboids.get(this.app.selected) ?? null : null; }

  /** Change some fields of the selected box. @param {(c: Cuboid) => Partial<Cuboid>} change
   *  @param {string} [property] merge repeated changes of this property */
  update(change, property) {
    const c = this.box;
    if (!c) return;
    const after = change(c);
    const before = /** @type {any} */ (Object.fromEntries(Object.keys(after).map((k) => [k, structuredClone(/** @type {any} */ (c)[k])])));
    this.editor.execute(new UpdateBoxCommand(this.app, c.id, before, after), property && `${c.id}:${property}`);
  }

  /** @param {number} degrees counter-clockwise seen from above */
  rotate(degrees) { this.update((c) => ({ yaw: wrapAngle(c.yaw + degrees * Math.PI / 180) }), "yaw"); }

  flip() { this.update((c) => ({ yaw: wrapAngle(c.yaw + Math.PI) })); }

  /** Move along the screen's right / up on the ground. @param {number} right @param {number} up metres */
  nudge(right, up) {
    const a = this.viewer.groundAxes();
    this.update((c) => ({ center: [c.center[0] + right * a.right[0] + up * a.up[0],
      c.center[1] + right * a.right[1] + up * a.up[1], c.center[2]] }), "center");
  }

  /** Grow (or shrink) one edge: 0 length, 1 width (about the centre), 2 height
   *  (the bottom stays). @param {0|1|2} axis @param {number} delta metres */
  resize(axis, delta) {
    this.update((c) => {
      const size = [...c.size];
      size[axis] = Math.max(MIN_EDGE, size[axis] + delta);
      if (axis !== 2) return { size };
      const center = [c.center[0], c.center[1], c.center[2] + (size[2] - c.size[2]) / 2];
      return { size, center };
    }, "size");
  }

  remove() { if (this.box) this.editor.execute(new DeleteBoxCommand(this.app, this.box.id)); }

  /** Give the selected box's track the class `label`. @param {string} label */
  relabel(label) {
    const c = this.box;
    const track = c && this.app.tracks.get(c.track_id);
    if (!track || track.label === label) return;
    this.editor.execute(new UpdateTrackCommand(this.app, track.id, track.label, label));
  }

  /** Select the next (+1) or previous (-1) box of the frame. @param {number} step */
  cycle(step) {
    const ids = this.app.frameCuboids().filter((c) => !this.app.isHidden(c.track_id)).map((c) => c.id);
    if (!ids.length) return;
    const at = this.app.selected ? ids.indexOf(this.app.selected) : -1;
    const next = at < 0 ? (step > 0 ? 0 : ids.length - 1) : (at + step + ids.length) % ids.length;
    this.app.select(ids[next]);
  }

  /** Fit the selected box to the points of its object (the server's auto-fit). */
  fit() { return this.editor.prepare(this.fitNow()); }

  async fitNow() {
    const c = this.box;
    if (!c) return;
    const asked = JSON.stringify([c.center, c.size, c.yaw]);
    let fitted;
    try {
      fitted = await this.api.fit(c.frame, c, this.app.tracks.get(c.track_id)?.label);
    } catch (e) {
      this.tell(`Auto-fit failed: ${/** @type {Error} */ (e).message}`);
      return;
    }
    const now = this.app.cuboids.get(c.id);
    if (!now || JSON.stringify([now.center, now.size, now.yaw]) !== asked) return;  // changed meanwhile
    this.app.select(c.id);
    this.update(() => ({ center: fitted.center, size: fitted.size, yaw: wrapAngle(fitted.yaw) }));
    this.tell(`Fitted to ${fitted.points} points`);
  }

  /** Stand the selected box on the ground the server sees under its centre. */
  snapToGround() { return this.editor.prepare(this.snapNow()); }

  async snapNow() {
    const c = this.box;
    if (!c) return;
    const z = await this.api.ground(c.frame, c.center[0], c.center[1]);
    if (z === null) { this.tell("No ground seen under this box"); return; }
    if (this.app.selected !== c.id) return;
    this.update((b) => ({ center: [b.center[0], b.center[1], z + b.size[2] / 2] }));
  }
}
