// @ts-check
/** The point shader. Points are coloured in the vertex shader, so a colour mode,
 *  clip or highlight change is a uniform update, never a re-upload:
 *  - colour modes: 0 height ramp (blue low, red high, over `zRange`), 1 intensity
 *    (grey), 2 RGB, 3 class (ASPRS-like palette), 4 height above the ground
 *    (the same ramp over 0..GROUND_RAMP_M m above the `ground` grid, ground.js),
 *    5 the camera images' pixels (the `camrgb` attribute, set by camera-colors.js);
 *  - height clipping: points whose local z is outside `clip` are not drawn;
 *  - the selected box: points inside the box `boxInv` maps to the unit cube are
 *    drawn in the highlight colour (`boxOn`). */

import * as THREE from "three";

/** @typedef {"height"|"intensity"|"rgb"|"classification"|"ground"|"camera"} ColorMode */

/** @type {ColorMode[]} */
export const COLOR_MODES = ["height", "intensity", "rgb", "classification", "ground", "camera"];

/** Heights above ground (m) spanned by the ramp in "ground" mode. */
export const GROUND_RAMP_M = 4;

/** The highlight colour of points in the selected box (linear RGB 0..1). */
export const HIGHLIGHT = [1.0, 0.85, 0.1];

export function pointMaterial() {
  const flat = new THREE.DataTexture(new Float32Array([0]), 1, 1, THREE.RedFormat, THREE.FloatType);
  flat.needsUpdate = true;
  return new THREE.ShaderMaterial({
    uniforms: {
      size: { value: 2 }, mode: { value: 0 }, zRange: { value: new THREE.Vector2(-2, 3) },
      clip: { value: new THREE.Vector2(-1e9, 1e9) },
      boxOn: { value: false }, boxInv: { value: new THREE.Matrix4() },
      ground: { value: flat }, groundLo: { value: new THREE.Vector2(0, 0) }, groundSpan: { value: new THREE.Vector2(1, 1) },
      highlight: { value: new THREE.Vector3(...HIGHLIGHT) },
    },
    vertexShader: `
      uniform float size; uniform int mode; uniform vec2 zRange; uniform vec2 clip;
      uniform bool boxOn; uniform mat4 boxInv; uniform vec3 highlight;
      uniform sampler2D ground; uniform vec2 groundLo; uniform vec2 groundSpan;
      attribute float intensity; attribute vec3 rgb; attribute float classification; attribute vec3 camrgb;
      varying vec3 vColor;
      vec3 heightRamp(float t) {
        t = clamp(t, 0.0, 0.9999) * 4.0;
        vec3 c0 = vec3(40.0, 60.0, 200.0), c1 = vec3(40.0, 190.0, 230.0), c2 = vec3(80.0, 210.0, 90.0),
             c3 = vec3(240.0, 220.0, 60.0), c4 = vec3(230.0, 60.0, 50.0);
        vec3 c = t < 1.0 ? mix(c0, c1, t) : t < 2.0 ? mix(c1, c2, t - 1.0) : t < 3.0 ? mix(c2, c3, t - 2.0) : mix(c3, c4, t - 3.0);
        return c / 255.0;
      }
      vec3 classColor(float k) {
        int c = int(k + 0.5);
        if (c == 2) return vec3(0.65, 0.45, 0.25);  // ground
        if (c == 3) return vec3(0.55, 0.80, 0.35);  // low vegetation
        if (c == 4) return vec3(0.30, 0.70, 0.25);
        if (c == 5) return vec3(0.10, 0.50, 0.15);  // high vegetation
        if (c == 6) return vec3(0.90, 0.35, 0.30);  // building
        if (c == 7) return vec3(0.90, 0.20, 0.90);  // noise
        if (c == 9) return vec3(0.20, 0.50, 0.95);  // water
        if (c == 17) return vec3(0.95, 0.85, 0.30); // bridge
        return vec3(0.6);
      }
      void main() {
        if (position.z < clip.x || position.z > clip.y) {
          gl_Position = vec4(2.0, 2.0, 2.0, 1.0);  // outside the clip volume: not drawn
          gl_PointSize = 0.0;
          return;
        }
        gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
        gl_PointSize = size;
        if (mode == 1) vColor = vec3((40.0 + intensity * 214.0) / 255.0);
        else if (mode == 2) vColor = rgb;
        else if (mode == 3) vColor = classColor(classification);
        else if (mode == 4) {
          float g = texture2D(ground, (position.xy - groundLo) / groundSpan).r;
          vColor = heightRamp((position.z - g) / ${GROUND_RAMP_M.toFixed(1)});
        }
        else if (mode == 5) vColor = camrgb;
        else vColor = heightRamp((position.z - zRange.x) / max(zRange.y - zRange.x, 1e-6));
        if (boxOn) {
          vec3 q = (boxInv * vec4(position, 1.0)).xyz;
          if (all(lessThanEqual(abs(q), vec3(0.5)))) { vColor = highlight; gl_PointSize = size + 1.0; }
        }
      }`,
    fragmentShader: `
      varying vec3 vColor;
      void main() { gl_FragColor = vec4(vColor, 1.0); }`,
  });
}
