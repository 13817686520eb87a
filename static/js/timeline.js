// @ts-check
/** The timeline at the bottom: play/pause, a frame ruler to scrub, and one lane
 *  per subject of behaviour tags (the ego vehicle, and each track with boxes or
 *  tags, plus the selected track). A lane shows its track's boxes (keyframes
 *  and interpolated frames) and its tags as bars. Drag on a lane (or press
 *  [ and ] on the active lane) to choose a frame range, pick a tag type the
 *  taxonomy allows for that subject and class, and add the tag (Enter). Click a
 *  bar to select the tag; drag its ends or press [ / ] to change its range;
 *  Del deletes it. Each change is one undoable TagCommand. */

import { TagCommand } from "./commands.js";
import { frameAt, frameLayout } from "./frame-times.js";
import { uuid } from "./store.js";
import { trackName } from "./tracks.js";

/** The related-object choice that means the ego vehicle (no track id holds "<"). */
const EGO = "<ego>";

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Tag} Tag
 *  @typedef {{key: string, subject: "ego"|"scene"|"track", trackId: string|null, name: string}} Lane */

/** Playback rate (frames per second). */
const PLAY_HZ = 10;
/** Pointer travel (px) below which a press on a lane is a click. */
const CLICK_PX = 4;
/** Height of one row of tag bars (px). */
const BAR_ROW = 15;

/** @param {string} tag @param {string} [cls] */
const el = (tag, cls) => { const e = document.createElement(tag); if (cls) e.className = cls; return e; };

export class Timeline {
  /** @param {App} app @param {import("./commands.js").Editor} editor
   *  @param {(message: string) => void} tell */
  constructor(app, editor, tell) {
    this.app = app;
    this.editor = editor;
    this.tell = tell;
    const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
    this.lanesEl = $("timeline-lanes");
    this.playBtn = /** @type {HTMLButtonElement} */ ($("play"));
    this.typeSelect = /** @type {HTMLSelectElement} */ ($("tag-type"));
    this.relatedSelect = /** @type {HTMLSelectElement} */ ($("tag-related"));
    this.rangeEl = $("tag-range");
    this.infoEl = $("tag-info");
    this.deleteBtn = /** @type {HTMLButtonElement} */ ($("tag-delete"));
    /** The lane tags are added to: "ego", "scene" or a track id. */
    this.lane = "ego";
    /** @type {{first: number, last: number}|null} the frames a new tag covers */
    this.range = null;
    /** @type {any} the pointer gesture in progress */
    this.gesture = null;
    /** @type {ReturnType<typeof setInterval>|undefined} */ this.timer = undefined;
    this.loadedFrame = -1;
    this.lastStep = 0;
    this.queued = false;
    this.playBtn.onclick = () => this.togglePlay();
    /** @type {HTMLButtonElement} */ ($("tag-add")).onclick = () => this.addTag();
    this.deleteBtn.onclick = () => this.deleteTag();
    this.typeSelect.onchange = () => { this.typeSelect.blur(); this.schedule(); };
    this.relatedSelect.onchange = () => this.relatedSelect.blur();
    // A clicked button or a moved slider gives the focus back, so keys stay timeline keys.
    $("timeline").addEventListener("click", (e) => { if (e.target instanceof HTMLButtonElement) e.target.blur(); });
    $("frame-slider").addEventListener("change", (e) => /** @type {HTMLElement} */ (e.target).blur());
    this.lanesEl.addEventListener("pointerdown", (e) => this.pointerDown(e));
    this.lanesEl.addEventListener("pointermove", (e) => this.pointerMove(e));
    this.lanesEl.addEventListener("pointerup", (e) => this.pointerUp(e));
    const s = app.signals;
    for (const sig of [s.cuboidChanged, s.annotationsReset, s.frameChanged, s.tagsChanged, s.tagSelected]) sig.add(() => this.schedule());
    // Selecting another track makes its lane the active one.
    let track = app.selectedTrack;
    s.selectionChanged.add(() => {
      if (app.selectedTrack && app.selectedTrack !== track) this.setLane(app.selectedTrack);
      track = app.selectedTrack;
      this.schedule();
    });
    s.pointsLoaded.add(() => { this.loadedFrame = app.frame; });
  }

  get frameCount() { return this.app.scene.frames.length; }

  /** Redraw on the next animation frame (many changes, one redraw). */
  schedule() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => { this.queued = false; this.render(); });
  }

  // ---- playback ----
  togglePlay() { if (this.timer) this.pause(); else this.play(); }

  play() {
    if (this.app.frame >= this.frameCount - 1) this.app.setFrame(0);
    this.lastStep = performance.now();
    // Step at PLAY_HZ, but wait for a frame's points (at most a second) before the next.
    this.timer = setInterval(() => {
      const now = performance.now();
      if (this.loadedFrame !== this.app.frame && now - this.lastStep < 1000) return;
      if (this.app.frame >= this.frameCount - 1) { this.pause(); return; }
      this.lastStep = now;
      this.app.setFrame(this.app.frame + 1);
    }, 1000 / PLAY_HZ);
    this.schedule();
  }

  pause() {
    clearInterval(this.timer);
    this.timer = undefined;
    this.schedule();
  }

  get playing() { return this.timer !== undefined; }

  // ---- lanes ----
  /** @returns {Lane[]} */
  lanes() {
    const app = this.app;
    /** @type {Lane[]} */ const lanes = [{ key: "ego", subject: "ego", trackId: null, name: "Ego vehicle" }];
    if (app.taxonomy.tags.some((/** @type {any} */ t) => t.subjects.includes("scene"))) {
      lanes.push({ key: "scene", subject: "scene", trackId: null, name: "Scene" });
    }
    /** @type {Map<string, number>} */ const first = new Map();
    for (const c of app.cuboids.values()) first.set(c.track_id, Math.min(first.get(c.track_id) ?? 1e9, c.frame));
    for (const t of app.tags.values()) if (t.track_id && !first.has(t.track_id)) first.set(t.track_id, 1e9);
    if (app.selectedTrack && !first.has(app.selectedTrack)) first.set(app.selectedTrack, 1e9);
    const ids = [...first.keys()].filter((id) => app.tracks.has(id))
      .sort((a, b) => /** @type {number} */ (first.get(a)) - /** @type {number} */ (first.get(b)) || (a < b ? -1 : 1));
    for (const id of ids) lanes.push({ key: id, subject: "track", trackId: id, name: trackName(app, id) });
    return lanes;
  }

  /** @returns {Lane} */
  activeLane() {
    return this.lanes().find((l) => l.key === this.lane) ?? this.lanes()[0];
  }

  /** @param {string} key */
  setLane(key) {
    if (this.lane === key) return;
    this.lane = key;
    this.range = null;
    this.schedule();
  }

  /** Make the next (+1) or previous (-1) lane the active one. @param {number} step */
  cycleLane(step) {
    const lanes = this.lanes();
    const at = lanes.findIndex((l) => l.key === this.activeLane().key);
    const lane = lanes[(at + step + lanes.length) % lanes.length];
    this.setLane(lane.key);
    if (lane.trackId) this.app.selectTrack(lane.trackId);
  }

  /** Tag types the taxonomy allows for a lane's subject (and its track's class). @param {Lane} lane */
  allowedTypes(lane) {
    const label = lane.trackId ? this.app.tracks.get(lane.trackId)?.label : null;
    return this.app.taxonomy.tags.filter((/** @type {any} */ t) => t.subjects.includes(lane.subject)
      && (lane.subject !== "track" || !t.classes.length || t.classes.includes(label)));
  }

  /** Choose the next (+1) or previous (-1) allowed tag type. @param {number} step */
  cycleType(step) { this.cycleSelect(this.typeSelect, step); }

  /** Choose the next (+1) or previous (-1) related track. @param {number} step */
  cycleRelated(step) { this.cycleSelect(this.relatedSelect, step); }

  /** @param {HTMLSelectElement} select @param {number} step */
  cycleSelect(select, step) {
    const n = select.options.length;
    if (!n) return;
    select.selectedIndex = (select.selectedIndex + step + n) % n;
    this.schedule();
  }

  // ---- tags ----
  /** Set the start (or end) of the selected tag's range, or of the range of a new
   *  tag on the active lane, to the current frame. @param {"first"|"last"} end */
  setEnd(end) {
    const f = this.app.frame;
    const tag = this.app.selectedTag ? this.app.tags.get(this.app.selectedTag) : null;
    if (tag) {
      const first = end === "first" ? f : Math.min(tag.first_frame, f);
      const last = end === "last" ? f : Math.max(tag.last_frame, f);
      this.changeRange(tag, first, last);
      return;
    }
    const r = this.range ?? { first: f, last: f };
    this.range = end === "first" ? { first: f, last: Math.max(r.last, f) } : { first: Math.min(r.first, f), last: f };
    this.schedule();
  }

  /** @param {Tag} tag @param {number} first @param {number} last */
  changeRange(tag, first, last) {
    if (tag.first_frame === first && tag.last_frame === last) return;
    this.editor.execute(new TagCommand(this.app, tag.id, tag, { ...tag, first_frame: first, last_frame: last }, "change tag range"));
  }

  /** Tag the chosen range of the active lane with the chosen tag type. */
  addTag() {
    const lane = this.activeLane();
    const type = this.typeSelect.value;
    if (!this.range) { this.tell("Choose frames first: drag on a lane, or press [ and ] at the first and last frame"); return; }
    if (!type) { this.tell(`No tag type applies to ${lane.name}`); return; }
    const related = this.relatedSelect.value || null;
    const ego = related === EGO;
    /** @type {Tag} */
    const tag = {
      id: uuid(), tag: type, subject: lane.subject, track_id: lane.trackId,
      related_track_id: ego ? null : related, ...(ego ? { related_ego: true } : {}),
      first_frame: this.range.first, last_frame: this.range.last, attributes: {}, revision: 0,
    };
    this.editor.execute(new TagCommand(this.app, tag.id, null, tag, "add tag"));
    this.range = null;
    this.app.selectTag(tag.id);
  }

  /** Delete the selected tag; false when none is selected. */
  deleteTag() {
    const tag = this.app.selectedTag ? this.app.tags.get(this.app.selectedTag) : null;
    if (!tag) return false;
    this.editor.execute(new TagCommand(this.app, tag.id, tag, null, "delete tag"));
    return true;
  }

  /** @param {Tag} t */
  laneOf(t) { return t.subject === "track" ? t.track_id ?? "" : t.subject; }

  // ---- pointer ----
  /** The frame under a pointer over a lane's bar area (its box on the page: the
   *  lanes are redrawn during a drag). @param {PointerEvent} e @param {DOMRect} r */
  frameAt(e, r) {
    return frameAt(frameLayout(this.app.scene.frames), (e.clientX - r.left) / r.width);
  }

  /** @param {PointerEvent} e */
  pointerDown(e) {
    if (e.button !== 0) return;
    const target = /** @type {HTMLElement} */ (e.target);
    const track = target.closest(".tl-track");
    if (!track) {
      const row = /** @type {HTMLElement|null} */ (target.closest(".tl-lane"));
      if (row?.dataset.lane) this.pickLane(row.dataset.lane);
      return;
    }
    const row = /** @type {HTMLElement} */ (track.closest(".tl-row"));
    const rect = track.getBoundingClientRect();
    const f = this.frameAt(e, rect);
    this.lanesEl.setPointerCapture(e.pointerId);
    if (row.classList.contains("tl-ruler")) {
      this.gesture = { kind: "scrub", rect };
      this.app.setFrame(f);
      return;
    }
    const lane = /** @type {string} */ (row.dataset.lane);
    const bar = /** @type {HTMLElement|null} */ (target.closest(".tl-tag"));
    if (bar) {
      const tag = /** @type {Tag} */ (this.app.tags.get(/** @type {string} */ (bar.dataset.tagId)));
      this.setLane(lane);
      this.app.selectTag(tag.id);
      const handle = target.dataset.end;
      this.gesture = handle ? { kind: "resize", rect, tag: tag.id, end: handle, first: tag.first_frame, last: tag.last_frame } : null;
      return;
    }
    this.pickLane(lane);
    this.gesture = { kind: "range", rect, lane, anchor: f, x: e.clientX, moved: false };
  }

  /** @param {string} key */
  pickLane(key) {
    this.setLane(key);
    this.app.selectTag(null);
    if (key !== "ego" && key !== "scene") this.app.selectTrack(key);
  }

  /** @param {PointerEvent} e */
  pointerMove(e) {
    const g = this.gesture;
    if (!g) return;
    const f = this.frameAt(e, g.rect);
    if (g.kind === "scrub") this.app.setFrame(f);
    else if (g.kind === "range") {
      if (!g.moved && Math.abs(e.clientX - g.x) < CLICK_PX) return;
      g.moved = true;
      this.range = { first: Math.min(g.anchor, f), last: Math.max(g.anchor, f) };
      this.schedule();
    } else if (g.kind === "resize") {
      const tag = this.app.tags.get(g.tag);
      if (!tag) return;
      if (g.end === "first") g.first = Math.min(f, tag.last_frame);
      else g.last = Math.max(f, tag.first_frame);
      this.schedule();
    }
  }

  /** @param {PointerEvent} e */
  pointerUp(e) {
    const g = this.gesture;
    this.gesture = null;
    if (this.lanesEl.hasPointerCapture(e.pointerId)) this.lanesEl.releasePointerCapture(e.pointerId);
    if (!g) return;
    if (g.kind === "range" && !g.moved) {
      this.range = null;
      this.app.setFrame(this.frameAt(e, g.rect));
      this.schedule();
    } else if (g.kind === "resize") {
      const tag = this.app.tags.get(g.tag);
      if (tag) this.changeRange(tag, g.first, g.last);
      this.schedule();
    }
  }

  // ---- drawing ----
  render() {
    const app = this.app;
    const n = this.frameCount;
    const layout = frameLayout(app.scene.frames);  // by timestamps when the frames have them
    const pct = (/** @type {number} */ x) => `${x * 100}%`;
    /** @param {HTMLElement} e @param {number} first @param {number} last */
    const place = (e, first, last) => {
      e.style.left = pct(layout.starts[first]);
      e.style.width = pct(layout.starts[last] + layout.width - layout.starts[first]);
      return e;
    };
    this.playBtn.textContent = this.playing ? "❚❚" : "▶";
    this.playBtn.setAttribute("aria-pressed", String(this.playing));
    const cursor = () => place(el("div", "tl-cursor"), app.frame, app.frame);

    // The ruler: a label every few frames, about 48 px apart.
    const width = Math.max(100, this.lanesEl.clientWidth - 150);
    const every = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].find((s) => width * layout.width * s >= 48) ?? 1000;
    const ruler = el("div", "tl-row tl-ruler");
    const rulerName = el("div", "tl-name muted");
    rulerName.textContent = "frames";
    const rulerTrack = el("div", "tl-track");
    rulerTrack.title = "Click or drag to go to a frame" + (layout.timed ? " (frames spaced by their timestamps)" : "");
    ruler.dataset.timed = String(layout.timed);
    const t0 = app.scene.frames[0]?.timestamp ?? 0;
    for (let f = 0; f < n; f += every) {
      const tick = place(el("span", "tl-tick"), f, f);
      tick.textContent = String(f + 1);
      tick.dataset.testid = "tl-tick";
      if (layout.timed) tick.title = `frame ${f + 1}: ${(app.scene.frames[f].timestamp - t0).toFixed(2)} s`;
      rulerTrack.append(tick);
    }
    rulerTrack.append(cursor());
    ruler.append(rulerName, rulerTrack);

    const lanes = this.lanes();
    const active = this.activeLane();
    if (active.key !== this.lane) this.lane = active.key;
    const rows = lanes.map((lane) => {
      const row = el("div", "tl-row tl-lane");
      row.dataset.lane = lane.key;
      row.dataset.testid = lane.trackId ? `lane-${lane.trackId}` : `lane-${lane.key}`;
      row.classList.toggle("active", lane.key === active.key);
      const name = el("div", "tl-name");
      name.textContent = lane.name;
      name.title = lane.trackId ? "Click: select this track; drag on its lane to choose frames for a tag" : "Tags on the ego vehicle";
      const color = lane.trackId ? app.classInfo(app.tracks.get(lane.trackId)?.label ?? "")?.color : "#e0e0e0";
      name.style.borderLeftColor = color ?? "#bdbdbd";
      const track = el("div", "tl-track");
      if (lane.trackId) {
        for (const c of app.cuboids.values()) {
          if (c.track_id !== lane.trackId) continue;
          const box = place(el("span", c.keyframe ? "tl-box key" : "tl-box"), c.frame, c.frame);
          box.title = `frame ${c.frame + 1}: ${c.keyframe ? "keyframe" : c.source}`;
          track.append(box);
        }
      }
      // Tag bars, stacked in rows where they overlap.
      const tags = [...app.tags.values()].filter((t) => this.laneOf(t) === lane.key)
        .sort((a, b) => a.first_frame - b.first_frame);
      /** @type {number[]} */ const rowEnds = [];
      for (const t of tags) {
        const g = this.gesture?.kind === "resize" && this.gesture.tag === t.id ? this.gesture : null;
        const first = g ? g.first : t.first_frame, last = g ? g.last : t.last_frame;
        let r = rowEnds.findIndex((end) => end < first);
        if (r < 0) { r = rowEnds.length; rowEnds.push(last); } else rowEnds[r] = last;
        const bar = place(el("div", "tl-tag"), first, last);
        bar.style.top = `${2 + r * BAR_ROW}px`;
        bar.dataset.tagId = t.id;
        bar.dataset.testid = "tag-bar";
        bar.classList.toggle("selected", t.id === app.selectedTag);
        const related = t.related_ego ? " → ego" : t.related_track_id ? ` → ${trackName(app, t.related_track_id)}` : "";
        bar.title = `${t.tag}${related}, frames ${t.first_frame + 1}–${t.last_frame + 1}; drag an end to change`;
        const label = el("span", "tl-tag-label");
        label.textContent = t.tag + related;
        const h1 = el("span", "tl-handle first"), h2 = el("span", "tl-handle last");
        h1.dataset.end = "first"; h2.dataset.end = "last";
        bar.append(h1, label, h2);
        track.append(bar);
      }
      track.style.height = `${Math.max(1, rowEnds.length) * BAR_ROW + 12}px`;
      if (lane.key === active.key && this.range) {
        const draft = place(el("div", "tl-range"), this.range.first, this.range.last);
        draft.dataset.testid = "tag-draft";
        track.append(draft);
      }
      track.append(cursor());
      row.append(name, track);
      return row;
    });
    this.lanesEl.replaceChildren(ruler, ...rows);
    this.renderControls(active);
  }

  /** The tag type and related track choices for the active lane, the range, and
   *  what is selected. @param {Lane} lane */
  renderControls(lane) {
    const app = this.app;
    const types = this.allowedTypes(lane).map((/** @type {any} */ t) => t.name);
    const keepType = types.includes(this.typeSelect.value) ? this.typeSelect.value : types[0] ?? "";
    if ([...this.typeSelect.options].map((o) => o.value).join() !== types.join()) {
      this.typeSelect.replaceChildren(...types.map((t) => new Option(t, t)));
    }
    this.typeSelect.value = keepType;
    this.typeSelect.disabled = !types.length;
    // The related object the tag type takes (docs/taxonomy.md): none, a track, or the ego vehicle.
    const info = app.taxonomy.tags.find((/** @type {any} */ t) => t.name === keepType);
    const others = [...app.tracks.keys()].filter((id) => id !== lane.trackId);
    const values = !info || info.related === "none" ? [""] : ["", ...(info.related_ego ? [EGO] : []), ...others];
    const relatedName = (/** @type {string} */ v) => (v === EGO ? "ego vehicle" : v ? trackName(app, v) : "no related track");
    const keepRelated = values.includes(this.relatedSelect.value) ? this.relatedSelect.value : "";
    if ([...this.relatedSelect.options].map((o) => `${o.value}:${o.text}`).join()
      !== values.map((v) => `${v}:${relatedName(v)}`).join()) {
      this.relatedSelect.replaceChildren(...values.map((v) => new Option(relatedName(v), v)));
    }
    this.relatedSelect.value = keepRelated;
    this.rangeEl.textContent = this.range
      ? `${lane.name}: frames ${this.range.first + 1}–${this.range.last + 1}`
      : `${lane.name}: no frames chosen`;
    const tag = app.selectedTag ? app.tags.get(app.selectedTag) : null;
    this.deleteBtn.hidden = !tag;
    if (tag) {
      const who = tag.subject === "track" ? trackName(app, tag.track_id) : tag.subject;
      const related = tag.related_ego ? " · related ego vehicle"
        : tag.related_track_id ? ` · related ${trackName(app, tag.related_track_id)}` : "";
      this.infoEl.textContent = `Tag ${tag.tag} · ${who} · frames ${tag.first_frame + 1}–${tag.last_frame + 1}${related}`;
      this.infoEl.title = this.infoEl.textContent;
      return;
    }
    const box = app.selected ? app.cuboids.get(app.selected) : null;
    this.infoEl.textContent = box ? `${trackName(app, box.track_id)} · ${box.keyframe ? "keyframe" : box.source}`
      : app.selectedTrack ? `${trackName(app, app.selectedTrack)} · no box in this frame (B adds a keyframe)` : "";
  }
}
