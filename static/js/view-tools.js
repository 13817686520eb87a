// @ts-check
/** The viewing and editing tools beyond drawing (docs/workspace.md): the
 *  measuring tool and range rings (measure.js), saved camera views
 *  (camera-views.js), height clipping, the points-in-the-selected-box
 *  highlight, colouring by height above the ground (ground.js), copy and paste
 *  of boxes and one size for a whole track (box-clipboard.js), and the frame
 *  time budget (frame-budget.js). Every key is bound here, in the one key map. */

import { BoxClipboard } from "./box-clipboard.js";
import { CameraViews } from "./camera-views.js";
import { FrameBudget } from "./frame-budget.js";
import { groundGrid } from "./ground.js";
import { Measure } from "./measure.js";
import { COLOR_MODES } from "./point-material.js";

/** The ground grid is recomputed at most this often while tiles arrive (ms). */
const GROUND_MS = 400;

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {{app: import("./app.js").App, viewer: import("./viewer.js").Viewer,
 *   stream: import("./stream.js").PointStream, editor: import("./commands.js").Editor,
 *   keys: import("./keys.js").Keyboard, taskId: number, setView: (mode: "top"|"persp") => void,
 *   tell: (message: string) => void}} deps */
export function installViewTools({ app, viewer, stream, editor, keys, taskId, setView, tell }) {
  const measure = new Measure(app, viewer);
  const views = new CameraViews({ viewer, taskId, root: $("camera-views"), setView });
  const clipboard = new BoxClipboard(app, editor, tell);
  const budget = new FrameBudget(viewer, stream);
  const measureBtn = $("measure"), ringsBtn = $("rings");
  const toggleMeasure = () => { measure.toggle(); measureBtn.setAttribute("aria-pressed", String(measure.active)); measureBtn.classList.toggle("active", measure.active); };
  const toggleRings = () => { const on = measure.toggleRings(); ringsBtn.setAttribute("aria-pressed", String(on)); ringsBtn.classList.toggle("active", on); };
  measureBtn.onclick = () => { toggleMeasure(); measureBtn.blur(); };
  ringsBtn.onclick = () => { toggleRings(); ringsBtn.blur(); };
  keys.bind("h", toggleMeasure, "measure: click two points for their distance (again: stop)")
    .bind("shift+g", toggleRings, "range rings every 10 m around the sensor (a 10 m grid on a georeferenced scene)")
    .bind("shift+v", () => views.save(), "save this camera view")
    .bind("`", () => views.cycle(), "go to the next saved camera view")
    .bind("ctrl+c", () => clipboard.copy(), "copy the selected box")
    .bind("ctrl+v", () => clipboard.paste(), "paste the copied box into this frame (its own track if free here, else a new one)")
    .bind("=", () => clipboard.applySizeToTrack(), "give every box of the selected track this box's size");

  // Height clipping: the inputs are in the cloud's own z; the shader works in the frame's local z.
  const low = /** @type {HTMLInputElement} */ ($("clip-low")), high = /** @type {HTMLInputElement} */ ($("clip-high"));
  const bound = (/** @type {HTMLInputElement} */ input) => (input.value.trim() === "" || !Number.isFinite(Number(input.value)) ? null : Number(input.value));
  const clip = () => {
    const z = app.scene ? app.offset[2] : 0, lo = bound(low), hi = bound(high);
    viewer.setClip(lo === null ? null : lo - z, hi === null ? null : hi - z);
  };
  low.onchange = high.onchange = (e) => { clip(); /** @type {HTMLElement} */ (e.target).blur(); };  // keys are shortcuts again
  app.signals.frameChanged.add(clip);

  // The points in the selected box, drawn in the highlight colour.
  let highlighted = "null";
  const highlight = () => {
    const c = app.selected ? app.cuboids.get(app.selected) : null;
    const o = app.scene ? app.offset : [0, 0, 0];
    const box = c && c.frame === app.frame && !app.isHidden(c.track_id)
      ? { center: [c.center[0] - o[0], c.center[1] - o[1], c.center[2] - o[2]], size: c.size, yaw: c.yaw } : null;
    const key = JSON.stringify(box);
    if (key === highlighted) return;  // other views redraw only when the highlight changed
    highlighted = key;
    viewer.setHighlight(box);
  };
  for (const s of [app.signals.selectionChanged, app.signals.cuboidChanged, app.signals.annotationsReset, app.signals.frameChanged]) s.add(highlight);

  // Height above ground: the ground under the drawn points, again as tiles arrive.
  let groundTimer = 0, groundVersion = -1;
  const ground = () => {
    groundTimer = 0;
    if (viewer.pointMaterial.uniforms.mode.value !== COLOR_MODES.indexOf("ground") || groundVersion === viewer.pointsVersion) return;
    const g = groundGrid(viewer.loadedPositions);
    if (g) viewer.setGround(g);
    groundVersion = viewer.pointsVersion;
  };
  $("color-mode").addEventListener("change", () => ground());
  stream.onStats.add(() => { if (!groundTimer) groundTimer = window.setTimeout(ground, GROUND_MS); });
  return { measure, views, clipboard, budget };
}
