// @ts-check
/** Loads a frame's LOD tiles: hierarchy first, then nodes coarse-to-fine until
 *  the point budget is reached. Decoding runs in a Web Worker. */

export class TileLoader {
  /** @param {number} sceneId @param {number} pointBudget */
  constructor(sceneId, pointBudget = 2_000_000) {
    this.sceneId = sceneId;
    this.pointBudget = pointBudget;
    this.worker = new Worker("/static/js/tile-worker.js");
    /** @type {Map<number, Function>} */ this.waiting = new Map();
    this.nextId = 0;
    this.worker.onmessage = (e) => {
      const resolve = this.waiting.get(e.data.id);
      this.waiting.delete(e.data.id);
      resolve?.(e.data);
    };
  }

  /** @param {number} frame */
  async hierarchy(frame) {
    const r = await fetch(`/api/scenes/${this.sceneId}/frames/${frame}/hierarchy`);
    if (!r.ok) throw new Error(`hierarchy ${frame}: HTTP ${r.status}`);
    return r.json();
  }

  /** Load a frame, calling onNode(node, {positions, colors}) as each tile decodes.
   *  Nodes are listed parents first, so the budget keeps the coarse levels.
   *  @param {number} frame @param {(node: any, data: any) => void} onNode
   *  @param {() => boolean} cancelled */
  async load(frame, onNode, cancelled) {
    const h = await this.hierarchy(frame);
    const zRange = h.z_range;
    const hasRgb = h.attributes.includes("rgb");
    let budget = this.pointBudget;
    const chosen = [];
    for (const node of h.nodes) {
      if (node.count > budget) break;
      budget -= node.count;
      chosen.push(node);
    }
    let loaded = 0;
    await Promise.all(chosen.map(async (node) => {
      const r = await fetch(`/api/tiles/${node.tile}`);
      if (!r.ok || cancelled()) return;
      const buffer = await r.arrayBuffer();
      const data = await this.decode({ buffer, count: node.count, lo: node.lo, bits: node.bits,
        step: node.step, zRange, colorBy: hasRgb ? "rgb" : "height", hasRgb });
      if (cancelled()) return;
      loaded += node.count;
      onNode(node, data);
    }));
    return { hierarchy: h, loaded, total: h.points, nodes: chosen.length };
  }

  /** @param {any} job @returns {Promise<any>} */
  decode(job) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ id, ...job }, [job.buffer]);
    });
  }
}
