// Admin pages: departments (every setting, email settings included,
// enable/disable, delete with a typed confirmation, embed code) and
// operators (create, edit, departments, disable, reset password, delete).
import { h, replace, field, options } from './dom.js';
import { t } from './i18n.js';
import { api, all } from './api.js';
import { modal, confirmDialog, toast, errorText } from './ui.js';

const emailSettings = ['transcript', 'blocked_ip', 'feedback', 'missed', 'cc'];
let app = null;
let deptSelected = null; // id, 'new' or null
// gen counts renders: a slow answer for an older render is dropped.
let gen = 0;

export function initAdmin(theApp) { app = theApp; }

// showFieldError marks the control whose data-field the API named.
function showFieldError(form, box, e) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  box.textContent = errorText(e);
  box.hidden = false;
  if (e.field) {
    const el = form.querySelector(`[data-field="${CSS.escape(e.field)}"]`);
    if (el) { el.setAttribute('aria-invalid', 'true'); el.focus(); }
  }
}

// ---- departments ---------------------------------------------------------

export async function departmentsView(container) {
  const my = ++gen;
  let depts;
  let ops;
  try { [depts, ops] = await Promise.all([all('/api/departments'), all('/api/operators')]); } catch (e) {
    if (my === gen) replace(container, h('p', { class: 'error' }, errorText(e)));
    return;
  }
  if (my !== gen || container.dataset.view !== 'departments') return;
  app.setDepartments(depts);
  const editor = h('section', { class: 'editor', sb: 'dept-editor' });
  const rows = depts.map((d) => h('tr', { sb: 'dept-row', class: 'clickable' + (d.id === deptSelected ? ' selected' : ''),
    data: { deptId: d.id, enabled: d.enabled, visibility: d.visibility } },
  h('td', {}, h('button', { class: 'link', sb: 'dept-edit', onclick: () => { deptSelected = d.id; departmentsView(container); } }, d.name)),
  h('td', {}, t('vis.' + d.visibility)),
  h('td', {}, h('button', { sb: 'dept-toggle', class: d.enabled ? '' : 'muted', 'aria-pressed': d.enabled ? 'true' : 'false',
    onclick: async () => {
      try { await api('PATCH', `/api/departments/${d.id}`, { enabled: !d.enabled }); departmentsView(container); } catch (e) { toast(errorText(e), 'error'); }
    } }, d.enabled ? t('dept.disable') : t('dept.enable'))),
  h('td', {}, String(d.operator_ids.length))));
  replace(container, h('div', { class: 'page admin' },
    h('div', { class: 'page-head' }, h('h1', {}, t('dept.title')),
      h('button', { class: 'primary', sb: 'dept-add', onclick: () => { deptSelected = 'new'; departmentsView(container); } }, t('dept.add'))),
    h('div', { class: 'admin-split' },
      h('table', { class: 'list', sb: 'dept-list' },
        h('thead', {}, h('tr', {}, h('th', {}, t('col.name')), h('th', {}, t('col.visibility')), h('th', {}, t('col.enabled')), h('th', {}, t('nav.operators')))),
        h('tbody', {}, rows)),
      editor)));
  const d = deptSelected === 'new' ? null : depts.find((x) => x.id === deptSelected);
  if (deptSelected === 'new' || d) departmentForm(editor, d, depts, ops, container);
}

function departmentForm(editor, d, depts, ops, container) {
  const isNew = !d;
  d = d || { name: '', description: '', visibility: 'public', enabled: true, routing: 'auto', ring_timeout_s: 30, wait_timeout_s: 120,
    locale: '', fallback_department_id: null, allowed_origins: [], operator_ids: [],
    prechat: { name: 'optional', email: 'optional', question: 'required' },
    email: Object.fromEntries([['from_address', ''], ...emailSettings.map((k) => [k, { enabled: false, to: [] }])]) };
  const inp = (name, attrs) => h('input', { name, data: { field: name }, sb: 'dept-' + name.replaceAll('.', '-').replaceAll('_', '-'), ...attrs });
  const name = inp('name', { type: 'text', value: d.name, required: true, maxlength: 100 });
  const description = h('textarea', { name: 'description', data: { field: 'description' }, sb: 'dept-description', rows: 3 });
  description.value = d.description || '';
  const visibility = h('select', { name: 'visibility', data: { field: 'visibility' }, sb: 'dept-visibility' },
    options([['public', t('dept.public')], ['private', t('dept.private')]], d.visibility));
  const enabled = inp('enabled', { type: 'checkbox', checked: d.enabled });
  const routing = h('select', { name: 'routing', data: { field: 'routing' }, sb: 'dept-routing' },
    options([['auto', t('dept.routing.auto')], ['broadcast', t('dept.routing.broadcast')]], d.routing));
  const ring = inp('ring_timeout_s', { type: 'number', min: 1, max: 600, value: String(d.ring_timeout_s) });
  const wait = inp('wait_timeout_s', { type: 'number', min: 1, max: 3600, value: String(d.wait_timeout_s) });
  const locale = h('select', { name: 'locale', data: { field: 'locale' }, sb: 'dept-locale' },
    options([['', t('dept.locale.auto')], ['en', t('locale.en')], ['ja', t('locale.ja')]], d.locale || ''));
  const fallback = h('select', { name: 'fallback_department_id', data: { field: 'fallback_department_id' }, sb: 'dept-fallback' },
    h('option', { value: '' }, t('dept.fallback.none')),
    options(depts.filter((x) => x.id !== d.id).map((x) => [x.id, x.name]), d.fallback_department_id || ''));
  const origins = inp('allowed_origins', { type: 'text', value: (d.allowed_origins || []).join(', '), placeholder: 'https://example.com' });
  const pool = h('fieldset', { class: 'pool', sb: 'dept-pool', data: { field: 'operator_ids' } }, h('legend', {}, t('dept.pool')),
    ops.map((o) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: o.id, sb: 'dept-pool-operator', data: { operatorId: o.id },
      checked: d.operator_ids.includes(o.id) }), ' ', o.name, ' ', h('span', { class: 'muted small' }, o.email))));
  const from = inp('email.from_address', { type: 'email', value: d.email.from_address || '' });
  const settingRows = emailSettings.map((k) => {
    const s = d.email[k] || { enabled: false, to: [] };
    return h('div', { class: 'email-setting', sb: 'email-setting', data: { setting: k } },
      h('span', { class: 'label' }, t('dept.email.' + k)),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: `email.${k}.enabled`, sb: `email-${k}-enabled`, data: { field: `email.${k}.enabled` }, checked: s.enabled }), ' ', t('dept.email.on')),
      h('input', { type: 'text', name: `email.${k}.to`, sb: `email-${k}-to`, data: { field: `email.${k}.to` }, value: (s.to || []).join(', '),
        placeholder: 'a@example.com, b@example.com', 'aria-label': `${t('dept.email.' + k)}: ${t('dept.email.to')}` }));
  });
  const prechat = d.prechat !== undefined ? prechatFields(d.prechat) : null; // absent on servers before the widget
  const errorBox = h('p', { class: 'error', sb: 'dept-error', hidden: true });
  const embedBox = h('div', { class: 'embed', sb: 'embed-box' });
  const form = h('form', { class: 'dept-form', sb: 'dept-form', data: { deptId: d.id || '' } },
    h('h2', {}, isNew ? t('dept.new') : t('dept.edit', { name: d.name })),
    field(t('dept.name'), name), field(t('dept.description'), description), field(t('dept.visibility'), visibility),
    h('label', { class: 'check' }, enabled, ' ', t('dept.enabled')),
    field(t('dept.routing'), routing), field(t('dept.ring'), ring), field(t('dept.wait'), wait),
    field(t('dept.locale'), locale), field(t('dept.fallback'), fallback), field(t('dept.origins'), origins),
    pool,
    prechat ? h('fieldset', { sb: 'dept-prechat' }, h('legend', {}, t('dept.prechat')), prechat.el) : null,
    h('fieldset', { class: 'email', sb: 'dept-email' }, h('legend', {}, t('dept.email')), field(t('dept.email.from'), from), settingRows),
    errorBox,
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary', sb: 'dept-save' }, t('common.save')),
      !isNew ? h('button', { type: 'button', sb: 'dept-embed', onclick: () => showEmbed(d, embedBox) }, t('dept.embed')) : null,
      !isNew ? h('button', { type: 'button', class: 'danger', sb: 'dept-delete', onclick: () => deleteDept(d, container) }, t('common.delete')) : null),
    embedBox);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {
      name: name.value, description: description.value, visibility: visibility.value, enabled: enabled.checked,
      routing: routing.value, ring_timeout_s: Number(ring.value), wait_timeout_s: Number(wait.value), locale: locale.value,
      fallback_department_id: fallback.value || null, allowed_origins: origins.value,
      operator_ids: [...pool.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value),
      email: { from_address: from.value.trim() },
    };
    for (const k of emailSettings) {
      body.email[k] = { enabled: form.elements[`email.${k}.enabled`].checked, to: form.elements[`email.${k}.to`].value };
    }
    if (prechat) body.prechat = prechat.value();
    try {
      const saved = isNew ? await api('POST', '/api/departments', body) : await api('PATCH', `/api/departments/${d.id}`, body);
      deptSelected = saved.id;
      toast(t('common.saved'));
      departmentsView(container);
    } catch (e) { showFieldError(form, errorBox, e); }
  });
  replace(editor, form);
}

// prechatFields renders the pre-chat form setting: for each field whether
// the widget asks for it (required, optional, off).
function prechatFields(value) {
  const modes = ['required', 'optional', 'off'];
  const keys = ['name', 'email', 'question', ...Object.keys(value || {}).filter((k) => !['name', 'email', 'question'].includes(k))];
  const selects = keys.map((k) => [k, h('select', { sb: 'prechat-' + k, data: { field: 'prechat.' + k }, name: 'prechat.' + k },
    options(modes.map((m) => [m, t('dept.prechat.mode.' + m)]), (value && value[k]) || 'optional'))]);
  const label = (k) => (t('dept.prechat.' + k) === 'dept.prechat.' + k ? k : t('dept.prechat.' + k));
  return {
    el: h('div', { class: 'prechat' }, selects.map(([k, sel]) => field(label(k), sel))),
    value: () => Object.fromEntries(selects.map(([k, sel]) => [k, sel.value])),
  };
}

async function showEmbed(d, box) {
  if (d.visibility !== 'public') { replace(box, h('p', { class: 'muted' }, t('dept.embed.private'))); return; }
  try {
    const e = await api('GET', `/api/departments/${d.id}/embed`);
    const ta = h('textarea', { readOnly: true, rows: 3, sb: 'snippet', class: 'code' });
    ta.value = e.snippet;
    replace(box, h('h3', {}, t('dept.embed')), ta,
      h('button', { type: 'button', sb: 'copy-snippet', onclick: async () => {
        try { await navigator.clipboard.writeText(e.snippet); } catch {
          ta.select();
          document.execCommand('copy');
        }
        toast(t('dept.embed.copied'));
      } }, t('dept.embed.copy')));
  } catch (err) { replace(box, h('p', { class: 'error' }, errorText(err))); }
}

async function deleteDept(d, container) {
  if (!(await confirmDialog(t('dept.delete.confirm', { name: d.name }), { okLabel: t('common.delete'), typeToConfirm: d.name, danger: true }))) return;
  try {
    await api('DELETE', `/api/departments/${d.id}?confirm=true`);
    toast(t('dept.deleted'));
    deptSelected = null;
    departmentsView(container);
  } catch (e) { toast(errorText(e), 'error'); }
}

// ---- operators -------------------------------------------------------------

export async function operatorsView(container) {
  const my = ++gen;
  let ops;
  let depts;
  try { [ops, depts] = await Promise.all([all('/api/operators'), all('/api/departments')]); } catch (e) {
    if (my === gen) replace(container, h('p', { class: 'error' }, errorText(e)));
    return;
  }
  if (my !== gen || container.dataset.view !== 'operators') return;
  app.setOperators(ops);
  const deptName = (id) => (depts.find((d) => d.id === id) || {}).name || '';
  replace(container, h('div', { class: 'page admin' },
    h('div', { class: 'page-head' }, h('h1', {}, t('op.title')),
      h('button', { class: 'primary', sb: 'op-add', onclick: () => operatorDialog(null, depts, container) }, t('op.add'))),
    h('table', { class: 'list', sb: 'op-list' },
      h('thead', {}, h('tr', {}, ['col.name', 'col.email', 'col.role', 'col.maxchats', 'col.status', 'op.departments', 'col.enabled', 'col.actions'].map((k) => h('th', {}, t(k))))),
      h('tbody', {}, ops.map((o) => h('tr', { sb: 'op-row', data: { operatorId: o.id, enabled: o.enabled, role: o.role } },
        h('td', {}, o.name), h('td', {}, o.email), h('td', {}, t('role.' + o.role)), h('td', {}, String(o.max_chats)),
        h('td', {}, t('op.live', { status: t('status.' + o.status), n: o.active_chats })),
        h('td', {}, o.department_ids.map(deptName).join(', ')),
        h('td', {}, o.enabled ? t('common.yes') : t('common.no')),
        h('td', { class: 'buttons' },
          h('button', { sb: 'op-edit', onclick: () => operatorDialog(o, depts, container) }, t('common.edit')),
          h('button', { sb: 'op-toggle', onclick: async () => {
            try { await api('PATCH', `/api/operators/${o.id}`, { enabled: !o.enabled }); operatorsView(container); } catch (e) { toast(errorText(e), 'error'); }
          } }, o.enabled ? t('op.disable') : t('op.enable')),
          o.id !== app.me.id ? h('button', { class: 'danger', sb: 'op-delete', onclick: async () => {
            if (!(await confirmDialog(t('op.delete.confirm', { name: o.name }), { okLabel: t('common.delete'), danger: true }))) return;
            try { await api('DELETE', `/api/operators/${o.id}`); operatorsView(container); } catch (e) { toast(errorText(e), 'error'); }
          } }, t('common.delete')) : null)))))));
}

async function operatorDialog(o, depts, container) {
  const isNew = !o;
  o = o || { name: '', email: '', role: 'operator', max_chats: 5, enabled: true, locale: '', department_ids: [] };
  const name = h('input', { type: 'text', sb: 'op-name', data: { field: 'name' }, value: o.name, required: true });
  const email = h('input', { type: 'email', sb: 'op-email', data: { field: 'email' }, value: o.email, required: true });
  const password = h('input', { type: 'password', sb: 'op-password', data: { field: 'password' }, autocomplete: 'new-password', required: isNew, minlength: 8 });
  const role = h('select', { sb: 'op-role', data: { field: 'role' } }, options(['operator', 'supervisor', 'admin'].map((r) => [r, t('role.' + r)]), o.role));
  const maxChats = h('input', { type: 'number', sb: 'op-max-chats', data: { field: 'max_chats' }, min: 1, max: 100, value: String(o.max_chats) });
  const enabled = h('input', { type: 'checkbox', sb: 'op-enabled', data: { field: 'enabled' }, checked: o.enabled });
  const locale = h('select', { sb: 'op-locale', data: { field: 'locale' } }, options([['', t('locale.auto')], ['en', t('locale.en')], ['ja', t('locale.ja')]], o.locale || ''));
  const deptBoxes = depts.map((d) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: d.id, sb: 'op-department', data: { deptId: d.id }, checked: o.department_ids.includes(d.id) }), ' ', d.name));
  const body = h('div', { class: 'op-form' }, field(t('op.name'), name), field(t('op.email'), email),
    field(isNew ? t('op.password') : t('op.newpassword'), password), field(t('op.role'), role), field(t('op.maxchats'), maxChats),
    h('label', { class: 'check' }, enabled, ' ', t('op.enabled')), field(t('op.locale'), locale),
    h('fieldset', {}, h('legend', {}, t('op.departments')), deptBoxes));
  await modal({
    title: isNew ? t('op.new') : t('op.edit', { name: o.name }), sb: 'op-dialog', body,
    buttons: [{ label: t('common.cancel'), sb: 'op-cancel', value: 'cancel' }, { label: t('common.save'), sb: 'op-save', value: 'ok', submit: true, class: 'primary' }],
    onSubmit: async () => {
      const req = { name: name.value, email: email.value, role: role.value, max_chats: Number(maxChats.value), enabled: enabled.checked, locale: locale.value };
      if (password.value) req.password = password.value;
      const saved = isNew ? await api('POST', '/api/operators', req) : await api('PATCH', `/api/operators/${o.id}`, req);
      const want = new Set(deptBoxes.map((l) => l.querySelector('input')).filter((c) => c.checked).map((c) => c.value));
      const had = new Set(isNew ? [] : o.department_ids);
      for (const id of want) if (!had.has(id)) await api('PUT', `/api/departments/${id}/operators/${saved.id}`);
      for (const id of had) if (!want.has(id)) await api('DELETE', `/api/departments/${id}/operators/${saved.id}`);
      toast(t('common.saved'));
      return true;
    },
  });
  operatorsView(container);
}
