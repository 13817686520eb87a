// @ts-check
/** Copy a box and paste it into any frame (Ctrl+C, Ctrl+V), and give every box
 *  of a track the selected box's size (=). Each is one command: one undo step,
 *  one batch.
 *  - A paste puts the copied box (same place, size and heading, as a manual
 *    keyframe) into the current frame: into its own track when that track has
 *    no box here, else as a new track of the same class with the next number.
 *  - "Apply this size to the whole track" keeps each box's centre on the ground
 *    plane and its bottom where it was (only the size changes). */

import { CreateBoxCommand, CuboidSetCommand } from "./commands.js";
import { displayName, nextTrackNumber } from "./names.js";
import { uuid } from "./store.js";

/** @typedef {import("./app.js").Cuboid} Cuboid */

export class BoxClipboard {
  /** @param {import("./app.js").App} app @param {import("./commands.js").Editor} editor
   *  @param {(message: string) => void} tell */
  constructor(app, editor, tell) {
    this.app = app;
    this.editor = editor;
    this.tell = tell;
    /** @type {Cuboid|null} */ this.copied = null;
  }

  get box() { return this.app.selected ? this.app.cuboids.get(this.app.selected) ?? null : null; }

  copy() {
    const c = this.box;
    if (!c) { this.tell("Select a box to copy it"); return; }
    this.copied = structuredClone(c);
    this.tell(`Copied ${displayName(this.app, c.track_id)}'s box: Ctrl+V pastes it into any frame`);
  }

  paste() {
    const src = this.copied;
    if (!src) { this.tell("Nothing copied: select a box and press Ctrl+C"); return; }
    const app = this.app, frame = app.frame;
    const track = app.tracks.get(src.track_id);
    const taken = [...app.cuboids.values()].some((c) => c.track_id === src.track_id && c.frame === frame);
    /** @type {Cuboid} */
    const box = { ...structuredClone(src), id: uuid(), frame, source: "manual", keyframe: true, revision: 0 };
    if (track && !taken) {
      this.editor.execute(new CuboidSetCommand(app, [{ before: null, after: box }], "paste box"));
    } else {
      const label = track?.label ?? app.label;
      const fresh = { id: uuid(), label, attributes: { number: nextTrackNumber(app) }, revision: 0 };
      box.track_id = fresh.id;
      box.attributes = {};
      this.editor.execute(new CreateBoxCommand(app, fresh, box));
    }
    if (app.cuboids.has(box.id)) app.select(box.id);
  }

  /** Every box of the selected box's track takes its size (bottoms stay). */
  applySizeToTrack() {
    const c = this.box;
    if (!c) { this.tell("Select a box to give its size to its whole track"); return; }
    const changes = [...this.app.cuboids.values()]
      .filter((b) => b.track_id === c.track_id && b.id !== c.id && b.size.some((v, i) => v !== c.size[i]))
      .map((b) => ({ before: structuredClone(b), after: { ...structuredClone(b), size: [...c.size],
        center: [b.center[0], b.center[1], b.center[2] - b.size[2] / 2 + c.size[2] / 2] } }));
    const name = displayName(this.app, c.track_id);
    if (!changes.length) { this.tell(`Every box of ${name} has this size already`); return; }
    this.editor.execute(new CuboidSetCommand(this.app, changes, "apply size to track"));
    this.tell(`${name}: ${changes.length} box${changes.length > 1 ? "es" : ""} now ${c.size.map((v) => v.toFixed(2)).join(" × ")} m`);
  }
}
