// @ts-check
/** Tracks across frames: copy the selected box to the next frame, make a
 *  keyframe of the selected track in this frame, keep interpolated boxes in
 *  step with the keyframes (every edit of a track's boxes carries the
 *  re-interpolation it implies, in the same batch and undo step). The track
 *  list is object-list.js. */

import { CreateBoxCommand, CuboidSetCommand, DeleteBoxCommand, DerivedCommand, UpdateBoxCommand } from "./commands.js";
import { trackBoxes, trackChanges } from "./interpolation.js";
import { displayName } from "./names.js";
import { uuid } from "./store.js";

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Cuboid} Cuboid */

/** "Car 12" (or the name given) for a track id. @param {App} app @param {string|null} trackId */
export const trackName = (app, trackId) => displayName(app, trackId);

/** Frame indices as 1-based runs, e.g. "1–5, 8". @param {number[]} frames sorted */
export function frameRuns(frames) {
  /** @type {string[]} */ const runs = [];
  for (let i = 0; i < frames.length;) {
    let j = i;
    while (j + 1 < frames.length && frames[j + 1] === frames[j] + 1) j++;
    runs.push(j > i ? `${frames[i] + 1}–${frames[j] + 1}` : `${frames[i] + 1}`);
    i = j + 1;
  }
  return runs.join(", ");
}

export class Tracks {
  /** @param {App} app @param {import("./commands.js").Editor} editor
   *  @param {(message: string) => void} tell */
  constructor(app, editor, tell) {
    this.app = app;
    this.editor = editor;
    this.tell = tell;
    /** @type {import("./api.js").GeometryApi|null} the server's tracking (set by installSequence) */
    this.api = null;
    /** @type {Promise<void>} */ this.queue = Promise.resolve();
    editor.wrap = (cmd) => this.withInterpolation(cmd);
  }

  /** The tracks a command changes the keyframes of: their interpolated boxes
   *  follow. Editing a box that is not a keyframe makes it one.
   *  @param {any} cmd */
  withInterpolation(cmd) {
    /** @type {string[]} */ let tracks = [];
    if (cmd instanceof UpdateBoxCommand) {
      const c = this.app.cuboids.get(cmd.id);
      if (!c) return cmd;
      if (!c.keyframe) {
        cmd.before = { ...cmd.before, source: c.source, keyframe: c.keyframe };
        cmd.after = { ...cmd.after, source: "manual", keyframe: true };
      }
      tracks = [c.track_id];
    } else if (cmd instanceof DeleteBoxCommand) {
      // Deleting an interpolated box leaves the gap (until the keyframes change).
      if (cmd.box.cuboid.keyframe && !cmd.box.track) tracks = [cmd.box.cuboid.track_id];
    } else if (cmd instanceof CuboidSetCommand) {
      tracks = [...new Set(cmd.changes.map((c) => /** @type {Cuboid} */ (c.after ?? c.before).track_id))];
    } else if (!(cmd instanceof CreateBoxCommand)) {
      return cmd;
    }
    if (!tracks.length) return cmd;
    return new DerivedCommand(cmd, () => {
      const changes = tracks.flatMap((t) => trackChanges(this.app, t));
      return changes.length ? new CuboidSetCommand(this.app, changes, "interpolate") : null;
    });
  }

  /** Copy the selected box to the next frame (a keyframe of the same track), placed where the
   *  server finds the object there, and go there. */
  copyToNext() { return this.trackForward(1); }

  /** Track the selected box forward up to `count` frames (stopping before a frame where its
   *  track has a box): one keyframe per frame, placed where the server finds the object (a
   *  plain copy when the server cannot say), in one undo step; then go to the last one.
   *  Presses made while one is on its way run after it, on the box then selected.
   *  @param {number} count */
  trackForward(count) {
    this.queue = this.queue.then(() => this.trackForwardNow(count))
      .catch((e) => this.tell(`Tracking failed: ${/** @type {Error} */ (e).message}`));
    return this.editor.prepare(this.queue);
  }

  /** @param {number} count */
  async trackForwardNow(count) {
    const c = this.app.selected ? this.app.cuboids.get(this.app.selected) : null;
    if (!c) { this.tell("Select a box to copy it to the next frame"); return; }
    const boxes = trackBoxes(this.app, c.track_id);
    const last = this.app.scene.frames.length - 1;
    if (c.frame >= last) { this.tell("This is the last frame"); return; }
    const taken = boxes.filter((b) => b.frame > c.frame).map((b) => b.frame);
    const stop = Math.min(last, c.frame + count, ...taken.map((f) => f - 1));
    if (stop <= c.frame) {
      this.tell(`${trackName(this.app, c.track_id)} already has a box in frame ${c.frame + 2}; not copied`);
      return;
    }
    const earlier = boxes.filter((b) => b.keyframe && b.frame < c.frame).at(-1);
    const previous = earlier ? { frame: earlier.frame, box: earlier } : null;
    await this.placeForward(c, stop - c.frame, previous);
  }

  /** @param {Cuboid} c @param {number} count @param {{frame: number, box: Cuboid}|null} previous */
  async placeForward(c, count, previous) {
    const asked = JSON.stringify([c.center, c.size, c.yaw]);
    /** @type {{frame: number, center: number[], size: number[], yaw: number}[]} */ let found;
    try {
      found = this.api ? await this.api.propagate(c.frame, c, count, previous) : [];
    } catch (e) {
      this.tell(`Tracking failed (${/** @type {Error} */ (e).message}): copied in place`);
      found = [];
    }
    const now = this.app.cuboids.get(c.id);
    if (!now || JSON.stringify([now.center, now.size, now.yaw]) !== asked) return;  // changed meanwhile
    if (!found.length) found = [{ frame: c.frame + 1, center: c.center, size: c.size, yaw: c.yaw }];
    const changes = found.map((f) => ({ before: null, after: {
      ...structuredClone(c), id: uuid(), frame: f.frame, center: f.center, size: f.size, yaw: f.yaw,
      source: "manual", keyframe: true, revision: 0 } }));
    this.editor.execute(new CuboidSetCommand(this.app, changes, count > 1 ? "track forward" : "copy box"));
    this.app.setFrame(found[found.length - 1].frame);
  }

  /** Give the selected track a keyframe in the current frame: its interpolated box
   *  becomes one, or a copy of its nearest box is made. */
  keyframeHere() {
    const track = this.app.selectedTrack;
    if (!track) { this.tell("Select a box first: its track gets a keyframe in this frame"); return; }
    const boxes = trackBoxes(this.app, track);
    const here = boxes.find((b) => b.frame === this.app.frame);
    if (here?.keyframe) { this.tell("This box is a keyframe already"); return; }
    if (here) {
      this.editor.execute(new UpdateBoxCommand(this.app, here.id, {}, {}));  // made a keyframe on the way
      return;
    }
    if (!boxes.length) { this.tell("This track has no box to copy"); return; }
    const f = this.app.frame;
    const nearest = boxes.reduce((best, b) => (Math.abs(b.frame - f) < Math.abs(best.frame - f) ? b : best));
    this.addKeyframe(nearest, f, "add keyframe");
    this.app.selectTrack(track);
  }

  /** @param {Cuboid} from @param {number} frame @param {string} name */
  addKeyframe(from, frame, name) {
    const box = { ...structuredClone(from), id: uuid(), frame, source: "manual", keyframe: true, revision: 0 };
    this.editor.execute(new CuboidSetCommand(this.app, [{ before: null, after: box }], name));
  }

  /** Bring the selected track's interpolated boxes in line with its keyframes
   *  (they are already after every edit; this refills deleted ones). */
  interpolateSelected() {
    const track = this.app.selectedTrack;
    if (!track) { this.tell("Select a box of the track to interpolate"); return; }
    const changes = trackChanges(this.app, track);
    if (!changes.length) { this.tell("Nothing to interpolate: the track's boxes follow its keyframes"); return; }
    this.editor.execute(new CuboidSetCommand(this.app, changes, "interpolate"));
    this.app.selectTrack(track);
  }

  /** Select a track: its box in this frame, else its nearest box's frame. @param {string} trackId */
  jumpTo(trackId) {
    const frames = trackBoxes(this.app, trackId).map((b) => b.frame);
    this.app.selectTrack(trackId);
    if (!frames.length || frames.includes(this.app.frame)) return;
    const f = this.app.frame;
    this.app.setFrame(frames.reduce((best, x) => (Math.abs(x - f) < Math.abs(best - f) ? x : best)));
  }
}
