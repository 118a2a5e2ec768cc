// Supervisors' and admins' list of ongoing chats, each with "watch".
import { h, replace } from './dom.js';
import { t, fmtTime } from './i18n.js';
import { api } from './api.js';
import { toast, errorText } from './ui.js';
import { watch } from './chats.js';

let timer = null;

export function superviseView(container) {
  const body = h('tbody', { sb: 'ongoing-rows' });
  const table = h('table', { class: 'list', sb: 'ongoing-list' },
    h('thead', {}, h('tr', {}, ['col.status', 'col.visitor', 'col.department', 'col.operator', 'col.started', 'col.actions'].map((k) => h('th', {}, t(k))))),
    body);
  const empty = h('p', { class: 'muted', sb: 'ongoing-empty', hidden: true }, t('sup.none'));
  let shown = '';
  async function load() {
    if (!container.isConnected || container.dataset.view !== 'supervise') { clearInterval(timer); return; }
    try {
      const page = await api('GET', '/api/chats?category=ongoing&limit=200');
      if (container.dataset.view !== 'supervise') return;
      // Redraw only on change, so a row is not replaced under the cursor.
      const key = JSON.stringify(page.items);
      if (key === shown) return;
      shown = key;
      replace(body, page.items.map((r) => h('tr', { sb: 'ongoing-row', data: { chatId: r.id, status: r.status } },
        h('td', {}, t('chatstatus.' + r.status)),
        h('td', {}, r.visitor.name || t('visitor.anonymous'), r.visitor.email ? h('div', { class: 'muted small' }, r.visitor.email) : null),
        h('td', {}, r.department.name),
        h('td', {}, r.operator ? r.operator.name : t('common.none')),
        h('td', {}, fmtTime(r.started_at)),
        h('td', {}, r.status === 'ongoing' ? h('button', { sb: 'watch', onclick: () => watch(r) }, t('sup.watch')) : null))));
      empty.hidden = page.items.length > 0;
    } catch (e) { toast(errorText(e), 'error'); }
  }
  replace(container, h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, t('sup.title')), h('button', { sb: 'refresh', onclick: load }, t('common.refresh'))),
    table, empty));
  clearInterval(timer);
  timer = setInterval(load, 10000);
  load();
}
