// @ts-check
/** The ground under the drawn points, for colouring by height above the ground:
 *  a grid of CELL_M cells over the drawn points' extent (at most MAX_CELLS a
 *  side, coarser for larger clouds); each cell takes the lowest drawn point
 *  within REACH_M around it (a minimum filter), so the ground under a car or a
 *  tree, where the sensor saw no ground, is the ground beside it. Cells with no
 *  point within reach take the lowest cell seen. */

/** @typedef {{lo: number[], cell: number, nx: number, ny: number, z: Float32Array}} GroundGrid
 *  lo: local x, y of the grid's corner (m); cell: edge (m); z: nx * ny heights, row by row (y) */

export const CELL_M = 1;
export const REACH_M = 4;
const MAX_CELLS = 512;

/** @param {Float32Array[]} positions local x, y, z triples @returns {GroundGrid|null} */
export function groundGrid(positions) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const pos of positions) {
    for (let i = 0; i < pos.length; i += 3) {
      const x = pos[i], y = pos[i + 1];
      if (x < x0) x0 = x; if (x > x1) x1 = x;
      if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
  }
  if (!(x1 >= x0)) return null;
  const cell = Math.max(CELL_M, (x1 - x0) / MAX_CELLS, (y1 - y0) / MAX_CELLS);
  const nx = Math.floor((x1 - x0) / cell) + 1, ny = Math.floor((y1 - y0) / cell) + 1;
  const low = new Float32Array(nx * ny).fill(Infinity);
  for (const pos of positions) {
    for (let i = 0; i < pos.length; i += 3) {
      const k = Math.floor((pos[i + 1] - y0) / cell) * nx + Math.floor((pos[i] - x0) / cell);
      if (pos[i + 2] < low[k]) low[k] = pos[i + 2];
    }
  }
  const r = Math.max(1, Math.round(REACH_M / cell));
  const rows = minFilter(low, nx, ny, r, 1, nx);       // along x
  const z = minFilter(rows, ny, nx, r, nx, 1);         // along y
  let floor = Infinity;
  for (const v of z) if (v < floor) floor = v;
  for (let k = 0; k < z.length; k++) if (z[k] === Infinity) z[k] = floor;
  return { lo: [x0, y0], cell, nx, ny, z };
}

/** A running minimum of radius r along one axis of a grid: `n` cells a line
 *  `step` apart, `lines` lines `stride` apart.
 *  @param {Float32Array} a @param {number} n @param {number} lines @param {number} r
 *  @param {number} step @param {number} stride */
function minFilter(a, n, lines, r, step, stride) {
  const out = new Float32Array(a.length);
  for (let l = 0; l < lines; l++) {
    const base = l * stride;
    for (let i = 0; i < n; i++) {
      let m = Infinity;
      for (let j = Math.max(0, i - r); j <= Math.min(n - 1, i + r); j++) {
        const v = a[base + j * step];
        if (v < m) m = v;
      }
      out[base + i * step] = m;
    }
  }
  return out;
}
