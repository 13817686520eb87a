// @ts-check
/** The one keyboard manager: a table from key combinations ("q", "shift+q",
 *  "ctrl+z", "arrowup", "tab") to actions, each with the words the `?` overlay
 *  shows (help.js), so the overlay is the key map. Shortcuts work whatever
 *  control last had focus (a dropdown, a slider, a button) except where text is
 *  typed; a dropdown does not take arrow keys from them. Letters match whatever
 *  the layout types (e.key), case-insensitively. */

/** Inputs whose keys are typing, not shortcuts. */
const TEXT_TYPES = new Set(["text", "search", "number", "password", "email", "url", "tel"]);

/** Is this element one where keys type text? @param {EventTarget|null} t */
export function typesText(t) {
  if (t instanceof HTMLTextAreaElement) return true;
  if (t instanceof HTMLInputElement) return TEXT_TYPES.has(t.type);
  return t instanceof HTMLElement && t.isContentEditable;
}

export class Keyboard {
  /** @param {Window} target */
  constructor(target = window) {
    /** @type {Map<string, (e: KeyboardEvent) => void>} */ this.bindings = new Map();
    /** What each binding does, in binding order, for the `?` overlay. @type {{combos: string, help: string}[]} */
    this.help = [];
    target.addEventListener("keydown", (e) => this.handle(e));
  }

  /** Bind one or more space-separated combinations to an action. A later binding of
   *  the same combination replaces the earlier one (and its help line).
   *  @param {string} combos @param {(e: KeyboardEvent) => void} action @param {string} [help] what it does */
  bind(combos, action, help = "") {
    const list = combos.split(" ").map((c) => c.toLowerCase());
    for (const combo of list) this.bindings.set(combo, action);
    for (const entry of this.help) {
      entry.combos = entry.combos.split(" ").filter((c) => !list.includes(c)).join(" ");
    }
    this.help = this.help.filter((e) => e.combos);
    if (help) this.help.push({ combos: list.join(" "), help });
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
    if (typesText(t)) return;
    if (t instanceof HTMLButtonElement && (e.key === "Enter" || e.key === " ")) return;
    const combo = Keyboard.combo(e);
    // Ctrl+C with text selected on the page copies that text, as a browser does.
    if (combo === "ctrl+c" && String(window.getSelection() ?? "")) return;
    const action = this.bindings.get(combo);
    if (!action) return;
    e.preventDefault();  // a focused dropdown or slider does not also take the key
    action(e);
  }
}
