// The operator WebSocket: a one-time ticket from the API (browsers cannot
// set headers on a WebSocket), requests matched to their ack by ref, and
// reconnection with backoff. Listeners get every server frame by type.
import { api } from './api.js';

export class ProtocolError extends Error {
  constructor(frame) {
    super(frame.message || frame.code);
    this.code = frame.code;
    this.field = frame.field;
  }
}

export class Live {
  constructor() {
    this.ws = null;
    this.handlers = new Map();
    this.pending = new Map();
    this.nextRef = 0;
    this.stopped = true;
    this.backoff = 500;
    this.timer = null;
    this.state = 'offline';
  }

  on(type, f) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(f);
  }

  emit(type, arg) {
    for (const f of this.handlers.get(type) || []) {
      try { f(arg); } catch (e) { console.error('handler', type, e); }
    }
  }

  setState(s, detail) {
    this.state = s;
    this.emit('state', { state: s, detail });
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'logout');
    this.ws = null;
  }

  async connect() {
    if (this.stopped) return;
    this.setState('connecting');
    let ticket;
    try {
      ticket = (await api('POST', '/api/ws-ticket')).ticket;
    } catch (e) {
      if (e.status === 401) { this.stopped = true; this.setState('expired'); return; }
      this.retry();
      return;
    }
    if (this.stopped) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/ws/operator?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    ws.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      if (f.type === 'hello') { this.backoff = 500; this.setState('connected'); }
      if (f.ref && this.pending.has(f.ref) && (f.type === 'ack' || f.type === 'error')) {
        const p = this.pending.get(f.ref);
        this.pending.delete(f.ref);
        clearTimeout(p.timer);
        if (f.type === 'ack') p.resolve(f); else p.reject(new ProtocolError(f));
        return;
      }
      this.emit(f.type, f);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new ProtocolError({ code: 'disconnected', message: 'disconnected' })); }
      this.pending.clear();
      if (ev.code === 4401) { this.stopped = true; this.setState('expired'); return; }
      if (!this.stopped) this.retry();
    };
  }

  retry() {
    this.setState('reconnecting');
    clearTimeout(this.timer);
    const wait = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, 10000);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  get open() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

  // send writes a frame without waiting for a reply (typing).
  send(frame) {
    if (this.open) this.ws.send(JSON.stringify(frame));
  }

  // request sends a frame and resolves with its ack (rejects with a
  // ProtocolError on an error frame, a disconnect or a timeout).
  request(frame, timeoutMs = 15000) {
    if (!this.open) return Promise.reject(new ProtocolError({ code: 'disconnected', message: 'not connected' }));
    const ref = 'c' + (++this.nextRef);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new ProtocolError({ code: 'timeout', message: 'no answer from the server' }));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, ref }));
    });
  }
}
