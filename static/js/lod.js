// @ts-check
/** Level-of-detail selection: which nodes of a frame's hierarchy to draw for a
 *  camera, under a point budget. Nodes are taken largest-on-screen first (a
 *  priority queue seeded with the root, as potree does); a child is considered
 *  only when its parent is taken, lies at least partly in the view frustum and
 *  covers at least `minNodePixels` on screen (a node keeps one point per cell
 *  of a 128³ grid, so at ~128 px its points are about one pixel apart). */

import * as THREE from "three";

/** @typedef {import("./tiles.js").TileNode} TileNode @typedef {import("./tiles.js").Hierarchy} Hierarchy */

/** A child is refined into when it would cover at least this many pixels. */
export const MIN_NODE_PIXELS = 100;

/** @type {WeakMap<Hierarchy, Map<string, TileNode>>} */
const index = new WeakMap();

/** @param {Hierarchy} h */
function nodesByKey(h) {
  let m = index.get(h);
  if (!m) { m = new Map(h.nodes.map((n) => [n.key, n])); index.set(h, m); }
  return m;
}

const box = new THREE.Box3();
const centre = new THREE.Vector3();
const frustum = new THREE.Frustum();
const matrix = new THREE.Matrix4();

/** How many pixels a node's cube spans on screen (its bounding sphere's diameter).
 *  @param {TileNode} node @param {THREE.Camera} camera @param {number} heightPx */
export function projectedSize(node, camera, heightPx) {
  const r = node.size * 0.8660254;  // half the cube's diagonal
  if (camera instanceof THREE.OrthographicCamera) {
    const worldPerPx = (camera.top - camera.bottom) / camera.zoom / heightPx;
    return (2 * r) / worldPerPx;
  }
  const cam = /** @type {THREE.PerspectiveCamera} */ (camera);
  centre.set(node.lo[0] + node.size / 2, node.lo[1] + node.size / 2, node.lo[2] + node.size / 2);
  const d = centre.distanceTo(cam.position);
  if (d <= r) return Infinity;
  const slope = Math.tan((cam.fov * Math.PI) / 360);
  return (heightPx * r) / (d * slope);
}

/** The nodes to draw, each after its parent and in load-priority order, their counts summing to at most `budget`.
 *  @param {Hierarchy} h @param {THREE.Camera} camera (matrices up to date)
 *  @param {number} heightPx viewport height @param {number} budget points
 *  @param {number} [minNodePixels] @returns {TileNode[]} */
export function selectNodes(h, camera, heightPx, budget, minNodePixels = MIN_NODE_PIXELS) {
  if (!h.nodes.length) return [];
  const byKey = nodesByKey(h);
  matrix.multiplyMatrices(camera.projectionMatrix, camera.matrixWorldInverse);
  frustum.setFromProjectionMatrix(matrix);
  const visible = (/** @type {TileNode} */ n) => {
    box.min.set(n.lo[0], n.lo[1], n.lo[2]);
    box.max.set(n.lo[0] + n.size, n.lo[1] + n.size, n.lo[2] + n.size);
    return frustum.intersectsBox(box);
  };
  const root = h.nodes[0];
  if (!visible(root)) return [];
  /** @type {{node: TileNode, weight: number}[]} a binary max-heap on weight */
  const heap = [{ node: root, weight: Infinity }];
  /** @type {TileNode[]} */ const chosen = [];
  let points = 0;
  while (heap.length) {
    const { node } = heapPop(heap);
    if (points + node.count > budget) continue;  // too big; smaller ones may still fit
    points += node.count;
    chosen.push(node);
    for (const key of node.children) {
      const child = byKey.get(key);
      if (!child || !visible(child)) continue;
      const px = projectedSize(child, camera, heightPx);
      if (px >= minNodePixels) heapPush(heap, { node: child, weight: px });
    }
  }
  return chosen;  // in the order taken: parents first, then largest on screen first
}

/** @template {{weight: number}} T @param {T[]} heap @param {T} item */
function heapPush(heap, item) {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (heap[p].weight >= heap[i].weight) break;
    [heap[p], heap[i]] = [heap[i], heap[p]];
    i = p;
  }
}

/** @template {{weight: number}} T @param {T[]} heap @returns {T} */
function heapPop(heap) {
  const top = heap[0];
  const last = /** @type {T} */ (heap.pop());
  if (heap.length) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < heap.length && heap[l].weight > heap[m].weight) m = l;
      if (r < heap.length && heap[r].weight > heap[m].weight) m = r;
      if (m === i) break;
      [heap[m], heap[i]] = [heap[i], heap[m]];
      i = m;
    }
  }
  return top;
}
