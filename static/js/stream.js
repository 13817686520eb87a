// @ts-check
/** Streams the current frame's points: on every frame change and (throttled)
 *  camera change it selects the wanted nodes (lod.js), draws the ones already
 *  decoded, fetches the rest (a few at a time, best first), aborts fetches of
 *  nodes that fell out of the selection and removes drawn nodes no longer
 *  wanted. Once a frame is complete it preloads the neighbouring frames' tiles
 *  (next, previous, then ±2) into the tile cache while they fit its byte
 *  budget, so that a frame switch draws from memory. */

import { selectNodes } from "./lod.js";
import { markAllVisible, markFirstPixel } from "./perf.js";
import { tileKey } from "./tiles.js";

/** @typedef {import("./tiles.js").TileNode} TileNode @typedef {import("./tiles.js").Hierarchy} Hierarchy
 *  @typedef {{frame: number, drawn: number, nodes: number, total: number, budget: number,
 *    depth: number, loading: number, failed: number}} StreamStats */

export const DEFAULT_BUDGET = 2_000_000;
const MAX_IN_FLIGHT = 6;
const PRELOAD_IN_FLIGHT = 2;
const THROTTLE_MS = 150;
/** Decoded bytes per point: float32 xyz + intensity (+ RGB, + class). */
const bytesPerPoint = (/** @type {Hierarchy} */ h) =>
  13 + (h.attributes.includes("rgb") ? 3 : 0) + (h.attributes.includes("classification") ? 1 : 0);

export class PointStream {
  /** @param {import("./tiles.js").TileLoader} loader @param {import("./viewer.js").Viewer} viewer
   *  @param {number} budget points */
  constructor(loader, viewer, budget = DEFAULT_BUDGET) {
    this.loader = loader;
    this.viewer = viewer;
    this.budget = budget;
    this.frame = -1;
    this.frameCount = 1;
    /** @type {Hierarchy|null} */ this.h = null;
    this.token = 0;
    /** @type {TileNode[]} */ this.wanted = [];
    /** @type {TileNode[]} */ this.queue = [];
    /** @type {Map<string, AbortController>} */ this.inflight = new Map();
    /** @type {Set<string>} */ this.failed = new Set();
    /** @type {((s: StreamStats) => void)|null} */ this.resolveFrame = null;
    /** @type {number|null} */ this.switchStart = null;
    /** @type {AbortController|null} */ this.preloadCtrl = null;
    this.preloadSig = "";
    /** True while neighbouring frames are being preloaded (benchmarks wait for it). */
    this.preloading = false;
    this.timer = 0;
    this.firstDrawn = false;
    /** @type {Set<(s: StreamStats) => void>} */ this.onStats = new Set();
    /** @type {Set<(h: Hierarchy) => void>} */ this.onHierarchy = new Set();
    viewer.cameraChanged.add(() => this.scheduleUpdate());
  }

  /** Show a frame; resolves with its stats once every wanted tile is drawn, or
   *  with null when another frame was asked for first.
   *  @param {number} index @param {number} frameCount @returns {Promise<StreamStats|null>} */
  async showFrame(index, frameCount) {
    const token = ++this.token;
    this.frameCount = frameCount;
    const start = performance.now();
    this.preloadCtrl?.abort();
    const h = await this.loader.hierarchy(index);
    if (token !== this.token) return null;
    this.switchStart = this.frame >= 0 && this.frame !== index ? start : null;
    this.resolveFrame?.(/** @type {any} */ (null));
    for (const ctrl of this.inflight.values()) ctrl.abort();
    this.inflight.clear();
    this.failed.clear();
    this.viewer.clearPoints();
    this.frame = index;
    this.h = h;
    this.viewer.setHeightRange(h.z_range);
    for (const fn of this.onHierarchy) fn(h);
    return new Promise((resolve) => {
      this.resolveFrame = resolve;
      this.update();
    });
  }

  /** @param {number} points */
  setBudget(points) {
    this.budget = points;
    this.update();
  }

  scheduleUpdate() {
    if (this.timer) return;
    this.timer = window.setTimeout(() => { this.timer = 0; this.update(); }, THROTTLE_MS);
  }

  /** Re-select the wanted nodes for the current camera and act on the difference. */
  update() {
    const h = this.h;
    if (!h) return;
    const camera = this.viewer.camera;
    camera.updateMatrixWorld();
    this.wanted = selectNodes(h, camera, this.viewer.heightPx, this.budget);
    const keys = new Set(this.wanted.map(tileKey));
    for (const key of [...this.viewer.nodes.keys()]) if (!keys.has(key)) this.viewer.removeNode(key);
    for (const [key, ctrl] of this.inflight) {
      if (!keys.has(key)) { ctrl.abort(); this.inflight.delete(key); }
    }
    this.loader.pinned = keys;
    this.queue = [];
    for (const node of this.wanted) {
      const key = tileKey(node);
      if (this.viewer.nodes.has(key) || this.inflight.has(key) || this.failed.has(key)) continue;
      const hit = this.loader.cached(node);
      if (hit) this.draw(node, hit);
      else this.queue.push(node);
    }
    if (this.queue.length) this.preloadCtrl?.abort();
    this.pump();
    this.report();
    this.checkComplete();
  }

  /** @param {TileNode} node @param {import("./tiles.js").DecodedTile} data */
  draw(node, data) {
    this.viewer.addNode(tileKey(node), data, node);
    if (!this.firstDrawn) { this.firstDrawn = true; this.viewer.afterNextRender(markFirstPixel); }
  }

  pump() {
    const h = /** @type {Hierarchy} */ (this.h);
    while (this.inflight.size < MAX_IN_FLIGHT && this.queue.length) {
      const node = /** @type {TileNode} */ (this.queue.shift());
      const key = tileKey(node);
      const ctrl = new AbortController();
      this.inflight.set(key, ctrl);
      this.loader.get(node, h, ctrl.signal).then((data) => {
        if (this.inflight.get(key) !== ctrl) return;  // no longer wanted
        this.inflight.delete(key);
        this.draw(node, data);
      }, (err) => {
        if (this.inflight.get(key) !== ctrl) return;
        this.inflight.delete(key);
        this.failed.add(key);
        console.error(err);
      }).finally(() => {
        this.pump();
        this.report();
        this.checkComplete();
      });
    }
  }

  stats() {
    let drawn = 0, depth = 0;
    for (const p of this.viewer.nodes.values()) drawn += p.userData.count;
    const drawnKeys = new Set(this.viewer.nodes.keys());
    for (const n of this.wanted) if (drawnKeys.has(tileKey(n))) depth = Math.max(depth, n.key.length - 1);
    return { frame: this.frame, drawn, nodes: this.viewer.nodes.size, total: this.h?.points ?? 0,
      budget: this.budget, depth, loading: this.inflight.size + this.queue.length, failed: this.failed.size };
  }

  report() {
    const s = this.stats();
    for (const fn of this.onStats) fn(s);
  }

  checkComplete() {
    if (this.inflight.size || this.queue.length) return;
    const stats = this.stats();
    const resolve = this.resolveFrame;
    if (resolve) {
      this.resolveFrame = null;
      const frame = this.frame, start = this.switchStart;
      this.viewer.afterNextRender(() => markAllVisible(frame, start));
      resolve(stats);
    }
    this.preload();
  }

  /** Decode the neighbouring frames' wanted tiles into the cache, nearest first,
   *  while the current frame's and the preloaded frames' bytes fit the cache. */
  async preload() {
    const sig = `${this.frame}|${this.budget}|${this.wanted.map((n) => n.key).join()}`;
    if (sig === this.preloadSig && this.preloadCtrl && !this.preloadCtrl.signal.aborted) return;
    this.preloadSig = sig;
    this.preloadCtrl?.abort();
    const ctrl = new AbortController();
    this.preloadCtrl = ctrl;
    const h0 = /** @type {Hierarchy} */ (this.h);
    const planned = this.wanted.reduce((s, n) => s + n.count, 0) * bytesPerPoint(h0);
    const frames = [1, -1, 2, -2].map((d) => this.frame + d).filter((f) => f >= 0 && f < this.frameCount);
    this.preloading = true;
    try {
      await this.preloadFrames(frames, planned, ctrl);
    } finally {
      if (this.preloadCtrl === ctrl) this.preloading = false;
    }
  }

  /** @param {number[]} frames @param {number} planned bytes already spoken for
   *  @param {AbortController} ctrl */
  async preloadFrames(frames, planned, ctrl) {
    for (const f of frames) {
      let h;
      try { h = await this.loader.hierarchy(f); } catch { return; }
      if (ctrl.signal.aborted) return;
      const nodes = selectNodes(h, this.viewer.camera, this.viewer.heightPx, this.budget);
      planned += nodes.reduce((s, n) => s + n.count, 0) * bytesPerPoint(h);
      if (planned > this.loader.cacheBytes) return;
      const todo = nodes.filter((n) => !this.loader.cached(n));
      let next = 0;
      const lane = async () => {
        while (next < todo.length && !ctrl.signal.aborted) {
          await this.loader.get(todo[next++], h, ctrl.signal).catch(() => {});
        }
      };
      await Promise.all(Array.from({ length: PRELOAD_IN_FLIGHT }, lane));
      if (ctrl.signal.aborted) return;
    }
  }
}
