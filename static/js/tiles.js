// @ts-check
/** Tile loading: frame hierarchies, tile fetches (abortable) and decoding in a
 *  small pool of Web Workers, and a least-recently-used cache of decoded tiles
 *  under a byte budget (shared by the current frame and its preloaded
 *  neighbours). Which tiles to load is decided by lod.js and stream.js. */

/**
 * @typedef {{key: string, lo: number[], size: number, count: number, children: string[],
 *   tile: string, bytes: number, bits: number, step: number, origin?: number[]}} TileNode
 * @typedef {{version: number, grid?: number|null, points: number, offset: number[],
 *   bounds: {min: number[], max: number[]}, intensity_range: number[], z_range: number[],
 *   attributes: string[], nodes: TileNode[]}} Hierarchy
 * @typedef {{positions: Float32Array, intensity: Uint8Array, rgb: Uint8Array|null,
 *   classification: Uint8Array|null, count: number, bytes: number}} DecodedTile
 */

import { decodeTile } from "./tile-decode.js";

/** Until a worker has started, tiles of at most this many points are decoded on the
 *  main thread (about a millisecond each). */
export const INLINE_DECODE_POINTS = 16384;

/** Decoded bytes kept by default: the current frame at a 2M budget is ~30 MB. */
export const DEFAULT_CACHE_BYTES = 384 * 1024 * 1024;

/** Where a node's quantised positions start: `origin` (version 3) or its low corner (version 2).
 *  @param {TileNode} node */
export const quantOrigin = (node) => node.origin ?? node.lo;

/** The cache key of a node's decoded tile: the tile's bytes and where they are placed. */
export function tileKey(/** @type {TileNode} */ node) {
  return `${node.tile}@${quantOrigin(node).join(",")}/${node.step}`;
}

export class TileLoader {
  /** @param {number} sceneId @param {number} cacheBytes */
  constructor(sceneId, cacheBytes = DEFAULT_CACHE_BYTES) {
    this.sceneId = sceneId;
    this.cacheBytes = cacheBytes;
    const n = Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1));
    this.workers = Array.from({ length: n }, () => new Worker("/static/js/tile-worker.js", { type: "module" }));
    /** True once a worker has started: from then on every tile decodes off the main thread. */
    this.workerReady = false;
    this.workers.forEach((w) => {
      w.onmessage = (e) => { if (e.data.ready) this.workerReady = true; else this.decoded(e.data); };
    });
    this.nextWorker = 0;
    /** @type {Map<number, {resolve: Function, reject: Function}>} */ this.waiting = new Map();
    this.nextId = 0;
    /** @type {Map<number, Promise<Hierarchy>>} */ this.hierarchies = new Map();
    /** @type {Map<string, DecodedTile>} insertion order = least recently used first */
    this.cache = new Map();
    this.cachedBytes = 0;
    /** @type {Set<string>} keys that are drawn and must not be evicted */
    this.pinned = new Set();
    /** @type {Map<string, {ctrl: AbortController, users: number, promise: Promise<DecodedTile>}>} */
    this.pending = new Map();
    /** @type {Map<string, Promise<ArrayBuffer>>} tile hash → bytes the page fetched before this module ran */
    this.early = new Map();
  }

  /** Take over tile fetches the page started before its modules were parsed (the
   *  inline script of templates/workspace.html: tile hash → the response's bytes).
   *  Each is used once, by the first get of its tile; a failed one is fetched again.
   *  @param {Record<string, Promise<ArrayBuffer>>} fetches */
  adopt(fetches) {
    for (const [hash, bytes] of Object.entries(fetches)) this.early.set(hash, bytes);
  }

  /** Start on a frame before the page knows where the camera is: its hierarchy
   *  and root tile (every view of the frame draws the root first). The root is
   *  fetched without an abort signal; it lands in the cache.
   *  @param {number} frame */
  prefetch(frame) {
    this.hierarchy(frame).then((h) => h.nodes.length && this.get(h.nodes[0], h)).catch(() => {});
  }

  /** Use a hierarchy the page already holds (frame 0's is inline in the workspace page).
   *  @param {number} frame @param {Hierarchy} h */
  seed(frame, h) { this.hierarchies.set(frame, Promise.resolve(h)); }

  /** The frame's hierarchy (fetched once per frame). @param {number} frame @returns {Promise<Hierarchy>} */
  hierarchy(frame) {
    let p = this.hierarchies.get(frame);
    if (!p) {
      p = fetch(`/api/scenes/${this.sceneId}/frames/${frame}/hierarchy`).then((r) => {
        if (!r.ok) throw new Error(`hierarchy ${frame}: HTTP ${r.status}`);
        return r.json();
      });
      p.catch(() => this.hierarchies.delete(frame));
      this.hierarchies.set(frame, p);
    }
    return p;
  }

  /** A decoded tile from the cache, or undefined. Marks it recently used.
   *  @param {TileNode} node */
  cached(node) {
    const key = tileKey(node);
    const hit = this.cache.get(key);
    if (hit) { this.cache.delete(key); this.cache.set(key, hit); }
    return hit;
  }

  /** Fetch and decode a node's tile, or take it from the cache. Requests for the
   *  same tile share one fetch, which is aborted when every caller's signal is.
   *  @param {TileNode} node @param {Hierarchy} h @param {AbortSignal} [signal]
   *  @returns {Promise<DecodedTile>} */
  get(node, h, signal) {
    const hit = this.cached(node);
    if (hit) return Promise.resolve(hit);
    const key = tileKey(node);
    let job = this.pending.get(key);
    if (!job) {
      const ctrl = new AbortController();
      const promise = this.fetchDecode(node, h, ctrl.signal).then((data) => {
        this.pending.delete(key);
        this.put(key, data);
        return data;
      }, (err) => { this.pending.delete(key); throw err; });
      job = { ctrl, users: 0, promise };
      this.pending.set(key, job);
    }
    const shared = job;
    shared.users++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (--shared.users === 0) shared.ctrl.abort();
        reject(new DOMException("tile no longer wanted", "AbortError"));
      };
      if (signal?.aborted) { onAbort(); return; }
      signal?.addEventListener("abort", onAbort, { once: true });
      shared.promise.then((d) => { signal?.removeEventListener("abort", onAbort); resolve(d); },
        (e) => { signal?.removeEventListener("abort", onAbort); reject(e); });
    });
  }

  /** @param {TileNode} node @param {Hierarchy} h @param {AbortSignal} signal */
  async fetchDecode(node, h, signal) {
    const early = this.early.get(node.tile);
    this.early.delete(node.tile);
    let buffer = early ? await early.catch(() => null) : null;
    if (!buffer) {
      const r = await fetch(`/api/scenes/${this.sceneId}/tiles/${node.tile}`, { signal });
      if (!r.ok) throw new Error(`tile ${node.key}: HTTP ${r.status}`);
      buffer = await r.arrayBuffer();
    }
    const data = await this.decode({ buffer, count: node.count, origin: quantOrigin(node), bits: node.bits,
      step: node.step, hasRgb: h.attributes.includes("rgb"),
      hasClass: h.attributes.includes("classification") });
    const bytes = data.positions.byteLength + data.intensity.byteLength
      + (data.rgb?.byteLength ?? 0) + (data.classification?.byteLength ?? 0);
    return { ...data, count: node.count, bytes };
  }

  /** @param {string} key @param {DecodedTile} data */
  put(key, data) {
    if (this.cache.has(key)) return;
    this.cache.set(key, data);
    this.cachedBytes += data.bytes;
    this.evict();
  }

  /** Drop least recently used, unpinned tiles until the cache is within budget. */
  evict() {
    for (const [key, data] of this.cache) {
      if (this.cachedBytes <= this.cacheBytes) break;
      if (this.pinned.has(key)) continue;
      this.cache.delete(key);
      this.cachedBytes -= data.bytes;
    }
  }

  /** Decode a tile: on the main thread while no worker has started yet and the
   *  tile is small (the first frame's root must not wait for a worker to start),
   *  else on the next worker.
   *  @param {import("./tile-decode.js").TileJob} job @returns {Promise<any>} */
  decode(job) {
    if (!this.workerReady && job.count <= INLINE_DECODE_POINTS) {
      try { return Promise.resolve(decodeTile(job)); } catch (err) { return Promise.reject(err); }
    }
    const id = this.nextId++;
    const worker = this.workers[this.nextWorker++ % this.workers.length];
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, ...job }, [job.buffer]);
    });
  }

  /** @param {any} msg */
  decoded(msg) {
    const w = this.waiting.get(msg.id);
    this.waiting.delete(msg.id);
    if (msg.error) w?.reject(new Error(msg.error));
    else w?.resolve(msg);
  }
}
