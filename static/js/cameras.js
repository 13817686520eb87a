// @ts-check
/** The camera panel: the frame's camera images beside the 3D view, every box
 *  projected onto them as a wireframe (docs/assist.md, Cameras).
 *
 *  Projection follows pointcloud/cameras.py: a point in the frame's coordinates
 *  (metres, absolute) goes to the camera frame with the 4x4 `lidar_to_camera`
 *  (x right, y down, z forward), then through the optional Brown-Conrady
 *  distortion and the 3x3 intrinsic K to pixels. Each box edge is clipped at the
 *  near plane (z = 0.1 m) before it is projected, so a box around or behind the
 *  camera draws only its part in front, never mirrored lines.
 *
 *  The selected box is drawn thick in yellow; clicking a box in an image selects
 *  it (the nearest edge within a few pixels, else the smallest box around the
 *  click). Optionally the loaded lidar points are drawn onto the image, coloured
 *  by depth. */

/** @typedef {{name: string, width: number, height: number, intrinsic: number[][],
 *    lidar_to_camera: number[][], distortion: number[]|null, url: string}} CameraInfo
 *  @typedef {{info: CameraInfo, canvas: HTMLCanvasElement, img: HTMLImageElement, loaded: boolean,
 *    boxes: {id: string, segments: number[][][]}[]}} CameraView */

export const NEAR = 0.1;
export const SELECTED_COLOR = "#ffff00";
/** Edges as pairs of corner indices: bottom face, top face, verticals (pointcloud/cameras.py). */
const EDGES = [[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]];
/** Corner signs (length, width, height) in the order of pointcloud/boxes.py box_corners. */
const SIGNS = [[1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, -1], [1, -1, 1], [1, 1, 1], [-1, 1, 1], [-1, -1, 1]];
/** Largest CSS width and height of one image (px); pick tolerance (px); most lidar points drawn. */
const MAX_CSS_W = 620, MAX_CSS_H = 240, PICK_PX = 6, MAX_POINTS = 80000, FAR_M = 40;

/** The 8 corners of a box (absolute, metres): Rz(yaw) Ry(pitch) Rx(roll), like box_corners.
 *  @param {{center: number[], size: number[], yaw: number, pitch?: number, roll?: number}} b */
export function boxCorners(b) {
  const cy = Math.cos(b.yaw), sy = Math.sin(b.yaw);
  const cp = Math.cos(b.pitch ?? 0), sp = Math.sin(b.pitch ?? 0);
  const cr = Math.cos(b.roll ?? 0), sr = Math.sin(b.roll ?? 0);
  const r = [[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
    [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr], [-sp, cp * sr, cp * cr]];
  return SIGNS.map((s) => {
    const l = [s[0] * b.size[0] / 2, s[1] * b.size[1] / 2, s[2] * b.size[2] / 2];
    return [0, 1, 2].map((i) => r[i][0] * l[0] + r[i][1] * l[1] + r[i][2] * l[2] + b.center[i]);
  });
}

/** A point (frame coordinates) in the camera frame. @param {CameraInfo} cam @param {number[]} p */
export function toCamera(cam, p) {
  const t = cam.lidar_to_camera;
  return [0, 1, 2].map((i) => t[i][0] * p[0] + t[i][1] * p[1] + t[i][2] * p[2] + t[i][3]);
}

/** Pixels of a camera-frame point with z > 0 (distortion applied when given).
 *  @param {CameraInfo} cam @param {number[]} c @returns {number[]} */
export function toPixel(cam, c) {
  let x = c[0] / c[2], y = c[1] / c[2];
  if (cam.distortion && cam.distortion.length) {
    const [k1 = 0, k2 = 0, p1 = 0, p2 = 0, k3 = 0] = cam.distortion;
    const r2 = x * x + y * y, radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2;
    [x, y] = [x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x), y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y];
  }
  const k = cam.intrinsic;
  return [k[0][0] * x + k[0][1] * y + k[0][2], k[1][1] * y + k[1][2]];
}

/** A box's edges in the image, each clipped at the near plane: [[u, v], [u, v]][] pixels.
 *  @param {CameraInfo} cam @param {{center: number[], size: number[], yaw: number, pitch?: number, roll?: number}} box */
export function wireframe(cam, box) {
  const corners = boxCorners(box).map((p) => toCamera(cam, p));
  /** @type {number[][][]} */ const out = [];
  for (const [a, b] of EDGES) {
    let p = corners[a], q = corners[b];
    if (p[2] < NEAR && q[2] < NEAR) continue;
    if (p[2] < NEAR || q[2] < NEAR) {
      const t = (NEAR - p[2]) / (q[2] - p[2]);
      const cut = [0, 1, 2].map((i) => p[i] + t * (q[i] - p[i]));
      if (p[2] < NEAR) p = cut; else q = cut;
    }
    out.push([toPixel(cam, p), toPixel(cam, q)]);
  }
  return out;
}

/** Distance (px) from point p to segment ab. @param {number[]} p @param {number[]} a @param {number[]} b */
function segmentDistance(p, a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1], len2 = dx * dx + dy * dy;
  const t = len2 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}

/** Depth colour: red near, through green, to blue at FAR_M. @param {number} z metres */
function depthColor(z) {
  const hue = Math.min(1, z / FAR_M) * 240;
  return `hsl(${hue.toFixed(0)} 100% 50%)`;
}

export class CameraPanel {
  /** @param {import("./app.js").App} app @param {import("./viewer.js").Viewer} viewer
   *  @param {HTMLElement} root the panel: hidden when the frame has no camera; holds
   *  `.camera-images` and the `.camera-points` toggle */
  constructor(app, viewer, root) {
    this.app = app;
    this.viewer = viewer;
    this.root = root;
    this.images = /** @type {HTMLElement} */ (root.querySelector(".camera-images"));
    const pointsToggle = /** @type {HTMLInputElement} */ (root.querySelector(".camera-points"));
    this.pointsToggle = pointsToggle;
    /** @type {CameraView[]} */ this.views = [];
    this.scheduled = false;
    /** Times the images were drawn (tests wait for it). */
    this.draws = 0;
    const redraw = () => this.schedule();
    for (const s of [app.signals.cuboidChanged, app.signals.selectionChanged, app.signals.annotationsReset, app.signals.viewChanged]) s.add(redraw);
    app.signals.frameChanged.add(() => this.build());
    app.signals.pointsLoaded.add(() => { if (this.pointsToggle.checked) this.schedule(); });
    pointsToggle.addEventListener("change", redraw);
    this.build();
  }

  /** The current frame's cameras. @returns {CameraInfo[]} */
  get cameras() { return this.app.scene.frames[this.app.frame]?.cameras ?? []; }

  /** One canvas per camera of the current frame; images load at the width shown. */
  build() {
    const cams = this.cameras;
    this.root.hidden = cams.length === 0;
    const ratio = window.devicePixelRatio || 1;
    this.views = cams.map((info) => {
      const cssW = Math.round(Math.min(MAX_CSS_W, info.width, MAX_CSS_H * info.width / info.height));
      const cssH = Math.round(cssW * info.height / info.width);
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(cssW * ratio); canvas.height = Math.round(cssH * ratio);
      canvas.style.width = `${cssW}px`; canvas.style.height = `${cssH}px`;
      canvas.dataset.testid = "camera-image";
      canvas.dataset.camera = info.name;
      canvas.setAttribute("aria-label", `Camera ${info.name}: click a box to select it`);
      const img = new Image();
      /** @type {CameraView} */ const view = { info, canvas, img, loaded: false, boxes: [] };
      img.onload = () => { view.loaded = true; this.schedule(); };
      img.src = `${info.url}?w=${canvas.width}`;
      canvas.addEventListener("click", (e) => this.click(view, e));
      return view;
    });
    this.images.replaceChildren(...this.views.map((v) => {
      const fig = document.createElement("figure");
      const cap = document.createElement("figcaption");
      cap.textContent = v.info.name;
      fig.append(v.canvas, cap);
      return fig;
    }));
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => { this.scheduled = false; this.draw(); });
  }

  draw() {
    const boxes = this.app.frameCuboids().filter((c) => !this.app.isHidden(c.track_id));
    for (const view of this.views) {
      const { canvas, info } = view;
      const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
      const s = canvas.width / info.width;
      ctx.fillStyle = "#101317";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      if (view.loaded) ctx.drawImage(view.img, 0, 0, canvas.width, canvas.height);
      if (this.pointsToggle.checked) this.drawPoints(ctx, info, s);
      view.boxes = boxes.map((c) => ({ id: c.id, segments: wireframe(info, c) }));
      const order = [...view.boxes].sort((a, b) => Number(a.id === this.app.selected) - Number(b.id === this.app.selected));
      for (const b of order) {
        const selected = b.id === this.app.selected;
        const label = this.app.tracks.get(this.app.cuboids.get(b.id)?.track_id ?? "")?.label ?? "Other";
        ctx.strokeStyle = selected ? SELECTED_COLOR : this.app.classInfo(label)?.color ?? "#bdbdbd";
        ctx.lineWidth = (selected ? 3 : 1.5) * (window.devicePixelRatio || 1);
        ctx.beginPath();
        for (const [p, q] of b.segments) { ctx.moveTo(p[0] * s, p[1] * s); ctx.lineTo(q[0] * s, q[1] * s); }
        ctx.stroke();
      }
      canvas.dataset.ready = view.loaded ? "1" : "0";
      canvas.dataset.selected = this.app.selected && view.boxes.some((b) => b.id === this.app.selected && b.segments.length) ? this.app.selected : "";
    }
    this.draws++;
  }

  /** The loaded lidar points of the frame, coloured by depth. @param {CanvasRenderingContext2D} ctx
   *  @param {CameraInfo} info @param {number} s canvas pixels per image pixel (points: 1.5 CSS px) */
  drawPoints(ctx, info, s) {
    const o = this.app.offset, arrays = this.viewer.loadedPositions;
    const total = arrays.reduce((n, a) => n + a.length / 3, 0);
    const stride = Math.max(1, Math.ceil(total / MAX_POINTS)), size = 1.5 * (window.devicePixelRatio || 1);
    for (const pos of arrays) {
      for (let i = 0; i < pos.length; i += 3 * stride) {
        const c = toCamera(info, [pos[i] + o[0], pos[i + 1] + o[1], pos[i + 2] + o[2]]);
        if (c[2] < NEAR) continue;
        const [u, v] = toPixel(info, c);
        if (u < 0 || v < 0 || u >= info.width || v >= info.height) continue;
        ctx.fillStyle = depthColor(c[2]);
        ctx.fillRect(u * s - size / 2, v * s - size / 2, size, size);
      }
    }
  }

  /** Select the box under a click: the nearest edge within PICK_PX, else the smallest
   *  box whose outline holds the click. @param {CameraView} view @param {MouseEvent} e */
  click(view, e) {
    const rect = view.canvas.getBoundingClientRect();
    const p = [(e.clientX - rect.left) / rect.width * view.info.width, (e.clientY - rect.top) / rect.height * view.info.height];
    const perPx = view.info.width / rect.width;
    let best = null, bestD = PICK_PX * perPx;
    for (const b of view.boxes) {
      for (const [a, q] of b.segments) {
        const d = segmentDistance(p, a, q);
        if (d < bestD) { bestD = d; best = b.id; }
      }
    }
    if (!best) {
      let area = Infinity;
      for (const b of view.boxes) {
        const pts = b.segments.flat();
        if (!pts.length) continue;
        const us = pts.map((x) => x[0]), vs = pts.map((x) => x[1]);
        const lo = [Math.min(...us), Math.min(...vs)], hi = [Math.max(...us), Math.max(...vs)];
        const a = (hi[0] - lo[0]) * (hi[1] - lo[1]);
        if (p[0] >= lo[0] && p[0] <= hi[0] && p[1] >= lo[1] && p[1] <= hi[1] && a < area) { area = a; best = b.id; }
      }
    }
    this.app.select(best);
  }
}
