// @ts-check
/** Keyframes and interpolation of a track's boxes. A track's keyframes are its
 *  boxes with `keyframe: true` (every manual box); for two keyframes at frames
 *  a < b with nothing but interpolated boxes between them, each frame between
 *  gets a box with linearly interpolated centre, size, pitch and roll and the
 *  yaw turned the short way round (`source: "interpolated"`, `keyframe: false`).
 *  Interpolated boxes live only between keyframes: `trackChanges` gives the
 *  creates, updates and deletes that bring a track to that state. */

import { wrapAngle } from "./box-actions.js";
import { uuid } from "./store.js";

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Cuboid} Cuboid
 *  @typedef {{before: Cuboid|null, after: Cuboid|null}} Change */

/** Numbers closer than this are the same (m, rad). */
const SAME = 1e-9;

/** @param {number} a @param {number} b @param {number} t */
const lerp = (a, b, t) => a + (b - a) * t;

/** The box at fraction t (0..1) of the way from keyframe a to keyframe b.
 *  @param {Cuboid} a @param {Cuboid} b @param {number} t
 *  @returns {{center: number[], size: number[], yaw: number, pitch: number, roll: number}} */
export function interpolateBox(a, b, t) {
  return {
    center: a.center.map((v, i) => lerp(v, b.center[i], t)),
    size: a.size.map((v, i) => lerp(v, b.size[i], t)),
    yaw: wrapAngle(a.yaw + wrapAngle(b.yaw - a.yaw) * t),
    pitch: lerp(a.pitch ?? 0, b.pitch ?? 0, t),
    roll: lerp(a.roll ?? 0, b.roll ?? 0, t),
  };
}

/** The track's boxes by frame. @param {App} app @param {string} trackId */
export function trackBoxes(app, trackId) {
  return [...app.cuboids.values()].filter((c) => c.track_id === trackId).sort((x, y) => x.frame - y.frame);
}

/** @param {Cuboid} c */
export const isInterpolated = (c) => c.source === "interpolated" && !c.keyframe;

/** @param {Cuboid} a @param {{center: number[], size: number[], yaw: number, pitch: number, roll: number}} b */
function sameGeometry(a, b) {
  const xs = [...a.center, ...a.size, a.yaw, a.pitch ?? 0, a.roll ?? 0];
  const ys = [...b.center, ...b.size, b.yaw, b.pitch, b.roll];
  return xs.every((x, i) => Math.abs(x - ys[i]) <= SAME);
}

/** What makes the track's interpolated boxes match its keyframes: every frame
 *  strictly between two consecutive keyframes gets an interpolated box (created
 *  or updated), and interpolated boxes outside those spans are removed. Boxes
 *  that are neither keyframes nor interpolated (e.g. pre-labels) are left alone.
 *  @param {App} app @param {string} trackId @returns {Change[]} */
export function trackChanges(app, trackId) {
  const boxes = trackBoxes(app, trackId);
  const keys = boxes.filter((c) => c.keyframe);
  const byFrame = new Map(boxes.map((c) => [c.frame, c]));
  /** @type {Change[]} */ const changes = [];
  const wanted = new Set();
  for (let k = 0; k + 1 < keys.length; k++) {
    const a = keys[k], b = keys[k + 1];
    for (let f = a.frame + 1; f < b.frame; f++) {
      const box = interpolateBox(a, b, (f - a.frame) / (b.frame - a.frame));
      const now = byFrame.get(f);
      if (now && !isInterpolated(now)) continue;  // a pre-label or imported box stays
      wanted.add(f);
      if (now && sameGeometry(now, box)) continue;
      const after = {
        ...(now ?? { id: uuid(), track_id: trackId, frame: f, revision: 0 }),
        ...box, attributes: structuredClone(now?.attributes ?? a.attributes ?? {}),
        source: "interpolated", keyframe: false,
      };
      changes.push({ before: now ? structuredClone(now) : null, after: /** @type {Cuboid} */ (after) });
    }
  }
  for (const c of boxes) {
    if (isInterpolated(c) && !wanted.has(c.frame)) changes.push({ before: structuredClone(c), after: null });
  }
  return changes;
}
