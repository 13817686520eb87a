// @ts-check
/** Pre-labels in the workspace: run the server's CPU pipeline on this frame, and accept
 *  (Y), accept every one at or above a confidence (Shift+Y) or reject them. A pre-label is
 *  a box with `source: "pre-label"` and `attributes.prelabel = {confidence, model,
 *  accepted_by}`; it is drawn dimmed until accepted. Accepting keeps the source and sets
 *  `accepted_by` to the user's own name (the server refuses any other name). */

import { CuboidSetCommand, DeleteBoxCommand } from "./commands.js";
import { post } from "./session.js";

/** @typedef {import("./app.js").App} App @typedef {import("./app.js").Cuboid} Cuboid */

/** A pre-label nobody has accepted yet. @param {Cuboid} c */
export const isPending = (c) => c.source === "pre-label" && !(/** @type {any} */ (c.attributes)?.prelabel?.accepted_by);

/** Its confidence (0 when it has none). @param {Cuboid} c */
const confidence = (c) => Number(/** @type {any} */ (c.attributes)?.prelabel?.confidence ?? 0);

/** @param {{app: App, editor: import("./commands.js").Editor, keys: import("./keys.js").Keyboard,
 *   tell: (message: string) => void, user: string, taskId: number}} deps */
export function installPrelabels({ app, editor, keys, tell, user, taskId }) {
  const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const minInput = /** @type {HTMLInputElement} */ ($("prelabel-min"));
  const pending = () => app.frameCuboids().filter(isPending);

  /** @param {Cuboid[]} boxes */
  const accept = (boxes) => {
    if (!boxes.length) { tell("No pre-label to accept here"); return; }
    const changes = boxes.map((c) => {
      const attributes = structuredClone(c.attributes ?? {});
      /** @type {any} */ (attributes).prelabel = { .../** @type {any} */ (attributes).prelabel, accepted_by: user };
      return { before: structuredClone(c), after: { ...structuredClone(c), attributes } };
    });
    editor.execute(new CuboidSetCommand(app, changes, boxes.length > 1 ? "accept pre-labels" : "accept pre-label"));
    tell(`Accepted ${boxes.length} pre-label${boxes.length > 1 ? "s" : ""}`);
  };
  const selectedPending = () => {
    const c = app.selected ? app.cuboids.get(app.selected) : null;
    if (!c || !isPending(c)) { tell("Select a pre-label first"); return null; }
    return c;
  };
  const acceptSelected = () => { const c = selectedPending(); if (c) accept([c]); };
  const acceptAbove = () => {
    const min = Number(minInput.value);
    accept(pending().filter((c) => confidence(c) >= min));
  };
  const reject = () => { const c = selectedPending(); if (c) editor.execute(new DeleteBoxCommand(app, c.id)); };
  const run = async () => {
    const button = /** @type {HTMLButtonElement} */ ($("prelabel-run"));
    button.disabled = true;
    tell("Pre-labelling this frame…");
    try {
      const r = await post(`/api/tasks/${taskId}/prelabel`, { frames: [app.frame], min_score: 0.3 });
      tell(`${r.boxes} pre-label${r.boxes === 1 ? "" : "s"} added`);
    } catch (e) {
      tell(`Pre-labelling failed: ${/** @type {Error} */ (e).message}`);
    } finally {
      button.disabled = false;
    }
  };
  const render = () => { $("prelabel-count").textContent = String(pending().length); };

  $("prelabel-run").onclick = run;
  $("prelabel-accept").onclick = acceptSelected;
  $("prelabel-accept-all").onclick = acceptAbove;
  $("prelabel-reject").onclick = reject;
  keys.bind("y", acceptSelected).bind("shift+y", acceptAbove);
  for (const s of [app.signals.cuboidChanged, app.signals.annotationsReset, app.signals.frameChanged]) s.add(render);
  render();
}
