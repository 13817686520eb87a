// @ts-check
/** The review loop in the workspace (docs/tasks.md): the task's state and its
 *  actions (start, submit; approve, reject), the list of review issues and the
 *  server's automatic warnings, with markers in 3D and on the frame slider; the
 *  reviewer pins issues to the selected box or to the point under the cursor. */
import { post } from "./session.js";

/** @typedef {{id: number, error_type: string, comment: string, status: string, author: string,
 *   object_kind: string|null, object_id: string|null, frame: number|null, point: number[]|null,
 *   thread: {author: string, text: string}[]}} Issue */

export class ReviewPanel {
  /** @param {{app: any, markers: import("./markers.js").Markers, taskId: number, mode: string,
   *   user: string, el: HTMLElement, tell: (m: string) => void}} o */
  constructor(o) {
    Object.assign(this, o);
    this.app = o.app; this.markers = o.markers; this.taskId = o.taskId; this.mode = o.mode;
    this.user = o.user; this.el = o.el; this.tell = o.tell;
    /** @type {Issue[]} */ this.issues = [];
    /** @type {any[]} */ this.warnings = [];
    /** @type {any} */ this.task = null;
    /** @type {number|null} */ this.focused = null;
    /** The reviewer's pin form, kept across renders. @type {HTMLElement|undefined} */ this.form = undefined;
    this.app.signals.frameChanged.add(() => this.drawMarkers());
    this.app.signals.annotationsReset.add(() => { this.drawMarkers(); this.refreshWarnings(); });
  }

  async load() {
    const [task, issues, warnings] = await Promise.all([
      fetch(`/api/tasks/${this.taskId}`).then((r) => r.json()),
      fetch(`/api/tasks/${this.taskId}/issues`).then((r) => r.json()),
      fetch(`/api/tasks/${this.taskId}/warnings`).then((r) => r.json()),
    ]);
    this.task = task; this.issues = issues; this.warnings = warnings;
    this.render();
  }

  refreshWarnings() {
    clearTimeout(this.warnTimer);
    this.warnTimer = setTimeout(async () => {
      this.warnings = await fetch(`/api/tasks/${this.taskId}/warnings`).then((r) => r.json()).catch(() => this.warnings);
      this.render();
    }, 400);
  }

  /** Where an issue is in the frame's local coordinates, or null. @param {Issue} i */
  where(i) {
    const o = this.app.offset;
    if (i.point && (i.frame === null || i.frame === this.app.frame)) return [i.point[0] - o[0], i.point[1] - o[1], i.point[2] - o[2] + 1.2];
    if (i.object_kind === "cuboid" && i.object_id) {
      const c = this.app.cuboids.get(i.object_id);
      if (c && c.frame === this.app.frame) return [c.center[0] - o[0], c.center[1] - o[1], c.center[2] - o[2] + c.size[2] / 2 + 0.8];
    }
    return null;
  }

  drawMarkers() {
    const marks = [];
    for (const i of this.issues) {
      if (i.status === "closed") continue;
      const p = this.where(i);
      if (p) marks.push({ p, selected: i.id === this.focused });
    }
    this.markers.set(marks);
    this.el.dataset.markers = String(marks.length);
    const list = document.getElementById("issue-frames");
    if (list) {
      const frames = new Set(this.issues.filter((i) => i.status !== "closed").map((i) => this.frameOf(i)).filter((f) => f !== null));
      list.replaceChildren(...[...frames].map((f) => new Option("", String(f))));
    }
  }

  /** @param {Issue} i */
  frameOf(i) {
    if (i.frame !== null) return i.frame;
    if (i.object_kind === "cuboid" && i.object_id) return this.app.cuboids.get(i.object_id)?.frame ?? null;
    return null;
  }

  render() {
    const t = this.task;
    if (!t) return;
    const mine = t.assignee === this.user, reviewing = t.reviewer === this.user && t.state === "in_review";
    const h = (/** @type {string} */ tag, /** @type {Record<string, string>} */ attrs = {}, /** @type {(Node|string)[]} */ ...kids) => {
      const e = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      e.append(...kids);
      return e;
    };
    const actions = h("div", { class: "review-actions" });
    const button = (/** @type {string} */ label, /** @type {string} */ testid, /** @type {() => Promise<void>} */ fn) => {
      const b = h("button", { type: "button", "data-testid": testid }, label);
      b.addEventListener("click", () => fn().catch((e) => this.tell(String(e.message))));
      actions.append(b);
    };
    if (mine && (t.state === "assigned" || t.state === "rejected")) button(t.state === "rejected" ? "Rework" : "Start", "task-start", () => this.act("start"));
    if (mine && t.state === "in_progress") button("Submit for review", "task-submit", () => this.act("submit"));
    if (reviewing) {
      button("Approve", "task-approve", () => this.act("approve"));
      button("Reject", "task-reject", () => this.act("reject"));
    }
    const list = h("ul", { class: "issue-list", "data-testid": "issue-list" });
    for (const i of this.issues) list.append(this.issueItem(i, h, mine, reviewing));
    for (const w of this.warnings) {
      const li = h("li", { class: "issue auto", "data-testid": "auto-issue" }, h("b", {}, w.code), ` ${w.message}`);
      li.addEventListener("click", () => this.focusObject(w.kind, w.id));
      list.append(li);
    }
    if (!list.children.length) list.append(h("li", { class: "muted" }, "no issues"));
    const parts = [h("div", { class: "muted", "data-testid": "task-info" }, `task ${t.id} · ${t.state.replace("_", " ")} · ${t.assignee ?? "unassigned"}${t.reviewer ? ` · review: ${t.reviewer}` : ""}`), actions];
    if (reviewing) parts.push(this.form ??= this.pinForm(h));  // built once: a re-render keeps what is typed
    parts.push(list);
    this.el.replaceChildren(...parts);
    this.drawMarkers();
  }

  /** @param {Issue} i @param {any} h @param {boolean} mine @param {boolean} reviewing */
  issueItem(i, h, mine, reviewing) {
    const target = i.object_kind ? `${i.object_kind} ${String(i.object_id).slice(0, 8)}` : "point";
    const li = h("li", { class: `issue status-${i.status}`, "data-testid": "review-issue", "data-status": i.status },
      h("b", {}, i.error_type.replace(/_/g, " ")), ` on ${target}${i.frame !== null ? ` (frame ${i.frame + 1})` : ""}: ${i.comment} `,
      h("span", { class: "muted" }, `[${i.status}] ${i.author}`));
    for (const c of i.thread) li.append(h("div", { class: "reply" }, `${c.author}: ${c.text}`));
    const small = (/** @type {string} */ label, /** @type {string} */ testid, /** @type {() => Promise<any>} */ fn) => {
      const b = h("button", { type: "button", "data-testid": testid }, label);
      b.addEventListener("click", (/** @type {Event} */ e) => { e.stopPropagation(); fn().then(() => this.load()).catch((err) => this.tell(String(err.message))); });
      li.append(b);
    };
    if (mine && i.status === "open") small("Resolved", "issue-resolve", () => post(`/api/issues/${i.id}/resolve`));
    if (reviewing && i.status !== "closed") small("Verified", "issue-close", () => post(`/api/issues/${i.id}/close`));
    if (reviewing && i.status === "resolved") small("Reopen", "issue-reopen", () => post(`/api/issues/${i.id}/reopen`));
    if (mine || reviewing) {
      const input = /** @type {HTMLInputElement} */ (h("input", { placeholder: "reply", "aria-label": "Reply", "data-testid": "issue-reply" }));
      input.addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
        if (e.key !== "Enter" || !input.value.trim()) return;
        post(`/api/issues/${i.id}/comments`, { text: input.value.trim() }).then(() => this.load()).catch((err) => this.tell(String(err.message)));
      });
      li.append(input);
    }
    li.addEventListener("click", () => {
      this.focused = i.id;
      const f = this.frameOf(i);
      if (f !== null && f !== this.app.frame) this.app.setFrame(f);
      if (i.object_kind === "cuboid" && i.object_id && this.app.cuboids.has(i.object_id)) this.app.select(i.object_id);
      this.drawMarkers();
    });
    return li;
  }

  /** @param {any} h */
  pinForm(h) {
    // The review error types of the task's taxonomy version (docs/taxonomy.md).
    const types = /** @type {string[]} */ (this.app.taxonomy?.error_types ?? ["other"]);
    const select = /** @type {HTMLSelectElement} */ (h("select", { "aria-label": "Error type", "data-testid": "pin-type" }));
    select.replaceChildren(...types.map((t) => new Option(t.replace(/_/g, " "), t)));
    const comment = /** @type {HTMLInputElement} */ (h("input", { placeholder: "comment", "aria-label": "Issue comment", "data-testid": "pin-comment" }));
    const form = h("div", { class: "pin-form", "data-testid": "pin-form" }, select, comment);
    const pin = (/** @type {string} */ label, /** @type {string} */ testid, /** @type {() => any} */ where) => {
      const b = h("button", { type: "button", "data-testid": testid }, label);
      b.addEventListener("click", async () => {
        const target = where();
        if (!target) { this.tell("select a box, or move the cursor over a point, first"); return; }
        try {
          await post(`/api/tasks/${this.taskId}/issues`, { error_type: select.value, comment: comment.value, frame: this.app.frame, ...target });
          comment.value = "";
          await this.load();
        } catch (e) { this.tell(String(/** @type {Error} */ (e).message)); }
      });
      form.append(b);
    };
    pin("Pin to selected box", "pin-box", () => (this.app.selected ? { object_kind: "cuboid", object_id: this.app.selected } : null));
    pin("Pin to cursor point", "pin-point", () => {
      const c = document.querySelector('[data-testid="cursor-coords"]');
      const d = /** @type {HTMLElement|null} */ (c)?.dataset;
      return d && d.x ? { point: [Number(d.x), Number(d.y), Number(d.z)] } : null;
    });
    return form;
  }

  /** @param {string} action */
  async act(action) {
    this.task = await post(`/api/tasks/${this.taskId}/${action}`);
    this.tell(`task: ${action}`);
    location.reload();  // the page's mode (edit, view, review) follows the new state
  }

  /** @param {string} kind @param {string} id */
  focusObject(kind, id) {
    if (kind !== "cuboid") return;
    const c = this.app.cuboids.get(id);
    if (!c) return;
    if (c.frame !== this.app.frame) this.app.setFrame(c.frame);
    this.app.select(id);
  }
}
