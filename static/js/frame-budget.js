// @ts-check
/** The point budget follows the measured frame time (docs/workspace.md, "Frame
 *  time"). While the camera moves, each drawn frame waits for its pixels and is
 *  timed (viewer.rendered), and only the coarsest drawn tiles, in the stream's
 *  priority order (parents first, largest on screen first), that fit the
 *  moving budget are shown; each timed frame adjusts that budget toward
 *  TARGET_MS (nextBudget). STILL_MS after the last move every drawn tile is
 *  shown again (the full budget). Tiles are hidden, not removed: nothing is fetched,
 *  decoded or uploaded again when the camera stops. */

import { tileKey } from "./tiles.js";

/** The frame time aimed at while the camera moves (ms): a frame is at most
 *  50 ms, and the draw leaves room for the rest of it (scripts, compositing). */
export const TARGET_MS = 40;
/** The camera counts as stopped this long after its last move (ms). */
export const STILL_MS = 250;
/** A moving frame draws at least this many points (the coarsest tiles). */
export const MIN_POINTS = 20_000;
/** After a frame well under the target, the moving budget grows by this factor. */
const GROW = 1.2;

/** The next moving budget after a frame that drew `shown` points in `ms`: over
 *  the target, cut in proportion (as if the whole cost were per point, so never
 *  too little cut); well under it (below 70 %), grow by GROW, up to `all`
 *  (every drawn point); else keep.
 *  @param {number} budget @param {number} shown @param {number} ms @param {number} all */
export function nextBudget(budget, shown, ms, all) {
  if (ms > TARGET_MS) return Math.max(MIN_POINTS, Math.floor(Math.min(budget, shown) * (TARGET_MS / ms) * 0.9));
  if (ms < 0.7 * TARGET_MS && budget < all) return Math.min(all, Math.floor(budget * GROW));
  return budget;
}

export class FrameBudget {
  /** @param {import("./viewer.js").Viewer} viewer @param {import("./stream.js").PointStream} stream */
  constructor(viewer, stream) {
    this.viewer = viewer;
    this.stream = stream;
    this.moving = false;
    /** The most points a moving frame may draw, learnt from timed frames (Infinity: not yet). */
    this.movingBudget = Infinity;
    /** The last timed frame: points drawn and ms. */
    this.last = { points: 0, ms: 0 };
    /** Points shown in the last frame drawn while moving. */
    this.shown = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */ this.timer = undefined;
    this.onRendered = (/** @type {number} */ ms) => this.learn(ms);
    viewer.cameraChanged.add(() => this.moved());
    viewer.beforeRender.add(() => { if (this.moving) this.limit(); });
  }

  moved() {
    this.moving = true;
    this.viewer.rendered.add(this.onRendered);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.stopped(), STILL_MS);
  }

  stopped() {
    this.moving = false;
    for (const p of this.viewer.nodes.values()) p.visible = true;
    this.viewer.pointsChanged();
  }

  /** Show the drawn tiles in priority order while they fit the moving budget. */
  limit() {
    const budget = this.movingBudget;
    const nodes = this.viewer.nodes;
    /** @type {Set<unknown>} */ const shown = new Set();
    let points = 0;
    for (const n of this.stream.wanted) {
      const p = nodes.get(tileKey(n));
      if (!p) continue;
      if (points > 0 && points + p.userData.count > budget) continue;
      points += p.userData.count;
      shown.add(p);
    }
    for (const p of nodes.values()) p.visible = shown.has(p) || !shown.size;
    this.shown = shown.size ? points : [...nodes.values()].reduce((s, p) => s + p.userData.count, 0);
  }

  /** @param {number} ms the time of the frame just drawn */
  learn(ms) {
    if (!this.moving) { this.viewer.rendered.delete(this.onRendered); return; }
    if (!this.shown) return;
    this.last = { points: this.shown, ms };
    let all = 0;
    for (const p of this.viewer.nodes.values()) all += p.userData.count;
    this.movingBudget = nextBudget(this.movingBudget, this.shown, ms, all);
  }
}
