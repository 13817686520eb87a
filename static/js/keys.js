// @ts-check
/** The one keyboard manager: a table from key combinations ("q", "shift+q",
 *  "ctrl+z", "arrowup", "tab") to actions. Keys typed into a form field are left
 *  alone. Letters match whatever the layout types (e.key), case-insensitively. */

export class Keyboard {
  /** @param {Window} target */
  constructor(target = window) {
    /** @type {Map<string, (e: KeyboardEvent) => void>} */ this.bindings = new Map();
    target.addEventListener("keydown", (e) => this.handle(e));
  }

  /** Bind one or more space-separated combinations to an action.
   *  @param {string} combos @param {(e: KeyboardEvent) => void} action */
  bind(combos, action) {
    for (const combo of combos.split(" ")) this.bindings.set(combo.toLowerCase(), action);
    return this;
  }

  /** The combination a key event is, e.g. "ctrl+shift+z". @param {KeyboardEvent} e */
  static combo(e) {
    const key = e.key === " " ? "space" : e.key.toLowerCase();
    const mods = [e.ctrlKey || e.metaKey ? "ctrl" : "", e.altKey ? "alt" : "", e.shiftKey ? "shift" : ""];
    return [...mods.filter(Boolean), key].join("+");
  }

  /** @param {KeyboardEvent} e */
  handle(e) {
    const t = e.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
    if (t instanceof HTMLButtonElement && (e.key === "Enter" || e.key === " ")) return;
    const action = this.bindings.get(Keyboard.combo(e));
    if (!action) return;
    e.preventDefault();
    action(e);
  }
}
