// @ts-check
/** Keyframes and interpolation of a track's boxes. A track's keyframes are its
 *  boxes with `keyframe: true` (every manual box); for two keyframes at frames
 *  a < b with nothing but interpolated boxes between them, each frame between
 *  gets a box with linearly interpolated centre, size, pitch and roll and the
 *  yaw turned the short way round (`source: "interpolated"`, `keyframe: false`).
 *  Interpolated boxes live only between keyframes: `trackChanges` gives the
 *  creates, updates and deletes that bring a track to that state. When the
 *  scene has ego poses (4x4 frame-to-world, row-major) for the keyframes and
 *  the frame, the interpolation runs in world coordinates: a parked car stays
 *  put while the sensor drives past it. */

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

/** @typedef {number[][]} Pose 4x4 frame-to-world, row-major */

/** The box moved by the rigid `pose` (or by its inverse): centre transformed, yaw turned.
 *  @template {{center: number[], yaw: number}} B @param {B} box @param {Pose} pose
 *  @param {boolean} inverse @returns {B} */
export function moveBox(box, pose, inverse) {
  const turn = Math.atan2(pose[1][0], pose[0][0]);
  const [x, y, z] = box.center;
  const t = [pose[0][3], pose[1][3], pose[2][3]];
  const center = inverse
    ? [0, 1, 2].map((i) => pose[0][i] * (x - t[0]) + pose[1][i] * (y - t[1]) + pose[2][i] * (z - t[2]))
    : [0, 1, 2].map((i) => pose[i][0] * x + pose[i][1] * y + pose[i][2] * z + t[i]);
  return { ...box, center, yaw: wrapAngle(box.yaw + (inverse ? -turn : turn)) };
}

/** The box at fraction t from keyframe a to b, for frame f: in world coordinates when
 *  `poses` has all three frames' poses, else in sensor coordinates.
 *  @param {Cuboid} a @param {Cuboid} b @param {number} f @param {(Pose|null|undefined)[]} poses */
export function interpolateFor(a, b, f, poses) {
  const t = (f - a.frame) / (b.frame - a.frame);
  const pa = poses[a.frame], pb = poses[b.frame], pf = poses[f];
  if (!pa || !pb || !pf) return interpolateBox(a, b, t);
  return moveBox(interpolateBox(moveBox(a, pa, false), moveBox(b, pb, false), t), pf, true);
}

/** The scene's ego poses by frame index (null where a frame has none). @param {App} app
 *  @returns {(Pose|null)[]} */
const scenePoses = (app) => (app.scene.frames ?? []).map((fr) => /** @type {any} */ (fr).pose ?? null);

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
  const poses = scenePoses(app);
  for (let k = 0; k + 1 < keys.length; k++) {
    const a = keys[k], b = keys[k + 1];
    for (let f = a.frame + 1; f < b.frame; f++) {
      const box = interpolateFor(a, b, f, poses);
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
