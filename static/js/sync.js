// @ts-check
/** The scene websocket: hello -> snapshot, ops -> ack/reject/conflict, live events.
 *  Unacknowledged batches are resent with the same client id and seq after a
 *  reconnect; the server applies each batch once. docs/protocol.md has the wire format. */

import { Signal } from "./app.js";

export class Sync {
  /** @param {number} sceneId */
  constructor(sceneId) {
    this.sceneId = sceneId;
    this.clientId = crypto.randomUUID();
    this.seq = 0;
    /** @type {Map<number, {msg: object, resolve: Function}>} */ this.pending = new Map();
    /** @type {WebSocket|null} */ this.ws = null;
    this.state = "offline";
    this.revision = -1;                // the latest scene revision this client holds
    this.onSnapshot = new Signal();
    this.onEvent = new Signal();
    this.onPresence = new Signal();
    this.onState = new Signal();       // (state, message)
    this.retryMs = 250;
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/ws/scenes/${this.sceneId}`);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 250;
      // After a reconnect, ask only for what was missed.
      const since = this.revision >= 0 ? this.revision : null;
      ws.send(JSON.stringify({ type: "hello", client_id: this.clientId, since_revision: since }));
    };
    ws.onmessage = (e) => this.receive(JSON.parse(e.data));
    ws.onclose = () => {
      this.setState("offline", "reconnecting…");
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 5000);
    };
  }

  /** @param {any} msg */
  receive(msg) {
    if (msg.type === "snapshot" || msg.type === "missed") {
      if (msg.type === "snapshot") this.onSnapshot.dispatch(msg);
      else for (const ev of msg.events) this.onEvent.dispatch(ev);
      this.revision = msg.revision;
      for (const p of this.pending.values()) this.ws?.send(JSON.stringify(p.msg));
      if (this.state !== "error") this.updateState();
    } else if (msg.type === "event") {
      this.revision = Math.max(this.revision, msg.revision);
      this.onEvent.dispatch(msg);
    } else if (msg.type === "presence") {
      this.onPresence.dispatch(msg.clients);
    } else if (msg.type === "ack" || msg.type === "reject" || msg.type === "conflict") {
      const p = this.pending.get(msg.seq);
      this.pending.delete(msg.seq);
      if (msg.type === "reject") {
        this.setState("error", msg.errors.map((/** @type {any} */ e) => `${e.code}: ${e.message}`).join("; "));
      } else if (msg.type === "conflict") {
        this.setState("error", `conflict: ${msg.kind} ${msg.id} was changed by someone else`);
      } else {
        this.revision = Math.max(this.revision, msg.revision);
        this.updateState();
      }
      p?.resolve(msg);
    } else if (msg.type === "error") {
      this.setState("error", `${msg.code}: ${msg.message}`);
    }
  }

  /** Send a batch of ops; resolves with the server's ack, reject or conflict.
   *  @param {object[]} ops @returns {Promise<any>} */
  send(ops) {
    const seq = ++this.seq;
    const msg = { type: "ops", seq, client_id: this.clientId, ops };
    return new Promise((resolve) => {
      this.pending.set(seq, { msg, resolve });
      this.setState("saving", "");
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    });
  }

  updateState() {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    this.setState(this.pending.size ? "saving" : "saved", "");
  }

  /** @param {string} state @param {string} message */
  setState(state, message) {
    this.state = state;
    this.onState.dispatch(state, message);
  }

  /** Tell the others what this client has selected. @param {string|null} id */
  select(id) {
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "select", object_id: id }));
    }
  }

  /** Ask for a fresh snapshot (after a reject or a conflict). */
  resync() {
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "hello", client_id: this.clientId }));
    }
  }
}
