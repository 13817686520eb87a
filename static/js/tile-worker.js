// @ts-check
/** A module worker that decodes LOD tiles off the main thread (tile-decode.js). */

import { decodeTile } from "./tile-decode.js";

/** @type {any} */ (self).postMessage({ ready: true });  // tiles.js decodes here from now on

self.onmessage = (e) => {
  const { id, ...job } = e.data;
  try {
    const out = decodeTile(job);
    /** @type {any[]} */ const transfer = [out.positions.buffer, out.intensity.buffer];
    if (out.rgb) transfer.push(out.rgb.buffer);
    if (out.classification) transfer.push(out.classification.buffer);
    // A worker's postMessage(message, transfer); the DOM typings only know Window's.
    /** @type {any} */ (self).postMessage({ id, ...out }, transfer);
  } catch (err) {
    /** @type {any} */ (self).postMessage({ id, error: String(err) });
  }
};
