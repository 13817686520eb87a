// @ts-check
/** Every user change is a Command: execute() and undo() change the local state,
 *  toJSON() / inverseJSON() give the protocol ops that make the same change on
 *  the server. The Editor keeps the undo/redo history and sends ops in order,
 *  one batch at a time, so base revisions are always the acknowledged ones. */

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Cuboid} Cuboid
 *  @typedef {import("./app.js").Track} Track */

const cuboidData = (/** @type {Cuboid} */ c) => ({
  track_id: c.track_id, frame: c.frame, center: c.center, size: c.size, yaw: c.yaw,
  pitch: c.pitch, roll: c.roll, attributes: c.attributes, source: c.source, keyframe: c.keyframe,
});

/** The acknowledged revision of an object: the app's copy may have been replaced
 *  by a snapshot or an event since the command was made.
 *  @param {App} app @param {{id: string, revision: number}} obj */
const revision = (app, obj) => (app.cuboids.get(obj.id) ?? app.tracks.get(obj.id) ?? obj).revision;

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

/** Change some fields of a cuboid (a whole drag is one command). */
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
    const c = /** @type {Cuboid} */ (this.app.cuboids.get(this.id));
    return [{ op: "update", kind: "cuboid", id: this.id, base_revision: revision(this.app, c), data: values }];
  }
  toJSON() { return this.ops(this.after); }
  inverseJSON() { return this.ops(this.before); }
}

export class Editor {
  /** @param {App} app @param {import("./sync.js").Sync} sync */
  constructor(app, sync) {
    this.app = app;
    this.sync = sync;
    /** @type {any[]} */ this.undoStack = [];
    /** @type {any[]} */ this.redoStack = [];
    this.queue = Promise.resolve();
  }

  /** @param {any} cmd */
  execute(cmd) {
    cmd.execute();
    this.undoStack.push(cmd);
    this.redoStack = [];
    this.send(() => cmd.toJSON());
  }

  undo() {
    const cmd = this.undoStack.pop();
    if (!cmd) return;
    cmd.undo();
    this.redoStack.push(cmd);
    this.send(() => cmd.inverseJSON());
  }

  redo() {
    const cmd = this.redoStack.pop();
    if (!cmd) return;
    cmd.execute();
    this.undoStack.push(cmd);
    this.send(() => cmd.toJSON());
  }

  /** Queue a batch; its ops are built when it is its turn, from acknowledged revisions.
   *  @param {() => object[]} build */
  send(build) {
    this.queue = this.queue.then(async () => {
      const reply = await this.sync.send(build());
      if (reply.type === "ack") this.acknowledged(reply);
      else this.refused();
    });
  }

  /** @param {any} ack */
  acknowledged(ack) {
    for (const [id, revision] of Object.entries(ack.revisions)) {
      if (revision === null) continue;
      const obj = this.app.cuboids.get(id) ?? this.app.tracks.get(id);
      if (obj) obj.revision = revision;
    }
  }

  /** The server refused a batch: its state is the truth again, and the history no
   *  longer matches it. */
  refused() {
    this.undoStack = [];
    this.redoStack = [];
    this.sync.resync();
  }
}
