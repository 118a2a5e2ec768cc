// Switchboard visitor widget: plain JavaScript, no dependencies, no build
// step. The server serves it as /widget/{key}.js inside
//   (function (CFG, CSS) { ...this file... })({key, department, locale, prechat, base}, "css");
// so one request brings the code, the styles and the department's settings.
// It speaks only the public visitor protocol (docs/protocol.md).
//
// Rules kept throughout: user text is only ever set with textContent or as
// text nodes, never parsed as HTML; everything lives in an open shadow root on #switchboard-widget
// so the page's CSS cannot reach in; styles go in through adoptedStyleSheets,
// which a page's strict Content-Security-Policy does not block.
'use strict';
if (document.getElementById('switchboard-widget')) return; // pasted twice

const script = document.currentScript;
const BASE = (script && script.src) ? new URL(script.src).origin : (CFG.base || location.origin);
const KEY = CFG.key;
const SK = 'switchboard:' + KEY;

// ---- language -------------------------------------------------------------
const lang = (l) => (l ? (String(l).toLowerCase().startsWith('ja') ? 'ja' : 'en') : '');
const LOCALE = lang(script && script.dataset.locale) ||
  (CFG.locale === 'en' || CFG.locale === 'ja' ? CFG.locale : '') ||
  lang(document.documentElement.lang) || lang(navigator.language) || 'en';
const STR = {
  en: {
    open: 'Open chat', close: 'Close chat', title: 'Chat with us',
    connecting: 'Connecting…', ready: 'We are online. Ask us anything.',
    queued: 'Waiting for an operator…', queuedN: 'Waiting for an operator… You are number {n} in line.',
    ongoing: 'Chatting with {name}', ongoingNoName: 'Chatting with an operator',
    ended: 'The chat has ended.', missed: 'Nobody could answer right now. Leave us a message.',
    offline: 'We are offline. Leave us a message and we will email you.',
    reconnecting: 'Connection lost. Reconnecting…',
    name: 'Name', email: 'Email', question: 'How can we help?', message: 'Your message',
    optional: '(optional)', start: 'Start chat', leave: 'Send message',
    input: 'Type a message…', send: 'Send', end: 'End chat',
    sending: 'Sending…', sent: 'Sent', failed: 'Not sent.', retry: 'Retry',
    typing: '{name} is typing…', operator: 'The operator',
    rateQ: 'How was this chat?', star: '{n} of 5', comment: 'Anything to add? (optional)',
    submitFeedback: 'Send feedback', feedbackDone: 'Thank you for your feedback!',
    newChat: 'Start a new chat', reopen: 'Continue this chat', offlineDone: 'Thank you! We got your message and will reply by email.',
    you: 'You', system: 'Notice', required: 'Please fill in this field.', errEmail: 'Please enter a valid email address.',
    joined: '{name} joined the chat.', endedN: 'The chat has ended.', requeued: 'The operator left. Waiting for another operator…',
    transferred: 'You are now chatting with {name}.', reopened: 'The chat was reopened.', blocked: 'The chat was closed.',
    blockedErr: 'Sorry, you cannot start a chat from this address.', rateErr: 'Too many chats. Please try again later.',
    error: 'Something went wrong. Please try again.',
  },
  ja: {
    open: 'チャットを開く', close: 'チャットを閉じる', title: 'チャットでお問い合わせ',
    connecting: '接続しています…', ready: 'オペレーターが対応できます。お気軽にどうぞ。',
    queued: 'オペレーターをお待ちください…', queuedN: 'オペレーターをお待ちください…（{n}番目）',
    ongoing: '{name}が対応しています', ongoingNoName: 'オペレーターが対応しています',
    ended: 'チャットは終了しました。', missed: 'ただいま対応できるオペレーターがいません。メッセージをお残しください。',
    offline: '現在オフラインです。メッセージをお残しいただければ、メールでご返信します。',
    reconnecting: '接続が切れました。再接続しています…',
    name: 'お名前', email: 'メールアドレス', question: 'ご用件', message: 'メッセージ',
    optional: '（任意）', start: 'チャットを開始', leave: 'メッセージを送信',
    input: 'メッセージを入力…', send: '送信', end: 'チャットを終了',
    sending: '送信中…', sent: '送信済み', failed: '送信できませんでした。', retry: '再送信',
    typing: '{name}が入力中…', operator: 'オペレーター',
    rateQ: 'このチャットはいかがでしたか？', star: '5段階中{n}', comment: 'ご意見（任意）',
    submitFeedback: '評価を送信', feedbackDone: 'ご評価ありがとうございました。',
    newChat: '新しいチャットを開始', reopen: 'このチャットを再開', offlineDone: 'ありがとうございます。メッセージを受け付けました。メールでご返信します。',
    you: 'あなた', system: 'お知らせ', required: 'この項目を入力してください。', errEmail: '正しいメールアドレスを入力してください。',
    joined: '{name}が参加しました。', endedN: 'チャットは終了しました。', requeued: 'オペレーターが退出しました。別のオペレーターをお待ちください…',
    transferred: '{name}が対応を引き継ぎました。', reopened: 'チャットが再開されました。', blocked: 'チャットは終了しました。',
    blockedErr: '申し訳ありませんが、この接続元からはチャットを開始できません。', rateErr: 'チャットの開始回数が多すぎます。しばらくしてからお試しください。',
    error: 'エラーが発生しました。もう一度お試しください。',
  },
}[LOCALE];
const t = (k, v) => STR[k].replace(/\{(\w+)\}/g, (_, x) => (v && v[x] != null ? v[x] : ''));

// ---- DOM helpers (text only: strings become text nodes) -------------------
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const k in props) {
    const v = props[k];
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) if (c != null && c !== false) el.append(c);
  return el;
}
const SVG = 'http://www.w3.org/2000/svg';
function icon(d) {
  const s = document.createElementNS(SVG, 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(SVG, 'path');
  p.setAttribute('d', d);
  s.append(p);
  return s;
}
const ICON_CHAT = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z';
const ICON_CLOSE = 'M6 6l12 12M18 6L6 18';
const rnd = () => Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => b.toString(16).padStart(2, '0')).join('');

// ---- state ----------------------------------------------------------------
const saved = (() => { try { return JSON.parse(localStorage.getItem(SK)) || {}; } catch { return {}; } })();
const st = {
  token: saved.token || '',
  chatId: saved.chat || '',
  open: !!saved.open,
  ws: null, ready: false, hello: false, online: false,
  // status is the chat's state as the widget shows it: ready | offline (no
  // chat: pre-chat or offline form) | queued | ongoing | missed | ended; the
  // status line shows connecting / reconnecting over it while disconnected.
  status: '', connectedOnce: false, position: 0, operator: '',
  lastSeq: 0, seen: new Set(),
  local: new Map(), // client_msg_id -> {cid, body, state, el, busy}
  refs: new Map(), refN: 0,
  retry: 0, timer: 0,
  view: '', footer: '', starting: null, email: '', name: '',
  typingOn: false, typingTimer: 0, remoteTypingTimer: 0,
  offlineSent: false, feedbackSent: false, rating: 0,
};
function save() {
  // Unacknowledged messages survive a reload and are sent again; refused
  // (failed) ones would only be refused again.
  const pending = [...st.local.values()].filter((m) => m.state === 'sending').map((m) => ({ cid: m.cid, body: m.body }));
  try { localStorage.setItem(SK, JSON.stringify({ token: st.token, chat: st.chatId, open: st.open, pending })); } catch { /* private mode: no memory across reloads */ }
}

// ---- skeleton -------------------------------------------------------------
// A custom element name, not a div: a page's `div { … }` rules would match
// the host box itself (its inside is out of their reach anyway).
const host = h('switchboard-chat', { id: 'switchboard-widget' });
const root = host.attachShadow({ mode: 'open' });
try {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];
} catch {
  root.append(h('style', { text: CSS })); // older browsers
}
const launcher = h('button', { class: 'launcher', type: 'button', 'data-sb': 'launcher', 'aria-label': t('open'), 'aria-expanded': 'false', 'aria-controls': 'sb-win', onclick: () => setOpen(!st.open) }, icon(ICON_CHAT));
const statusEl = h('p', { class: 'status', 'data-sb': 'status', 'data-status': 'connecting', role: 'status', 'aria-live': 'polite', text: t('connecting') });
const endBtn = h('button', { class: 'end', type: 'button', 'data-sb': 'end', hidden: true, onclick: endChat, text: t('end') });
const closeBtn = h('button', { class: 'x', type: 'button', 'aria-label': t('close'), onclick: () => setOpen(false) }, icon(ICON_CLOSE));
const titleEl = h('h2', { id: 'sb-title', text: (CFG.department && CFG.department.name) || t('title') });
const body = h('div', { class: 'body' });
const win = h('section', { id: 'sb-win', class: 'win', role: 'dialog', 'aria-labelledby': 'sb-title', hidden: true, lang: LOCALE },
  h('header', {}, h('div', { class: 'head' }, titleEl, statusEl), endBtn, closeBtn), body);
win.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); setOpen(false); } });
root.append(win, launcher);

// The chat view: the transcript, the typing line and a footer that changes
// with the chat's state (composer, offline form, rating).
const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': t('title') });
const typingEl = h('p', { class: 'typing', 'data-sb': 'typing', hidden: true, 'aria-live': 'polite' });
const footer = h('div', { class: 'foot' });
const chatView = h('div', { class: 'chat' }, log, typingEl, footer);

function setOpen(open, quiet) {
  st.open = open;
  win.hidden = !open;
  host.toggleAttribute('data-open', open);
  launcher.setAttribute('aria-expanded', String(open));
  launcher.setAttribute('aria-label', t(open ? 'close' : 'open'));
  launcher.removeAttribute('data-unread');
  save();
  if (quiet) return;
  if (open) focusFirst();
  else launcher.focus();
}
function focusFirst() {
  requestAnimationFrame(() => {
    const el = body.querySelector('textarea:not([disabled]), input:not([disabled]), button.rate');
    if (el) el.focus();
  });
}

// ---- status ---------------------------------------------------------------
function setStatus(s) {
  if (s !== 'connecting' && s !== 'reconnecting') st.status = s;
  statusEl.setAttribute('data-status', s);
  let text = t(s);
  if (s === 'queued' && st.position > 0) text = t('queuedN', { n: st.position });
  if (s === 'ongoing') text = st.operator ? t('ongoing', { name: st.operator }) : t('ongoingNoName');
  statusEl.textContent = text;
  endBtn.hidden = !(st.chatId && (s === 'queued' || s === 'ongoing'));
  if (st.view === 'chat') renderFooter();
}

// ---- connection -----------------------------------------------------------
function connect() {
  clearTimeout(st.timer);
  if (st.ws) return;
  let u = BASE.replace(/^http/, 'ws') + '/ws/visitor?widget=' + encodeURIComponent(KEY);
  if (st.token) u += '&token=' + encodeURIComponent(st.token);
  let ws;
  try { ws = new WebSocket(u); } catch { return reconnectLater(); }
  st.ws = ws;
  ws.onmessage = (e) => {
    let f;
    try { f = JSON.parse(e.data); } catch { return; }
    if (st.ws === ws) onFrame(f);
  };
  ws.onclose = (e) => {
    if (st.ws !== ws) return;
    st.ws = null;
    st.ready = false;
    st.hello = false;
    st.refs.clear(); // unanswered requests: messages stay pending and are sent again
    for (const m of st.local.values()) m.busy = false;
    if (e.code === 4001) { st.token = ''; st.chatId = ''; save(); } // token expired: start afresh
    setStatus(st.connectedOnce ? 'reconnecting' : 'connecting');
    reconnectLater();
  };
}
function reconnectLater() {
  clearTimeout(st.timer);
  // 0.5 s, 1 s, 2 s … up to 15 s, with jitter so a restarted server is not stampeded.
  const d = Math.min(15000, 500 * 2 ** st.retry++) * (0.75 + Math.random() / 2);
  st.timer = setTimeout(connect, d);
}
addEventListener('online', () => { if (!st.ws) { st.retry = 0; connect(); } });
// The browser knows the network is gone before TCP does: reconnect at once
// when it is back rather than wait for a dead socket to time out.
addEventListener('offline', () => { if (st.ws) st.ws.close(); });

function request(frame, ok, fail) {
  if (!st.ws || st.ws.readyState !== 1) return false;
  const ref = String(++st.refN);
  st.refs.set(ref, { ok, fail });
  st.ws.send(JSON.stringify({ ...frame, ref }));
  return true;
}
function sendRaw(frame) {
  if (st.ws && st.ws.readyState === 1) st.ws.send(JSON.stringify(frame));
}

function onFrame(f) {
  if ((f.type === 'ack' || f.type === 'error') && f.ref) {
    const r = st.refs.get(f.ref);
    st.refs.delete(f.ref);
    if (r) (f.type === 'ack' ? r.ok : r.fail)?.(f);
    return;
  }
  switch (f.type) {
    case 'hello': return onHello(f);
    case 'message': if (f.chat_id === st.chatId) addMessage(f, true); return;
    case 'typing': if (f.chat_id === st.chatId && f.from && f.from.kind !== 'visitor') remoteTyping(f.on, f.from.name); return;
    case 'chat.assigned':
      if (f.chat_id !== st.chatId) return;
      st.operator = (f.operator && f.operator.name) || '';
      return setStatus('ongoing');
    case 'chat.missed': if (f.chat_id === st.chatId) { st.offlineSent = false; setStatus('missed'); } return;
    case 'chat.ended': if (f.chat_id === st.chatId) chatEnded(); return;
    case 'chat.reopened': if (f.chat_id === st.chatId) { st.feedbackSent = false; save(); setStatus('queued'); } return;
    case 'queue': if (f.chat_id === st.chatId) { st.position = f.position || 0; if (st.status === 'queued') setStatus('queued'); } return;
  }
}

function onHello(f) {
  st.retry = 0;
  st.hello = true;
  st.connectedOnce = true;
  st.token = f.visitor_token || st.token;
  st.online = !!f.online;
  const open = f.chats || [];
  const mine = open.find((c) => c.chat_id === st.chatId);
  if (mine || (open.length && !(st.chatId && (st.status === 'ended' || st.status === 'missed')))) {
    // A returning visitor (reload, new tab, or a start whose ack was lost)
    // takes up its open chat.
    const c = mine || open[0];
    if (c.chat_id !== st.chatId) resetChat(c.chat_id);
    st.starting = null;
    save();
    return resume();
  }
  if (st.chatId && (st.status === 'ended' || st.status === 'missed')) {
    // Still showing a finished chat (rating, offline form): stay there.
    setStatus(st.status);
    return;
  }
  if (st.starting) return startChat(st.starting); // the start never reached the server
  resetChat('');
  save();
  showForm();
}

function resume() {
  st.ready = false;
  showChat();
  request({ type: 'chat.resume', chat_id: st.chatId, after_seq: st.lastSeq }, (a) => {
    st.ready = true;
    applyChatStatus(a.status);
    flush();
  }, (e) => {
    if (e.code === 'not_found') { resetChat(''); save(); showForm(); } else setTimeout(() => { if (st.hello) resume(); }, 2000);
  });
}
function applyChatStatus(s) {
  if (s === 'completed') return chatEnded();
  if (s === 'missed') return setStatus('missed');
  setStatus(s === 'ongoing' ? 'ongoing' : 'queued');
}
function resetChat(id) {
  st.chatId = id;
  st.lastSeq = 0;
  st.seen.clear();
  st.position = 0;
  st.operator = '';
  st.offlineSent = false;
  st.feedbackSent = false;
  st.rating = 0;
  for (const [cid, m] of st.local) if (m.state === 'sent' || !id) st.local.delete(cid);
  log.replaceChildren();
  for (const m of st.local.values()) log.append(m.el);
}

// ---- pre-chat and offline forms -------------------------------------------
// One form at a time is in the DOM, so [data-sb="email"] is never ambiguous.
function field(name, mode, kind) {
  if (mode === 'off') return null;
  const id = 'sb-f-' + name;
  const label = kind === 'message' ? t('message') : t(name);
  const attrs = { id, name, 'data-sb': name, required: mode === 'required', 'aria-required': mode === 'required' ? 'true' : null };
  const input = name === 'question'
    ? h('textarea', { ...attrs, rows: 3, maxlength: 8000 })
    : h('input', { ...attrs, type: name === 'email' ? 'email' : 'text', autocomplete: name, maxlength: name === 'email' ? 254 : 100 });
  if (name === 'email' && st.email) input.value = st.email;
  if (name === 'name' && st.name) input.value = st.name;
  return h('div', { class: 'field' }, h('label', { for: id }, label, mode === 'optional' ? h('span', { class: 'opt', text: ' ' + t('optional') }) : null), input);
}
function formError(form, msg) {
  let el = form.querySelector('.err');
  if (!el) { el = h('p', { class: 'err', role: 'alert', 'data-sb': 'error' }); form.append(el); }
  el.textContent = msg;
}
function readForm(form) {
  const v = {};
  for (const el of form.querySelectorAll('input,textarea')) {
    v[el.name] = el.value.trim();
    if (el.required && !v[el.name]) { formError(form, t('required')); el.focus(); return null; }
    if (el.type === 'email' && v.email && !el.checkValidity()) { formError(form, t('errEmail')); el.focus(); return null; }
  }
  return v;
}
const P = CFG.prechat || { name: 'optional', email: 'optional', question: 'required' };

function showForm() {
  st.view = 'form';
  const offline = !st.online;
  setStatus(offline ? 'offline' : 'ready');
  const form = h('form', { class: 'form', novalidate: true, 'data-sb': offline ? 'offline-form' : 'prechat' },
    offline
      ? [field('name', P.name === 'off' ? 'off' : 'optional'), field('email', 'required'), field('question', 'required', 'message')]
      : [field('name', P.name), field('email', P.email), field('question', P.question)],
    h('button', { type: 'submit', class: 'primary', 'data-sb': 'start', text: t(offline ? 'leave' : 'start') }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = readForm(form);
    if (!v) return;
    const start = {};
    for (const k of ['name', 'email', 'question']) if (v[k]) start[k] = v[k];
    start.page_url = location.href.slice(0, 2048);
    st.name = v.name || st.name;
    st.email = v.email || st.email;
    form.querySelector('[data-sb="start"]').disabled = true;
    startChat(start, form);
  });
  body.replaceChildren(form);
  if (st.open) focusFirst();
}

function startChat(start, form) {
  st.starting = start;
  const sent = request({ type: 'chat.start', locale: LOCALE, ...start }, (a) => {
    st.starting = null;
    resetChat(a.chat_id);
    st.lastSeq = 0;
    st.ready = true;
    save();
    showChat();
    if (a.status === 'missed') {
      // Nobody online: the question is the left message and the chat is
      // in history as missed, with the visitor's email.
      st.offlineSent = !!(start.email && start.question);
      setStatus('missed');
    } else setStatus('queued');
    flush();
  }, (e) => {
    st.starting = null;
    if (!form) return showForm();
    form.querySelector('[data-sb="start"]').disabled = false;
    formError(form, e.code === 'blocked' ? t('blockedErr') : e.code === 'rate_limited' ? t('rateErr') : (e.field ? e.message : t('error')));
  });
  if (!sent && form) form.querySelector('[data-sb="start"]').disabled = false;
}

// ---- the chat ---------------------------------------------------------------
function showChat() {
  if (st.view !== 'chat') {
    st.view = 'chat';
    body.replaceChildren(chatView);
  }
  renderFooter();
}

function renderFooter() {
  let want = 'composer';
  if (st.status === 'ended') want = st.feedbackSent ? 'done' : 'rating';
  else if (st.status === 'missed') want = st.offlineSent ? 'left' : 'offline';
  if (st.footer === want && footer.firstChild) return;
  st.footer = want;
  const hadFocus = root.activeElement && footer.contains(root.activeElement);
  if (want === 'composer') footer.replaceChildren(composer());
  else if (want === 'rating') footer.replaceChildren(rating());
  else if (want === 'done') footer.replaceChildren(h('div', { class: 'done', 'data-sb': 'feedback-done' }, h('p', { text: t('feedbackDone') }), reopenBtn(), newChatBtn()));
  else if (want === 'offline') footer.replaceChildren(offlineLeave());
  else footer.replaceChildren(h('div', { class: 'done', 'data-sb': 'offline-done' }, h('p', { text: t('offlineDone') }), composer()));
  if (hadFocus || (st.open && want !== 'composer')) focusFirst();
}

function composer() {
  const ta = h('textarea', { class: 'input', 'data-sb': 'input', rows: 1, placeholder: t('input'), 'aria-label': t('input'), maxlength: 8000 });
  const send = () => {
    const text = ta.value.trim();
    if (!text) return;
    ta.value = '';
    typing(false);
    sendText(text);
    ta.focus();
  };
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  ta.addEventListener('input', () => typing(ta.value.trim() !== ''));
  return h('div', { class: 'composer' }, ta,
    h('button', { type: 'button', class: 'primary', 'data-sb': 'send', 'aria-label': t('send'), text: t('send'), onclick: send }));
}

// offlineLeave: the chat turned missed; take a message and the email.
function offlineLeave() {
  const form = h('form', { class: 'form', novalidate: true, 'data-sb': 'offline-form' },
    h('p', { class: 'note', text: t('missed') }),
    field('email', 'required'), field('question', 'required', 'message'),
    h('button', { type: 'submit', class: 'primary', 'data-sb': 'start', text: t('leave') }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = readForm(form);
    if (!v) return;
    st.email = v.email;
    sendRaw({ type: 'visitor.update', email: v.email }); // before the message: frames are handled in order
    sendText(v.question);
    st.offlineSent = true;
    renderFooter();
  });
  return form;
}

function rating() {
  const box = h('div', { class: 'rating', 'data-sb': 'rating' });
  const stars = h('div', { class: 'stars', role: 'radiogroup', 'aria-label': t('rateQ') });
  const submit = h('button', { type: 'button', class: 'primary', 'data-sb': 'submit-feedback', disabled: true, text: t('submitFeedback') });
  const comment = h('textarea', { 'data-sb': 'comment', rows: 2, maxlength: 2000, 'aria-label': t('comment'), placeholder: t('comment') });
  const pick = (n) => {
    st.rating = n;
    for (const b of stars.children) {
      const on = Number(b.dataset.value) <= n;
      b.classList.toggle('on', on);
      b.setAttribute('aria-checked', String(Number(b.dataset.value) === n));
      b.tabIndex = Number(b.dataset.value) === n ? 0 : -1;
    }
    submit.disabled = false;
  };
  for (let n = 1; n <= 5; n++) {
    stars.append(h('button', {
      type: 'button', class: 'rate', role: 'radio', 'data-sb': 'rate', 'data-value': String(n),
      'aria-checked': 'false', 'aria-label': t('star', { n }), tabindex: n === 1 ? '0' : '-1', text: '★',
      onclick: () => pick(n),
      onkeydown: (e) => {
        const d = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[e.key];
        if (!d) return;
        e.preventDefault();
        const m = Math.min(5, Math.max(1, (st.rating || n) + d));
        pick(m);
        stars.children[m - 1].focus();
      },
    }));
  }
  submit.addEventListener('click', () => {
    if (!st.rating) return;
    submit.disabled = true;
    const f = { type: 'feedback', chat_id: st.chatId, rating: st.rating };
    if (comment.value.trim()) f.comment = comment.value.trim();
    const sent = request(f, () => { st.feedbackSent = true; renderFooter(); }, () => { submit.disabled = false; formError(box, t('error')); });
    if (!sent) submit.disabled = false;
  });
  box.append(h('p', { class: 'q', text: t('rateQ') }), stars, comment, submit, newChatBtn());
  return box;
}

function newChatBtn() {
  return h('button', { type: 'button', class: 'link', 'data-sb': 'new-chat', text: t('newChat'), onclick: () => {
    resetChat('');
    save();
    showForm();
  } });
}

// reopenBtn takes the visitor back into its ended chat (chat.reopen): the
// same conversation, routed to an operator again.
function reopenBtn() {
  const b = h('button', { type: 'button', class: 'link', 'data-sb': 'reopen', text: t('reopen'), onclick: () => {
    if (!st.chatId) return;
    b.disabled = true;
    request({ type: 'chat.reopen', chat_id: st.chatId }, (a) => {
      st.feedbackSent = false;
      st.rating = 0;
      st.operator = '';
      save();
      applyChatStatus(a.status);
    }, (e) => {
      b.disabled = false;
      b.textContent = e.code === 'blocked' ? t('blockedErr') : e.code === 'rate_limited' ? t('rateErr') : t('error');
    });
  } });
  return b;
}

function chatEnded() {
  remoteTyping(false);
  typing(false);
  if (st.status !== 'ended') setStatus('ended');
  // The chat is over: a reload starts afresh rather than resuming it.
  const id = st.chatId;
  st.chatId = '';
  save();
  st.chatId = id;
}

function endChat() {
  if (!st.chatId) return;
  request({ type: 'chat.end', chat_id: st.chatId }, () => chatEnded());
}

// ---- messages -------------------------------------------------------------
function sysText(m) {
  const key = m.from && m.from.id;
  const b = m.body || '';
  const nm = (re) => { const x = b.match(re); return x ? x[1] : ''; };
  switch (key) {
    case 'joined': return t('joined', { name: nm(/^(.*) joined the chat$/) || t('operator') });
    case 'ended': return t('endedN');
    case 'requeued': return t('requeued');
    case 'transferred': return t('transferred', { name: nm(/^The chat was transferred to (.*)$/) || nm(/^(.*) took over the chat$/) || t('operator') });
    case 'reopened': return t('reopened');
    case 'blocked': return t('blocked');
  }
  return b;
}

function renderMessage(m, state) {
  const kind = (m.from && m.from.kind) || 'visitor';
  const el = h('div', { class: 'msg ' + kind, 'data-sb': 'message', 'data-from': kind });
  if (kind === 'operator' && m.from.name) el.append(h('span', { class: 'who', text: m.from.name }));
  el.append(h('p', { class: 'text', text: kind === 'system' ? sysText(m) : m.body }));
  if (kind === 'visitor') el.append(h('span', { class: 'meta' }));
  if (m.seq) el.setAttribute('data-seq', String(m.seq));
  if (kind === 'visitor') setState(el, state || 'sent');
  return el;
}
function setState(el, state, m) {
  el.setAttribute('data-state', state);
  const meta = el.querySelector('.meta');
  if (!meta) return;
  meta.replaceChildren(t(state));
  if (state === 'failed' && m) {
    meta.append(' ', h('button', { type: 'button', class: 'link', 'data-sb': 'retry', text: t('retry'), onclick: () => { m.state = 'sending'; setState(el, 'sending', m); trySend(m); } }));
  }
}
// place puts a message with a seq before the first message still waiting
// for one, so the transcript stays in seq order while sends are pending.
function place(el) {
  const firstPending = log.querySelector('.msg[data-state="sending"], .msg[data-state="failed"]');
  log.insertBefore(el, firstPending && firstPending !== el ? firstPending : null);
}
function scrollDown() {
  requestAnimationFrame(() => { log.scrollTop = log.scrollHeight; });
}

function addMessage(f, live) {
  const local = f.client_msg_id && st.local.get(f.client_msg_id);
  if (st.seen.has(f.seq)) { if (local) markSent(local, f.seq); return; } // resume overlap
  st.seen.add(f.seq);
  st.lastSeq = Math.max(st.lastSeq, f.seq);
  if (local) {
    markSent(local, f.seq);
    local.el.remove();
    place(local.el);
  } else {
    place(renderMessage(f, 'sent'));
  }
  if (f.from && f.from.kind === 'operator') remoteTyping(false);
  if (live && !st.open && f.from && f.from.kind !== 'visitor') launcher.setAttribute('data-unread', '');
  scrollDown();
}

function sendText(text) {
  const m = { cid: 'w' + rnd(), body: text, state: 'sending', busy: false };
  m.el = renderMessage({ from: { kind: 'visitor' }, body: text }, 'sending');
  st.local.set(m.cid, m);
  log.append(m.el);
  scrollDown();
  save();
  trySend(m);
}
function trySend(m) {
  if (!st.ready || !st.chatId || m.busy || m.state === 'sent') return; // sent by flush after the resume
  m.busy = true;
  const sent = request({ type: 'message.send', chat_id: st.chatId, client_msg_id: m.cid, body: m.body }, (a) => {
    m.busy = false;
    markSent(m, a.seq);
  }, (e) => {
    m.busy = false;
    if (e.code === 'rate_limited' || e.code === 'unavailable' || e.code === 'internal') {
      setTimeout(() => trySend(m), Math.max(500, e.retry_after_ms || 2000));
      return;
    }
    m.state = 'failed';
    setState(m.el, 'failed', m);
    save();
  });
  if (!sent) m.busy = false;
}
function markSent(m, seq) {
  if (m.state === 'sent') return;
  m.state = 'sent';
  if (seq) m.el.setAttribute('data-seq', String(seq));
  setState(m.el, 'sent');
  save();
}
// flush sends again whatever was not acknowledged, in the order written;
// the server keeps one message per client_msg_id, so a resend is harmless.
function flush() {
  for (const m of st.local.values()) if (m.state === 'sending') trySend(m);
}

// ---- typing ---------------------------------------------------------------
function typing(on) {
  clearTimeout(st.typingTimer);
  if (on) st.typingTimer = setTimeout(() => typing(false), 3000);
  if (on === st.typingOn || !st.chatId || !st.ready) return;
  st.typingOn = on;
  sendRaw({ type: 'typing', chat_id: st.chatId, on });
}
function remoteTyping(on, name) {
  clearTimeout(st.remoteTypingTimer);
  typingEl.hidden = !on;
  if (on) {
    typingEl.textContent = t('typing', { name: name || st.operator || t('operator') });
    // A lost "off" must not leave the indicator on for ever.
    st.remoteTypingTimer = setTimeout(() => remoteTyping(false), 8000);
  }
}

// ---- start ----------------------------------------------------------------
for (const p of saved.pending || []) {
  const m = { cid: p.cid, body: p.body, state: 'sending', busy: false };
  m.el = renderMessage({ from: { kind: 'visitor' }, body: p.body }, 'sending');
  st.local.set(m.cid, m);
  log.append(m.el);
}
function mount() {
  document.body.append(host);
  body.replaceChildren(h('p', { class: 'note', text: t('connecting') }));
  if (st.open) setOpen(true, true); // restored after a reload: do not steal the page's focus
  connect();
}
if (document.body) mount();
else document.addEventListener('DOMContentLoaded', mount);
