// @ts-check
/** The consensus overlay (docs/quality.md, "Consensus"): opened from the consensus results
 *  with `?consensus=ID`, the workspace draws, read-only, the boxes the group's other tasks
 *  have in the current frame, as wireframes in one colour per annotator, with a legend.
 *  Nothing of it can be selected or edited; without `see_quality` nothing is drawn. */

import * as THREE from "three";

const COLORS = ["#ff7043", "#ab47bc", "#26c6da", "#d4e157", "#ec407a", "#8d6e63", "#78909c", "#ffca28", "#5c6bc0"];

/** @param {{app: import("./app.js").App, viewer: import("./viewer.js").Viewer, taskId: number}} deps */
export function installConsensusOverlay({ app, viewer, taskId }) {
  const group = Number(new URLSearchParams(location.search).get("consensus"));
  if (!Number.isInteger(group) || group < 1) return null;
  const layer = new THREE.Group();
  layer.name = "consensus-overlay";
  viewer.scene.add(layer);
  const legend = document.createElement("div");
  legend.className = "consensus-legend";
  legend.dataset.testid = "consensus-overlay";
  viewer.container.appendChild(legend);
  /** @type {Map<string, string>} */
  const colorOf = new Map();
  let asked = 0;

  async function draw() {
    const frame = app.frame, ticket = ++asked;
    const r = await fetch(`/api/quality/consensus/${group}/frames/${frame}`, { headers: { Accept: "application/json" } });
    if (!r.ok || ticket !== asked) return;
    const boxes = /** @type {{annotator: string, task_id: number, class: string, box: number[]}[]} */ (await r.json());
    layer.traverse((o) => /** @type {any} */ (o).geometry?.dispose());
    layer.clear();
    const o = app.scene.frames[frame].offset;
    const others = boxes.filter((b) => b.task_id !== taskId);
    for (const b of others) {
      if (!colorOf.has(b.annotator)) colorOf.set(b.annotator, COLORS[colorOf.size % COLORS.length]);
      const [cx, cy, cz, l, w, h, yaw] = b.box;
      const edges = new THREE.LineSegments(new THREE.EdgesGeometry(new THREE.BoxGeometry(l, w, h)),
        new THREE.LineBasicMaterial({ color: colorOf.get(b.annotator), transparent: true, opacity: 0.9 }));
      edges.position.set(cx - o[0], cy - o[1], cz - o[2]);
      edges.rotation.z = yaw;
      edges.userData = { annotator: b.annotator, taskId: b.task_id, readOnly: true };
      layer.add(edges);
    }
    legend.dataset.boxes = String(others.length);
    legend.replaceChildren(`Consensus ${group}, frame ${frame}: `,
      ...[...colorOf].map(([name, color]) => {
        const s = document.createElement("span");
        s.style.color = color;
        s.textContent = ` ■ ${name} (${others.filter((b) => b.annotator === name).length})`;
        return s;
      }));
    viewer.invalidate();
  }

  app.signals.frameChanged.add(() => { draw().catch((e) => console.error(e)); });
  draw().catch((e) => console.error(e));
  return layer;
}
