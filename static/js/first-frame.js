// @ts-check
/** The workspace's entry module: streams the first frame's points with as few
 *  modules as that needs (three.js, the viewer, tile loading and LOD), then,
 *  once the first tile is drawn, loads the rest of the workspace (main.js).
 *  Over HTTP/1.1 a browser fetches six files at a time, a round trip each,
 *  and every module is parsed and run on the page's threads, so the editing
 *  modules must not stand between the page and its first pixel: the page
 *  preloads only this module's imports, and the others (`boot.later`, listed
 *  by the server) are preloaded here after the first pixel. */

import { App } from "./app.js";
import { firstPixelDrawn } from "./perf.js";
import { PointStream } from "./stream.js";
import { TileLoader } from "./tiles.js";
import { Viewer } from "./viewer.js";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
// The page carries the scene, the taxonomy and frame 0's hierarchy (server/api/routes/pages.py).
const boot = JSON.parse($("boot").textContent || "{}");
export const app = new App(Number($("workspace").dataset.sceneId));
app.scene = boot.scene;
app.taxonomy = boot.taxonomy;
export const loader = new TileLoader(app.sceneId);
if (boot.hierarchy) loader.seed(0, boot.hierarchy);
loader.adopt(/** @type {any} */ (window).plEarlyTiles ?? {});  // the root tile, fetched by the page
loader.prefetch(0);  // the root tile of the first frame (its bytes are on their way already)
export const viewer = new Viewer($("viewport"));
export const stream = new PointStream(loader, viewer);

/** Point the camera at frame 0's bounds (local coordinates), from above. */
function frameView() {
  const f0 = app.scene.frames[0];
  const o = f0.offset;
  viewer.frameBounds(f0.min.map((/** @type {number} */ v, /** @type {number} */ i) => v - o[i]),
    f0.max.map((/** @type {number} */ v, /** @type {number} */ i) => v - o[i]),
    o.some((/** @type {number} */ v) => v !== 0));
  viewer.setMode("top");
}

frameView();
/** Frame 0's stream (stats once every wanted tile is drawn); main.js awaits it. */
export const firstFrame = stream.showFrame(0, app.scene.frames.length);

/** The rest of the workspace starts at the first pixel, or when frame 0 has
 *  settled without one (no points, an error), or after this long (ms) at most. */
const REST_AFTER_MS = 3000;

let restStarted = false;
function loadRest() {
  if (restStarted) return;
  restStarted = true;
  for (const url of /** @type {string[]} */ (boot.later ?? [])) {
    const link = document.createElement("link");
    link.rel = "modulepreload";
    link.href = url;
    document.head.append(link);
  }
  import("./main.js");
}
firstPixelDrawn.then(loadRest);
firstFrame.then(loadRest, loadRest);
setTimeout(loadRest, REST_AFTER_MS);
