// @ts-check
/** "camera" in the colour menu: each lidar point takes the colour of the camera
 *  pixel it projects onto (the first of the frame's images that sees it, in the
 *  panel's order); points no image sees are grey. The menu offers it only on
 *  frames with camera images.
 *
 *  The colours go into each drawn tile's `camrgb` attribute (viewer.js, colour
 *  mode 4), computed once per tile, frame and set of loaded images: tiles that
 *  stream in later are coloured on the next animation frame. The images are
 *  sampled at the size the panel loaded them (its width times the device pixel
 *  ratio), so a point's colour is the resized image's. */

import * as THREE from "three";
import { NEAR, toCamera, toPixel } from "./cameras.js";

/** Grey (0..255) of points that no image sees. */
const UNSEEN = 90;

export class CameraColors {
  /** @param {import("./app.js").App} app @param {import("./viewer.js").Viewer} viewer
   *  @param {import("./cameras.js").CameraPanel} panel @param {HTMLSelectElement} select the colour menu */
  constructor(app, viewer, panel, select) {
    this.app = app;
    this.viewer = viewer;
    this.panel = panel;
    this.select = select;
    this.option = /** @type {HTMLOptionElement} */ ([...select.options].find((o) => o.value === "camera"));
    /** @type {WeakMap<HTMLImageElement, ImageData>} */ this.pixels = new WeakMap();
    /** Points of the drawn tiles that took an image's colour, and for which frame and
     *  images (tests read them). */
    this.seen = 0;
    this.key = "";
    viewer.beforeRender.add(() => this.tick());
  }

  tick() {
    const views = this.panel.views;
    this.option.hidden = views.length === 0;
    if (this.select.value !== "camera") return;
    if (this.option.hidden) {
      this.select.value = "height";
      this.viewer.setColorMode("height");
      return;
    }
    const loaded = views.filter((v) => v.loaded);
    const key = `${this.app.frame}:${loaded.map((v) => v.info.name).join(",")}`;
    let changed = false;
    if (key !== this.key) { this.key = key; this.seen = 0; }
    for (const pts of this.viewer.nodes.values()) {
      if (pts.userData.cameraKey === key) continue;
      const pos = /** @type {Float32Array} */ (pts.geometry.getAttribute("position").array);
      pts.geometry.setAttribute("camrgb", new THREE.BufferAttribute(this.colors(pos, loaded), 3, true));
      pts.userData.cameraKey = key;
      changed = true;
    }
    if (changed) { this.viewer.dirty = true; this.viewer.pointsVersion++; }
  }

  /** The colours (0..255, 3 a point) of local positions from the loaded images.
   *  @param {Float32Array} pos @param {import("./cameras.js").CameraView[]} views */
  colors(pos, views) {
    const out = new Uint8Array(pos.length).fill(UNSEEN);
    const o = this.app.offset;
    const images = views.map((v) => this.imageData(v));
    let seen = 0;
    for (let i = 0; i < pos.length; i += 3) {
      const p = [pos[i] + o[0], pos[i + 1] + o[1], pos[i + 2] + o[2]];
      for (let k = 0; k < views.length; k++) {
        const info = views[k].info, img = images[k];
        const c = toCamera(info, p);
        if (c[2] < NEAR) continue;
        const [u, v] = toPixel(info, c);
        if (!(u >= 0 && v >= 0 && u < info.width && v < info.height)) continue;
        const x = Math.floor(u * img.width / info.width), y = Math.floor(v * img.height / info.height);
        const j = (y * img.width + x) * 4;
        out[i] = img.data[j]; out[i + 1] = img.data[j + 1]; out[i + 2] = img.data[j + 2];
        seen++;
        break;
      }
    }
    this.seen += seen;
    return out;
  }

  /** A loaded image's pixels (read once). @param {import("./cameras.js").CameraView} view */
  imageData(view) {
    let data = this.pixels.get(view.img);
    if (!data) {
      const canvas = document.createElement("canvas");
      canvas.width = view.img.naturalWidth; canvas.height = view.img.naturalHeight;
      const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
      ctx.drawImage(view.img, 0, 0);
      data = ctx.getImageData(0, 0, canvas.width, canvas.height);
      this.pixels.set(view.img, data);
    }
    return data;
  }
}
