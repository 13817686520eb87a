// @ts-check
/** Where frames sit on the timeline: by their timestamps when every frame has
 *  one and they increase (a 1.5 s gap is three times a 0.5 s one), else evenly.
 *  Positions are fractions of the timeline's width; every frame gets the same
 *  width, as wide as the shortest gap allows (1/n when evenly spaced). */

/** @typedef {{starts: number[], width: number, timed: boolean}} FrameLayout */

/** @param {{timestamp?: number|null}[]} frames @returns {FrameLayout} */
export function frameLayout(frames) {
  const n = frames.length;
  const ts = frames.map((f) => f.timestamp);
  const timed = n > 1 && ts.every((t, i) => typeof t === "number" && Number.isFinite(t)
    && (i === 0 || t > /** @type {number} */ (ts[i - 1])));
  if (!timed) return { starts: frames.map((_, i) => i / Math.max(n, 1)), width: 1 / Math.max(n, 1), timed: false };
  const t = /** @type {number[]} */ (ts);
  const span = t[n - 1] - t[0];
  let gap = Infinity;
  for (let i = 1; i < n; i++) gap = Math.min(gap, t[i] - t[i - 1]);
  const m = gap / span;
  const width = Math.min(1 / n, m / (1 + m));
  return { starts: t.map((v) => ((v - t[0]) / span) * (1 - width)), width, timed: true };
}

/** The frame at a fraction x of the width: the one under it, else the nearest.
 *  @param {FrameLayout} layout @param {number} x */
export function frameAt(layout, x) {
  let best = 0, bestD = Infinity;
  layout.starts.forEach((s, i) => {
    const d = x < s ? s - x : x > s + layout.width ? x - s - layout.width : 0;
    if (d < bestD) { best = i; bestD = d; }
  });
  return best;
}
