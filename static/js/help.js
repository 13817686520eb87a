// @ts-check
/** The `?` overlay: every key, generated from the one key map (keys.js), and
 *  every mouse gesture. `?` or the header's `?` button opens it; `?` or Esc closes. */

/** Mouse gestures: the pointer's part of the key map (tools.js, measure.js, view-controls.js,
 *  subviews.js, timeline.js, object-list.js). */
export const GESTURES = [
  ["drag (top view, empty ground)", "draw a box from its back to its front"],
  ["Shift+click (top view)", "place a default-size box of the chosen class"],
  ["click", "select a box (a plain click never creates one)"],
  ["click while measuring (H)", "pick a point; two give their distance"],
  ["drag a box", "move it (not when it is locked)"],
  ["wheel", "zoom toward the pointer"],
  ["right drag / middle drag", "pan / zoom (top view); 3D view: left drag orbits"],
  ["box views: drag an edge", "resize that side (the opposite side stays)"],
  ["box views: drag inside", "move in that view's plane"],
  ["box views: drag the circle", "rotate (top view; orange edge = front)"],
  ["object list: click", "select the track and frame it"],
  ["object list: Ctrl+click / Shift+click", "pick several for a bulk class change or delete"],
  ["object list: double-click a name", "rename the track"],
  ["drag on a timeline lane", "choose frames for a tag"],
  ["click a tag bar", "select it; drag its ends to change its frames"],
];

const NAMES = /** @type {Record<string, string>} */ ({ arrowup: "↑", arrowdown: "↓", arrowleft: "←", arrowright: "→",
  escape: "Esc", delete: "Del", backspace: "Backspace", space: "Space", enter: "Enter", tab: "Tab", ctrl: "Ctrl", shift: "Shift" });

/** "shift+q" -> "Shift+Q". @param {string} combo */
export function keyLabel(combo) {
  return combo.split("+").map((k) => NAMES[k] ?? (k.length === 1 ? k.toUpperCase() : k)).join("+");
}

export class HelpOverlay {
  /** @param {import("./keys.js").Keyboard} keys @param {HTMLElement} el @param {HTMLElement|null} button */
  constructor(keys, el, button) {
    this.keys = keys;
    this.el = el;
    keys.bind("? shift+?", () => this.toggle(), "show or hide this list of keys");
    if (button) button.onclick = () => { this.toggle(); button.blur(); };
    window.addEventListener("keydown", (e) => { if (e.key === "Escape" && !this.el.hidden) this.toggle(); });
  }

  toggle() {
    if (this.el.hidden) this.render();
    this.el.hidden = !this.el.hidden;
  }

  render() {
    const dl = (/** @type {string[][]} */ rows, /** @type {string} */ testid) => {
      const list = document.createElement("dl");
      list.dataset.testid = testid;
      for (const [k, v] of rows) {
        const dt = document.createElement("dt"), dd = document.createElement("dd");
        dt.textContent = k; dd.textContent = v;
        list.append(dt, dd);
      }
      return list;
    };
    const h2 = (/** @type {string} */ t) => Object.assign(document.createElement("h2"), { textContent: t });
    const close = Object.assign(document.createElement("button"), { type: "button", textContent: "Close" });
    close.onclick = () => this.toggle();
    this.el.replaceChildren(h2("Keys"),
      dl(this.keys.help.map((e) => [e.combos.split(" ").map(keyLabel).join(" / "), e.help]), "help-keys"),
      h2("Mouse"), dl(GESTURES, "help-gestures"), close);
  }
}
