// @ts-check
/** The point budget follows the measured frame time (docs/workspace.md, "Frame
 *  time"). While the camera moves, each drawn frame waits for its pixels and is
 *  timed (viewer.rendered); from that the cost of a point is learnt (ms per
 *  drawn point, a moving average) and only the coarsest drawn tiles, in the
 *  stream's priority order (parents first, largest on screen first), that fit
 *  TARGET_MS are shown. STILL_MS after the last move every drawn tile is shown
 *  again (the full budget). Tiles are hidden, not removed: nothing is fetched,
 *  decoded or uploaded again when the camera stops. */

import { tileKey } from "./tiles.js";

/** The frame time aimed at while the camera moves (ms). */
export const TARGET_MS = 50;
/** The camera counts as stopped this long after its last move (ms). */
export const STILL_MS = 250;
/** Frames drawing fewer points than this teach nothing about the cost of a point. */
const MIN_SAMPLE_POINTS = 20_000;
/** Weight of the newest frame in the moving average of the cost of a point. */
const ALPHA = 0.3;

export class FrameBudget {
  /** @param {import("./viewer.js").Viewer} viewer @param {import("./stream.js").PointStream} stream */
  constructor(viewer, stream) {
    this.viewer = viewer;
    this.stream = stream;
    this.moving = false;
    /** ms per drawn point, learnt from timed frames (0: not known yet) */
    this.msPerPoint = 0;
    /** Points shown in the last frame drawn while moving. */
    this.shown = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */ this.timer = undefined;
    this.onRendered = (/** @type {number} */ ms) => this.learn(ms);
    viewer.cameraChanged.add(() => this.moved());
    viewer.beforeRender.add(() => { if (this.moving) this.limit(); });
  }

  /** The most points a moving frame may draw. */
  get movingBudget() { return this.msPerPoint > 0 ? Math.floor(TARGET_MS / this.msPerPoint) : Infinity; }

  moved() {
    if (!this.moving) { this.moving = true; this.viewer.rendered.add(this.onRendered); }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.stopped(), STILL_MS);
  }

  stopped() {
    this.moving = false;
    this.viewer.rendered.delete(this.onRendered);
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
    if (this.shown < MIN_SAMPLE_POINTS) return;
    const sample = ms / this.shown;
    this.msPerPoint = this.msPerPoint ? (1 - ALPHA) * this.msPerPoint + ALPHA * sample : sample;
  }
}
