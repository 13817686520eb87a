// @ts-check
/** The application state and its named signals. Modules read state here and
 *  announce changes through signals; only main.js wires modules together. */

export class Signal {
  constructor() { /** @type {Set<Function>} */ this.listeners = new Set(); }
  /** @param {Function} fn */
  add(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  /** @param {...any} args */
  dispatch(...args) { for (const fn of this.listeners) fn(...args); }
}

/**
 * @typedef {{id: string, track_id: string, frame: number, center: number[], size: number[],
 *   yaw: number, pitch: number, roll: number, attributes: object, source: string,
 *   keyframe: boolean, revision: number}} Cuboid
 * @typedef {{id: string, label: string, attributes: object, revision: number}} Track
 * @typedef {{id: string, tag: string, subject: string, track_id: string|null,
 *   related_track_id: string|null, related_ego?: boolean, first_frame: number, last_frame: number,
 *   attributes: object, revision: number}} Tag
 */

export class App {
  /** @param {number} sceneId */
  constructor(sceneId) {
    this.sceneId = sceneId;
    /** @type {any} */ this.scene = null;
    /** @type {any} */ this.taxonomy = null;
    this.frame = 0;
    this.label = "Car";
    /** @type {Map<string, Track>} */ this.tracks = new Map();
    /** @type {Map<string, Cuboid>} */ this.cuboids = new Map();
    /** @type {Map<string, Tag>} */ this.tags = new Map();
    /** @type {string|null} */ this.selected = null;
    /** @type {string|null} the selected box's track; kept across frames, also where it has no box */
    this.selectedTrack = null;
    /** @type {string|null} the selected behaviour tag */
    this.selectedTag = null;
    /** @type {Set<string>} ids other people on the scene have selected */
    this.othersSelected = new Set();
    /** What this person hides or locks (tracks and classes); kept in this browser
     *  by object-list.js, never sent. A locked track's boxes cannot be edited. */
    this.view = { hidden: new Set(), locked: new Set(), hiddenClasses: new Set(), lockedClasses: new Set() };
    this.signals = {
      frameChanged: new Signal(),
      cuboidChanged: new Signal(),   // (id) after create/update/delete
      annotationsReset: new Signal(),
      selectionChanged: new Signal(),
      saveState: new Signal(),       // (state, message)
      pointsLoaded: new Signal(),    // (stats)
      tagsChanged: new Signal(),     // () after a tag was created, changed or deleted locally
      tagSelected: new Signal(),     // (id|null)
      viewChanged: new Signal(),     // () after something was hidden, shown, locked or unlocked
    };
  }

  /** Offset (absolute coordinates of local 0,0,0) of the current frame. */
  get offset() { return this.scene.frames[this.frame].offset; }

  /** @param {number} index */
  setFrame(index) {
    const n = this.scene.frames.length;
    const next = Math.max(0, Math.min(n - 1, index));
    if (next === this.frame) return;
    this.frame = next;
    // The selected track stays selected: its box in the new frame, if it has one.
    this.selectTrack(this.selectedTrack);
    this.signals.frameChanged.dispatch(next);
  }

  /** Select a box (and its track); null clears both. @param {string|null} id */
  select(id) {
    const track = id ? this.cuboids.get(id)?.track_id ?? null : null;
    this.selectTag(null);
    this.setSelection(id, track);
  }

  /** Select a track: its box in the current frame, if it has one. @param {string|null} trackId */
  selectTrack(trackId) {
    const box = trackId ? this.frameCuboids().find((c) => c.track_id === trackId) : null;
    this.setSelection(box?.id ?? null, trackId);
  }

  /** @param {string|null} id @param {string|null} track */
  setSelection(id, track) {
    if (this.selected === id && this.selectedTrack === track) return;
    this.selected = id;
    this.selectedTrack = track;
    this.signals.selectionChanged.dispatch(id);
  }

  /** @param {string|null} id */
  selectTag(id) {
    if (this.selectedTag === id) return;
    this.selectedTag = id;
    this.signals.tagSelected.dispatch(id);
  }

  /** @param {string} trackId */
  isHidden(trackId) {
    return this.view.hidden.has(trackId) || this.view.hiddenClasses.has(this.tracks.get(trackId)?.label ?? "");
  }

  /** @param {string} trackId */
  isLocked(trackId) {
    return this.view.locked.has(trackId) || this.view.lockedClasses.has(this.tracks.get(trackId)?.label ?? "");
  }

  /** Cuboids of the current frame. */
  frameCuboids() {
    return [...this.cuboids.values()].filter((c) => c.frame === this.frame);
  }

  /** @param {string} label */
  classInfo(label) {
    return this.taxonomy.classes.find((/** @type {any} */ c) => c.name === label);
  }
}
