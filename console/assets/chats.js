// Live chats: incoming offers, the operator's open chats in tabs, each with
// its messages, typing, composer, visitor details and notes; supervisors'
// watched chats appear here read-only.
import { h, replace, field } from './dom.js';
import { t, fmtTime, systemNotice } from './i18n.js';
import { api, all } from './api.js';
import { modal, confirmDialog, toast, errorText } from './ui.js';

const offers = new Map(); // chat_id -> chat.offer frame
const chats = new Map(); // chat_id -> chat state (see newChat)
const queues = new Map(); // department_id -> waiting
let activeId = null;
let app = null;
let root = null; // the view's container while the chats view is shown
let sideEl = null;
let mainEl = null;

// retryable protocol errors: the message was not stored; sending it again
// with the same client_msg_id is safe.
const retryable = new Set(['disconnected', 'timeout', 'unavailable', 'rate_limited', 'internal']);

function newID() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function newChat(id, init) {
  return {
    id, mode: 'active', status: 'ongoing', visitor: {}, department: null, operator: null, question: '',
    messages: new Map(), pending: new Map(), lastSeq: 0, typing: null, typingTimer: null,
    myTyping: false, myTypingTimer: null, unread: 0, detail: null, notes: [], draft: '',
    transferredTo: '', pane: null, ...init,
  };
}

function ensureChat(id, init = {}) {
  let c = chats.get(id);
  if (!c) {
    c = newChat(id, init);
    chats.set(id, c);
  } else {
    for (const [k, v] of Object.entries(init)) if (v !== undefined && v !== null) c[k] = v;
  }
  return c;
}

// reset forgets everything live (logout).
export function reset() {
  offers.clear();
  chats.clear();
  queues.clear();
  activeId = null;
}

export function offerCount() { return offers.size; }
export function openChatCount() { return [...chats.values()].filter((c) => c.status === 'ongoing').length; }

// ---- sound and notifications -------------------------------------------

let audio = null;
export function unlockAudio() {
  try {
    if (!audio) audio = new AudioContext();
    if (audio.state === 'suspended') audio.resume();
  } catch { /* no audio: the offer still shows */ }
}

function beep() {
  const el = document.getElementById('app');
  el.dataset.beeps = String(Number(el.dataset.beeps || 0) + 1);
  try {
    if (!audio) audio = new AudioContext();
    const now = audio.currentTime;
    for (const [start, freq] of [[0, 880], [0.22, 1175]]) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.type = 'sine';
      o.frequency.value = freq;
      g.gain.setValueAtTime(0.0001, now + start);
      g.gain.exponentialRampToValueAtTime(0.25, now + start + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.2);
      o.connect(g).connect(audio.destination);
      o.start(now + start);
      o.stop(now + start + 0.21);
    }
  } catch { /* autoplay refused before any click: the visual offer remains */ }
}

export function askNotificationPermission() {
  if ('Notification' in window && Notification.permission === 'default') {
    Notification.requestPermission().catch(() => {});
  }
}

function notify(offer) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  try {
    const n = new Notification(t('offers.notify', { name: offer.visitor?.name || t('visitor.anonymous') }), {
      body: offer.question || offer.department?.name || '', tag: 'offer-' + offer.chat_id,
    });
    n.onclick = () => { window.focus(); app.show('chats'); n.close(); };
  } catch { /* some browsers allow notifications only from a service worker */ }
}

// ---- protocol ------------------------------------------------------------

export function initChats(theApp) {
  app = theApp;
  const live = app.live;
  live.on('hello', async (f) => {
    app.setStatus(f.status);
    app.helloDepartments = f.departments || [];
    const open = new Set((f.chats || []).map((c) => c.chat_id));
    for (const ref of f.chats || []) ensureChat(ref.chat_id, { mode: 'active', status: 'ongoing' });
    for (const c of chats.values()) {
      if (c.mode === 'active' && c.status === 'ongoing' && !open.has(c.id)) {
        loadDetail(c); // ended, requeued or transferred while we were away
        continue;
      }
      if (c.mode === 'watch') {
        live.request({ type: 'chat.monitor', chat_id: c.id, on: true }).catch(() => {});
        continue;
      }
      if (open.has(c.id)) {
        resume(c).then(() => { if (!c.detail) loadDetail(c); });
      }
    }
    render();
  });
  live.on('state', ({ state }) => {
    // The router revokes an operator's offers when its connection drops;
    // after reconnecting it offers again what is still waiting.
    if (state !== 'connected' && offers.size) { offers.clear(); render(); }
  });
  live.on('chat.offer', (f) => {
    const isNew = !offers.has(f.chat_id);
    offers.set(f.chat_id, f);
    if (isNew) { beep(); notify(f); }
    render();
  });
  live.on('chat.offer_revoked', (f) => { offers.delete(f.chat_id); render(); });
  live.on('message', (f) => {
    const c = chats.get(f.chat_id);
    if (c) addMessage(c, f);
  });
  live.on('typing', (f) => {
    const c = chats.get(f.chat_id);
    if (!c || (f.from && f.from.kind === 'operator' && f.from.id === app.me.id)) return;
    clearTimeout(c.typingTimer);
    c.typing = f.on ? f.from : null;
    // A lost "off" must not leave the indicator on for ever.
    if (f.on) c.typingTimer = setTimeout(() => { c.typing = null; renderTyping(c); }, 8000);
    renderTyping(c);
  });
  live.on('chat.assigned', (f) => {
    const c = chats.get(f.chat_id);
    if (c) { c.operator = f.operator; renderHeader(c); }
  });
  live.on('chat.transferred', (f) => {
    const me = app.me.id;
    if (f.to_operator && f.to_operator.id === me) {
      const c = ensureChat(f.chat_id, { mode: 'active', status: 'ongoing', department: f.to_department });
      c.pane = null;
      resume(c).then(() => loadDetail(c));
    } else {
      const c = chats.get(f.chat_id);
      if (c && c.mode === 'active') {
        c.status = 'transferred';
        c.transferredTo = f.to_operator ? f.to_operator.name : '';
      } else if (c) {
        c.operator = f.to_operator;
      }
    }
    render();
  });
  live.on('chat.transfer_failed', (f) => {
    toast(t('chat.transfer.failed', { reason: f.reason }), 'error');
  });
  live.on('chat.ended', (f) => {
    const c = chats.get(f.chat_id);
    if (c && c.status !== 'transferred') { c.status = 'ended'; stopMyTyping(c); }
    offers.delete(f.chat_id);
    render();
  });
  live.on('chat.requeued', (f) => {
    const c = chats.get(f.chat_id);
    if (c) c.status = 'requeued';
    render();
  });
  live.on('queue', (f) => { queues.set(f.department_id, f.waiting); renderSide(); });
  live.on('error', (f) => toast(t('common.error', { msg: f.message || f.code }), 'error'));
}

async function resume(c) {
  try {
    const ack = await app.live.request({ type: 'chat.resume', chat_id: c.id, after_seq: c.lastSeq });
    if (ack.status === 'completed' || ack.status === 'missed') c.status = 'ended';
    for (const cmid of c.pending.keys()) trySend(c, cmid);
  } catch (e) {
    if (e.code === 'forbidden' || e.code === 'not_found') { c.status = c.status === 'ongoing' ? 'ended' : c.status; render(); }
  }
}

async function loadDetail(c) {
  try {
    const d = await api('GET', `/api/chats/${encodeURIComponent(c.id)}`);
    c.detail = d;
    c.visitor = { ...c.visitor, ...d.visitor };
    c.department = d.department;
    c.question = d.question;
    c.notes = d.notes || [];
    if (c.mode === 'active' && c.status === 'ongoing' && (d.status !== 'ongoing' || !d.operator || d.operator.id !== app.me.id)) {
      c.status = d.status === 'ongoing' || d.status === 'queued' ? 'requeued' : 'ended';
    }
    for (const m of d.messages || []) {
      addMessage(c, { seq: m.seq, from: { kind: m.from_kind, id: m.from_id, name: m.from_name }, body: m.body, at: m.at }, true);
    }
  } catch (e) {
    // An operator transferred a chat of a department it is not in cannot
    // read the detail; the offer's visitor data stays.
    if (e.status !== 404 && e.status !== 403) toast(errorText(e), 'error');
  }
  if (c.pane) { renderInfo(c); renderMessages(c); renderHeader(c); }
  renderSide();
}

function addMessage(c, f, quiet) {
  if (c.messages.has(f.seq)) return;
  c.messages.set(f.seq, { seq: f.seq, from: f.from || {}, body: f.body, at: f.at, cmid: f.client_msg_id });
  if (f.client_msg_id) c.pending.delete(f.client_msg_id);
  if (f.seq > c.lastSeq) c.lastSeq = f.seq;
  if (!quiet && c.id !== activeId && f.from && f.from.kind === 'visitor') { c.unread++; renderSide(); }
  if (f.from && f.from.kind === 'visitor' && c.typing) { c.typing = null; renderTyping(c); }
  renderMessages(c);
}

function sendMessage(c, body) {
  const cmid = newID();
  c.pending.set(cmid, { cmid, body, state: 'sending' });
  stopMyTyping(c);
  trySend(c, cmid);
}

async function trySend(c, cmid) {
  const p = c.pending.get(cmid);
  if (!p) return;
  p.state = 'sending';
  renderMessages(c);
  try {
    const ack = await app.live.request({ type: 'message.send', chat_id: c.id, client_msg_id: cmid, body: p.body });
    addMessage(c, { seq: ack.seq, client_msg_id: cmid, from: { kind: 'operator', id: app.me.id, name: app.me.name }, body: p.body, at: ack.at });
  } catch (e) {
    if (!c.pending.has(cmid)) return;
    p.state = 'failed';
    renderMessages(c);
    if (!retryable.has(e.code)) { c.pending.delete(cmid); toast(errorText(e), 'error'); renderMessages(c); return; }
    if (e.code === 'rate_limited' || e.code === 'unavailable') setTimeout(() => trySend(c, cmid), 1500);
    // disconnected: the hello after reconnecting resends it.
  }
}

function typed(c) {
  if (!c.myTyping) {
    c.myTyping = true;
    app.live.send({ type: 'typing', chat_id: c.id, on: true });
  }
  clearTimeout(c.myTypingTimer);
  c.myTypingTimer = setTimeout(() => stopMyTyping(c), 3000);
}

function stopMyTyping(c) {
  clearTimeout(c.myTypingTimer);
  if (c.myTyping) {
    c.myTyping = false;
    app.live.send({ type: 'typing', chat_id: c.id, on: false });
  }
}

async function accept(offer) {
  const id = offer.chat_id;
  try {
    await app.live.request({ type: 'chat.accept', chat_id: id });
  } catch (e) {
    offers.delete(id);
    toast(e.code === 'already_taken' ? t('offers.taken') : errorText(e), 'error');
    render();
    return;
  }
  offers.delete(id);
  const c = ensureChat(id, { mode: 'active', status: 'ongoing', visitor: offer.visitor, department: offer.department, question: offer.question });
  c.pane = null;
  activeId = id;
  render();
  await resume(c);
  loadDetail(c);
}

async function decline(offer) {
  offers.delete(offer.chat_id);
  render();
  try {
    await app.live.request({ type: 'chat.decline', chat_id: offer.chat_id });
  } catch (e) {
    if (e.code !== 'not_found') toast(errorText(e), 'error');
  }
}

// openChat joins a chat that became the operator's outside the socket (a
// reopen "to me" through the API): resume it from the start and show it.
export async function openChat(id) {
  const c = ensureChat(id, { mode: 'active', status: 'ongoing' });
  c.pane = null;
  activeId = id;
  app.show('chats');
  await resume(c);
  loadDetail(c);
}

// watch starts monitoring a chat (supervisors) and shows it here.
export async function watch(row) {
  const c = ensureChat(row.id, { mode: 'watch', status: 'ongoing', visitor: row.visitor, department: row.department, operator: row.operator });
  try {
    await app.live.request({ type: 'chat.monitor', chat_id: row.id, on: true });
  } catch (e) {
    chats.delete(row.id);
    toast(errorText(e), 'error');
    return;
  }
  activeId = row.id;
  loadDetail(c);
  app.show('chats');
}

async function unwatch(c) {
  try { await app.live.request({ type: 'chat.monitor', chat_id: c.id, on: false }); } catch { /* gone anyway */ }
  closeTab(c);
}

async function takeOver(c) {
  try {
    await app.live.request({ type: 'chat.accept', chat_id: c.id });
    c.mode = 'active';
    c.status = 'ongoing';
    c.pane = null;
    await resume(c);
    render();
  } catch (e) { toast(errorText(e), 'error'); }
}

function closeTab(c) {
  chats.delete(c.id);
  if (activeId === c.id) activeId = [...chats.keys()][0] || null;
  render();
}

// ---- dialogs -------------------------------------------------------------

async function transferDialog(c) {
  let depts = [];
  let ops = [];
  try {
    [depts, ops] = await Promise.all([all('/api/departments'), all('/api/operators')]);
  } catch (e) { toast(errorText(e), 'error'); return; }
  const deptSel = h('select', { sb: 'transfer-department', name: 'department_id' },
    h('option', { value: '' }, t('transfer.choose')),
    depts.filter((d) => d.enabled).map((d) => h('option', { value: d.id },
      d.visibility === 'private' ? `${d.name} (${t('transfer.private')})` : d.name)));
  const opSel = h('select', { sb: 'transfer-operator', name: 'operator_id' },
    h('option', { value: '' }, t('transfer.choose')),
    ops.filter((o) => o.id !== app.me.id && o.enabled).map((o) => h('option', { value: o.id, disabled: o.status !== 'online' },
      `${o.name} — ${t('status.' + o.status)}`)));
  deptSel.addEventListener('change', () => { if (deptSel.value) opSel.value = ''; });
  opSel.addEventListener('change', () => { if (opSel.value) deptSel.value = ''; });
  const note = h('textarea', { sb: 'transfer-note', rows: 3, maxlength: 1000 });
  await modal({
    title: t('transfer.title'), sb: 'transfer-dialog',
    body: h('div', {}, field(t('transfer.department'), deptSel), field(t('transfer.operator'), opSel), field(t('transfer.note'), note)),
    buttons: [{ label: t('common.cancel'), sb: 'transfer-cancel', value: 'cancel' },
      { label: t('transfer.submit'), sb: 'transfer-submit', value: 'ok', submit: true, class: 'primary' }],
    onSubmit: async () => {
      const frame = { type: 'chat.transfer', chat_id: c.id, note: note.value.trim() };
      if (deptSel.value) frame.department_id = deptSel.value;
      else if (opSel.value) frame.operator_id = opSel.value;
      else { deptSel.focus(); return false; }
      await app.live.request(frame);
      toast(t('chat.transfer.sent'));
      return true;
    },
  });
}

async function blockDialog(c) {
  const reason = h('input', { type: 'text', sb: 'block-reason', maxlength: 1000 });
  const expires = h('input', { type: 'datetime-local', sb: 'block-expires' });
  await modal({
    title: t('block.title'), sb: 'block-dialog',
    body: h('div', {}, field(t('block.reason'), reason), field(t('block.expires'), expires)),
    buttons: [{ label: t('common.cancel'), sb: 'block-cancel', value: 'cancel' },
      { label: t('block.submit'), sb: 'block-submit', value: 'ok', submit: true, class: 'danger' }],
    onSubmit: async () => {
      const frame = { type: 'visitor.block', chat_id: c.id };
      if (reason.value.trim()) frame.reason = reason.value.trim();
      if (expires.value) frame.expires_at = new Date(expires.value).toISOString();
      const ack = await app.live.request(frame);
      toast(t('block.done', { ip: ack.ip }));
      return true;
    },
  });
}

async function endChat(c) {
  if (!(await confirmDialog(t('chat.end.confirm'), { okLabel: t('chat.end') }))) return;
  try {
    await app.live.request({ type: 'chat.end', chat_id: c.id });
  } catch (e) { toast(errorText(e), 'error'); }
}

async function addNote(c, input) {
  const body = input.value.trim();
  if (!body) return;
  try {
    const n = await api('POST', `/api/chats/${encodeURIComponent(c.id)}/notes`, { body });
    c.notes.push(n);
    input.value = '';
    renderInfo(c);
  } catch (e) { toast(errorText(e), 'error'); }
}

// ---- rendering ------------------------------------------------------------

export function chatsView(container) {
  root = container;
  sideEl = h('aside', { class: 'chat-side', sb: 'chat-side' });
  mainEl = h('section', { class: 'chat-main', sb: 'chat-main' });
  replace(container, h('div', { class: 'chats-view' }, sideEl, mainEl));
  render();
}

export function leaveChatsView() { root = null; }

// relocalize drops built panes so they are rebuilt in the new language.
export function relocalize() { for (const c of chats.values()) c.pane = null; }

function render() {
  app.updateBadges();
  if (!root || !root.isConnected) return;
  renderSide();
  renderMain();
}

function visitorName(c) {
  return (c.visitor && c.visitor.name) || t('visitor.anonymous');
}

function renderSide() {
  app.updateBadges();
  if (!root || !root.isConnected || !sideEl) return;
  const deptName = (id) => (app.helloDepartments.find((d) => d.id === id) || {}).name || id;
  const queueLines = [...queues.entries()].filter(([, n]) => n > 0).map(([id, n]) =>
    h('li', { sb: 'queue', data: { departmentId: id, waiting: n } }, t('chats.queue', { dept: deptName(id), n })));
  const offerItems = [...offers.values()].map((o) => h('li', { class: 'offer', sb: 'offer', data: { chatId: o.chat_id } },
    h('div', { class: 'offer-who' }, h('strong', {}, o.visitor?.name || t('visitor.anonymous')),
      o.visitor?.email ? h('span', { class: 'muted' }, ' ' + o.visitor.email) : null),
    h('div', { class: 'muted' }, o.department?.name || ''),
    o.question ? h('div', { class: 'offer-question', sb: 'offer-question' }, o.question) : null,
    o.transfer ? h('div', { class: 'offer-transfer', sb: 'offer-transfer' },
      t('offers.transfer', { op: o.transfer.from_operator?.name || '', dept: o.transfer.from_department?.name || '' }),
      o.transfer.note ? h('div', {}, t('offers.note', { note: o.transfer.note })) : null) : null,
    o.expires_at ? h('div', { class: 'muted small' }, t('offers.expires', { time: fmtTime(o.expires_at, false) })) : null,
    h('div', { class: 'buttons' },
      h('button', { class: 'primary', sb: 'accept', onclick: () => accept(o) }, t('offers.accept')),
      h('button', { sb: 'decline', onclick: () => decline(o) }, t('offers.decline')))));
  const tabs = [...chats.values()].map((c) => h('li', {},
    h('button', {
      class: 'tab' + (c.id === activeId ? ' active' : ''), sb: 'chat-tab', role: 'tab',
      'aria-selected': c.id === activeId ? 'true' : 'false',
      data: { chatId: c.id, status: c.status, mode: c.mode, unread: c.unread },
      onclick: () => { activeId = c.id; c.unread = 0; render(); },
    }, h('span', { class: 'tab-name' }, visitorName(c)),
    c.mode === 'watch' ? h('span', { class: 'pill' }, t('tab.watching')) : null,
    c.status !== 'ongoing' ? h('span', { class: 'pill muted' }, t('tab.closed')) : null,
    c.unread ? h('span', { class: 'badge' }, String(c.unread)) : null)));
  replace(sideEl,
    h('h2', {}, t('offers.title')),
    queueLines.length ? h('ul', { class: 'queues' }, queueLines) : null,
    offerItems.length ? h('ul', { class: 'offers', sb: 'offers' }, offerItems) : h('p', { class: 'muted', sb: 'no-offers' }, t('offers.none')),
    h('h2', {}, t('chats.title')),
    tabs.length ? h('ul', { class: 'tabs', role: 'tablist', sb: 'chat-tabs' }, tabs) : h('p', { class: 'muted' }, t('chats.none')));
}

function renderMain() {
  if (!mainEl) return;
  const c = activeId && chats.get(activeId);
  if (!c) {
    replace(mainEl, h('p', { class: 'placeholder muted' }, chats.size ? t('chats.pick') : t('chats.none')));
    return;
  }
  c.unread = 0;
  if (!c.pane) buildPane(c);
  if (mainEl.firstChild !== c.pane.el) replace(mainEl, c.pane.el);
  renderHeader(c);
  renderMessages(c);
  renderTyping(c);
  renderInfo(c);
}

function buildPane(c) {
  const p = {};
  p.title = h('h2', { class: 'chat-title', sb: 'chat-title' });
  p.status = h('p', { class: 'chat-state', sb: 'chat-state' });
  p.actions = h('div', { class: 'buttons chat-actions' });
  p.list = h('ol', { class: 'messages', sb: 'messages', 'aria-live': 'polite' });
  p.typing = h('p', { class: 'typing', sb: 'typing', hidden: true });
  p.input = h('textarea', { sb: 'input', rows: 3, placeholder: t('chat.placeholder'), 'aria-label': t('chat.placeholder') });
  p.input.value = c.draft;
  p.input.addEventListener('input', () => { c.draft = p.input.value; if (p.input.value) typed(c); else stopMyTyping(c); });
  p.input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); p.form.requestSubmit(); }
  });
  p.send = h('button', { type: 'submit', class: 'primary', sb: 'send' }, t('chat.send'));
  p.form = h('form', { class: 'composer', sb: 'composer' }, p.input, p.send);
  p.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = p.input.value;
    if (!body.trim() || c.status !== 'ongoing' || c.mode !== 'active') return;
    sendMessage(c, body);
    p.input.value = '';
    c.draft = '';
    p.input.focus();
  });
  p.info = h('aside', { class: 'visitor-info', sb: 'visitor-info' });
  // The note form lives as long as the pane, so a half-typed note survives
  // re-renders.
  p.noteInput = h('textarea', { sb: 'note-input', rows: 2, placeholder: t('notes.placeholder') });
  p.noteForm = h('form', { class: 'note-form', onsubmit: (ev) => { ev.preventDefault(); addNote(c, p.noteInput); } },
    p.noteInput, h('button', { type: 'submit', sb: 'add-note' }, t('notes.add')));
  p.el = h('div', { class: 'pane', sb: 'chat-pane', data: { chatId: c.id } },
    h('div', { class: 'chat-col' }, h('header', { class: 'chat-head' }, h('div', {}, p.title, p.status), p.actions),
      p.list, p.typing, p.form),
    p.info);
  c.pane = p;
}

function renderHeader(c) {
  const p = c.pane;
  if (!p) return;
  replace(p.title, visitorName(c));
  p.el.dataset.status = c.status;
  p.el.dataset.mode = c.mode;
  let state = c.department ? c.department.name : '';
  if (c.mode === 'watch') state = `${t('chat.watching')} · ${c.operator ? c.operator.name : ''}`;
  if (c.status === 'ended') state = t('chat.ended');
  if (c.status === 'transferred') state = t('chat.transferred', { op: c.transferredTo });
  if (c.status === 'requeued') state = t('chat.requeued');
  replace(p.status, state);
  const open = c.status === 'ongoing';
  const buttons = [];
  if (c.mode === 'active' && open) {
    buttons.push(h('button', { sb: 'transfer', onclick: () => transferDialog(c) }, t('chat.transfer')));
    buttons.push(h('button', { sb: 'block', class: 'danger', onclick: () => blockDialog(c) }, t('chat.block')));
    buttons.push(h('button', { sb: 'end', onclick: () => endChat(c) }, t('chat.end')));
  }
  if (c.mode === 'watch' && open) {
    buttons.push(h('button', { sb: 'take-over', onclick: () => takeOver(c) }, t('chat.takeover')));
    buttons.push(h('button', { sb: 'unwatch', onclick: () => unwatch(c) }, t('chat.unwatch')));
  }
  if (!open || c.mode === 'watch') {
    if (!open) buttons.push(h('button', { sb: 'close-chat', onclick: () => (c.mode === 'watch' ? unwatch(c) : closeTab(c)) }, t('chat.close')));
  }
  replace(p.actions, buttons);
  const canWrite = c.mode === 'active' && open;
  p.form.hidden = !canWrite;
  p.input.disabled = !canWrite;
  p.send.disabled = !canWrite;
}


function renderMessages(c) {
  const p = c.pane;
  if (!p) return;
  const atBottom = p.list.scrollHeight - p.list.scrollTop - p.list.clientHeight < 40;
  const items = [...c.messages.values()].sort((a, b) => a.seq - b.seq).map((m) => {
    const kind = m.from.kind || 'system';
    const mine = kind === 'operator' && m.from.id === app.me.id;
    if (kind === 'system') {
      return h('li', { class: 'msg system', sb: 'message', data: { from: 'system', seq: m.seq, key: m.from.id } }, systemNotice(m.from.id, m.body));
    }
    return h('li', { class: `msg ${kind}${mine ? ' mine' : ''}`, sb: 'message', data: { from: kind, seq: m.seq, state: 'sent' } },
      h('div', { class: 'msg-meta' }, h('span', { class: 'who' }, m.from.name || (kind === 'visitor' ? visitorName(c) : '')), ' ',
        h('time', { datetime: m.at }, fmtTime(m.at, false))),
      h('div', { class: 'msg-body', sb: 'message-body' }, m.body));
  });
  for (const pm of c.pending.values()) {
    items.push(h('li', { class: 'msg operator mine pending', sb: 'message', data: { from: 'operator', state: pm.state === 'failed' ? 'failed' : 'sending' } },
      h('div', { class: 'msg-meta' }, h('span', { class: 'who' }, app.me.name), ' ',
        h('span', { class: 'muted' }, pm.state === 'failed' ? t('chat.failed') : t('chat.sending'))),
      h('div', { class: 'msg-body', sb: 'message-body' }, pm.body)));
  }
  replace(p.list, items);
  if (atBottom || c.messages.size < 3) p.list.scrollTop = p.list.scrollHeight;
}

function renderTyping(c) {
  const p = c.pane;
  if (!p) return;
  p.typing.hidden = !c.typing;
  p.typing.textContent = c.typing ? t('chat.typing', { name: c.typing.name || (c.typing.kind === 'visitor' ? visitorName(c) : '') }) : '';
}

function renderInfo(c) {
  const p = c.pane;
  if (!p) return;
  const v = c.visitor || {};
  const row = (label, value, sb) => [h('dt', {}, label), h('dd', { sb }, value || t('common.none'))];
  const prev = (c.detail && c.detail.visitor && c.detail.visitor.previous_chats) || [];
  replace(p.info,
    h('h3', {}, t('visitor.title')),
    h('dl', { class: 'facts' },
      row(t('visitor.name'), v.name, 'visitor-name'),
      row(t('visitor.email'), v.email, 'visitor-email'),
      row(t('visitor.ip'), v.ip, 'visitor-ip'),
      row(t('visitor.page'), v.page_url, 'visitor-page'),
      row(t('visitor.ua'), v.user_agent, 'visitor-ua'),
      row(t('visitor.department'), c.department && c.department.name, 'visitor-department'),
      row(t('visitor.question'), c.question, 'visitor-question')),
    h('h3', {}, t('visitor.previous')),
    prev.length ? h('ul', { class: 'previous', sb: 'previous-chats' }, prev.map((pc) => h('li', {},
      h('button', { class: 'link', sb: 'previous-chat', data: { chatId: pc.id }, onclick: () => app.openHistoryChat(pc.id) },
        `${fmtTime(pc.started_at)} · ${t('chatstatus.' + pc.status)}`))))
      : h('p', { class: 'muted' }, t('visitor.noprevious')),
    h('h3', {}, t('notes.title')),
    c.notes.length ? h('ul', { class: 'notes', sb: 'notes' }, c.notes.map((n) => h('li', { sb: 'note' },
      h('div', { class: 'muted small' }, `${app.operatorName(n.operator_id)} · ${fmtTime(n.created_at)}`),
      h('div', { class: 'note-body' }, n.body))))
      : h('p', { class: 'muted' }, t('notes.none')),
    c.mode === 'active' || app.isSupervisor() ? p.noteForm : null);
}
