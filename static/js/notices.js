// @ts-check
/** Messages to the user: a short-lived toast (auto-fit results, failures) and the
 *  conflict notice, which stays until dismissed and shows the server's version of
 *  the object the refused edit was about. */

const f2 = (/** @type {number[]} */ v) => v.map((x) => x.toFixed(2)).join(", ");

/** What the server has for the object of a conflict, in words.
 *  @param {any} conflict the `conflict` message */
export function describeServerVersion(conflict) {
  const cur = conflict.current;
  if (!cur) return "the server has deleted it";
  if (conflict.kind === "cuboid") {
    const deg = (cur.yaw * 180 / Math.PI).toFixed(1);
    return `the server has centre ${f2(cur.center)} · size ${f2(cur.size)} · yaw ${cur.yaw.toFixed(2)} rad (${deg}°)`;
  }
  if (conflict.kind === "track") return `the server has class ${cur.label}`;
  return "the server has a newer version";
}

export class Notices {
  /** @param {HTMLElement} toast @param {HTMLElement} conflict */
  constructor(toast, conflict) {
    this.toastEl = toast;
    this.conflictEl = conflict;
    /** @type {ReturnType<typeof setTimeout>|undefined} */ this.timer = undefined;
  }

  /** @param {string} message */
  toast(message) {
    this.toastEl.textContent = message;
    this.toastEl.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.toastEl.hidden = true; }, 4000);
  }

  /** @param {any} conflict the `conflict` message @param {string} name what the object is, e.g. "Car 3 box"
   *  @param {(() => void)|null} reapply sends the refused edit again on the server's version */
  conflict(conflict, name, reapply = null) {
    const title = document.createElement("strong");
    title.textContent = `Conflict: ${name} was changed by someone else first.`;
    const server = document.createElement("p");
    server.dataset.testid = "conflict-server";
    server.textContent = `Your edit was not saved; ${describeServerVersion(conflict)}. The workspace now shows the server's version.`;
    const keep = document.createElement("button");
    keep.textContent = "Keep theirs";
    keep.dataset.testid = "conflict-keep";
    keep.onclick = () => { this.conflictEl.hidden = true; };
    const buttons = [keep];
    if (reapply) {
      const again = document.createElement("button");
      again.textContent = "Re-apply mine";
      again.dataset.testid = "conflict-reapply";
      again.onclick = () => { this.conflictEl.hidden = true; reapply(); };
      buttons.push(again);
    }
    this.conflictEl.replaceChildren(title, server, ...buttons);
    this.conflictEl.dataset.objectId = conflict.id;
    this.conflictEl.hidden = false;
  }

  /** A refused edit, in words: what it was about and why, from the server's messages.
   *  @param {any} reject the `reject` message @param {any} batch the refused batch, if known
   *  @param {(id: string) => string} nameOf */
  refusal(reject, batch, nameOf) {
    const why = (reject.errors ?? []).map((/** @type {any} */ e) => {
      const id = /^ops\.(\d+)/.exec(e.path ?? "");
      const about = id && batch?.ops?.[Number(id[1])] ? `${nameOf(batch.ops[Number(id[1])].id)}: ` : "";
      return `${about}${e.message}`;
    });
    this.toast(`Not saved: ${why.join("; ") || "the server refused the edit"}`);
  }
}
