// @ts-check
/** Decodes one LOD tile (docs/tiles.md, hierarchy version 2) into transferable
 *  typed arrays: float32 positions in the frame's local coordinates and uint8
 *  RGB colours. The body arrives gunzipped (Content-Encoding: gzip). */

/** Height ramp: blue (low) -> cyan -> green -> yellow -> red (high). t in [0, 1]. */
function ramp(t, out, i) {
  const stops = [[40, 60, 200], [40, 190, 230], [80, 210, 90], [240, 220, 60], [230, 60, 50]];
  const x = Math.min(0.9999, Math.max(0, t)) * (stops.length - 1);
  const k = Math.floor(x), f = x - k;
  for (let c = 0; c < 3; c++) out[i + c] = stops[k][c] + (stops[k + 1][c] - stops[k][c]) * f;
}

/** Undo zigzag deltas stored as byte planes (lowest bytes first) of `width`-byte
 *  unsigned values, calling put(i, value) for each of the `count` values.
 *  @param {Uint8Array} bytes @param {number} offset @param {number} count
 *  @param {number} width 1, 2 or 4 @param {(i: number, v: number) => void} put */
function unzigzag(bytes, offset, count, width, put) {
  const mask = width === 4 ? 0xffffffff : (1 << (8 * width)) - 1;
  let acc = 0;
  for (let i = 0; i < count; i++) {
    let z = 0;
    for (let b = 0; b < width; b++) z |= bytes[offset + b * count + i] << (8 * b);
    z >>>= 0;
    const d = (z >>> 1) ^ -(z & 1);
    acc = width === 4 ? (acc + d) | 0 : (acc + d) & mask;
    put(i, width === 4 ? acc >>> 0 : acc);
  }
}

self.onmessage = (e) => {
  const { id, buffer, count, lo, bits, step, zRange, colorBy, hasRgb } = e.data;
  const bytes = new Uint8Array(buffer);
  const width = bits / 8;
  const positions = new Float32Array(count * 3);
  for (let axis = 0; axis < 3; axis++) {
    const base = lo[axis];
    unzigzag(bytes, axis * width * count, count, width, (i, q) => {
      positions[i * 3 + axis] = base + q * step;
    });
  }
  let offset = 3 * width * count;
  const intensity = bytes.subarray(offset, offset + count);
  offset += count;
  const colors = new Uint8Array(count * 3);
  const [z0, z1] = zRange;
  if (colorBy === "rgb" && hasRgb) {
    const green = new Uint8Array(count);
    unzigzag(bytes, offset, count, 1, (i, g) => { green[i] = g; colors[i * 3 + 1] = g; });
    unzigzag(bytes, offset + count, count, 1, (i, r) => { colors[i * 3] = r + green[i]; });
    unzigzag(bytes, offset + 2 * count, count, 1, (i, b) => { colors[i * 3 + 2] = b + green[i]; });
  } else {
    for (let i = 0; i < count; i++) {
      const j = i * 3;
      if (colorBy === "intensity") {
        const v = 40 + intensity[i] * 0.84;
        colors[j] = v; colors[j + 1] = v; colors[j + 2] = v;
      } else {
        ramp((positions[j + 2] - z0) / (z1 - z0 || 1), colors, j);
      }
    }
  }
  // A worker's postMessage(message, transfer); the DOM typings only know Window's.
  /** @type {any} */ (self).postMessage({ id, positions, colors }, [positions.buffer, colors.buffer]);
};
