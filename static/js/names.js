// @ts-check
/** Readable track names (docs/workspace.md): class plus a per-scene number,
 *  "Car 12", or the name the annotator gave the track. Both live in the track's
 *  reserved attributes `number` and `name`, written through the one write path.
 *  A track without a stored number (imported, pre-labelled, made before numbers)
 *  is numbered after the highest stored one, in id order, so every track has a
 *  number and no two share one on this page. */

/** @typedef {import("./app.js").App} App */

/** The stored number of a track's attributes, if it has a valid one. @param {any} attributes */
const stored = (attributes) => {
  const n = attributes?.number;
  return Number.isInteger(n) && n > 0 ? /** @type {number} */ (n) : null;
};

/** Per-app cache, checked cheaply (same track map, same size, younger than
 *  CHECK_MS) before the tracks' numbers are compared: a timeline or list of 1,000
 *  tracks asks for each name. */
const cache = new WeakMap();
const CHECK_MS = 100;

/** Every track's number. @param {App} app @returns {Map<string, number>} */
export function trackNumbers(app) {
  const hit = cache.get(app);
  const now = performance.now();
  if (hit && hit.map === app.tracks && hit.size === app.tracks.size && now - hit.at < CHECK_MS) return hit.numbers;
  const key = [...app.tracks.values()].map((t) => `${t.id}:${stored(t.attributes) ?? ""}`).join();
  if (hit && hit.key === key) { Object.assign(hit, { map: app.tracks, size: app.tracks.size, at: now }); return hit.numbers; }
  /** @type {Map<string, number>} */ const numbers = new Map();
  let max = 0;
  const taken = new Set();
  const unnumbered = [];
  for (const t of app.tracks.values()) {
    const n = stored(t.attributes);
    if (n !== null && !taken.has(n)) { numbers.set(t.id, n); taken.add(n); max = Math.max(max, n); }
    else unnumbered.push(t.id);
  }
  unnumbered.sort();
  for (const id of unnumbered) numbers.set(id, ++max);
  cache.set(app, { key, numbers, map: app.tracks, size: app.tracks.size, at: now });
  return numbers;
}

/** The number a new track gets: one more than any track has. @param {App} app */
export function nextTrackNumber(app) {
  let max = 0;
  for (const n of trackNumbers(app).values()) max = Math.max(max, n);
  return max + 1;
}

/** "Car 12", or the track's own name. @param {App} app @param {string|null} trackId */
export function displayName(app, trackId) {
  if (!trackId) return "";
  const t = app.tracks.get(trackId);
  const own = t?.attributes && /** @type {any} */ (t.attributes).name;
  if (typeof own === "string" && own.trim()) return own;
  return `${t?.label ?? "?"} ${trackNumbers(app).get(trackId) ?? "?"}`;
}
