// @ts-check
/** Geometry services of the server on a frame's full-resolution points: auto-fit
 *  and ground height. Coordinates are the frame's absolute ones (metres, radians). */

/** @typedef {{center: number[], size: number[], yaw: number}} Box */

export class GeometryApi {
  /** @param {number} sceneId */
  constructor(sceneId) { this.sceneId = sceneId; }

  /** The box that fits the object around `box`; throws an Error saying why not. With the
   *  track's class `label`, a partly seen object grows to the class's typical size.
   *  @param {number} frame @param {Box} box @param {string} [label]
   *  @returns {Promise<Box & {points: number}>} */
  async fit(frame, box, label) {
    const r = await fetch(`/api/scenes/${this.sceneId}/frames/${frame}/fit`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ center: box.center, size: box.size, yaw: box.yaw, margin: 0.5,
                             label: label ?? null }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.message || body.code || `HTTP ${r.status}`);
    return body;
  }

  /** The ground height under (x, y), or null when the server sees no ground there
   *  or cannot be reached. @param {number} frame @param {number} x @param {number} y */
  async ground(frame, x, y) {
    try {
      const r = await fetch(`/api/scenes/${this.sceneId}/frames/${frame}/ground?x=${x}&y=${y}`);
      if (!r.ok) return null;
      const z = (await r.json()).z;
      return typeof z === "number" ? z : null;
    } catch {
      return null;
    }
  }
}
