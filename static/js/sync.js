// @ts-check
/** The scene websocket: hello -> snapshot (or missed events), ops -> ack/reject/
 *  conflict, live events and presence. Batches come from the persisted Outbox and
 *  go one at a time, so a batch is built on acknowledged revisions; the one in
 *  flight when the connection drops is resent unchanged (same client id and seq)
 *  after the next hello, and the server applies it once. docs/protocol.md has the
 *  wire format. */

import { Signal } from "./app.js";

/** @typedef {import("./store.js").Outbox} Outbox */

export class Sync {
  /** @param {number} taskId whose label set this edits @param {Outbox} outbox */
  constructor(taskId, outbox) {
    this.taskId = taskId;
    this.outbox = outbox;
    this.clientId = outbox.clientId;
    /** @type {WebSocket|null} */ this.ws = null;
    this.ready = false;                // the hello on this socket has been answered
    /** @type {number|null} */ this.inFlight = null;
    this.revision = -1;                // the latest scene revision this client holds
    this.error = "";                   // the last refusal, shown until the next ack
    this.preparing = 0;
    /** @type {string|null} */ this.selected = null;  // told again after a reconnect                // edits waiting on the server's geometry (fit, ground)
    this.state = "offline";
    this.retryMs = 250;
    /** @type {ReturnType<typeof setTimeout>|undefined} */ this.retryTimer = undefined;
    this.onSnapshot = new Signal();    // (snapshot)
    this.onEvent = new Signal();       // (event)
    this.onPresence = new Signal();    // (clients)
    this.onTaxonomy = new Signal();    // (taxonomy): the task moved to another taxonomy version
    this.onState = new Signal();       // (state, message)
    this.onAck = new Signal();         // (ack)
    this.onRefused = new Signal();     // (reject or conflict, the refused batch or null)
    // Chromium keeps a socket open when the network goes away (and holds its
    // frames); the browser knows better, so follow its online/offline events.
    this.started = false;
    window.addEventListener("offline", () => { if (this.started) this.drop(); });
    window.addEventListener("online", () => {
      clearTimeout(this.retryTimer);
      this.retryMs = 250;
      if (this.started && !this.ws) this.connect();
    });
  }

  /** Unacknowledged batches, oldest first. */
  get pending() { return this.outbox.batches; }

  connect() {
    this.started = true;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/ws/tasks/${this.taskId}`);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 250;
      // After a reconnect, ask only for what was missed.
      this.hello(this.revision >= 0 ? this.revision : null);
    };
    ws.onmessage = (e) => this.receive(JSON.parse(e.data));
    ws.onclose = () => { if (this.ws === ws) this.drop(); };
  }

  /** Forget the socket and try again later. */
  drop() {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    this.inFlight = null;
    if (ws) { ws.onclose = ws.onmessage = ws.onopen = null; ws.close(); }
    this.updateState();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => { if (!this.ws) this.connect(); }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 5000);
  }

  /** @param {number|null} since */
  hello(since) {
    this.ready = false;
    this.inFlight = null;
    this.ws?.send(JSON.stringify({ type: "hello", client_id: this.clientId, since_revision: since }));
  }

  /** @param {any} msg */
  receive(msg) {
    if (msg.type === "snapshot" || msg.type === "missed") {
      if (msg.type === "snapshot") this.onSnapshot.dispatch(msg);
      else for (const ev of msg.events) this.onEvent.dispatch(ev);
      this.revision = msg.revision;
      this.ready = true;
      if (this.selected) this.select(this.selected);
      this.updateState();
      this.pump();
    } else if (msg.type === "event") {
      this.revision = Math.max(this.revision, msg.revision);
      this.onEvent.dispatch(msg);
    } else if (msg.type === "presence") {
      this.onPresence.dispatch(msg.clients);
    } else if (msg.type === "taxonomy") {
      this.onTaxonomy.dispatch(msg.taxonomy);
    } else if (msg.type === "ack" || msg.type === "reject" || msg.type === "conflict") {
      this.answered(msg);
    } else if (msg.type === "error") {
      this.error = `${msg.code}: ${msg.message}`;
      this.updateState();
    }
  }

  /** @param {any} msg an ack, reject or conflict */
  answered(msg) {
    if (msg.seq !== this.inFlight) return;
    this.inFlight = null;
    const batch = this.outbox.batches.find((m) => m.seq === msg.seq) ?? null;
    this.outbox.remove(msg.seq);
    if (msg.type === "ack") {
      this.revision = Math.max(this.revision, msg.revision);
      this.outbox.rebase(msg.revisions);
      this.error = "";
      this.onAck.dispatch(msg);
      this.updateState();
      this.pump();
      return;
    }
    this.error = msg.type === "reject"
      ? `not saved: ${msg.errors.map((/** @type {any} */ e) => e.message).join("; ")}`
      : `not saved: a ${msg.kind} was changed by someone else first`;
    this.onRefused.dispatch(msg, batch);
    // The server's state is the truth again: take a fresh snapshot, then go on.
    this.hello(null);
    this.updateState();
  }

  /** Queue a batch of ops: kept in the outbox at once, sent in turn. @param {object[]} ops */
  submit(ops) {
    this.outbox.add(ops);
    this.updateState();
    this.pump();
  }

  /** Count an edit that is being prepared (e.g. waiting for the ground height) as
   *  unsaved until `work` settles. @template T @param {Promise<T>} work @returns {Promise<T>} */
  async busy(work) {
    this.preparing++;
    this.updateState();
    try { return await work; } finally { this.preparing--; this.updateState(); }
  }

  /** Send the oldest unacknowledged batch once it is on disk, if none is in flight. */
  async pump() {
    const ws = this.ws;
    const head = this.outbox.batches[0];
    if (!ws || !this.ready || this.inFlight !== null || !head) return;
    this.inFlight = head.seq;
    await this.outbox.saved(head.seq);
    if (this.ws !== ws || !this.ready || this.inFlight !== head.seq) return;
    ws.send(JSON.stringify(head));
  }

  updateState() {
    const n = this.pending.length + this.preparing;
    const kept = this.outbox.problem || `${n} edit${n === 1 ? "" : "s"} kept in this browser`;
    const open = this.ws?.readyState === WebSocket.OPEN;
    if (!open || (!this.ready && !this.error)) this.setState("offline", n ? kept : open ? "connecting…" : "reconnecting…");
    else if (this.error) this.setState("error", this.error);
    else if (this.outbox.problem) this.setState(n ? "saving" : "saved", this.outbox.problem);
    else this.setState(n ? "saving" : "saved", "");
  }

  /** @param {string} state @param {string} message */
  setState(state, message) {
    this.state = state;
    this.onState.dispatch(state, message);
  }

  /** Tell the others what this client has selected. @param {string|null} id */
  select(id) {
    this.selected = id;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "select", object_id: id }));
  }
}
