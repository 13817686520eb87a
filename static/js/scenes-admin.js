// @ts-check
/** Scenes on the home page (docs/workspace.md), for those who may upload: upload
 *  one or many point-cloud files with a progress bar per file (a file the server
 *  already has asks before it makes a duplicate), and a searchable list with each
 *  scene's size, frames, labels and last edit, to rename or delete (asking first;
 *  tiles no other scene uses go with it). */

import { csrfToken } from "./session.js";

/** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node|string)[]} kids */
function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

/** "12.3 MB". @param {number} bytes */
export function size(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes, i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** JSON request with the CSRF header; the answer, or an Error with the server's words.
 *  @param {string} method @param {string} url @param {any} [body] */
async function send(method, url, body) {
  const r = await fetch(url, { method, headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.message || `HTTP ${r.status}`);
  return data;
}

/** Upload one file as the raw body, telling `progress` the fraction sent.
 *  @param {File} file @param {boolean} allowDuplicate @param {(f: number) => void} progress
 *  @returns {Promise<{status: number, body: any}>} */
function uploadFile(file, allowDuplicate, progress) {
  return new Promise((resolve, reject) => {
    const q = new URLSearchParams({ filename: file.name, ...(allowDuplicate ? { duplicate: "allow" } : {}) });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/scenes?${q}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      resolve({ status: xhr.status, body });
    };
    xhr.onerror = () => reject(new Error("the connection failed"));
    xhr.send(file);
  });
}

/** The file names an upload takes (the ingest's formats). */
const CLOUD = /\.(las|laz|pcd|ply|bin|npy)$/i;

export class ScenesAdmin {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    const input = /** @type {HTMLInputElement} */ (h("input", { type: "file", multiple: "", "data-testid": "upload-input",
      "aria-label": "Point-cloud files to upload", accept: ".las,.laz,.pcd,.ply,.bin,.npy" }));
    input.onchange = () => { const files = [...(input.files ?? [])]; input.value = ""; this.uploadAll(files); };
    // A folder: every point-cloud file in it (and below), one scene each; other files are left out.
    const folder = /** @type {HTMLInputElement} */ (h("input", { type: "file", webkitdirectory: "", multiple: "",
      "data-testid": "upload-folder-input", "aria-label": "A folder of point-cloud files to upload" }));
    folder.onchange = () => {
      const files = [...(folder.files ?? [])].filter((f) => CLOUD.test(f.name));
      folder.value = "";
      this.uploadAll(files);
    };
    this.search = /** @type {HTMLInputElement} */ (h("input", { type: "search", placeholder: "search scenes",
      "aria-label": "Search scenes", "data-testid": "scene-search" }));
    this.search.oninput = () => this.load();
    this.uploads = h("ul", { class: "uploads", "data-testid": "uploads" });
    this.table = h("tbody");
    /** @type {number|undefined} the latest list request */ this.asked = undefined;
    /** @type {number|null} the scene whose name is being edited: the list is not redrawn under it */
    this.renaming = null;
    /** @type {any[]} the latest list, drawn once no rename is open */ this.scenes = [];
    root.replaceChildren(
      h("p", {}, h("label", {}, "Upload point clouds (one scene per file) ", input), " ",
        h("label", {}, "or a folder of them ", folder), " ", this.search),
      this.uploads,
      h("table", { class: "scenes", "aria-label": "Scene files", "data-testid": "scene-admin-table" },
        h("thead", {}, h("tr", {}, ...["#", "Name", "Frames", "Points", "Size", "Labels", "Last edit", ""].map((t) => h("th", {}, t)))),
        this.table));
    this.load();
  }

  async load() {
    const q = this.search.value.trim();
    const asked = (this.asked = (this.asked ?? 0) + 1);
    const scenes = await fetch(`/api/scenes${q ? `?q=${encodeURIComponent(q)}` : ""}`).then((r) => r.json());
    if (asked !== this.asked) return;  // a later search answers instead
    this.scenes = scenes;
    if (this.renaming === null) this.render();  // an upload finishing must not drop a rename in progress
  }

  render() {
    this.table.replaceChildren(...this.scenes.map((/** @type {any} */ s) => this.row(s)));
  }

  /** @param {any} s */
  row(s) {
    const name = h("span", { "data-testid": "scene-name" }, s.name);
    const rename = h("button", { type: "button", "data-testid": "scene-rename" }, "Rename");
    rename.onclick = () => {
      const field = /** @type {HTMLInputElement} */ (h("input", { value: s.name, "aria-label": "New scene name", "data-testid": "scene-rename-input" }));
      name.replaceWith(field);
      this.renaming = s.id;
      field.focus();
      field.onkeydown = async (e) => {
        if (e.key === "Escape") { this.renaming = null; this.load(); return; }
        if (e.key !== "Enter") return;
        try { await send("PATCH", `/api/scenes/${s.id}`, { name: field.value }); } catch (err) { alert(String(/** @type {Error} */ (err).message)); }
        this.renaming = null;
        this.load();
      };
    };
    const del = h("button", { type: "button", "data-testid": "scene-delete" }, "Delete");
    del.onclick = async () => {
      const labels = s.cuboids ? ` and its ${s.cuboids} boxes in ${s.tasks} task${s.tasks === 1 ? "" : "s"}` : "";
      if (!confirm(`Delete scene ${s.id} "${s.name}"${labels}? Its tiles that no other scene uses are removed. This cannot be undone.`)) return;
      try { await send("DELETE", `/api/scenes/${s.id}`); } catch (err) { alert(String(/** @type {Error} */ (err).message)); }
      this.load();
    };
    const when = s.last_edit ? new Date(s.last_edit).toLocaleString() : "never";
    return h("tr", { "data-scene-id": String(s.id), "data-testid": "scene-row" },
      h("td", {}, String(s.id)), h("td", {}, name), h("td", {}, String(s.frame_count)),
      h("td", {}, Number(s.point_count).toLocaleString()), h("td", {}, size(s.bytes)),
      h("td", {}, `${s.tracks} tracks · ${s.cuboids} boxes`), h("td", {}, when), h("td", {}, rename, " ", del));
  }

  /** @param {File[]} files */
  async uploadAll(files) {
    for (const file of files) await this.uploadOne(file);
    this.load();
  }

  /** @param {File} file */
  async uploadOne(file) {
    const bar = /** @type {HTMLProgressElement} */ (h("progress", { max: "1", value: "0", "aria-label": `Upload of ${file.name}` }));
    const status = h("span", { class: "muted", "data-testid": "upload-status" }, "sending…");
    const item = h("li", { "data-testid": "upload", "data-file": file.name }, `${file.name} (${size(file.size)}) `, bar, " ", status);
    this.uploads.append(item);
    let allow = false;
    for (;;) {
      let answer;
      try {
        answer = await uploadFile(file, allow, (f) => {
          bar.value = f;
          item.dataset.progress = f.toFixed(2);
          status.textContent = f < 1 ? `${Math.round(f * 100)} %` : "reading the points…";
        });
      } catch (e) {
        status.textContent = `failed: ${/** @type {Error} */ (e).message}`;
        item.dataset.state = "failed";
        return;
      }
      const { status: code, body } = answer;
      if (code === 409 && body.code === "duplicate_scene" && !allow && confirm(`${file.name}: ${body.message}. Upload it again anyway?`)) {
        allow = true;
        continue;
      }
      if (code >= 400) {
        status.textContent = `not stored: ${body.message ?? `HTTP ${code}`}`;
        item.dataset.state = "failed";
        return;
      }
      bar.value = 1;
      item.dataset.state = "done";
      status.replaceChildren(`scene ${body.scene_id}: ${body.frames} frame${body.frames === 1 ? "" : "s"}, ${Number(body.points).toLocaleString()} points `,
        h("a", { href: `/tasks/${body.task_id}`, "data-testid": "upload-open" }, "open"));
      return;
    }
  }
}

const root = document.getElementById("scene-admin");
if (root) new ScenesAdmin(root);
