// @ts-check
/** Sequences: tracks across frames (tracks.js), the timeline with behaviour tags
 *  (timeline.js) and their keys. main.js calls installSequence once. */

import { Timeline } from "./timeline.js";
import { Tracks } from "./tracks.js";

/** Frames Shift+C tracks the selected box forward. */
export const TRACK_FORWARD = 10;

/** @param {{app: import("./app.js").App, editor: import("./commands.js").Editor,
 *   keys: import("./keys.js").Keyboard, actions: import("./box-actions.js").BoxActions,
 *   tell: (message: string) => void}} deps */
export function installSequence({ app, editor, keys, actions, tell }) {
  const tracks = new Tracks(app, editor, tell, /** @type {HTMLElement} */ (document.getElementById("track-list")));
  tracks.api = actions.api;
  const timeline = new Timeline(app, editor, tell);
  let queued = false;
  const renderTracks = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; tracks.render(); });
  };
  for (const s of [app.signals.cuboidChanged, app.signals.annotationsReset, app.signals.selectionChanged]) s.add(renderTracks);

  keys.bind("space", () => timeline.togglePlay())
    .bind("c", () => tracks.copyToNext())
    .bind("shift+c", () => tracks.trackForward(TRACK_FORWARD))
    .bind("b", () => tracks.keyframeHere())
    .bind("shift+b", () => tracks.interpolateSelected())
    .bind("[", () => timeline.setEnd("first")).bind("]", () => timeline.setEnd("last"))
    .bind("n", () => timeline.cycleLane(1)).bind("shift+n", () => timeline.cycleLane(-1))
    .bind("m", () => timeline.cycleType(1)).bind("shift+m", () => timeline.cycleType(-1))
    .bind("r", () => timeline.cycleRelated(1)).bind("shift+r", () => timeline.cycleRelated(-1))
    .bind("enter", () => timeline.addTag())
    // Del deletes the selected tag if there is one, else the selected box.
    .bind("delete backspace", () => { if (!timeline.deleteTag()) actions.remove(); })
    .bind("escape", () => { timeline.range = null; app.select(null); timeline.schedule(); });
  renderTracks();
  timeline.render();
  return { tracks, timeline };
}
