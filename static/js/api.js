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

  /** Where `box` (in `frame`) is in the next `frames` frames: the server follows the object
   *  (ego poses or scan matching, the track's velocity from `previous`, ICP of its points).
   *  Throws an Error saying why not.
   *  @param {number} frame @param {Box} box @param {number} frames
   *  @param {{frame: number, box: Box}|null} previous the track's box in an earlier frame
   *  @returns {Promise<(Box & {frame: number})[]>} */
  async propagate(frame, box, frames, previous) {
    const body = { center: box.center, size: box.size, yaw: box.yaw, frames,
                   previous_frame: previous?.frame ?? null,
                   previous: previous ? { center: previous.box.center, size: previous.box.size, yaw: previous.box.yaw } : null };
    const r = await fetch(`/api/scenes/${this.sceneId}/frames/${frame}/propagate`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(answer.message || answer.code || `HTTP ${r.status}`);
    return answer.boxes;
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
