// @ts-check
/** The point-display controls in the header (colour mode, point size, point
 *  budget, follow), the point statistics in the panel and the cursor's
 *  absolute coordinates in a status line over the viewport. */

/** @typedef {import("./app.js").App} App @typedef {import("./stream.js").StreamStats} StreamStats */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const fmt = (/** @type {number} */ v) => v.toLocaleString("en-US", { minimumFractionDigits: 3, maximumFractionDigits: 3 });

export class ViewControls {
  /** @param {App} app @param {import("./viewer.js").Viewer} viewer
   *  @param {import("./stream.js").PointStream} stream */
  constructor(app, viewer, stream) {
    this.app = app;
    this.viewer = viewer;
    this.stream = stream;
    /** @type {string|null} the track whose box the camera follows */ this.following = null;
    this.colorSelect = /** @type {HTMLSelectElement} */ ($("color-mode"));
    this.sizeInput = /** @type {HTMLInputElement} */ ($("point-size"));
    this.budgetInput = /** @type {HTMLInputElement} */ ($("point-budget"));
    this.followButton = $("follow");
    this.stats = $("point-stats");
    this.cursor = document.createElement("div");
    this.cursor.className = "cursor-coords";
    this.cursor.dataset.testid = "cursor-coords";
    this.cursor.setAttribute("aria-live", "off");
    this.cursor.textContent = "move the pointer over the points for coordinates";
    $("viewport").appendChild(this.cursor);

    const budget = Number(new URLSearchParams(location.search).get("budget"));
    if (budget > 0) stream.budget = Math.round(budget);
    this.budgetInput.value = String(stream.budget);
    this.budgetInput.onchange = () => {
      const v = Math.round(Number(this.budgetInput.value));
      if (v > 0) stream.setBudget(v);
      else this.budgetInput.value = String(stream.budget);
    };
    this.colorSelect.onchange = () => viewer.setColorMode(/** @type {any} */ (this.colorSelect.value));
    this.sizeInput.oninput = () => viewer.setPointSize(Number(this.sizeInput.value));
    viewer.setPointSize(Number(this.sizeInput.value));
    this.followButton.onclick = () => this.toggleFollow();
    stream.onHierarchy.add((/** @type {import("./tiles.js").Hierarchy} */ h) => this.colorOptions(h));
    if (stream.h) this.colorOptions(stream.h);  // the first frame may have started streaming already
    stream.onStats.add((/** @type {StreamStats} */ s) => this.showStats(s));
    app.signals.frameChanged.add(() => this.follow());

    let pending = false;
    /** @type {PointerEvent|null} */ let last = null;
    viewer.renderer.domElement.addEventListener("pointermove", (e) => {
      last = e;
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; if (last) this.showCursor(last); });
    });
  }

  /** Offer RGB and class colouring only when the frame has them.
   *  @param {import("./tiles.js").Hierarchy} h */
  colorOptions(h) {
    const first = !this.colorSelect.dataset.ready;
    for (const opt of this.colorSelect.options) {
      if (opt.value === "rgb" || opt.value === "classification") opt.hidden = !h.attributes.includes(opt.value);
    }
    const current = this.colorSelect.selectedOptions[0];
    if (first) this.colorSelect.value = h.attributes.includes("rgb") ? "rgb" : "height";
    else if (!current || current.hidden) this.colorSelect.value = "height";
    this.colorSelect.dataset.ready = "1";
    this.viewer.setColorMode(/** @type {any} */ (this.colorSelect.value));
  }

  /** @param {StreamStats} s */
  showStats(s) {
    const el = this.stats;
    el.textContent = `${s.drawn.toLocaleString()} of ${s.total.toLocaleString()} points drawn `
      + `(${s.nodes} tiles, budget ${s.budget.toLocaleString()})`
      + (s.loading ? `, loading ${s.loading}` : "") + (s.failed ? `, ${s.failed} failed` : "");
    Object.assign(el.dataset, { drawn: s.drawn, budget: s.budget, depth: s.depth, tiles: s.nodes, loading: s.loading });
  }

  /** The absolute coordinates (frame offset + local, in float64) of the drawn
   *  point under the pointer, or where the pointer meets the plane z = 0 (local).
   *  @param {PointerEvent} e */
  showCursor(e) {
    if (!this.app.scene) return;
    const hit = this.viewer.pickPoint(e);
    const p = hit ?? this.viewer.planePoint(e, 0);
    if (!p) return;
    const o = this.app.offset;
    const abs = [o[0] + p.x, o[1] + p.y, o[2] + p.z];
    this.cursor.textContent = `x ${fmt(abs[0])}  y ${fmt(abs[1])}  z ${fmt(abs[2])}`
      + (hit ? "" : "  (no point here: local z = 0)");
    this.cursor.title = `local ${p.x.toFixed(3)}, ${p.y.toFixed(3)}, ${p.z.toFixed(3)} + offset ${o.join(", ")}`;
    Object.assign(this.cursor.dataset, { x: abs[0], y: abs[1], z: abs[2], source: hit ? "point" : "plane" });
  }

  /** V: keep the camera on the selected box's track as frames change (again: stop). */
  toggleFollow() {
    const box = this.app.selected ? this.app.cuboids.get(this.app.selected) : null;
    this.following = this.following || !box ? null : box.track_id;
    this.followButton.classList.toggle("active", this.following !== null);
    this.followButton.setAttribute("aria-pressed", String(this.following !== null));
    this.follow();
  }

  follow() {
    if (!this.following) return;
    const box = this.app.frameCuboids().find((c) => c.track_id === this.following);
    if (!box) return;
    const o = this.app.offset;
    this.viewer.centerOn([box.center[0] - o[0], box.center[1] - o[1], box.center[2] - o[2]]);
  }
}
