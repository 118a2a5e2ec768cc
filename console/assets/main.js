// The console's entry point: login, the top bar (status, language, logout),
// navigation between the views, and the shared app object the views use.
import { h, replace, field, options } from './dom.js';
import { t, pickLanguage, setLanguage, language } from './i18n.js';
import { api, all, setUnauthorizedHandler } from './api.js';
import { Live } from './live.js';
import { toast, errorText } from './ui.js';
import { initChats, chatsView, leaveChatsView, relocalize, reset as resetChats, openChat, offerCount, openChatCount, unlockAudio, askNotificationPermission } from './chats.js';
import { superviseView } from './supervise.js';
import { initHistory, historyView, openHistoryChat } from './history.js';
import { initAdmin, departmentsView, operatorsView } from './admin.js';

const rootEl = document.getElementById('app');
const views = {
  chats: { label: 'nav.chats', render: chatsView },
  supervise: { label: 'nav.supervise', render: superviseView, role: 'supervisor' },
  history: { label: 'nav.history', render: historyView },
  departments: { label: 'nav.departments', render: departmentsView, role: 'admin' },
  operators: { label: 'nav.operators', render: operatorsView, role: 'admin' },
};
const rank = { operator: 1, supervisor: 2, admin: 3 };

export const app = {
  me: null,
  live: new Live(),
  status: 'offline',
  conn: 'offline',
  view: 'chats',
  helloDepartments: [],
  operatorNames: new Map(),
  departmentNames: new Map(),
  els: {},

  isSupervisor() { return this.me && rank[this.me.role] >= rank.supervisor; },
  isAdmin() { return this.me && this.me.role === 'admin'; },
  operatorName(id) {
    if (!id) return t('common.none');
    if (this.me && id === this.me.id) return this.me.name;
    return this.operatorNames.get(id) || id.slice(0, 8);
  },
  departmentName(id) { return id ? this.departmentNames.get(id) || id.slice(0, 8) : t('common.none'); },
  setOperators(ops) { for (const o of ops) this.operatorNames.set(o.id, o.name); },
  setDepartments(ds) { for (const d of ds) this.departmentNames.set(d.id, d.name); },

  setStatus(s) {
    this.status = s;
    if (this.els.status) this.els.status.value = s;
    rootEl.dataset.status = s;
  },

  show(view) {
    if (!views[view] || (views[view].role && rank[this.me.role] < rank[views[view].role])) view = 'chats';
    if (this.view === 'chats' && view !== 'chats') leaveChatsView();
    this.view = view;
    rootEl.dataset.view = view;
    // Views that load before drawing check this after each await, so a
    // slow answer never draws over the view the operator moved on to.
    this.els.main.dataset.view = view;
    for (const b of this.els.nav.querySelectorAll('button')) {
      const on = b.dataset.view === view;
      b.classList.toggle('active', on);
      b.setAttribute('aria-current', on ? 'page' : 'false');
    }
    views[view].render(this.els.main);
  },

  openHistoryChat(id) { openHistoryChat(id); },
  openLiveChat(id) { return openChat(id); },

  updateBadges() {
    if (!this.els.nav) return;
    const b = this.els.nav.querySelector('[data-view="chats"] .badge');
    const n = offerCount();
    b.textContent = n ? String(n) : '';
    b.hidden = !n;
    rootEl.dataset.offers = String(n);
    rootEl.dataset.openChats = String(openChatCount());
    document.title = n ? `(${n}) ${t('app.title')}` : t('app.title');
  },
};

function connText(s) {
  return { connecting: t('conn.connecting'), connected: t('conn.connected'), reconnecting: t('conn.reconnecting'), expired: t('conn.expired') }[s] || '';
}

function loginView(message) {
  app.live.stop();
  app.me = null;
  resetChats();
  rootEl.dataset.view = 'login';
  const email = h('input', { type: 'email', sb: 'login-email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', sb: 'login-password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error', sb: 'login-error', role: 'alert', hidden: !message }, message || '');
  const lang = langSelect();
  const form = h('form', { class: 'login', sb: 'login-form' },
    h('h1', {}, t('app.title')), h('p', { class: 'muted' }, t('login.title')),
    field(t('login.email'), email), field(t('login.password'), password), err,
    h('button', { type: 'submit', class: 'primary', sb: 'login-submit' }, t('login.submit')),
    h('div', { class: 'login-lang' }, field(t('top.language'), lang)));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    unlockAudio(); // a click is the moment browsers allow audio
    try {
      const r = await api('POST', '/api/login', { email: email.value.trim(), password: password.value });
      await start(r.operator);
    } catch (e) {
      err.textContent = t('login.failed', { msg: e.message });
      err.hidden = false;
    }
  });
  replace(rootEl, h('main', { class: 'login-wrap' }, form));
  rootEl.dataset.ready = 'true';
  email.focus();
}

function langSelect() {
  const sel = h('select', { sb: 'lang', 'aria-label': t('top.language') }, options([['en', 'English'], ['ja', '日本語']], language()));
  sel.addEventListener('change', () => {
    setLanguage(sel.value);
    localStorage.setItem('switchboard.lang', sel.value);
    if (app.me) {
      api('PATCH', '/api/me', { locale: sel.value }).catch(() => {});
      app.me.locale = sel.value;
      relocalize();
      shell();
      app.show(app.view);
    } else {
      loginView();
    }
  });
  return sel;
}

function shell() {
  const status = h('select', { sb: 'status', 'aria-label': t('top.status') },
    options(['online', 'away', 'offline'].map((s) => [s, t('status.' + s)]), app.status));
  status.addEventListener('change', async () => {
    unlockAudio();
    if (status.value === 'online') askNotificationPermission();
    try {
      const ack = await app.live.request({ type: 'status.set', status: status.value });
      app.setStatus(ack.status);
    } catch (e) {
      toast(errorText(e), 'error');
      status.value = app.status;
    }
  });
  const conn = h('span', { class: 'conn', sb: 'conn', data: { state: app.live.state } }, connText(app.live.state));
  const nav = h('nav', { class: 'nav', sb: 'nav' }, Object.entries(views)
    .filter(([, v]) => !v.role || rank[app.me.role] >= rank[v.role])
    .map(([k, v]) => h('button', { sb: 'nav-' + k, data: { view: k }, onclick: () => app.show(k) }, t(v.label),
      k === 'chats' ? h('span', { class: 'badge', hidden: true }) : null)));
  const main = h('main', { class: 'main', sb: 'main' });
  app.els = { status, conn, nav, main };
  replace(rootEl,
    h('header', { class: 'top' },
      h('strong', { class: 'brand' }, t('app.title')), nav,
      h('div', { class: 'top-right' }, conn, field(t('top.status'), status), langSelect(),
        h('span', { class: 'me', sb: 'me' }, app.me.name),
        h('button', { sb: 'logout', onclick: logout }, t('top.logout')))),
    main);
  rootEl.dataset.status = app.status;
  app.updateBadges();
}

async function logout() {
  try { await api('POST', '/api/logout'); } catch { /* the session is gone either way */ }
  loginView();
}

async function start(me) {
  app.me = me;
  if (me.locale === 'en' || me.locale === 'ja') {
    if (!localStorage.getItem('switchboard.lang')) setLanguage(me.locale);
  }
  rootEl.dataset.role = me.role;
  shell();
  if (!followLink()) app.show('chats');
  app.live.start();
  // Names for notes and transfers; operators may list both.
  Promise.all([all('/api/operators'), all('/api/departments')])
    .then(([ops, ds]) => { app.setOperators(ops); app.setDepartments(ds); }).catch(() => {});
  rootEl.dataset.ready = 'true';
}

// followLink opens the chat that a link in an email points to
// (<public-url>/#/chats/<id>) and says whether there was one.
function followLink() {
  const m = location.hash.match(/^#\/chats\/([A-Za-z0-9_-]{1,64})$/);
  if (!m) return false;
  history.replaceState(null, '', location.pathname + location.search);
  openHistoryChat(m[1]);
  return true;
}
window.addEventListener('hashchange', () => { if (app.me) followLink(); });

let started = false;
function boot() {
  if (started) return;
  started = true;
  setLanguage(pickLanguage(localStorage.getItem('switchboard.lang')));
  initChats(app);
  initHistory(app);
  initAdmin(app);
  app.live.on('state', ({ state }) => {
    rootEl.dataset.conn = state;
    if (app.els.conn) {
      app.els.conn.textContent = connText(state);
      app.els.conn.dataset.state = state;
    }
    if (state === 'expired') loginView(t('conn.expired'));
  });
  setUnauthorizedHandler(() => { if (app.me) loginView(t('conn.expired')); });
  api('GET', '/api/me').then(start, () => loginView());
}

boot();
