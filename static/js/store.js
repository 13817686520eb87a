// @ts-check
/** The outbox: this client's id, its next batch seq and every unacknowledged
 *  batch, kept in IndexedDB per scene so edits made offline, or before a reload
 *  or a crash, are resent with the same client id and seq (the server applies a
 *  resent batch once). A tab holds a Web Lock on the client id it uses, so two
 *  tabs never share one; a closed tab's outbox is adopted by the next tab. */

const DB_NAME = "pointlabel";
const CLIENTS = "clients";   // {key: "scene/client", scene, clientId, nextSeq}
const BATCHES = "batches";   // {client: "scene/client", seq, msg}

/** @typedef {{type: "ops", seq: number, client_id: string, ops: any[]}} OpsMessage */

/** @returns {Promise<IDBDatabase>} */
function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(CLIENTS, { keyPath: "key" }).createIndex("scene", "scene");
      req.result.createObjectStore(BATCHES, { keyPath: ["client", "seq"] });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** The sessionStorage key under which a tab remembers its client id for a scene.
 *  @param {string} lockName */
const tabKey = (lockName) => `${lockName.split("/")[0]}:tab`;

/** A random UUID, also where crypto.randomUUID is missing (insecure contexts). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** @param {IDBRequest|IDBTransaction} r @returns {Promise<any>} */
const done = (r) => new Promise((resolve, reject) => {
  if (r instanceof IDBTransaction) { r.oncomplete = () => resolve(undefined); r.onerror = r.onabort = () => reject(r.error); }
  else { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); }
});

/** Take the Web Lock `name` for the life of the page, if no other tab holds it.
 *  Without Web Locks (plain http off localhost) a tab may only take back the
 *  outbox it had before a reload: its client id is kept in sessionStorage,
 *  which is per tab.
 *  @param {string} name "pointlabel:<scene>/<client>" @returns {Promise<boolean>} */
function holdLock(name) {
  if (!navigator.locks) return Promise.resolve(sessionStorage.getItem(tabKey(name)) === name);
  return new Promise((resolve) => {
    navigator.locks.request(name, { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      return lock ? new Promise(() => {}) : undefined;
    });
  });
}

export class Outbox {
  /** @param {string} scope whose edits these are: "<task id>/<user>", so one person's
   *  offline edits never replay as another's @param {IDBDatabase|null} db @param {string} clientId
   *  @param {number} nextSeq @param {OpsMessage[]} batches */
  constructor(scope, db, clientId, nextSeq, batches) {
    this.scope = scope;
    this.db = db;
    this.clientId = clientId;
    this.nextSeq = nextSeq;
    /** Unacknowledged batches in seq order. @type {OpsMessage[]} */ this.batches = batches;
    /** Resolves when the latest write is on disk. */ this.written = Promise.resolve();
    /** @type {Map<number, Promise<void>>} seq -> when that batch is on disk */ this.saving = new Map();
    /** Why the outbox is not persisted, if it is not. */ this.problem = db ? "" : "edits are not kept across reloads (no IndexedDB)";
  }

  /** The outbox of a client id no other tab uses: an abandoned one of this task and user,
   *  or a new one. @param {string} scope "<task id>/<user>" @returns {Promise<Outbox>} */
  static async open(scope) {
    /** @type {IDBDatabase} */ let db;
    try { db = await openDb(); } catch { return new Outbox(scope, null, uuid(), 0, []); }
    const index = db.transaction(CLIENTS).objectStore(CLIENTS).index("scene");
    const records = /** @type {any[]} */ (await done(index.getAll(scope)));
    for (const rec of records) {
      if (!(await holdLock(`pointlabel:${rec.key}`))) continue;
      const range = IDBKeyRange.bound([rec.key, -Infinity], [rec.key, Infinity]);
      const rows = await done(db.transaction(BATCHES).objectStore(BATCHES).getAll(range));
      return new Outbox(scope, db, rec.clientId, rec.nextSeq, rows.map((/** @type {any} */ r) => r.msg));
    }
    const clientId = uuid();
    await holdLock(`pointlabel:${scope}/${clientId}`);
    sessionStorage.setItem(tabKey(`pointlabel:${scope}/`), `pointlabel:${scope}/${clientId}`);
    const box = new Outbox(scope, db, clientId, 0, []);
    box.write((tx) => tx.objectStore(CLIENTS).put(box.record()));
    return box;
  }

  get key() { return `${this.scope}/${this.clientId}`; }
  record() { return { key: this.key, scene: this.scope, clientId: this.clientId, nextSeq: this.nextSeq }; }

  /** Queue a write after the previous ones. @param {(tx: IDBTransaction) => void} fill */
  write(fill) {
    const db = this.db;
    if (!db) return this.written;
    this.written = this.written.catch(() => {}).then(async () => {
      const tx = db.transaction([CLIENTS, BATCHES], "readwrite", { durability: "strict" });
      fill(tx);
      await done(tx);
    });
    this.written.catch((e) => { this.problem = `could not keep edits in this browser: ${e}`; });
    return this.written;
  }

  /** Give ops the next seq and keep them until acknowledged. Returns the message at
   *  once; `saved(seq)` resolves when it is on disk. @param {any[]} ops */
  add(ops) {
    const msg = /** @type {OpsMessage} */ ({ type: "ops", seq: this.nextSeq++, client_id: this.clientId, ops });
    this.batches.push(msg);
    this.saving.set(msg.seq, this.write((tx) => {
      tx.objectStore(CLIENTS).put(this.record());
      tx.objectStore(BATCHES).put({ client: this.key, seq: msg.seq, msg });
    }));
    return msg;
  }

  /** Resolves when batch `seq` is on disk (at once for one loaded from disk). @param {number} seq */
  saved(seq) { return (this.saving.get(seq) ?? Promise.resolve()).catch(() => {}); }

  /** Forget an answered batch. @param {number} seq */
  remove(seq) {
    this.batches = this.batches.filter((m) => m.seq !== seq);
    this.saving.delete(seq);
    this.write((tx) => tx.objectStore(BATCHES).delete([this.key, seq]));
  }

  /** After an ack: later batches' ops on the objects it touched are based on the
   *  revisions it gave them (they were made before the ack was known).
   *  @param {Record<string, number|null>} revisions */
  rebase(revisions) {
    const changed = this.batches.filter((m) => m.ops.some((op) =>
      "base_revision" in op && typeof revisions[op.id] === "number" && op.base_revision !== revisions[op.id]));
    for (const m of changed) {
      for (const op of m.ops) if ("base_revision" in op && typeof revisions[op.id] === "number") op.base_revision = revisions[op.id];
    }
    if (changed.length) {
      this.write((tx) => { for (const m of changed) tx.objectStore(BATCHES).put({ client: this.key, seq: m.seq, msg: m }); });
    }
  }
}
