// @ts-check
/** The selected box's history: every accepted edit of the box and of its track, with
 *  who made it and why (a taxonomy migration names its version), from the edit log. */

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** One edit as a line, e.g. "r12 · lead · taxonomy v2 · label Car → Automobile".
 *  @param {any} h @returns {string} */
function line(h) {
  const what = Object.entries(h.changes).filter(([k]) => k !== "id")
    .map(([k, [a, b]]) => (h.op === "update" ? `${k} ${JSON.stringify(a)} → ${JSON.stringify(b)}` : k));
  const why = h.reason ? ` · ${h.reason}` : "";
  const summary = h.op === "update" ? what.join(", ") : h.op;
  return `r${h.revision} · ${h.kind} ${h.op} · ${h.user}${why} · ${summary}`;
}

/** Wire the History button to the selection. @param {import("./app.js").App} app @param {number} taskId */
export function initHistory(app, taskId) {
  const button = $("history-button"), list = $("box-history");
  app.signals.selectionChanged.add(() => {
    button.hidden = !app.selected;
    list.replaceChildren();
  });
  button.onclick = async () => {
    const id = app.selected;
    if (!id) return;
    const r = await fetch(`/api/tasks/${taskId}/objects/${encodeURIComponent(id)}/history`);
    const rows = r.ok ? await r.json() : [];
    if (app.selected !== id) return;
    list.replaceChildren(...rows.map((/** @type {any} */ h) => {
      const li = document.createElement("li");
      li.textContent = line(h);
      if (h.reason) li.classList.add("server-edit");
      return li;
    }));
  };
}
