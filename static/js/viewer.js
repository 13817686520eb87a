// @ts-check
/** Rendering: the three.js scene, the two views (top-down and perspective orbit),
 *  the point tiles of the current frame and the cuboids. Coordinates here are
 *  the frame's local coordinates (absolute minus the frame offset), z up.
 *  Points are coloured on the GPU (by height, intensity, RGB or class), so a
 *  colour or size change is a uniform update. */

import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { COLOR_MODES, pointMaterial } from "./point-material.js";

export class Viewer {
  /** @param {HTMLElement} container */
  constructor(container) {
    this.container = container;
    this.renderer = new THREE.WebGLRenderer({ antialias: false, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.renderer.setClearColor(0x101317);
    container.appendChild(this.renderer.domElement);
    this.scene = new THREE.Scene();
    this.points = new THREE.Group();
    this.boxes = new THREE.Group();
    this.draft = new THREE.Group();    // the box being drawn
    this.scene.add(this.points, this.boxes, this.draft);
    this.pointMaterial = pointMaterial();
    this.pointSize = 2;
    /** @type {Map<string, THREE.Points>} drawn tiles by key */ this.nodes = new Map();
    /** @type {Set<() => void>} called when either camera moves or the viewport resizes */
    this.cameraChanged = new Set();
    /** @type {(() => void)[]} run once after the next frame is rendered */
    this.afterRender = [];
    /** Frames are drawn only when something changed: a software renderer
     *  (headless Chromium) would otherwise redraw millions of points per frame. */
    this.dirty = true;
    /** Tiles were added or removed: redrawn at most every STREAM_REDRAW_MS while streaming. */
    this.pointsDirty = false;
    this.lastRender = 0;
    /** Bumped whenever what the points look like changes (tiles added or removed,
     *  colour, size): other views of the same scene (subviews.js) redraw on it. */
    this.pointsVersion = 0;
    /** @type {Set<() => void>} called at every animation frame before the main view
     *  is drawn; a hook that draws with this renderer (renderPoints) marks it dirty */
    this.beforeRender = new Set();
    /** @type {Set<(ms: number) => void>} while not empty, each drawn frame waits for the GPU
     *  and these hear how long it took (ms, from the start of the draw to its pixels) */
    this.rendered = new Set();

    this.persp = new THREE.PerspectiveCamera(60, 1, 0.1, 100000);
    this.persp.up.set(0, 0, 1);
    this.top = new THREE.OrthographicCamera(-1, 1, 1, -1, -100000, 100000);
    this.top.up.set(0, 1, 0);
    // Compile the point shader now, not when the first tile arrives.
    const probe = new THREE.BufferGeometry();
    probe.setAttribute("position", new THREE.BufferAttribute(new Float32Array(3), 3));
    probe.setAttribute("intensity", new THREE.BufferAttribute(new Uint8Array(1), 1, true));
    this.renderer.compile(new THREE.Points(probe, this.pointMaterial), this.top);
    probe.dispose();
    this.perspControls = new OrbitControls(this.persp, this.renderer.domElement);
    this.topControls = new OrbitControls(this.top, this.renderer.domElement);
    this.topControls.enableRotate = false;
    this.topControls.screenSpacePanning = true;
    // Left button belongs to the annotation tool in the top view.
    this.topControls.mouseButtons = { LEFT: null, MIDDLE: THREE.MOUSE.DOLLY, RIGHT: THREE.MOUSE.PAN };
    for (const c of [this.perspControls, this.topControls]) c.addEventListener("change", () => this.moved());
    this.mode = "top";
    this.setMode("top");
    this.raycaster = new THREE.Raycaster();
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
    this.renderer.setAnimationLoop(() => this.render());
  }

  get camera() { return this.mode === "top" ? this.top : this.persp; }

  /** @param {"top"|"persp"} mode */
  setMode(mode) {
    this.mode = mode;
    this.topControls.enabled = mode === "top";
    this.perspControls.enabled = mode === "persp";
    this.moved();
  }

  moved() {
    this.dirty = true;
    for (const fn of this.cameraChanged) fn();
  }

  /** Draw again at the next animation frame. */
  invalidate() { this.dirty = true; }

  /** Run fn once the next frame has been drawn and the GPU has finished it.
   *  @param {() => void} fn */
  afterNextRender(fn) {
    this.afterRender.push(fn);
    this.dirty = true;
  }

  /** The viewport's height in CSS pixels. */
  get heightPx() { return this.renderer.domElement.clientHeight || 1; }

  resize() {
    const w = this.container.clientWidth || 1, h = this.container.clientHeight || 1;
    this.renderer.setSize(w, h, false);
    this.persp.aspect = w / h;
    this.persp.updateProjectionMatrix();
    const half = this.topHalfHeight || 50;
    this.top.left = -half * w / h; this.top.right = half * w / h;
    this.top.top = half; this.top.bottom = -half;
    this.top.updateProjectionMatrix();
    this.pointMaterial.uniforms.size.value = this.pointSize * this.renderer.getPixelRatio();
    this.moved();
  }

  /** Frame the cameras on a bounding box (local coordinates).
   *  @param {number[]} lo @param {number[]} hi @param {boolean} georeferenced */
  frameBounds(lo, hi, georeferenced) {
    const span = Math.max(hi[0] - lo[0], hi[1] - lo[1], 1);
    const box = new THREE.Box3(new THREE.Vector3(...lo), new THREE.Vector3(...hi));
    // A sensor-centred scan opens on the 60 m around the sensor at the origin;
    // a georeferenced or very large cloud (a survey) opens on its whole extent.
    const survey = georeferenced || span > 400;
    const centre = survey ? box.getCenter(new THREE.Vector3()) : box.clampPoint(new THREE.Vector3(), new THREE.Vector3());
    const half = survey ? span / 2 : Math.min(span / 2, 30);
    this.topHalfHeight = half;
    this.top.position.set(centre.x, centre.y, hi[2] + 100);
    this.top.zoom = 1;
    this.topControls.target.set(centre.x, centre.y, centre.z);
    this.persp.position.set(centre.x - half, centre.y - half, centre.z + half * 0.8);
    this.perspControls.target.copy(centre);
    this.resize();
    this.topControls.update();
    this.perspControls.update();
  }

  /** Keep the camera's view but centre it on a local point (follow mode). @param {number[]} p */
  centerOn(p) {
    for (const [cam, controls] of /** @type {[THREE.Camera, OrbitControls][]} */ ([[this.persp, this.perspControls], [this.top, this.topControls]])) {
      const d = new THREE.Vector3(p[0], p[1], p[2]).sub(controls.target);
      if (cam === this.top) d.z = 0;
      controls.target.add(d);
      cam.position.add(d);
      controls.update();
    }
    this.moved();
  }

  clearPoints() {
    for (const key of [...this.nodes.keys()]) this.removeNode(key);
  }

  /** Draw one decoded tile. @param {string} key @param {import("./tiles.js").DecodedTile} data
   *  @param {{lo: number[], size: number}} cube the node's cube (local), for culling and picking */
  addNode(key, data, cube) {
    if (this.nodes.has(key)) return;
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.BufferAttribute(data.positions, 3));
    g.setAttribute("intensity", new THREE.BufferAttribute(data.intensity, 1, true));
    if (data.rgb) g.setAttribute("rgb", new THREE.BufferAttribute(data.rgb, 3, true));
    if (data.classification) g.setAttribute("classification", new THREE.BufferAttribute(data.classification, 1, false));
    const h = cube.size / 2;
    g.boundingSphere = new THREE.Sphere(new THREE.Vector3(cube.lo[0] + h, cube.lo[1] + h, cube.lo[2] + h), h * 1.7321);
    g.boundingBox = new THREE.Box3(new THREE.Vector3(...cube.lo),
      new THREE.Vector3(cube.lo[0] + cube.size, cube.lo[1] + cube.size, cube.lo[2] + cube.size));
    const pts = new THREE.Points(g, this.pointMaterial);
    pts.userData.count = data.count;
    this.nodes.set(key, pts);
    this.points.add(pts);
    this.pointsDirty = true;
    this.pointsVersion++;
  }

  /** @param {string} key */
  removeNode(key) {
    const pts = this.nodes.get(key);
    if (!pts) return;
    pts.geometry.dispose();
    this.points.remove(pts);
    this.nodes.delete(key);
    this.pointsDirty = true;
    this.pointsVersion++;
  }

  /** Position arrays of the drawn tiles. */
  get loadedPositions() {
    return [...this.nodes.values()].map((p) => /** @type {Float32Array} */ (p.geometry.getAttribute("position").array));
  }

  /** @param {import("./point-material.js").ColorMode} mode */
  setColorMode(mode) { this.pointMaterial.uniforms.mode.value = COLOR_MODES.indexOf(mode); this.pointsChanged(); }

  /** Something about how points look changed: redraw, and other views too. */
  pointsChanged() { this.dirty = true; this.pointsVersion++; }

  /** Draw only points whose local z is within [lo, hi] (m; null: no bound). @param {number|null} lo @param {number|null} hi */
  setClip(lo, hi) { this.pointMaterial.uniforms.clip.value.set(lo ?? -1e9, hi ?? 1e9); this.pointsChanged(); }

  /** Draw the points inside a box (local centre, size, yaw) in the highlight colour; null: none.
   *  @param {{center: number[], size: number[], yaw: number}|null} box */
  setHighlight(box) {
    const u = this.pointMaterial.uniforms;
    u.boxOn.value = !!box;
    if (box) {
      const m = new THREE.Matrix4().compose(new THREE.Vector3(...box.center),
        new THREE.Quaternion().setFromAxisAngle(new THREE.Vector3(0, 0, 1), box.yaw), new THREE.Vector3(...box.size));
      u.boxInv.value.copy(m.invert());
    }
    this.pointsChanged();
  }

  /** The ground height grid for "ground" colouring (ground.js). @param {import("./ground.js").GroundGrid} g */
  setGround(g) {
    const u = this.pointMaterial.uniforms;
    const tex = new THREE.DataTexture(g.z, g.nx, g.ny, THREE.RedFormat, THREE.FloatType);
    tex.minFilter = tex.magFilter = THREE.NearestFilter;  // float textures filter linearly only with an extension
    tex.needsUpdate = true;
    u.ground.value.dispose();
    u.ground.value = tex;
    u.groundLo.value.set(g.lo[0], g.lo[1]);
    u.groundSpan.value.set(g.nx * g.cell, g.ny * g.cell);
    this.pointsChanged();
  }

  /** Heights mapped to the two ends of the height ramp. @param {number[]} range */
  setHeightRange(range) { this.pointMaterial.uniforms.zRange.value.set(range[0], range[1]); this.pointsChanged(); }

  /** @param {number} px point size in CSS pixels */
  setPointSize(px) {
    this.pointSize = px;
    this.pointMaterial.uniforms.size.value = px * this.renderer.getPixelRatio();
    this.pointsChanged();
  }

  /** The drawn point under the pointer nearest the camera (local coordinates), or null.
   *  @param {PointerEvent|MouseEvent} e @param {number} [px] pick radius in pixels */
  pickPoint(e, px = 4) {
    this.raycaster.setFromCamera(this.ndc(e), this.camera);
    let worldPerPx;
    if (this.mode === "top") worldPerPx = (this.top.top - this.top.bottom) / this.top.zoom / this.heightPx;
    else {
      const d = this.persp.position.distanceTo(this.perspControls.target);
      worldPerPx = (2 * d * Math.tan((this.persp.fov * Math.PI) / 360)) / this.heightPx;
    }
    this.raycaster.params.Points = { threshold: worldPerPx * px };
    const hit = this.raycaster.intersectObjects(this.points.children, false)[0];
    return hit ? hit.point : null;
  }

  /** Ground height near (x, y): a low percentile of loaded points within r metres.
   *  @param {number} x @param {number} y @param {number} r */
  groundAt(x, y, r = 2.5) {
    const zs = [];
    for (const pos of this.loadedPositions) {
      for (let i = 0; i < pos.length; i += 3) {
        const dx = pos[i] - x, dy = pos[i + 1] - y;
        if (dx * dx + dy * dy < r * r) zs.push(pos[i + 2]);
      }
    }
    if (!zs.length) return null;
    zs.sort((a, b) => a - b);
    return zs[Math.floor(zs.length * 0.1)];
  }

  /** Where a screen point hits the horizontal plane z. @param {PointerEvent|MouseEvent} e @param {number} z */
  planePoint(e, z) {
    this.raycaster.setFromCamera(this.ndc(e), this.camera);
    const hit = new THREE.Vector3();
    const plane = new THREE.Plane(new THREE.Vector3(0, 0, 1), -z);
    return this.raycaster.ray.intersectPlane(plane, hit);
  }

  /** The id of the box under the pointer, if any. @param {PointerEvent|MouseEvent} e */
  pickBox(e) {
    this.raycaster.setFromCamera(this.ndc(e), this.camera);
    const meshes = this.boxes.children.map((g) => g.children[0]);
    const hit = this.raycaster.intersectObjects(meshes, false)[0];
    return hit ? hit.object.parent?.userData.id : null;
  }

  /** @param {PointerEvent|MouseEvent} e */
  ndc(e) {
    const r = this.renderer.domElement.getBoundingClientRect();
    return new THREE.Vector2(((e.clientX - r.left) / r.width) * 2 - 1, -((e.clientY - r.top) / r.height) * 2 + 1);
  }

  /** Replace the drawn boxes. @param {{id: string, center: number[], size: number[], yaw: number,
   *  color: string, dim?: boolean}[]} boxes centres in local coordinates @param {string|null} selected
   *  @param {Set<string>} othersSelected boxes someone else has selected */
  setBoxes(boxes, selected, othersSelected = new Set()) {
    for (const g of this.boxes.children) g.traverse((o) => /** @type {any} */ (o).geometry?.dispose());
    this.boxes.clear();
    for (const b of boxes) {
      const mark = b.id === selected ? "#ffffff" : othersSelected.has(b.id) ? "#ff4081" : null;
      this.boxes.add(boxObject(b, mark));
    }
    this.dirty = true;
  }

  /** Show (or with null, hide) the box being drawn. @param {any} box local coordinates */
  setDraft(box) {
    this.draft.traverse((o) => /** @type {any} */ (o).geometry?.dispose());
    this.draft.clear();
    if (box) this.draft.add(boxObject(box, "#ffffff"));
    this.dirty = true;
  }

  /** Unit vectors on the ground for the screen's right and up, as [x, y] pairs:
   *  in the top view +x and +y; in the 3D view, the camera's heading. */
  groundAxes() {
    if (this.mode === "top") return { right: [1, 0], up: [0, 1] };
    const d = this.perspControls.target.clone().sub(this.persp.position);
    const n = Math.hypot(d.x, d.y) || 1;
    return { right: [d.y / n, -d.x / n], up: [d.x / n, d.y / n] };
  }

  /** Where a local point is on the page (client pixels). @param {number[]} p */
  screenPoint(p) {
    const v = new THREE.Vector3(p[0], p[1], p[2]).project(this.camera);
    const r = this.renderer.domElement.getBoundingClientRect();
    return { x: r.left + (v.x + 1) / 2 * r.width, y: r.top + (1 - v.y) / 2 * r.height };
  }

  /** Draw the points (not the boxes) as `camera` sees them into a 2D canvas of
   *  w x h CSS pixels, with this renderer: one WebGL context serves every view.
   *  Drawn in the corner of the main canvas and copied out at once; the main
   *  view is drawn over it in the same animation frame (call from beforeRender).
   *  @param {THREE.Camera} camera @param {CanvasRenderingContext2D} ctx @param {number} w @param {number} h */
  renderPoints(camera, ctx, w, h) {
    const r = this.renderer, pr = r.getPixelRatio(), full = r.getSize(new THREE.Vector2());
    this.boxes.visible = this.draft.visible = false;
    r.setViewport(0, 0, w, h);
    r.setScissor(0, 0, w, h);
    r.setScissorTest(true);
    r.render(this.scene, camera);
    r.setScissorTest(false);
    r.setViewport(0, 0, full.x, full.y);
    this.boxes.visible = this.draft.visible = true;
    const src = r.domElement;
    ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
    ctx.drawImage(src, 0, src.height - h * pr, w * pr, h * pr, 0, 0, ctx.canvas.width, ctx.canvas.height);
    this.dirty = true;
  }

  render() {
    for (const fn of this.beforeRender) fn();
    (this.mode === "top" ? this.topControls : this.perspControls).update();
    const now = performance.now();
    if (!this.dirty && !(this.pointsDirty && now - this.lastRender >= STREAM_REDRAW_MS)) return;
    this.dirty = this.pointsDirty = false;
    this.lastRender = now;
    this.renderer.render(this.scene, this.camera);
    if (this.afterRender.length || this.rendered.size) {
      // Reading one pixel waits until the GPU has drawn the frame, so marks taken
      // here (perf.js) and frame times (frame-budget.js) measure pixels, not queued commands.
      const gl = this.renderer.getContext();
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
      const ms = performance.now() - now;
      for (const fn of this.afterRender.splice(0)) fn();
      for (const fn of this.rendered) fn(ms);
    }
  }
}

/** While tiles stream in, redraw at most this often (each redraw draws every
 *  point; a software renderer takes ~0.5 s per million points). */
const STREAM_REDRAW_MS = 250;

const UNIT_EDGES = new THREE.EdgesGeometry(new THREE.BoxGeometry(1, 1, 1));

/** A cuboid: translucent body, edges, and a heading arrow along +x of the box.
 *  `mark` overrides the class colour (selected by me / by someone else); `b.dim`
 *  (a pre-label not yet accepted) draws it faint. */
function boxObject(/** @type {any} */ b, /** @type {string|null} */ mark) {
  const group = new THREE.Group();
  group.userData.id = b.id;
  const selected = mark !== null;
  const color = new THREE.Color(mark ?? b.color);
  const body = new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1),
    new THREE.MeshBasicMaterial({ color, transparent: true, opacity: (selected ? 0.25 : 0.12) * (b.dim ? 0.4 : 1), depthWrite: false }));
  const edges = new THREE.LineSegments(UNIT_EDGES.clone(),
    new THREE.LineBasicMaterial({ color, transparent: !!b.dim, opacity: b.dim && !selected ? 0.45 : 1 }));
  body.scale.set(b.size[0], b.size[1], b.size[2]);
  edges.scale.copy(body.scale);
  const arrow = new THREE.BufferGeometry().setFromPoints([
    new THREE.Vector3(0, 0, 0), new THREE.Vector3(b.size[0] / 2 + 0.8, 0, 0),
    new THREE.Vector3(b.size[0] / 2 + 0.8, 0, 0), new THREE.Vector3(b.size[0] / 2 + 0.3, 0.35, 0),
    new THREE.Vector3(b.size[0] / 2 + 0.8, 0, 0), new THREE.Vector3(b.size[0] / 2 + 0.3, -0.35, 0),
  ]);
  const heading = new THREE.LineSegments(arrow, new THREE.LineBasicMaterial({ color }));
  group.add(body, edges, heading);
  group.position.set(b.center[0], b.center[1], b.center[2]);
  group.rotation.z = b.yaw;
  return group;
}
