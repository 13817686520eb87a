// @ts-check
/** Measuring and reference lines in the viewport:
 *  - the measuring tool (H): two clicks pick two points (the drawn point under
 *    the pointer, else where the pointer meets the ground plane z = 0) and the
 *    status line shows their distance, its ground part and the height
 *    difference; a third click starts again; H again ends it. While it is on,
 *    clicks belong to it (no box is selected, moved or drawn).
 *  - range rings (Shift+G): circles every RING_STEP_M m around the sensor (the
 *    frame's origin) for a scan; for a georeferenced frame, whose origin is far
 *    away, a grid of GRID_STEP_M m lines over the frame instead. */

import * as THREE from "three";

export const RING_STEP_M = 10;
export const RING_COUNT = 8;
export const GRID_STEP_M = 10;
const GRID_MAX_LINES = 200;

/** @param {number[]} a @param {number[]} b */
export function distances(a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1], dz = b[2] - a[2];
  return { distance: Math.hypot(dx, dy, dz), ground: Math.hypot(dx, dy), height: dz };
}

export class Measure {
  /** @param {import("./app.js").App} app @param {import("./viewer.js").Viewer} viewer */
  constructor(app, viewer) {
    this.app = app;
    this.viewer = viewer;
    this.active = false;
    /** @type {number[][]} picked local points */ this.points = [];
    this.group = new THREE.Group();
    this.rings = new THREE.Group();
    viewer.scene.add(this.group, this.rings);
    this.status = document.createElement("div");
    this.status.className = "measure-status";
    this.status.dataset.testid = "measure";
    this.status.hidden = true;
    viewer.container.appendChild(this.status);
    viewer.renderer.domElement.addEventListener("pointerdown", (e) => this.pointerDown(e), { capture: true });
    app.signals.frameChanged.add(() => { if (this.rings.visible && this.rings.children.length) this.drawRings(); });
    this.rings.visible = false;
  }

  toggle() {
    this.active = !this.active;
    this.points = [];
    this.draw();
    this.status.hidden = !this.active;
    this.status.textContent = this.active ? "measuring: click the first point (H: stop)" : "";
    this.viewer.renderer.domElement.classList.toggle("measuring", this.active);
  }

  /** @param {PointerEvent} e */
  pointerDown(e) {
    if (!this.active || e.button !== 0) return;
    e.stopImmediatePropagation();  // the box tool and the orbit controls do not see it
    const hit = this.viewer.pickPoint(e) ?? this.viewer.planePoint(e, 0);
    if (!hit) return;
    if (this.points.length >= 2) this.points = [];
    this.points.push([hit.x, hit.y, hit.z]);
    this.draw();
  }

  draw() {
    this.group.traverse((o) => /** @type {any} */ (o).geometry?.dispose());
    this.group.clear();
    const pts = this.points.map((p) => new THREE.Vector3(...p));
    const color = new THREE.Color("#ffeb3b");
    for (const p of pts) {
      const dot = new THREE.Mesh(new THREE.SphereGeometry(0.15, 8, 6), new THREE.MeshBasicMaterial({ color }));
      dot.position.copy(p);
      this.group.add(dot);
    }
    if (pts.length === 2) {
      this.group.add(new THREE.Line(new THREE.BufferGeometry().setFromPoints(pts), new THREE.LineBasicMaterial({ color })));
      const d = distances(this.points[0], this.points[1]);
      this.status.textContent = `distance ${d.distance.toFixed(2)} m (ground ${d.ground.toFixed(2)} m, height ${d.height >= 0 ? "+" : ""}${d.height.toFixed(2)} m)`;
      this.status.dataset.distance = String(d.distance);
    } else if (this.active) {
      this.status.textContent = pts.length ? "measuring: click the second point" : "measuring: click the first point (H: stop)";
      delete this.status.dataset.distance;
    }
    this.viewer.invalidate();
  }

  toggleRings() {
    this.rings.visible = !this.rings.visible;
    if (this.rings.visible) this.drawRings();
    this.viewer.invalidate();
    return this.rings.visible;
  }

  /** Rings around the sensor, or a grid over a georeferenced frame (local coordinates). */
  drawRings() {
    this.rings.traverse((o) => /** @type {any} */ (o).geometry?.dispose());
    this.rings.clear();
    const f = this.app.scene.frames[this.app.frame], o = f.offset;
    const material = new THREE.LineBasicMaterial({ color: "#5f6b7a", transparent: true, opacity: 0.8 });
    const z = f.min[2] - o[2];
    const georeferenced = o.some((/** @type {number} */ v) => v !== 0);
    this.rings.userData.kind = georeferenced ? "grid" : "rings";
    if (!georeferenced) {
      for (let i = 1; i <= RING_COUNT; i++) {
        const r = i * RING_STEP_M;
        const circle = Array.from({ length: 129 }, (_, k) =>
          new THREE.Vector3(r * Math.cos((k / 128) * 2 * Math.PI), r * Math.sin((k / 128) * 2 * Math.PI), z));
        this.rings.add(new THREE.Line(new THREE.BufferGeometry().setFromPoints(circle), material));
      }
      return;
    }
    const lo = [f.min[0] - o[0], f.min[1] - o[1]], hi = [f.max[0] - o[0], f.max[1] - o[1]];
    const step = Math.max(GRID_STEP_M, Math.ceil(Math.max(hi[0] - lo[0], hi[1] - lo[1]) / GRID_MAX_LINES / GRID_STEP_M) * GRID_STEP_M);
    this.rings.userData.step = step;
    /** @type {THREE.Vector3[]} */ const segs = [];
    const x0 = Math.floor((f.min[0]) / step) * step - o[0], y0 = Math.floor((f.min[1]) / step) * step - o[1];
    for (let x = x0; x <= hi[0]; x += step) segs.push(new THREE.Vector3(x, lo[1], z), new THREE.Vector3(x, hi[1], z));
    for (let y = y0; y <= hi[1]; y += step) segs.push(new THREE.Vector3(lo[0], y, z), new THREE.Vector3(hi[0], y, z));
    this.rings.add(new THREE.LineSegments(new THREE.BufferGeometry().setFromPoints(segs), material));
  }
}
