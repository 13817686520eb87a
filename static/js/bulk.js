// @ts-check
/** Edits of many tracks at once, from the object list: a class change and a
 *  delete. Each is one command, so one undo step and one batch (the server
 *  applies all of it or none). */

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Cuboid} Cuboid
 *  @typedef {import("./app.js").Track} Track @typedef {import("./app.js").Tag} Tag */

/** The latest revision the app holds for an object (the command's copy otherwise).
 *  @param {App} app @param {{id: string, revision: number}} obj */
const rev = (app, obj) => (app.cuboids.get(obj.id) ?? app.tracks.get(obj.id) ?? app.tags.get(obj.id) ?? obj).revision ?? 0;

/** Give several tracks one class. */
export class BulkClassCommand {
  /** @param {App} app @param {string[]} trackIds @param {string} label */
  constructor(app, trackIds, label) {
    this.app = app;
    this.label = label;
    /** @type {Map<string, string>} track id -> its class before */
    this.before = new Map(trackIds.filter((id) => app.tracks.has(id))
      .map((id) => [id, /** @type {Track} */ (app.tracks.get(id)).label]));
    this.name = `change class of ${this.before.size} tracks`;
  }
  /** @param {(before: string) => string} label */
  set(label) {
    for (const [id, before] of this.before) {
      const t = this.app.tracks.get(id);
      if (t) t.label = label(before);
    }
    this.app.signals.annotationsReset.dispatch();
  }
  execute() { this.set(() => this.label); }
  undo() { this.set((b) => b); }
  /** @param {(before: string) => string} label */
  ops(label) {
    return [...this.before].map(([id, before]) => ({ op: "update", kind: "track", id,
      base_revision: rev(this.app, /** @type {Track} */ (this.app.tracks.get(id) ?? { id, revision: 0 })), data: { label: label(before) } }));
  }
  toJSON() { return this.ops(() => this.label); }
  inverseJSON() { return this.ops((b) => b); }
}

/** Delete several tracks with every box of theirs and every behaviour tag on or
 *  related to them. */
export class BulkDeleteCommand {
  /** @param {App} app @param {string[]} trackIds */
  constructor(app, trackIds) {
    this.app = app;
    const ids = new Set(trackIds.filter((id) => app.tracks.has(id)));
    /** @type {Track[]} */ this.tracks = [...ids].map((id) => /** @type {Track} */ (app.tracks.get(id)));
    /** @type {Cuboid[]} */ this.cuboids = [...app.cuboids.values()].filter((c) => ids.has(c.track_id));
    /** @type {Tag[]} */ this.tags = [...app.tags.values()]
      .filter((t) => (t.track_id && ids.has(t.track_id)) || (t.related_track_id && ids.has(t.related_track_id)));
    this.name = `delete ${this.tracks.length} tracks`;
  }
  execute() {
    for (const t of this.tags) this.app.tags.delete(t.id);
    for (const c of this.cuboids) this.app.cuboids.delete(c.id);
    for (const t of this.tracks) this.app.tracks.delete(t.id);
    if (this.app.selectedTrack && this.tracks.some((t) => t.id === this.app.selectedTrack)) this.app.select(null);
    this.app.signals.annotationsReset.dispatch();
    this.app.signals.tagsChanged.dispatch();
  }
  undo() {
    for (const t of this.tracks) this.app.tracks.set(t.id, t);
    for (const c of this.cuboids) this.app.cuboids.set(c.id, c);
    for (const t of this.tags) this.app.tags.set(t.id, t);
    this.app.signals.annotationsReset.dispatch();
    this.app.signals.tagsChanged.dispatch();
  }
  /** Children first: tags, boxes, then the tracks. */
  toJSON() {
    /** @param {string} kind @param {{id: string, revision: number}} o */
    const del = (kind, o) => ({ op: "delete", kind, id: o.id, base_revision: rev(this.app, o) });
    return [...this.tags.map((t) => del("tag", t)), ...this.cuboids.map((c) => del("cuboid", c)),
      ...this.tracks.map((t) => del("track", t))];
  }
  /** Parents first: the tracks, their boxes, then the tags. */
  inverseJSON() {
    const ops = [];
    for (const t of this.tracks) ops.push({ op: "create", kind: "track", id: t.id, data: { label: t.label, attributes: structuredClone(t.attributes) } });
    for (const c of this.cuboids) {
      ops.push({ op: "create", kind: "cuboid", id: c.id, data: { track_id: c.track_id, frame: c.frame,
        center: c.center, size: c.size, yaw: c.yaw, pitch: c.pitch, roll: c.roll,
        attributes: structuredClone(c.attributes), source: c.source, keyframe: c.keyframe } });
    }
    for (const t of this.tags) {
      ops.push({ op: "create", kind: "tag", id: t.id, data: { tag: t.tag, subject: t.subject, track_id: t.track_id,
        related_track_id: t.related_track_id, first_frame: t.first_frame, last_frame: t.last_frame,
        attributes: structuredClone(t.attributes) } });
    }
    return ops;
  }
}
