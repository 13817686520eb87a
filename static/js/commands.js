// @ts-check
/** Every user change is a Command: execute() and undo() change the local state,
 *  toJSON() / inverseJSON() give the protocol ops that make the same change on
 *  the server. The Editor keeps the undo/redo history and hands each change's
 *  ops to Sync at once (so it is kept in the outbox); Sync sends them in order,
 *  one batch at a time, rebasing later batches on the revisions each ack gives. */

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Cuboid} Cuboid
 *  @typedef {import("./app.js").Track} Track */

const cuboidData = (/** @type {Cuboid} */ c) => ({
  track_id: c.track_id, frame: c.frame, center: c.center, size: c.size, yaw: c.yaw,
  pitch: c.pitch, roll: c.roll, attributes: c.attributes, source: c.source, keyframe: c.keyframe,
});

/** The latest known revision of an object: the app's copy may have been replaced
 *  by a snapshot or an event since the command was made (0 when it is gone; an
 *  earlier batch still in the outbox gets it rebased when acknowledged).
 *  @param {App} app @param {{id: string, revision?: number}} obj */
const revision = (app, obj) => (app.cuboids.get(obj.id) ?? app.tracks.get(obj.id) ?? obj).revision ?? 0;

/** Add or remove a cuboid and, when given, its track: the shared core of create and delete. */
class BoxPresence {
  /** @param {App} app @param {Track|null} track @param {Cuboid} cuboid */
  constructor(app, track, cuboid) { this.app = app; this.track = track; this.cuboid = cuboid; }
  add() {
    if (this.track) this.app.tracks.set(this.track.id, this.track);
    this.app.cuboids.set(this.cuboid.id, this.cuboid);
    this.app.signals.cuboidChanged.dispatch(this.cuboid.id);
  }
  remove() {
    this.app.cuboids.delete(this.cuboid.id);
    if (this.track) this.app.tracks.delete(this.track.id);
    if (this.app.selected === this.cuboid.id) this.app.select(null);
    this.app.signals.cuboidChanged.dispatch(this.cuboid.id);
  }
  addOps() {
    const ops = [];
    if (this.track) ops.push({ op: "create", kind: "track", id: this.track.id,
      data: { label: this.track.label, attributes: this.track.attributes } });
    ops.push({ op: "create", kind: "cuboid", id: this.cuboid.id, data: cuboidData(this.cuboid) });
    return ops;
  }
  removeOps() {
    const ops = [{ op: "delete", kind: "cuboid", id: this.cuboid.id, base_revision: revision(this.app, this.cuboid) }];
    if (this.track) ops.push({ op: "delete", kind: "track", id: this.track.id, base_revision: revision(this.app, this.track) });
    return ops;
  }
}

/** Create a new track with its first cuboid. */
export class CreateBoxCommand {
  /** @param {App} app @param {Track} track @param {Cuboid} cuboid */
  constructor(app, track, cuboid) { this.box = new BoxPresence(app, track, cuboid); this.name = "create box"; }
  execute() { this.box.add(); }
  undo() { this.box.remove(); }
  toJSON() { return this.box.addOps(); }
  inverseJSON() { return this.box.removeOps(); }
}

/** Delete a cuboid and, when it was its track's only one, the track. */
export class DeleteBoxCommand {
  /** @param {App} app @param {string} id */
  constructor(app, id) {
    const cuboid = /** @type {Cuboid} */ (app.cuboids.get(id));
    const shared = [...app.cuboids.values()].some((c) => c.track_id === cuboid.track_id && c.id !== id);
    this.box = new BoxPresence(app, shared ? null : app.tracks.get(cuboid.track_id) ?? null, cuboid);
    this.name = "delete box";
  }
  execute() { this.box.remove(); }
  undo() { this.box.add(); }
  toJSON() { return this.box.removeOps(); }
  inverseJSON() { return this.box.addOps(); }
}

/** Change some fields of a cuboid (a whole drag, or a run of key presses, is one command). */
export class UpdateBoxCommand {
  /** @param {App} app @param {string} id @param {Partial<Cuboid>} before @param {Partial<Cuboid>} after */
  constructor(app, id, before, after) { this.app = app; this.id = id; this.before = before; this.after = after; this.name = "update box"; }
  /** @param {Partial<Cuboid>} values */
  set(values) {
    const c = this.app.cuboids.get(this.id);
    if (c) Object.assign(c, structuredClone(values));
    this.app.signals.cuboidChanged.dispatch(this.id);
  }
  execute() { this.set(this.after); }
  undo() { this.set(this.before); }
  /** @param {Partial<Cuboid>} values */
  ops(values) {
    return [{ op: "update", kind: "cuboid", id: this.id, base_revision: revision(this.app, this), data: structuredClone(values) }];
  }
  toJSON() { return this.ops(this.after); }
  inverseJSON() { return this.ops(this.before); }
  /** Fold a later change of the same box into this one (one undo step).
   *  @param {UpdateBoxCommand} next */
  absorb(next) {
    this.before = { ...next.before, ...this.before };
    this.after = { ...this.after, ...next.after };
  }
}

/** Change a track's class: it applies to every cuboid of the track. */
export class UpdateTrackCommand {
  /** @param {App} app @param {string} id @param {string} before @param {string} after */
  constructor(app, id, before, after) { this.app = app; this.id = id; this.before = before; this.after = after; this.name = "change class"; }
  /** @param {string} label */
  set(label) {
    const t = this.app.tracks.get(this.id);
    if (t) t.label = label;
    this.app.signals.annotationsReset.dispatch();
  }
  execute() { this.set(this.after); }
  undo() { this.set(this.before); }
  /** @param {string} label */
  ops(label) {
    return [{ op: "update", kind: "track", id: this.id, base_revision: revision(this.app, this), data: { label } }];
  }
  toJSON() { return this.ops(this.after); }
  inverseJSON() { return this.ops(this.before); }
}

/** How long after one key press the next one on the same box and property still
 *  belongs to the same undo step (ms). */
export const MERGE_MS = 300;

/** The undo/redo history. Every change is submitted to Sync as one batch, in
 *  order; Sync keeps it until the server acknowledges it. */
export class Editor {
  /** @param {App} app @param {import("./sync.js").Sync} sync */
  constructor(app, sync) {
    this.app = app;
    this.sync = sync;
    /** @type {any[]} */ this.undoStack = [];
    /** @type {any[]} */ this.redoStack = [];
  }

  /** Run a command. With a merge key (e.g. "<id>:yaw"), a command that follows one
   *  with the same key within MERGE_MS joins its undo step; each is still sent.
   *  @param {any} cmd @param {string} [mergeKey] */
  execute(cmd, mergeKey) {
    cmd.execute();
    const last = this.undoStack[this.undoStack.length - 1];
    const now = performance.now();
    if (mergeKey && last && last.mergeKey === mergeKey && now - last.time < MERGE_MS && last.absorb) {
      last.absorb(cmd);
      last.time = now;
    } else {
      cmd.mergeKey = mergeKey;
      cmd.time = now;
      this.undoStack.push(cmd);
    }
    this.redoStack = [];
    this.sync.submit(cmd.toJSON());
  }

  /** An edit being prepared (it needs an answer from the server first) counts as
   *  unsaved until it is done. @template T @param {Promise<T>} work */
  prepare(work) { return this.sync.busy(work); }

  undo() {
    const cmd = this.undoStack.pop();
    if (!cmd) return;
    cmd.undo();
    this.redoStack.push(cmd);
    this.sync.submit(cmd.inverseJSON());
  }

  redo() {
    const cmd = this.redoStack.pop();
    if (!cmd) return;
    cmd.execute();
    cmd.mergeKey = undefined;
    this.undoStack.push(cmd);
    this.sync.submit(cmd.toJSON());
  }

  /** Take the revisions the server gave our objects. @param {any} ack */
  acknowledged(ack) {
    for (const [id, revision] of Object.entries(ack.revisions)) {
      if (revision === null) continue;
      const obj = this.app.cuboids.get(id) ?? this.app.tracks.get(id);
      if (obj && revision > obj.revision) obj.revision = revision;
    }
  }

  /** The server refused a batch: the history no longer matches its state. */
  refused() {
    this.undoStack = [];
    this.redoStack = [];
  }
}
