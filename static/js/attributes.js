// @ts-check
/** The attribute panel of the selected box: its track's attributes and its own
 *  per-frame ones, as the taxonomy declares them for the track's class. Each
 *  change is one undoable command. */

import { TrackAttributesCommand, UpdateBoxCommand } from "./commands.js";

/** @typedef {{name: string, kind: "enum"|"bool"|"number"|"text", values: string[]}} Attribute */

export class AttributePanel {
  /** @param {import("./app.js").App} app @param {import("./commands.js").Editor} editor
   *  @param {HTMLElement} root */
  constructor(app, editor, root) {
    this.app = app;
    this.editor = editor;
    this.root = root;
    const redraw = () => this.render();
    app.signals.selectionChanged.add(redraw);
    app.signals.annotationsReset.add(redraw);
    app.signals.cuboidChanged.add((/** @type {string} */ id) => { if (id === app.selected) redraw(); });
  }

  render() {
    const c = this.app.selected ? this.app.cuboids.get(this.app.selected) : null;
    const track = c ? this.app.tracks.get(c.track_id) : null;
    const cls = track ? this.app.classInfo(track.label) : null;
    this.root.hidden = !cls || !(cls.track_attributes.length + cls.cuboid_attributes.length);
    if (!c || !track || !cls) { this.root.replaceChildren(); return; }
    const rows = [
      ...cls.track_attributes.map((/** @type {Attribute} */ a) => this.field(a, "track", track.attributes,
        (/** @type {object} */ next) => this.editor.execute(new TrackAttributesCommand(this.app, track.id, track.attributes, next)))),
      ...cls.cuboid_attributes.map((/** @type {Attribute} */ a) => this.field(a, "box", c.attributes,
        (/** @type {object} */ next) => this.editor.execute(new UpdateBoxCommand(this.app, c.id, { attributes: c.attributes }, { attributes: next })))),
    ];
    this.root.replaceChildren(...rows);
  }

  /** One labelled control; `commit` gets the whole new attributes object.
   *  @param {Attribute} a @param {"track"|"box"} scope @param {Record<string, any>} current
   *  @param {(next: object) => void} commit */
  field(a, scope, current, commit) {
    const label = document.createElement("label");
    label.className = "attribute";
    label.textContent = `${a.name}${scope === "track" ? " (track)" : ""} `;
    const input = control(a, current[a.name]);
    input.dataset.testid = `attr-${scope}-${a.name}`;
    input.onchange = () => {
      const value = read(a, input);
      const next = { ...current };
      if (value === undefined) delete next[a.name]; else next[a.name] = value;
      commit(next);
    };
    label.append(input);
    return label;
  }
}

/** An input for an attribute, showing `value`. @param {Attribute} a @param {any} value */
function control(a, value) {
  if (a.kind === "enum") {
    const select = document.createElement("select");
    select.append(new Option("—", ""), ...a.values.map((v) => new Option(v, v)));
    select.value = value ?? "";
    return select;
  }
  const input = document.createElement("input");
  if (a.kind === "bool") { input.type = "checkbox"; input.checked = value === true; }
  else { input.type = a.kind === "number" ? "number" : "text"; input.value = value ?? ""; }
  return input;
}

/** The value an input holds (undefined: unset). @param {Attribute} a @param {HTMLInputElement|HTMLSelectElement} input */
function read(a, input) {
  if (a.kind === "bool") return /** @type {HTMLInputElement} */ (input).checked;
  if (input.value === "") return undefined;
  return a.kind === "number" ? Number(input.value) : input.value;
}
