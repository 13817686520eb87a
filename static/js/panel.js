// @ts-check
/** The side panel: the selected box's numbers and the frame's box list. */

import { displayName } from "./names.js";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const f2 = (/** @type {number[]} */ v) => v.map((x) => x.toFixed(2)).join(", ");

/** The readable name of a cuboid's track, e.g. "Car 12". @param {import("./app.js").App} app @param {string} id */
export function boxName(app, id) {
  const c = app.cuboids.get(id);
  return c ? displayName(app, c.track_id) : `box ${id.slice(0, 8)}`;
}

/** @param {import("./app.js").App} app */
export function renderPanel(app) {
  const cuboids = app.frameCuboids();
  $("box-count").textContent = String(cuboids.length);
  $("box-list").replaceChildren(...cuboids.map((c) => {
    const li = document.createElement("li");
    li.textContent = displayName(app, c.track_id);
    li.classList.toggle("selected", c.id === app.selected);
    li.classList.toggle("others", app.othersSelected.has(c.id));
    li.onclick = () => app.select(c.id);
    return li;
  }));
  const c = app.selected ? app.cuboids.get(app.selected) : null;
  const el = $("selection");
  if (!c) { el.textContent = "Nothing selected"; return; }
  const deg = (c.yaw * 180 / Math.PI).toFixed(1);
  el.textContent = `${displayName(app, c.track_id)} · ${app.tracks.get(c.track_id)?.label} · centre ${f2(c.center)} · size ${f2(c.size)} · yaw ${c.yaw.toFixed(2)} (${deg}°)`;
}
