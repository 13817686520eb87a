// @ts-check
/** Performance marks read by `pointlabel bench browser` (benchmarks/browser.py):
 *  - `pl:first-pixel`: the first tile of the page is drawn (once per page);
 *  - `pl:all-visible`: every wanted tile of a frame is drawn (each frame load;
 *    detail {frame});
 *  - `pl:frame-switch`: a measure from a frame change to that frame's
 *    all-visible (detail {frame}). */

let firstPixel = false;
/** @type {() => void} */ let resolveFirstPixel = () => {};
/** Resolves once the page's first tile is drawn (`pl:first-pixel`). */
export const firstPixelDrawn = new Promise((resolve) => { resolveFirstPixel = () => resolve(undefined); });

export function markFirstPixel() {
  if (firstPixel) return;
  firstPixel = true;
  performance.mark("pl:first-pixel");
  resolveFirstPixel();
}

/** @param {number} frame @param {number|null} switchStart performance.now() of the frame change, if any */
export function markAllVisible(frame, switchStart) {
  performance.mark("pl:all-visible", { detail: { frame } });
  if (switchStart !== null) {
    performance.measure("pl:frame-switch", { start: switchStart, end: performance.now(), detail: { frame } });
  }
}
