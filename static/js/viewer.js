// @ts-check
/** Rendering: the three.js scene, the two views (top-down and perspective orbit),
 *  the point tiles of the current frame and the cuboids. Coordinates here are
 *  the frame's local coordinates (absolute minus the frame offset), z up. */

import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

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
    this.pointMaterial = new THREE.PointsMaterial({ size: 2, sizeAttenuation: false, vertexColors: true });
    /** @type {Float32Array[]} */ this.loadedPositions = [];

    this.persp = new THREE.PerspectiveCamera(60, 1, 0.1, 100000);
    this.persp.up.set(0, 0, 1);
    this.top = new THREE.OrthographicCamera(-1, 1, 1, -1, -100000, 100000);
    this.top.up.set(0, 1, 0);
    this.perspControls = new OrbitControls(this.persp, this.renderer.domElement);
    this.topControls = new OrbitControls(this.top, this.renderer.domElement);
    this.topControls.enableRotate = false;
    this.topControls.screenSpacePanning = true;
    // Left button belongs to the annotation tool in the top view.
    this.topControls.mouseButtons = { LEFT: null, MIDDLE: THREE.MOUSE.DOLLY, RIGHT: THREE.MOUSE.PAN };
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
  }

  resize() {
    const w = this.container.clientWidth || 1, h = this.container.clientHeight || 1;
    this.renderer.setSize(w, h, false);
    this.persp.aspect = w / h;
    this.persp.updateProjectionMatrix();
    const half = this.topHalfHeight || 50;
    this.top.left = -half * w / h; this.top.right = half * w / h;
    this.top.top = half; this.top.bottom = -half;
    this.top.updateProjectionMatrix();
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

  clearPoints() {
    for (const p of this.points.children) /** @type {THREE.Points} */ (p).geometry.dispose();
    this.points.clear();
    this.loadedPositions = [];
  }

  /** @param {{positions: Float32Array, colors: Uint8Array}} data */
  addTile(data) {
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.BufferAttribute(data.positions, 3));
    g.setAttribute("color", new THREE.BufferAttribute(data.colors, 3, true));
    this.points.add(new THREE.Points(g, this.pointMaterial));
    this.loadedPositions.push(data.positions);
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
   *  color: string}[]} boxes centres in local coordinates @param {string|null} selected
   *  @param {Set<string>} othersSelected boxes someone else has selected */
  setBoxes(boxes, selected, othersSelected = new Set()) {
    for (const g of this.boxes.children) g.traverse((o) => /** @type {any} */ (o).geometry?.dispose());
    this.boxes.clear();
    for (const b of boxes) {
      const mark = b.id === selected ? "#ffffff" : othersSelected.has(b.id) ? "#ff4081" : null;
      this.boxes.add(boxObject(b, mark));
    }
  }

  /** Show (or with null, hide) the box being drawn. @param {any} box local coordinates */
  setDraft(box) {
    this.draft.traverse((o) => /** @type {any} */ (o).geometry?.dispose());
    this.draft.clear();
    if (box) this.draft.add(boxObject(box, "#ffffff"));
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

  render() {
    (this.mode === "top" ? this.topControls : this.perspControls).update();
    this.renderer.render(this.scene, this.camera);
  }
}

const UNIT_EDGES = new THREE.EdgesGeometry(new THREE.BoxGeometry(1, 1, 1));

/** A cuboid: translucent body, edges, and a heading arrow along +x of the box.
 *  `mark` overrides the class colour (selected by me / by someone else). */
function boxObject(/** @type {any} */ b, /** @type {string|null} */ mark) {
  const group = new THREE.Group();
  group.userData.id = b.id;
  const selected = mark !== null;
  const color = new THREE.Color(mark ?? b.color);
  const body = new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1),
    new THREE.MeshBasicMaterial({ color, transparent: true, opacity: selected ? 0.25 : 0.12, depthWrite: false }));
  const edges = new THREE.LineSegments(UNIT_EDGES.clone(), new THREE.LineBasicMaterial({ color }));
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
