// @ts-check
/** The object list (docs/workspace.md): every track of the scene in a
 *  virtualised list (only the rows in view are in the DOM, so 1,000 tracks stay
 *  smooth), with readable names that can be edited, filters (class, source,
 *  has warnings, name search), sorting (number, class, distance, points), hide
 *  and lock per track and per class, and multi-select with a bulk class change
 *  and a bulk delete, each one undo step. A click selects a track and frames it;
 *  Ctrl+click adds or removes one; Shift+click picks a range. */

import { BulkClassCommand, BulkDeleteCommand } from "./bulk.js";
import { TrackAttributesCommand } from "./commands.js";
import { displayName, trackNumbers } from "./names.js";
import { frameRuns } from "./tracks.js";

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Cuboid} Cuboid */

/** Height of one row (px): the list positions rows by it. */
export const ROW_PX = 26;
/** Rows drawn above and below the visible ones. */
const OVERSCAN = 6;
const SOURCES = ["manual", "interpolated", "pre-label", "imported"];

/** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node|string)[]} kids */
function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

/** Local-coordinate points of the drawn tiles inside a box (the frame's drawn level of detail).
 *  @param {Float32Array[]} positions @param {Cuboid} c @param {number[]} o frame offset */
export function pointsInBox(positions, c, o) {
  const cx = c.center[0] - o[0], cy = c.center[1] - o[1], cz = c.center[2] - o[2];
  const cos = Math.cos(c.yaw), sin = Math.sin(c.yaw);
  const hx = c.size[0] / 2, hy = c.size[1] / 2, hz = c.size[2] / 2;
  let n = 0;
  for (const pos of positions) {
    for (let i = 0; i < pos.length; i += 3) {
      const dz = pos[i + 2] - cz;
      if (dz < -hz || dz > hz) continue;
      const dx = pos[i] - cx, dy = pos[i + 1] - cy;
      const u = dx * cos + dy * sin, v = -dx * sin + dy * cos;
      if (u >= -hx && u <= hx && v >= -hy && v <= hy) n++;
    }
  }
  return n;
}

export class ObjectList {
  /** @param {{app: App, editor: import("./commands.js").Editor, viewer: import("./viewer.js").Viewer,
   *   jumpTo: (trackId: string) => void, warningsOf: (trackId: string) => any[], tell: (m: string) => void,
   *   root: HTMLElement, storageKey: string}} o */
  constructor(o) {
    this.app = o.app; this.editor = o.editor; this.viewer = o.viewer; this.jumpTo = o.jumpTo;
    this.warningsOf = o.warningsOf; this.tell = o.tell; this.root = o.root; this.storageKey = o.storageKey;
    /** @type {Set<string>} tracks picked for a bulk edit */ this.picked = new Set();
    /** @type {string|null} where a Shift+click range starts */ this.anchor = null;
    /** @type {string|null} the track whose name is being edited */ this.renaming = null;
    /** @type {string[]} the filtered, sorted track ids */ this.rows = [];
    this.filter = { text: "", label: "", source: "", warned: false };
    this.sort = "number";
    this.loadView();
    this.build();
    let queued = false;
    this.schedule = () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; this.refresh(); });
    };
    const s = this.app.signals;
    for (const sig of [s.cuboidChanged, s.annotationsReset, s.selectionChanged, s.frameChanged, s.viewChanged]) sig.add(this.schedule);
  }

  build() {
    const search = /** @type {HTMLInputElement} */ (h("input", { type: "search", placeholder: "search names",
      "aria-label": "Search objects", "data-testid": "object-search" }));
    search.oninput = () => { this.filter.text = search.value.trim().toLowerCase(); this.refresh(); };
    this.classFilter = /** @type {HTMLSelectElement} */ (h("select", { "aria-label": "Show one category of objects", "data-testid": "object-class-filter" }));
    this.classFilter.onchange = () => { this.filter.label = this.classFilter?.value ?? ""; this.refresh(); this.classFilter?.blur(); };
    const source = /** @type {HTMLSelectElement} */ (h("select", { "aria-label": "Filter by source", "data-testid": "object-source-filter" }));
    source.replaceChildren(new Option("any source", ""), ...SOURCES.map((x) => new Option(x, x)));
    source.onchange = () => { this.filter.source = source.value; this.refresh(); source.blur(); };
    const warned = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", "data-testid": "object-warned-filter" }));
    warned.onchange = () => { this.filter.warned = warned.checked; this.refresh(); };
    const sort = /** @type {HTMLSelectElement} */ (h("select", { "aria-label": "Sort objects", "data-testid": "object-sort" }));
    sort.replaceChildren(...[["number", "by number"], ["class", "by class"], ["distance", "by distance"], ["points", "by points"]]
      .map(([v, t]) => new Option(t, v)));
    sort.onchange = () => { this.sort = sort.value; this.refresh(); sort.blur(); };
    this.count = h("span", { "data-testid": "object-count", class: "muted" });
    const filters = h("div", { class: "object-filters" }, search, this.classFilter, source,
      h("label", { class: "muted" }, warned, " with warnings"), sort, this.count);

    this.bulkLabel = /** @type {HTMLSelectElement} */ (h("select", { "aria-label": "Relabel the picked tracks", "data-testid": "bulk-class" }));
    this.bulkLabel.onchange = () => { const v = this.bulkLabel?.value; if (v) this.bulkClass(v); };
    const del = h("button", { type: "button", "data-testid": "bulk-delete", title: "Delete the picked tracks, their boxes and tags" }, "Delete");
    del.onclick = () => this.bulkDelete();
    const clear = h("button", { type: "button", "data-testid": "bulk-clear" }, "Clear");
    clear.onclick = () => { this.picked.clear(); this.refresh(); };
    this.pickedCount = h("span", { "data-testid": "picked-count" });
    this.bulk = h("div", { class: "object-bulk", "data-testid": "object-bulk" }, this.pickedCount, this.bulkLabel, del, clear);
    this.bulk.hidden = true;

    this.scroller = h("div", { class: "object-list", role: "listbox", "aria-multiselectable": "true",
      "aria-label": "Objects", "data-testid": "object-list", tabindex: "-1" });
    this.spacer = h("div", { class: "object-spacer" });
    this.scroller.append(this.spacer);
    this.scroller.addEventListener("scroll", () => this.drawRows());
    this.classes = h("div", { class: "class-toggles", "data-testid": "class-toggles" });
    this.root.replaceChildren(filters, this.bulk, this.scroller, this.classes);
  }

  /** Hidden and locked tracks and classes, kept in this browser per task. */
  loadView() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) ?? "{}");
      for (const k of /** @type {const} */ (["hidden", "locked", "hiddenClasses", "lockedClasses"])) {
        if (Array.isArray(saved[k])) this.app.view[k] = new Set(saved[k]);
      }
    } catch { /* a damaged entry: start with everything shown */ }
  }

  saveView() {
    const v = this.app.view;
    localStorage.setItem(this.storageKey, JSON.stringify({ hidden: [...v.hidden], locked: [...v.locked],
      hiddenClasses: [...v.hiddenClasses], lockedClasses: [...v.lockedClasses] }));
    this.app.signals.viewChanged.dispatch();
  }

  /** @param {"hidden"|"locked"|"hiddenClasses"|"lockedClasses"} set @param {string} key */
  toggle(set, key) {
    const s = this.app.view[set];
    if (s.has(key)) s.delete(key); else s.add(key);
    this.saveView();
  }

  /** Why a command may not run: it changes a locked track's boxes. @param {any} cmd */
  guard(cmd) {
    const app = this.app;
    /** @type {string[]} */ let tracks = [];
    if (cmd.box?.cuboid) tracks = [cmd.box.cuboid.track_id];                         // create / delete box
    else if (typeof cmd.id === "string" && app.cuboids.has(cmd.id)) tracks = [/** @type {Cuboid} */ (app.cuboids.get(cmd.id)).track_id];
    else if (Array.isArray(cmd.changes)) tracks = cmd.changes.map((/** @type {any} */ c) => (c.after ?? c.before).track_id);
    else if (cmd instanceof BulkDeleteCommand) tracks = cmd.tracks.map((t) => t.id);
    const locked = tracks.find((t) => app.tracks.has(t) && app.isLocked(t));
    return locked ? `${displayName(app, locked)} is locked: unlock it in the object list to edit it` : "";
  }

  /** Per track: its boxes (sorted by frame). */
  boxesByTrack() {
    /** @type {Map<string, Cuboid[]>} */ const by = new Map([...this.app.tracks.keys()].map((id) => [id, []]));
    for (const c of this.app.cuboids.values()) by.get(c.track_id)?.push(c);
    for (const list of by.values()) list.sort((a, b) => a.frame - b.frame);
    return by;
  }

  refresh() {
    const app = this.app;
    if (!app.taxonomy) return;
    const by = this.boxesByTrack();
    this.byTrack = by;
    const numbers = trackNumbers(app);
    for (const id of [...this.picked]) if (!app.tracks.has(id)) this.picked.delete(id);
    const f = this.filter;
    let ids = [...app.tracks.keys()].filter((id) => {
      const t = /** @type {import("./app.js").Track} */ (app.tracks.get(id));
      if (f.label && t.label !== f.label) return false;
      if (f.source && !(by.get(id) ?? []).some((c) => c.source === f.source)) return false;
      if (f.warned && !this.warningsOf(id).length) return false;
      if (f.text && !displayName(app, id).toLowerCase().includes(f.text)) return false;
      return true;
    });
    const num = (/** @type {string} */ id) => numbers.get(id) ?? 0;
    if (this.sort === "class") {
      ids.sort((a, b) => (app.tracks.get(a)?.label ?? "").localeCompare(app.tracks.get(b)?.label ?? "") || num(a) - num(b));
    } else if (this.sort === "distance" || this.sort === "points") {
      const here = new Map(app.frameCuboids().map((c) => [c.track_id, c]));
      const o = app.offset;
      const positions = this.sort === "points" ? this.viewer.loadedPositions : [];
      /** @type {Map<string, number>} */ const key = new Map();
      for (const id of ids) {
        const c = here.get(id);
        if (!c) { key.set(id, Infinity); continue; }
        key.set(id, this.sort === "distance" ? Math.hypot(c.center[0] - o[0], c.center[1] - o[1])
          : -pointsInBox(positions, c, o));
      }
      ids.sort((a, b) => (/** @type {number} */ (key.get(a)) - /** @type {number} */ (key.get(b))) || num(a) - num(b));
    } else {
      ids.sort((a, b) => num(a) - num(b));
    }
    this.rows = ids;
    /** @type {HTMLElement} */ (document.getElementById("track-count")).textContent = String(app.tracks.size);
    /** @type {HTMLElement} */ (this.count).textContent = ids.length === app.tracks.size ? "" : `${ids.length} shown`;
    this.renderClasses();
    this.renderBulk();
    /** @type {HTMLElement} */ (this.spacer).style.height = `${ids.length * ROW_PX}px`;
    this.drawRows();
  }

  /** Draw only the rows in view (plus a few around them). */
  drawRows() {
    const scroller = /** @type {HTMLElement} */ (this.scroller);
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_PX) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((scroller.scrollTop + (scroller.clientHeight || 300)) / ROW_PX) + OVERSCAN);
    const rows = this.rows.slice(first, last).map((id, i) => this.row(id, first + i));
    /** @type {HTMLElement} */ (this.spacer).replaceChildren(...rows);
  }

  /** @param {string} id @param {number} index */
  row(id, index) {
    const app = this.app;
    const t = /** @type {import("./app.js").Track} */ (app.tracks.get(id));
    const boxes = this.byTrack?.get(id) ?? [];
    const li = h("div", { class: "object-row", role: "option", "data-testid": "track-row", "data-track-id": id,
      "aria-selected": String(this.picked.has(id) || id === app.selectedTrack) });
    li.style.top = `${index * ROW_PX}px`;
    li.classList.toggle("selected", id === app.selectedTrack);
    li.classList.toggle("picked", this.picked.has(id));
    li.classList.toggle("hidden-object", app.isHidden(id));
    const swatch = h("span", { class: "swatch" });
    swatch.style.background = app.classInfo(t.label)?.color ?? "#bdbdbd";
    const name = this.renaming === id ? this.nameInput(id) : h("span", { class: "object-name", "data-testid": "object-name",
      title: "double-click to rename" }, displayName(app, id));
    if (this.renaming !== id) name.ondblclick = (e) => { e.stopPropagation(); this.renaming = id; this.drawRows(); };
    const keys = boxes.filter((b) => b.keyframe).length;
    const info = h("span", { class: "muted object-info" }, boxes.length
      ? `frames ${frameRuns(boxes.map((b) => b.frame))} · ${keys} key${keys === 1 ? "" : "s"}` : "no boxes");
    li.title = `${boxes.length} boxes, ${keys} keyframes; click to select, Ctrl+click or Shift+click to pick several`;
    const warnings = this.warningsOf(id);
    const warn = h("span", { class: "object-warn", "data-testid": "object-warning", title: warnings.map((w) => w.message).join("\n") },
      warnings.length ? `⚠ ${warnings.length}` : "");
    warn.hidden = !warnings.length;
    const hide = this.iconButton(app.view.hidden.has(id) ? "show" : "hide", `object-hide`, app.view.hidden.has(id),
      () => this.toggle("hidden", id));
    const lock = this.iconButton(app.view.locked.has(id) ? "unlock" : "lock", `object-lock`, app.view.locked.has(id),
      () => this.toggle("locked", id));
    li.append(swatch, name, warn, info, hide, lock);
    li.onclick = (e) => this.click(id, e);
    return li;
  }

  /** A small toggle: "hide" or "lock", highlighted while on. @param {string} label what a click does
   *  @param {string} testid @param {boolean} on @param {() => void} fn */
  iconButton(label, testid, on, fn) {
    const text = label === "hide" || label === "show" ? "hide" : "lock";
    const b = h("button", { type: "button", class: `icon${on ? " active" : ""}`, "data-testid": testid,
      "aria-pressed": String(on), title: label }, text);
    b.onclick = (e) => { e.stopPropagation(); fn(); b.blur(); };
    return b;
  }

  /** @param {string} id */
  nameInput(id) {
    const t = /** @type {import("./app.js").Track} */ (this.app.tracks.get(id));
    const input = /** @type {HTMLInputElement} */ (h("input", { class: "object-rename", "aria-label": "Track name",
      "data-testid": "object-rename", value: displayName(this.app, id) }));
    let done = false;
    const finish = (/** @type {boolean} */ keep) => {
      if (done) return;
      done = true;
      this.renaming = null;
      const value = input.value.trim();
      const before = /** @type {Record<string, any>} */ (t.attributes ?? {});
      if (keep && value !== displayName(this.app, id)) {
        const after = { ...before };
        const fallback = `${t.label} ${trackNumbers(this.app).get(id)}`;
        if (!value || value === fallback) delete after.name; else after.name = value.slice(0, 100);
        this.editor.execute(new TrackAttributesCommand(this.app, id, before, after));
      }
      this.drawRows();
    };
    input.onkeydown = (e) => { if (e.key === "Enter") finish(true); else if (e.key === "Escape") finish(false); };
    input.onblur = () => finish(true);
    input.onclick = (e) => e.stopPropagation();
    requestAnimationFrame(() => { input.focus(); input.select(); });
    return input;
  }

  /** @param {string} id @param {MouseEvent} e */
  click(id, e) {
    if (e.ctrlKey || e.metaKey) {
      if (this.picked.has(id)) this.picked.delete(id); else this.picked.add(id);
      if (!this.picked.size && this.app.selectedTrack) this.picked.add(this.app.selectedTrack);
      this.anchor = id;
    } else if (e.shiftKey && this.anchor && this.rows.includes(this.anchor)) {
      const a = this.rows.indexOf(this.anchor), b = this.rows.indexOf(id);
      for (const r of this.rows.slice(Math.min(a, b), Math.max(a, b) + 1)) this.picked.add(r);
    } else {
      this.picked = new Set([id]);
      this.anchor = id;
      this.jumpTo(id);
      this.frame(id);
    }
    this.refresh();
  }

  /** Centre the views on the track's box in this frame. @param {string} id */
  frame(id) {
    const c = this.app.frameCuboids().find((b) => b.track_id === id);
    if (!c) return;
    const o = this.app.offset;
    this.viewer.centerOn([c.center[0] - o[0], c.center[1] - o[1], c.center[2] - o[2]]);
  }

  renderBulk() {
    const n = this.picked.size;
    /** @type {HTMLElement} */ (this.bulk).hidden = n < 2;
    /** @type {HTMLElement} */ (this.pickedCount).textContent = `${n} picked`;
    const sel = /** @type {HTMLSelectElement} */ (this.bulkLabel);
    const names = this.app.taxonomy.classes.map((/** @type {any} */ c) => c.name);
    if (sel.options.length !== names.length + 1) sel.replaceChildren(new Option("class…", ""), ...names.map((/** @type {string} */ c) => new Option(c, c)));
    sel.value = "";
  }

  /** @param {string} label */
  bulkClass(label) {
    const ids = [...this.picked];
    const locked = ids.filter((id) => this.app.isLocked(id));
    if (locked.length) this.tell(`${locked.length} locked track${locked.length > 1 ? "s" : ""} kept ${locked.length > 1 ? "their" : "its"} class`);
    const free = ids.filter((id) => !this.app.isLocked(id) && this.app.tracks.get(id)?.label !== label);
    /** @type {HTMLSelectElement} */ (this.bulkLabel).blur();
    if (free.length) this.editor.execute(new BulkClassCommand(this.app, free, label));
    this.refresh();
  }

  bulkDelete() {
    const ids = [...this.picked].filter((id) => !this.app.isLocked(id));
    if (ids.length < this.picked.size) this.tell("Locked tracks are not deleted");
    if (!ids.length) return;
    this.editor.execute(new BulkDeleteCommand(this.app, ids));
    this.picked.clear();
    this.refresh();
  }

  /** Hide and lock buttons for each class that has tracks, and the class filter's options. */
  renderClasses() {
    const app = this.app;
    const present = [...new Set([...app.tracks.values()].map((t) => t.label))].sort();
    const sel = /** @type {HTMLSelectElement} */ (this.classFilter);
    const want = ["", ...present].join();
    if ([...sel.options].map((o) => o.value).join() !== want) {
      sel.replaceChildren(new Option("all classes", ""), ...present.map((c) => new Option(c, c)));
      sel.value = present.includes(this.filter.label) ? this.filter.label : "";
      this.filter.label = sel.value;
    }
    /** @type {HTMLElement} */ (this.classes).replaceChildren(...present.map((label) => {
      const n = [...app.tracks.values()].filter((t) => t.label === label).length;
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = app.classInfo(label)?.color ?? "#bdbdbd";
      return h("div", { class: "class-toggle", "data-testid": "class-toggle", "data-class": label }, swatch, `${label} (${n})`,
        this.iconButton(app.view.hiddenClasses.has(label) ? "show" : "hide", "class-hide", app.view.hiddenClasses.has(label), () => this.toggle("hiddenClasses", label)),
        this.iconButton(app.view.lockedClasses.has(label) ? "unlock" : "lock", "class-lock", app.view.lockedClasses.has(label), () => this.toggle("lockedClasses", label)));
    }));
  }
}
