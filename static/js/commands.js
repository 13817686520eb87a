// @ts-check
/** Every user change is a Command: execute() and undo() change the local state,
 *  toJSON() / inverseJSON() give the protocol ops that make the same change on
 *  the server. The Editor keeps the undo/redo history and hands each change's
 *  ops to Sync at once (so it is kept in the outbox); Sync sends them in order,
 *  one batch at a time, rebasing later batches on the revisions each ack gives. */

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Cuboid} Cuboid
 *  @typedef {import("./app.js").Track} Track @typedef {import("./app.js").Tag} Tag */

const cuboidData = (/** @type {Cuboid} */ c) => ({
  track_id: c.track_id, frame: c.frame, center: c.center, size: c.size, yaw: c.yaw,
  pitch: c.pitch, roll: c.roll, attributes: c.attributes, source: c.source, keyframe: c.keyframe,
});

/** The latest known revision of an object: the app's copy may have been replaced
 *  by a snapshot or an event since the command was made (0 when it is gone; an
 *  earlier batch still in the outbox gets it rebased when acknowledged).
 *  @param {App} app @param {{id: string, revision?: number}} obj */
const revision = (app, obj) => (app.cuboids.get(obj.id) ?? app.tracks.get(obj.id) ?? app.tags.get(obj.id) ?? obj).revision ?? 0;

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
    // A track that keeps other boxes, or behaviour tags, stays.
    const shared = [...app.cuboids.values()].some((c) => c.track_id === cuboid.track_id && c.id !== id)
      || [...app.tags.values()].some((t) => t.track_id === cuboid.track_id || t.related_track_id === cuboid.track_id);
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

/** Change a track's attributes (those the taxonomy declares for its class). */
export class TrackAttributesCommand {
  /** @param {App} app @param {string} id @param {object} before @param {object} after */
  constructor(app, id, before, after) { this.app = app; this.id = id; this.before = before; this.after = after; this.name = "track attributes"; }
  /** @param {object} attributes */
  set(attributes) {
    const t = this.app.tracks.get(this.id);
    if (t) t.attributes = structuredClone(attributes);
    this.app.signals.annotationsReset.dispatch();
  }
  execute() { this.set(this.after); }
  undo() { this.set(this.before); }
  /** @param {object} attributes */
  ops(attributes) {
    return [{ op: "update", kind: "track", id: this.id, base_revision: revision(this.app, this), data: { attributes } }];
  }
  toJSON() { return this.ops(this.after); }
  inverseJSON() { return this.ops(this.before); }
}

/** Whole-cuboid changes, e.g. the interpolated boxes of a track: each change is
 *  {before, after}, null where the cuboid does not exist. */
export class CuboidSetCommand {
  /** @param {App} app @param {{before: Cuboid|null, after: Cuboid|null}[]} changes @param {string} [name] */
  constructor(app, changes, name = "change boxes") { this.app = app; this.changes = changes; this.name = name; }
  /** @param {Cuboid|null} from @param {Cuboid|null} to */
  apply(from, to) {
    const id = /** @type {Cuboid} */ (to ?? from).id;
    const now = this.app.cuboids.get(id);
    if (!to) {
      // The delete op needs the revision the server gave it (kept on our copy).
      if (now && from) from.revision = now.revision;
      this.app.cuboids.delete(id);
      if (this.app.selected === id) this.app.selectTrack(this.app.selectedTrack);
    } else if (now) {
      const { revision: _r, ...fields } = structuredClone(to);
      Object.assign(now, fields);
    } else {
      this.app.cuboids.set(id, { ...structuredClone(to), revision: 0 });
    }
    this.app.signals.cuboidChanged.dispatch(id);
  }
  execute() { for (const c of this.changes) this.apply(c.before, c.after); }
  undo() { for (const c of [...this.changes].reverse()) this.apply(c.after, c.before); }
  /** @param {Cuboid|null} from @param {Cuboid|null} to */
  op(from, to) {
    if (!from && to) return { op: "create", kind: "cuboid", id: to.id, data: cuboidData(to) };
    if (from && !to) return { op: "delete", kind: "cuboid", id: from.id, base_revision: revision(this.app, from) };
    const a = /** @type {Cuboid} */ (from), b = /** @type {Cuboid} */ (to);
    const { track_id: _t, frame: _f, ...data } = cuboidData(b);
    return { op: "update", kind: "cuboid", id: b.id, base_revision: revision(this.app, a), data: structuredClone(data) };
  }
  toJSON() { return this.changes.map((c) => this.op(c.before, c.after)); }
  inverseJSON() { return [...this.changes].reverse().map((c) => this.op(c.after, c.before)); }
  /** Fold later changes in: the first before and the last after of each box.
   *  @param {CuboidSetCommand} next */
  absorb(next) {
    for (const n of next.changes) {
      const id = /** @type {Cuboid} */ (n.after ?? n.before).id;
      const mine = this.changes.find((c) => (c.after ?? c.before)?.id === id);
      if (mine) mine.after = n.after;
      else this.changes.push({ before: n.before, after: n.after });
    }
    this.changes = this.changes.filter((c) => c.before || c.after);
  }
}

/** A change of a track's boxes followed by what it implies for the track's other
 *  boxes (re-interpolation), as one undo step and one batch. `derive` is called
 *  once, after the first execute, and returns the implied changes. */
export class DerivedCommand {
  /** @param {any} primary a command @param {() => CuboidSetCommand|null} derive */
  constructor(primary, derive) {
    this.primary = primary;
    this.derive = derive;
    /** @type {CuboidSetCommand|null} */ this.derived = null;
    this.done = false;
    this.name = primary.name;
  }
  execute() {
    this.primary.execute();
    if (!this.done) { this.derived = this.derive(); this.done = true; }
    this.derived?.execute();
  }
  undo() { this.derived?.undo(); this.primary.undo(); }
  toJSON() { return [...this.primary.toJSON(), ...(this.derived?.toJSON() ?? [])]; }
  inverseJSON() { return [...(this.derived?.inverseJSON() ?? []), ...this.primary.inverseJSON()]; }
  get absorb() {
    if (!this.primary.absorb) return undefined;
    /** @param {DerivedCommand} next */
    return (next) => {
      this.primary.absorb(next.primary);
      if (this.derived && next.derived) this.derived.absorb(next.derived);
      else this.derived = this.derived ?? next.derived;
    };
  }
}

/** Create, change or delete a behaviour tag (before / after null: absent). */
export class TagCommand {
  /** @param {App} app @param {string} id @param {Tag|null} before @param {Tag|null} after @param {string} name */
  constructor(app, id, before, after, name) {
    this.app = app; this.id = id; this.name = name;
    this.before = before && structuredClone(before);
    this.after = after && structuredClone(after);
  }
  /** @param {Tag|null} to */
  set(to) {
    const now = this.app.tags.get(this.id);
    if (!to) {
      for (const copy of [this.before, this.after]) if (now && copy) copy.revision = now.revision;
      this.app.tags.delete(this.id);
      if (this.app.selectedTag === this.id) this.app.selectTag(null);
    } else if (now) {
      const { revision: _r, ...fields } = structuredClone(to);
      Object.assign(now, fields);
    } else {
      this.app.tags.set(this.id, { ...structuredClone(to), revision: 0 });
    }
    this.app.signals.tagsChanged.dispatch();
  }
  execute() { this.set(this.after); }
  undo() { this.set(this.before); }
  /** @param {Tag|null} from @param {Tag|null} to */
  ops(from, to) {
    const data = (/** @type {Tag} */ t) => ({ tag: t.tag, subject: t.subject, track_id: t.track_id,
      related_track_id: t.related_track_id, first_frame: t.first_frame, last_frame: t.last_frame,
      attributes: structuredClone(t.attributes) });
    if (!from && to) return [{ op: "create", kind: "tag", id: this.id, data: data(to) }];
    if (from && !to) return [{ op: "delete", kind: "tag", id: this.id, base_revision: revision(this.app, from) }];
    return [{ op: "update", kind: "tag", id: this.id, base_revision: revision(this.app, /** @type {Tag} */ (from)), data: data(/** @type {Tag} */ (to)) }];
  }
  toJSON() { return this.ops(this.before, this.after); }
  inverseJSON() { return this.ops(this.after, this.before); }
  /** @param {TagCommand} next */
  absorb(next) { this.after = next.after; }
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
    /** Lets a module add what a command implies (e.g. re-interpolation) before it runs.
     *  @type {(cmd: any) => any} */
    this.wrap = (cmd) => cmd;
    /** Why this page may not edit (the task is not in progress, or not this user's), or "". */
    this.readOnly = "";
    /** Told when an edit is refused because the page is read-only. @type {(why: string) => void} */
    this.onReadOnly = () => {};
    /** Why a command may not run (e.g. it moves a locked object), or "".
     *  @type {(cmd: any) => string} */
    this.guard = () => "";
  }

  /** Run a command. With a merge key (e.g. "<id>:yaw"), a command that follows one
   *  with the same key within MERGE_MS joins its undo step; each is still sent.
   *  @param {any} cmd @param {string} [mergeKey] */
  execute(cmd, mergeKey) {
    if (this.readOnly) { this.onReadOnly(this.readOnly); return; }
    const refused = this.guard(cmd);
    if (refused) {
      // A drag has already moved the box on screen: put it back.
      if (cmd instanceof UpdateBoxCommand) cmd.undo();
      this.onReadOnly(refused);
      return;
    }
    cmd = this.wrap(cmd);
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
      const obj = this.app.cuboids.get(id) ?? this.app.tracks.get(id) ?? this.app.tags.get(id);
      if (obj && revision > obj.revision) obj.revision = revision;
    }
  }

  /** The server refused a batch: the history no longer matches its state. */
  refused() {
    this.undoStack = [];
    this.redoStack = [];
  }
}
