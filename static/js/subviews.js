// @ts-check
/** The selected box's three sub-views: top (looking down, heading to the right),
 *  side (looking along the box's width, heading to the right) and front (looking
 *  at the box's front, along its length). Each has an orthographic camera aligned
 *  to the box and zoomed to fit it; the Viewer draws the frame's points with it
 *  (one WebGL context for all views) into a small 2D canvas, and the box outline
 *  and its handles are drawn over them in 2D.
 *
 *  Dragging an edge resizes that side (the opposite side stays: centre and size
 *  change together), dragging inside the box moves it in the view's plane, and in
 *  the top view the circle ahead of the box turns it. One drag is one
 *  UpdateBoxCommand (the Editor re-interpolates its track).
 *
 *  Points are drawn again only when the box, the selection, the frame or the
 *  points change; during a drag the cameras stay put and only the outline moves. */

import * as THREE from "three";
import { MIN_EDGE, wrapAngle } from "./box-actions.js";
import { UpdateBoxCommand } from "./commands.js";

/** @typedef {import("./app.js").Cuboid} Cuboid
 *  @typedef {"top"|"side"|"front"} ViewName
 *  @typedef {"front"|"back"|"left"|"right"|"top"|"bottom"|"rotate"|"inside"} Part
 *  @typedef {{name: ViewName, u: 0|1|2, v: 0|1|2, look: number[], up: number[], parts: Part[]}} ViewSpec
 *  @typedef {{spec: ViewSpec, canvas: HTMLCanvasElement, ctx: CanvasRenderingContext2D,
 *    points: HTMLCanvasElement, camera: THREE.OrthographicCamera, scale: number}} View
 *  @typedef {{center: number[], size: number[], yaw: number}} Pose
 *  @typedef {{view: View, part: Part, id: string, start: Pose, origin: number[], grab: number[], moved: boolean}} Drag
 *    start absolute; origin (the start centre) and grab (where the pointer went down) local */

/** Screen right (u) and up (v) as box axes (0 length / heading, 1 width / left,
 *  2 height), the camera's looking direction and up in box axes, and the box
 *  side at +u, -u, +v, -v. */
/** @type {ViewSpec[]} */
const SPECS = [
  { name: "top", u: 0, v: 1, look: [0, 0, -1], up: [0, 1, 0], parts: ["front", "back", "left", "right"] },
  { name: "side", u: 0, v: 2, look: [0, 1, 0], up: [0, 0, 1], parts: ["front", "back", "top", "bottom"] },
  { name: "front", u: 1, v: 2, look: [-1, 0, 0], up: [0, 0, 1], parts: ["left", "right", "top", "bottom"] },
];

/** CSS size of each sub-view. */
export const VIEW_W = 232, VIEW_H = 150;
/** Room around the box when fitting: pixels plus metres on each side. */
const PAD_PX = 28, PAD_M = 0.5;
/** How far beyond the box along the depth axis points are drawn (m); the top view
 *  leaves out the ground just under the box. */
const DEPTH_MARGIN = 0.5, TOP_FLOOR = 0.15;
/** Pointer tolerance for edges and handles (px); the rotate handle's distance ahead of the box. */
const GRAB_PX = 7, ROTATE_PX = 22;
/** While tiles stream in, redraw the points at most this often (ms). */
const STREAM_REDRAW_MS = 250;

/** A box-axes vector in the frame's local coordinates for a box of heading yaw.
 *  @param {number[]} b @param {number} yaw */
const boxToWorld = (b, yaw) => {
  const c = Math.cos(yaw), s = Math.sin(yaw);
  return [b[0] * c - b[1] * s, b[0] * s + b[1] * c, b[2]];
};
/** @param {number[]} w @param {number} yaw */
const worldToBox = (w, yaw) => {
  const c = Math.cos(yaw), s = Math.sin(yaw);
  return [w[0] * c + w[1] * s, -w[0] * s + w[1] * c, w[2]];
};
const unit = (/** @type {number} */ axis) => [0, 1, 2].map((i) => (i === axis ? 1 : 0));

export class SubViews {
  /** @param {import("./app.js").App} app @param {import("./viewer.js").Viewer} viewer
   *  @param {import("./commands.js").Editor} editor @param {HTMLElement} root holds the canvases */
  constructor(app, viewer, editor, root) {
    this.app = app;
    this.viewer = viewer;
    this.editor = editor;
    this.root = root;
    const pr = viewer.renderer.getPixelRatio();
    /** @type {View[]} */
    this.views = SPECS.map((spec) => {
      const canvas = /** @type {HTMLCanvasElement} */ (root.querySelector(`[data-view="${spec.name}"]`));
      canvas.width = VIEW_W * pr; canvas.height = VIEW_H * pr;
      canvas.style.width = `${VIEW_W}px`; canvas.style.height = `${VIEW_H}px`;
      const points = document.createElement("canvas");
      points.width = canvas.width; points.height = canvas.height;
      const camera = new THREE.OrthographicCamera(-1, 1, 1, -1, 0.1, 100);
      const view = { spec, canvas, ctx: /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d")), points, camera, scale: 1 };
      canvas.addEventListener("pointerdown", (e) => this.pointerDown(view, e));
      canvas.addEventListener("pointermove", (e) => this.pointerMove(view, e));
      canvas.addEventListener("pointerup", () => this.pointerUp());
      canvas.addEventListener("pointercancel", () => this.pointerUp());
      return view;
    });
    /** The pose the cameras were aligned to (local centre), or null. @type {Pose|null} */
    this.frame = null;
    /** What the points were last drawn for: box id, pose and frame. */
    this.drawnKey = "";
    this.drawnVersion = -1;
    this.drawnAt = 0;
    this.overlayDirty = false;
    /** Times the points were drawn (tests and benchmarks read it). */
    this.renders = 0;
    /** @type {Drag|null} */ this.drag = null;
    const changed = () => { this.overlayDirty = true; viewer.invalidate(); };
    for (const s of [app.signals.cuboidChanged, app.signals.selectionChanged, app.signals.annotationsReset, app.signals.frameChanged]) s.add(changed);
    viewer.beforeRender.add(() => this.tick());
  }

  /** The selected cuboid of the current frame, if any. */
  get box() {
    const c = this.app.selected ? this.app.cuboids.get(this.app.selected) : null;
    return c && c.frame === this.app.frame ? c : null;
  }

  /** The box's pose in the frame's local coordinates. @param {Cuboid} c @returns {Pose} */
  localPose(c) {
    const o = this.app.offset;
    return { center: [c.center[0] - o[0], c.center[1] - o[1], c.center[2] - o[2]], size: [...c.size], yaw: c.yaw };
  }

  /** @param {Cuboid} c */
  key(c) { return JSON.stringify([c.id, c.center, c.size, c.yaw, this.app.frame]); }

  /** True when the views show the selected box as it is now (tests wait for it). */
  get aligned() {
    const c = this.box;
    return !!c && !this.drag && this.drawnKey === this.key(c);
  }

  /** Called before every main-view frame: draw what changed. */
  tick() {
    const c = this.box;
    this.root.hidden = !c;
    if (!c) { this.frame = null; this.drawnKey = ""; return; }
    const key = this.key(c);
    const now = performance.now();
    const stale = this.viewer.pointsVersion !== this.drawnVersion && now - this.drawnAt >= STREAM_REDRAW_MS;
    if (!this.drag && key !== this.drawnKey) this.align(this.localPose(c));
    if ((!this.drag && key !== this.drawnKey) || stale) {
      for (const v of this.views) this.drawPoints(v);
      this.drawnKey = this.drag ? this.drawnKey : key;
      this.drawnVersion = this.viewer.pointsVersion;
      this.drawnAt = now;
      this.renders++;
      this.overlayDirty = true;
    }
    if (this.overlayDirty) {
      this.overlayDirty = false;
      for (const v of this.views) this.drawOverlay(v, this.localPose(c));
    }
  }

  /** Point the cameras at a box and zoom each to fit it. @param {Pose} pose */
  align(pose) {
    this.frame = pose;
    for (const v of this.views) {
      const { u, v: vv, look, up } = v.spec;
      const su = pose.size[u], sv = pose.size[vv];
      v.scale = Math.min((VIEW_W - 2 * PAD_PX) / (su + 2 * PAD_M), (VIEW_H - 2 * PAD_PX) / (sv + 2 * PAD_M));
      const depthAxis = look.findIndex((x) => x !== 0);
      const half = pose.size[depthAxis] / 2;
      const dist = half + DEPTH_MARGIN + 10;
      const lookW = boxToWorld(look, pose.yaw), upW = boxToWorld(up, pose.yaw);
      const cam = v.camera;
      cam.position.set(pose.center[0] - lookW[0] * dist, pose.center[1] - lookW[1] * dist, pose.center[2] - lookW[2] * dist);
      cam.up.set(upW[0], upW[1], upW[2]);
      cam.lookAt(pose.center[0], pose.center[1], pose.center[2]);
      cam.left = -VIEW_W / 2 / v.scale; cam.right = VIEW_W / 2 / v.scale;
      cam.top = VIEW_H / 2 / v.scale; cam.bottom = -VIEW_H / 2 / v.scale;
      cam.near = dist - half - DEPTH_MARGIN;
      cam.far = dist + half + (v.spec.name === "top" ? -TOP_FLOOR : DEPTH_MARGIN);
      cam.updateProjectionMatrix();
      cam.updateMatrixWorld();
    }
  }

  /** @param {View} v */
  drawPoints(v) {
    const ctx = /** @type {CanvasRenderingContext2D} */ (v.points.getContext("2d"));
    this.viewer.renderPoints(v.camera, ctx, VIEW_W, VIEW_H);
  }

  /** Where a local point is in a view (CSS px of its canvas). @param {View} v @param {number[]} p */
  toView(v, p) {
    const f = /** @type {Pose} */ (this.frame);
    const b = worldToBox([p[0] - f.center[0], p[1] - f.center[1], p[2] - f.center[2]], f.yaw);
    return [VIEW_W / 2 + b[v.spec.u] * v.scale, VIEW_H / 2 - b[v.spec.v] * v.scale];
  }

  /** The local point a view's pixel shows (on the plane through the aligned centre). @param {View} v @param {number[]} px */
  fromView(v, px) {
    const f = /** @type {Pose} */ (this.frame);
    const b = [0, 0, 0];
    b[v.spec.u] = (px[0] - VIEW_W / 2) / v.scale;
    b[v.spec.v] = (VIEW_H / 2 - px[1]) / v.scale;
    const w = boxToWorld(b, f.yaw);
    return [f.center[0] + w[0], f.center[1] + w[1], f.center[2] + w[2]];
  }

  /** The outline of a box in a view: centre, the half-extent vectors along its
   *  u and v sides (pixels, y down), and where each handle is.
   *  @param {View} v @param {Pose} pose */
  shape(v, pose) {
    const { u, v: vv } = v.spec;
    const c = this.toView(v, pose.center);
    const along = (/** @type {number} */ axis) => {
      const d = boxToWorld(unit(axis), pose.yaw).map((x) => x * pose.size[axis] / 2);
      const q = this.toView(v, [pose.center[0] + d[0], pose.center[1] + d[1], pose.center[2] + d[2]]);
      return [q[0] - c[0], q[1] - c[1]];
    };
    const eu = along(u), ev = along(vv);
    const [pu, mu, pv, mv] = v.spec.parts;
    /** @type {Map<Part, number[]>} */
    const handles = new Map([[pu, [c[0] + eu[0], c[1] + eu[1]]], [mu, [c[0] - eu[0], c[1] - eu[1]]],
      [pv, [c[0] + ev[0], c[1] + ev[1]]], [mv, [c[0] - ev[0], c[1] - ev[1]]]]);
    if (v.spec.name === "top") {
      const n = Math.hypot(eu[0], eu[1]) || 1;
      handles.set("rotate", [c[0] + eu[0] * (1 + ROTATE_PX / n), c[1] + eu[1] * (1 + ROTATE_PX / n)]);
    }
    return { c, eu, ev, handles };
  }

  /** @param {View} v @param {Pose} pose */
  drawOverlay(v, pose) {
    const ctx = v.ctx, pr = v.canvas.width / VIEW_W;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, v.canvas.width, v.canvas.height);
    ctx.drawImage(v.points, 0, 0);
    if (!this.frame) return;
    ctx.setTransform(pr, 0, 0, pr, 0, 0);
    const { c, eu, ev, handles } = this.shape(v, pose);
    const corner = (/** @type {number} */ a, /** @type {number} */ b) => [c[0] + a * eu[0] + b * ev[0], c[1] + a * eu[1] + b * ev[1]];
    const corners = [corner(1, 1), corner(-1, 1), corner(-1, -1), corner(1, -1)];
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#ffffff";
    ctx.beginPath();
    corners.forEach((p, i) => (i ? ctx.lineTo(p[0], p[1]) : ctx.moveTo(p[0], p[1])));
    ctx.closePath();
    ctx.stroke();
    if (v.spec.parts[0] === "front") {  // the front edge in the heading colour
      ctx.strokeStyle = "#ffb74d";
      ctx.beginPath(); ctx.moveTo(corners[3][0], corners[3][1]); ctx.lineTo(corners[0][0], corners[0][1]); ctx.stroke();
    }
    const rot = handles.get("rotate"), front = handles.get("front");
    if (rot && front) {
      ctx.strokeStyle = "#4fc3f7";
      ctx.beginPath(); ctx.moveTo(front[0], front[1]); ctx.lineTo(rot[0], rot[1]); ctx.stroke();
      ctx.beginPath(); ctx.arc(rot[0], rot[1], 5, 0, 2 * Math.PI); ctx.fillStyle = "#15181d"; ctx.fill(); ctx.stroke();
    }
    ctx.fillStyle = "#4fc3f7";
    for (const [part, p] of handles) if (part !== "rotate") ctx.fillRect(p[0] - 3.5, p[1] - 3.5, 7, 7);
  }

  /** What a pointer at (x, y) CSS px of a view would grab. @param {View} v @param {number[]} p @returns {Part|null} */
  partAt(v, p) {
    const c = this.box;
    if (!c || !this.frame) return null;
    const { c: mid, eu, ev, handles } = this.shape(v, this.localPose(c));
    const rot = handles.get("rotate");
    if (rot && Math.hypot(p[0] - rot[0], p[1] - rot[1]) <= GRAB_PX + 2) return "rotate";
    const hu = Math.hypot(eu[0], eu[1]) || 1e-9, hv = Math.hypot(ev[0], ev[1]) || 1e-9;
    const r = [p[0] - mid[0], p[1] - mid[1]];
    const a = (r[0] * eu[0] + r[1] * eu[1]) / hu, b = (r[0] * ev[0] + r[1] * ev[1]) / hv;
    const [pu, mu, pv, mv] = v.spec.parts;
    /** @type {[Part, number][]} */
    const edges = [];
    if (Math.abs(b) <= hv + GRAB_PX) edges.push([pu, Math.abs(a - hu)], [mu, Math.abs(a + hu)]);
    if (Math.abs(a) <= hu + GRAB_PX) edges.push([pv, Math.abs(b - hv)], [mv, Math.abs(b + hv)]);
    const near = edges.filter(([, d]) => d <= GRAB_PX).sort((x, y) => x[1] - y[1])[0];
    if (near) return near[0];
    return Math.abs(a) < hu && Math.abs(b) < hv ? "inside" : null;
  }

  /** Where a handle of the selected box is on the page (client px), for tests.
   *  @param {ViewName} name @param {Part} part */
  clientPoint(name, part) {
    const v = /** @type {View} */ (this.views.find((x) => x.spec.name === name));
    const c = this.box;
    if (!c || !this.frame) return null;
    const s = this.shape(v, this.localPose(c));
    const p = part === "inside" ? s.c : s.handles.get(part);
    if (!p) return null;
    const r = v.canvas.getBoundingClientRect();
    return { x: r.left + p[0], y: r.top + p[1] };
  }

  /** @param {View} v @param {PointerEvent} e */
  px(v, e) {
    const r = v.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  /** @param {View} v @param {PointerEvent} e */
  pointerDown(v, e) {
    const c = this.box;
    if (e.button !== 0 || !c) return;
    const part = this.partAt(v, this.px(v, e));
    if (!part) return;
    e.preventDefault();
    this.drag = { view: v, part, id: c.id, start: { center: [...c.center], size: [...c.size], yaw: c.yaw },
      origin: this.localPose(c).center, grab: this.fromView(v, this.px(v, e)), moved: false };
    v.canvas.setPointerCapture(e.pointerId);
  }

  /** @param {View} v @param {PointerEvent} e */
  pointerMove(v, e) {
    const drag = this.drag;
    if (!drag) {
      const part = this.partAt(v, this.px(v, e));
      v.canvas.style.cursor = !part ? "" : part === "inside" ? "move" : part === "rotate" ? "grab" : "pointer";
      return;
    }
    const c = this.app.cuboids.get(drag.id);
    if (!c) { this.drag = null; return; }
    Object.assign(c, dragged(drag, this.fromView(drag.view, this.px(drag.view, e))));
    drag.moved = true;
    this.app.signals.cuboidChanged.dispatch(drag.id);
  }

  pointerUp() {
    const drag = this.drag;
    this.drag = null;
    if (!drag?.moved) return;
    const c = this.app.cuboids.get(drag.id);
    if (!c) return;
    const after = { center: [...c.center], size: [...c.size], yaw: c.yaw };
    this.editor.execute(new UpdateBoxCommand(this.app, drag.id, drag.start, after));
  }
}

/** The box a drag makes: start pose (absolute), the part grabbed, and the
 *  pointer's local point now. Pure, so the geometry is easy to check.
 *  @param {{part: Part, start: Pose, origin: number[], grab: number[], view: {spec: ViewSpec}}} drag
 *  @param {number[]} now local
 *  @returns {Pose} absolute */
export function dragged(drag, now) {
  const { start, part, grab } = drag;
  const d = [now[0] - grab[0], now[1] - grab[1], now[2] - grab[2]];
  if (part === "rotate") {  // the pointer's turn about the box centre
    const o = drag.origin;
    const turn = Math.atan2(now[1] - o[1], now[0] - o[0]) - Math.atan2(grab[1] - o[1], grab[0] - o[0]);
    return { center: [...start.center], size: [...start.size], yaw: wrapAngle(start.yaw + turn) };
  }
  const db = worldToBox(d, start.yaw);
  if (part === "inside") {
    const { u, v } = drag.view.spec;
    const m = [0, 0, 0];
    m[u] = db[u]; m[v] = db[v];
    const w = boxToWorld(m, start.yaw);
    return { center: start.center.map((x, i) => x + w[i]), size: [...start.size], yaw: start.yaw };
  }
  const side = SIDES[part];
  const axis = side.axis, sign = side.sign;
  const size = [...start.size];
  size[axis] = Math.max(MIN_EDGE, start.size[axis] + sign * db[axis]);
  // The opposite side stays: the centre moves by half the change, towards the dragged side.
  const shift = boxToWorld(unit(axis), start.yaw).map((x) => x * sign * (size[axis] - start.size[axis]) / 2);
  return { center: start.center.map((x, i) => x + shift[i]), size, yaw: start.yaw };
}

/** @type {Record<string, {axis: 0|1|2, sign: number}>} */
const SIDES = {
  front: { axis: 0, sign: 1 }, back: { axis: 0, sign: -1 },
  left: { axis: 1, sign: 1 }, right: { axis: 1, sign: -1 },
  top: { axis: 2, sign: 1 }, bottom: { axis: 2, sign: -1 },
};
