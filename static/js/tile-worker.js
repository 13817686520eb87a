// @ts-check
/** Decodes one LOD tile (docs/tiles.md) into transferable typed arrays:
 *  float32 positions in the frame's local coordinates and uint8 RGB colours. */

const QUANT = 65535;

/** Height ramp: blue (low) -> cyan -> green -> yellow -> red (high). t in [0, 1]. */
function ramp(t, out, i) {
  const stops = [[40, 60, 200], [40, 190, 230], [80, 210, 90], [240, 220, 60], [230, 60, 50]];
  const x = Math.min(0.9999, Math.max(0, t)) * (stops.length - 1);
  const k = Math.floor(x), f = x - k;
  for (let c = 0; c < 3; c++) out[i + c] = stops[k][c] + (stops[k + 1][c] - stops[k][c]) * f;
}

self.onmessage = (e) => {
  const { id, buffer, count, lo, size, zRange, colorBy, hasRgb } = e.data;
  const q = new Uint16Array(buffer, 0, count * 3);
  const intensity = new Uint8Array(buffer, count * 6, count);
  const rgb = hasRgb ? new Uint8Array(buffer, count * 7, count * 3) : null;
  const positions = new Float32Array(count * 3);
  const colors = new Uint8Array(count * 3);
  const scale = size / QUANT;
  const [z0, z1] = zRange;
  for (let i = 0; i < count; i++) {
    const j = i * 3;
    positions[j] = lo[0] + q[j] * scale;
    positions[j + 1] = lo[1] + q[j + 1] * scale;
    positions[j + 2] = lo[2] + q[j + 2] * scale;
    if (colorBy === "rgb" && rgb) {
      colors[j] = rgb[j]; colors[j + 1] = rgb[j + 1]; colors[j + 2] = rgb[j + 2];
    } else if (colorBy === "intensity") {
      const v = 40 + intensity[i] * 0.84;
      colors[j] = v; colors[j + 1] = v; colors[j + 2] = v;
    } else {
      ramp((positions[j + 2] - z0) / (z1 - z0 || 1), colors, j);
    }
  }
  self.postMessage({ id, positions, colors }, [positions.buffer, colors.buffer]);
};
