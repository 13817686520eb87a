// @ts-check
/** Review-issue markers in the 3D view: a red diamond above each pinned point or box
 *  of the current frame (local coordinates), drawn over the points. */
import * as THREE from "three";

export class Markers {
  /** @param {{scene: THREE.Scene, invalidate: () => void}} viewer */
  constructor(viewer) {
    this.viewer = viewer;
    this.group = new THREE.Group();
    this.group.renderOrder = 10;
    viewer.scene.add(this.group);
    this.geometry = new THREE.OctahedronGeometry(0.45);
    this.material = new THREE.MeshBasicMaterial({ color: 0xff3b30, depthTest: false, transparent: true });
    this.selectedMaterial = new THREE.MeshBasicMaterial({ color: 0xffcc00, depthTest: false, transparent: true });
  }

  /** Show markers at these local positions. @param {{p: number[], selected: boolean}[]} marks */
  set(marks) {
    this.group.clear();
    for (const m of marks) {
      const mesh = new THREE.Mesh(this.geometry, m.selected ? this.selectedMaterial : this.material);
      mesh.position.set(m.p[0], m.p[1], m.p[2]);
      mesh.renderOrder = 10;
      this.group.add(mesh);
    }
    this.viewer.invalidate();
  }
}
