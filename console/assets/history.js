// Chat history: categories, filters, cursor paging, the transcript with
// its downloads, notes, reopen, delete (admins) and emailing the visitor.
import { h, replace, field, options } from './dom.js';
import { t, fmtTime, systemNotice } from './i18n.js';
import { api, all, qs } from './api.js';
import { modal, confirmDialog, toast, errorText } from './ui.js';

const categories = ['all', 'ongoing', 'missed', 'reopened', 'completed', 'monitored'];
const state = { category: 'all', filters: {}, items: [], next: null, selected: null };
let app = null;
let els = null;
// gen counts renders of the view: answers that arrive for an older render
// (the operator switched category meanwhile) are dropped, never mixed in.
let gen = 0;

export function initHistory(theApp) { app = theApp; }

// openChat shows one chat's detail in the history view.
export function openHistoryChat(id) {
  state.selected = id;
  app.show('history');
}

export async function historyView(container) {
  const my = ++gen;
  let depts = [];
  let ops = [];
  try { [depts, ops] = await Promise.all([all('/api/departments'), all('/api/operators')]); } catch (e) { toast(errorText(e), 'error'); }
  if (my !== gen || container.dataset.view !== 'history') return;
  const f = state.filters;
  const dept = h('select', { name: 'department_id', sb: 'filter-department' }, h('option', { value: '' }, t('hist.anydept')),
    options(depts.map((d) => [d.id, d.name]), f.department_id));
  const op = h('select', { name: 'operator_id', sb: 'filter-operator' }, h('option', { value: '' }, t('hist.anyop')),
    options(ops.map((o) => [o.id, o.name]), f.operator_id));
  const visitor = h('input', { type: 'search', name: 'visitor', sb: 'filter-visitor', value: f.visitor || '', placeholder: t('hist.visitor') });
  const q = h('input', { type: 'search', name: 'q', sb: 'filter-q', value: f.q || '', placeholder: t('hist.q') });
  const from = h('input', { type: 'date', name: 'from', sb: 'filter-from', value: f.from || '' });
  const to = h('input', { type: 'date', name: 'to', sb: 'filter-to', value: f.to || '' });
  const rating = h('select', { name: 'rating', sb: 'filter-rating' }, h('option', { value: '' }, t('hist.anyrating')),
    options(['1', '2', '3', '4', '5'].map((n) => [n, '★'.repeat(Number(n))]), f.rating));
  const form = h('form', { class: 'filters', sb: 'filters' },
    field(t('col.department'), dept), field(t('col.operator'), op), field(t('col.visitor'), visitor), field(t('hist.q'), q),
    field(t('hist.from'), from), field(t('hist.to'), to), field(t('col.rating'), rating),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', sb: 'apply-filters' }, t('hist.apply')),
      h('button', { type: 'button', sb: 'reset-filters', onclick: () => { state.filters = {}; historyView(container); } }, t('hist.reset'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.filters = Object.fromEntries([dept, op, visitor, q, from, to, rating].map((c) => [c.name, c.value.trim()]));
    load(true);
  });
  const cats = h('div', { class: 'categories', role: 'tablist', sb: 'categories' }, categories.map((c) =>
    h('button', { class: 'tab' + (c === state.category ? ' active' : ''), sb: 'category', role: 'tab', data: { value: c },
      'aria-selected': c === state.category ? 'true' : 'false',
      onclick: () => { state.category = c; historyView(container); } }, t('cat.' + c))));
  els = {
    rows: h('tbody', { sb: 'history-rows' }),
    empty: h('p', { class: 'muted', sb: 'history-empty', hidden: true }, t('hist.none')),
    more: h('button', { sb: 'more', hidden: true, onclick: () => load(false) }, t('hist.more')),
    detail: h('section', { class: 'history-detail', sb: 'history-detail' }, h('p', { class: 'muted' }, t('hist.pick'))),
    error: h('p', { class: 'error', sb: 'history-error', hidden: true }),
  };
  // data-category and data-loading tell (tests and styles) what the list
  // shows and whether an answer is still coming.
  els.page = h('div', { class: 'page history', sb: 'history', data: { category: state.category, loading: 'true' } },
    h('h1', {}, t('nav.history')), cats,
    h('details', { class: 'filter-box', open: Object.values(state.filters).some(Boolean) }, h('summary', {}, t('hist.filters')), form),
    els.error,
    h('div', { class: 'history-split' },
      h('div', { class: 'history-list' },
        h('table', { class: 'list', sb: 'history-list' },
          h('thead', {}, h('tr', {}, ['col.status', 'col.visitor', 'col.department', 'col.operator', 'col.started', 'col.rating'].map((k) => h('th', {}, t(k))))),
          els.rows),
        els.empty, els.more),
      els.detail));
  replace(container, els.page);
  await load(true);
  if (state.selected && my === gen) showDetail(state.selected);
}

async function load(reset) {
  const my = gen;
  els.more.disabled = true; // one page at a time, or a cursor is read twice
  els.page.dataset.loading = 'true';
  const params = { category: state.category, limit: 50, cursor: reset ? '' : state.next, ...state.filters };
  try {
    const page = await api('GET', '/api/chats' + qs(params));
    if (my !== gen) return;
    if (reset) state.items = [];
    state.items.push(...page.items);
    state.next = page.next_cursor;
    els.error.hidden = true;
  } catch (e) {
    if (my !== gen) return;
    els.error.textContent = errorText(e);
    els.error.hidden = false;
  }
  els.more.disabled = false;
  els.page.dataset.loading = 'false';
  renderRows();
}

function renderRows() {
  replace(els.rows, state.items.map((r) => h('tr', {
    class: 'clickable' + (r.id === state.selected ? ' selected' : ''), sb: 'history-row', tabindex: 0,
    data: { chatId: r.id, status: r.status, reopened: r.reopened },
    onclick: () => showDetail(r.id),
    onkeydown: (ev) => { if (ev.key === 'Enter') showDetail(r.id); },
  },
  h('td', {}, t('chatstatus.' + r.status), r.reopened ? h('span', { class: 'pill' }, t('cat.reopened')) : null),
  h('td', {}, r.visitor.name || t('visitor.anonymous'), r.visitor.email ? h('div', { class: 'muted small' }, r.visitor.email) : null),
  h('td', {}, r.department.name),
  h('td', {}, r.operator ? r.operator.name : t('common.none')),
  h('td', {}, fmtTime(r.started_at)),
  h('td', {}, r.rating ? '★'.repeat(r.rating) : ''))));
  els.empty.hidden = state.items.length > 0;
  els.more.hidden = !state.next;
}

async function showDetail(id) {
  state.selected = id;
  renderRows();
  replace(els.detail, h('p', { class: 'muted' }, t('common.loading')));
  let d;
  try { d = await api('GET', `/api/chats/${encodeURIComponent(id)}`); } catch (e) {
    replace(els.detail, h('p', { class: 'error' }, errorText(e)));
    return;
  }
  if (state.selected !== id) return;
  const base = `/api/chats/${encodeURIComponent(id)}/transcript?format=`;
  const v = d.visitor;
  const noteInput = h('textarea', { sb: 'history-note-input', rows: 2, placeholder: t('notes.placeholder') });
  const open = d.status === 'ongoing' || d.status === 'queued';
  replace(els.detail,
    h('div', { class: 'detail-head', data: { chatId: d.id, status: d.status } },
      h('h2', { sb: 'detail-title' }, v.name || t('visitor.anonymous')),
      h('p', { class: 'muted' }, `${d.department.name} · ${t('chatstatus.' + d.status)} · ${fmtTime(d.started_at)}`)),
    h('div', { class: 'buttons' },
      !open ? h('button', { sb: 'reopen', onclick: () => reopen(d, false) }, t('hist.reopen')) : null,
      !open ? h('button', { sb: 'reopen-to-me', onclick: () => reopen(d, true) }, t('hist.reopen.tome')) : null,
      h('button', { sb: 'email-visitor', disabled: !v.email, title: v.email ? '' : t('hist.email.noaddress'), onclick: () => emailDialog(d) }, t('hist.email')),
      app.isAdmin() && !open ? h('button', { class: 'danger', sb: 'delete-chat', onclick: () => del(d) }, t('common.delete')) : null),
    h('p', { class: 'downloads' }, t('hist.download'), ' ',
      ['text', 'html', 'json'].map((fmt) => [h('a', { href: base + fmt, sb: 'transcript-' + fmt, download: `chat-${d.id}.${fmt === 'text' ? 'txt' : fmt}` }, fmt.toUpperCase()), ' '])),
    h('dl', { class: 'facts' },
      h('dt', {}, t('visitor.email')), h('dd', {}, v.email || t('common.none')),
      h('dt', {}, t('visitor.ip')), h('dd', {}, v.ip || t('common.none')),
      h('dt', {}, t('visitor.page')), h('dd', {}, v.page_url || t('common.none')),
      h('dt', {}, t('visitor.ua')), h('dd', {}, v.user_agent || t('common.none')),
      h('dt', {}, t('col.operator')), h('dd', {}, d.operator ? d.operator.name : t('common.none')),
      h('dt', {}, t('visitor.question')), h('dd', {}, d.question || t('common.none'))),
    h('h3', {}, t('hist.transcript')),
    h('ol', { class: 'messages transcript', sb: 'transcript' }, d.messages.map((m) => h('li', {
      class: 'msg ' + m.from_kind, sb: 'transcript-message', data: { from: m.from_kind, seq: m.seq } },
    m.from_kind === 'system' ? systemNotice(m.from_id, m.body) : [
      h('div', { class: 'msg-meta' }, h('span', { class: 'who' }, m.from_name), ' ', h('time', { datetime: m.at }, fmtTime(m.at, false))),
      h('div', { class: 'msg-body' }, m.body)]))),
    d.transfers.length ? [h('h3', {}, t('hist.transfers')), h('ul', { sb: 'transfers' }, d.transfers.map((tr) => h('li', {},
      `${fmtTime(tr.at)} · ${app.departmentName(tr.from_department)} → ${app.departmentName(tr.to_department)} · ${app.operatorName(tr.from_operator)} → ${app.operatorName(tr.to_operator)}${tr.note ? ' · ' + tr.note : ''}`)))] : null,
    h('h3', {}, t('hist.feedback')),
    d.feedback ? h('p', { sb: 'feedback', data: { rating: d.feedback.rating } }, '★'.repeat(d.feedback.rating) + ' ' + t('hist.rating', { n: d.feedback.rating }),
      d.feedback.comment ? h('span', { class: 'comment' }, ' — ' + d.feedback.comment) : null)
      : h('p', { class: 'muted' }, t('hist.feedback.none')),
    h('h3', {}, t('notes.title')),
    h('ul', { class: 'notes', sb: 'history-notes' }, d.notes.map((n) => h('li', { sb: 'note' },
      h('div', { class: 'muted small' }, `${app.operatorName(n.operator_id)} · ${fmtTime(n.created_at)}`), h('div', {}, n.body)))),
    h('form', { class: 'note-form', onsubmit: async (ev) => {
      ev.preventDefault();
      if (!noteInput.value.trim()) return;
      try {
        await api('POST', `/api/chats/${encodeURIComponent(d.id)}/notes`, { body: noteInput.value.trim() });
        showDetail(d.id);
      } catch (e) { toast(errorText(e), 'error'); }
    } }, noteInput, h('button', { type: 'submit', sb: 'history-add-note' }, t('notes.add'))),
    v.previous_chats.length ? [h('h3', {}, t('visitor.previous')), h('ul', {}, v.previous_chats.map((pc) => h('li', {},
      h('button', { class: 'link', onclick: () => showDetail(pc.id) }, `${fmtTime(pc.started_at)} · ${t('chatstatus.' + pc.status)}`))))] : null);
}

async function reopen(d, toMe) {
  try {
    await api('POST', `/api/chats/${encodeURIComponent(d.id)}/reopen`, toMe ? { to_me: true } : {});
    toast(t('hist.reopened'));
    if (toMe) { app.openLiveChat(d.id); return; }
    await load(true);
    showDetail(d.id);
  } catch (e) { toast(errorText(e), 'error'); }
}

async function del(d) {
  if (!(await confirmDialog(t('hist.delete.confirm'), { okLabel: t('common.delete'), danger: true }))) return;
  try {
    await api('DELETE', `/api/chats/${encodeURIComponent(d.id)}`);
    toast(t('hist.deleted'));
    state.selected = null;
    replace(els.detail, h('p', { class: 'muted' }, t('hist.pick')));
    await load(true);
  } catch (e) { toast(errorText(e), 'error'); }
}

async function emailDialog(d) {
  const subject = h('input', { type: 'text', sb: 'email-subject', required: true, maxlength: 200 });
  const body = h('textarea', { sb: 'email-body', rows: 8, required: true });
  const include = h('input', { type: 'checkbox', sb: 'email-include-transcript', checked: true });
  await modal({
    title: t('hist.email'), sb: 'email-dialog',
    body: h('div', {}, h('p', { class: 'muted' }, d.visitor.email), field(t('hist.email.subject'), subject), field(t('hist.email.body'), body),
      h('label', { class: 'check' }, include, ' ', t('hist.email.transcript'))),
    buttons: [{ label: t('common.cancel'), sb: 'email-cancel', value: 'cancel' },
      { label: t('hist.email.send'), sb: 'email-send', value: 'ok', submit: true, class: 'primary' }],
    onSubmit: async () => {
      await api('POST', `/api/chats/${encodeURIComponent(d.id)}/email`, { subject: subject.value.trim(), body: body.value, include_transcript: include.checked });
      toast(t('hist.email.queued'));
      return true;
    },
  });
}
