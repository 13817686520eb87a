// @ts-check
/** Decodes one LOD tile (docs/tiles.md, hierarchy versions 2 and 3) into
 *  transferable typed arrays: float32 positions in the frame's local
 *  coordinates, the uint8 intensity, and when the hierarchy lists them uint8 RGB
 *  and classification. Colouring happens on the GPU (viewer.js), so a
 *  colour-mode switch needs no re-decode. The body arrives decompressed by the
 *  browser (Content-Encoding: br or gzip). Positions are `origin + q * step`
 *  per axis. Used by tile-worker.js, and by tiles.js on the main thread for
 *  small tiles until a worker has started (the first frame's root must not
 *  wait for one). */

/** Undo zigzag deltas stored as byte planes (lowest bytes first) of `width`-byte
 *  unsigned values into `out[i * stride + at]`, mapped by `f`.
 *  @param {Uint8Array} bytes @param {number} offset @param {number} count
 *  @param {number} width 1, 2 or 4 @param {Float32Array|Uint8Array} out
 *  @param {number} stride @param {number} at @param {number} base @param {number} step */
function unzigzag(bytes, offset, count, width, out, stride, at, base, step) {
  const mask = width === 4 ? 0xffffffff : (1 << (8 * width)) - 1;
  const p0 = offset, p1 = offset + count, p2 = offset + 2 * count, p3 = offset + 3 * count;
  let acc = 0;
  for (let i = 0; i < count; i++) {
    let z = bytes[p0 + i];
    if (width > 1) z |= bytes[p1 + i] << 8;
    if (width > 2) z |= (bytes[p2 + i] << 16) | (bytes[p3 + i] << 24);
    z >>>= 0;
    const d = (z >>> 1) ^ -(z & 1);
    acc = width === 4 ? (acc + d) | 0 : (acc + d) & mask;
    out[i * stride + at] = base + (width === 4 ? acc >>> 0 : acc) * step;
  }
}

/** @typedef {{buffer: ArrayBuffer, count: number, origin: number[], bits: number, step: number,
 *   hasRgb: boolean, hasClass: boolean}} TileJob
 *  @typedef {{positions: Float32Array, intensity: Uint8Array, rgb: Uint8Array|null,
 *   classification: Uint8Array|null}} TileArrays */

/** @param {TileJob} job @returns {TileArrays} */
export function decodeTile({ buffer, count, origin, bits, step, hasRgb, hasClass }) {
  const bytes = new Uint8Array(buffer);
  const width = bits / 8;
  const need = count * (3 * width + 1 + (hasRgb ? 3 : 0) + (hasClass ? 1 : 0));
  if (bytes.length < need) throw new Error(`tile has ${bytes.length} bytes, expected ${need}`);
  const positions = new Float32Array(count * 3);
  for (let axis = 0; axis < 3; axis++) {
    unzigzag(bytes, axis * width * count, count, width, positions, 3, axis, origin[axis], step);
  }
  let offset = 3 * width * count;
  const intensity = bytes.slice(offset, offset + count);
  offset += count;
  /** @type {Uint8Array|null} */ let rgb = null;
  if (hasRgb) {
    rgb = new Uint8Array(count * 3);
    const green = new Uint8Array(count);
    unzigzag(bytes, offset, count, 1, green, 1, 0, 0, 1);
    unzigzag(bytes, offset + count, count, 1, rgb, 3, 0, 0, 1);       // R - G
    unzigzag(bytes, offset + 2 * count, count, 1, rgb, 3, 2, 0, 1);   // B - G
    for (let i = 0; i < count; i++) {
      const g = green[i];
      rgb[i * 3] = rgb[i * 3] + g; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = rgb[i * 3 + 2] + g;
    }
    offset += 3 * count;
  }
  const classification = hasClass ? bytes.slice(offset, offset + count) : null;
  return { positions, intensity, rgb, classification };
}
