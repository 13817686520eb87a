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
  const tracks = new Tracks(app, editor, tell);
  tracks.api = actions.api;
  const timeline = new Timeline(app, editor, tell);

  keys.bind("space", () => timeline.togglePlay(), "play / pause (10 frames a second)")
    .bind("c", () => tracks.copyToNext(), "copy the selected box to where its object is in the next frame, and go there")
    .bind("shift+c", () => tracks.trackForward(TRACK_FORWARD), `track the selected box forward ${TRACK_FORWARD} frames`)
    .bind("b", () => tracks.keyframeHere(), "keyframe of the selected track in this frame")
    .bind("shift+b", () => tracks.interpolateSelected(), "re-interpolate the selected track")
    .bind("[", () => timeline.setEnd("first"), "first frame of the new tag (or of the selected tag) = this frame")
    .bind("]", () => timeline.setEnd("last"), "last frame of the new tag (or of the selected tag) = this frame")
    .bind("n", () => timeline.cycleLane(1), "next timeline lane").bind("shift+n", () => timeline.cycleLane(-1), "previous timeline lane")
    .bind("m", () => timeline.cycleType(1), "next tag type").bind("shift+m", () => timeline.cycleType(-1), "previous tag type")
    .bind("r", () => timeline.cycleRelated(1), "next related track").bind("shift+r", () => timeline.cycleRelated(-1), "previous related track")
    .bind("enter", () => timeline.addTag(), "add the tag")
    // Del deletes the selected tag if there is one, else the selected box.
    .bind("delete backspace", () => { if (!timeline.deleteTag()) actions.remove(); }, "delete the selected tag, else the selected box")
    .bind("escape", () => { timeline.range = null; app.select(null); timeline.schedule(); }, "deselect");
  timeline.render();
  return { tracks, timeline };
}
