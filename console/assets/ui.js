// Dialogs and notices, built on <dialog>. Every control has a data-sb hook
// for tests.
import { h } from './dom.js';
import { t } from './i18n.js';

// modal shows a dialog with body content and buttons; resolves with the
// value of the button pressed (null on cancel / Escape).
export function modal({ title, body, buttons, sb = 'dialog', onSubmit }) {
  return new Promise((resolve) => {
    const errorBox = h('p', { class: 'error', sb: 'dialog-error', hidden: true });
    const form = h('form', { method: 'dialog', class: 'dialog-form' },
      h('h2', {}, title), body, errorBox,
      h('div', { class: 'buttons' }, buttons.map((b) =>
        h('button', { type: b.submit ? 'submit' : 'button', class: b.class || '', sb: b.sb, value: b.value,
          onclick: b.submit ? undefined : () => finish(b.value) }, b.label))));
    const dlg = h('dialog', { sb }, form);
    let done = false;
    function finish(v) {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      resolve(v);
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const value = ev.submitter ? ev.submitter.value : 'ok';
      if (onSubmit) {
        try {
          errorBox.hidden = true;
          const r = await onSubmit(value);
          if (r === false) return;
        } catch (e) {
          errorBox.textContent = t('common.error', { msg: e.message });
          errorBox.hidden = false;
          return;
        }
      }
      finish(value);
    });
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); finish(null); });
    document.body.appendChild(dlg);
    dlg.showModal();
  });
}

// confirmDialog asks a yes/no question; with typeToConfirm the OK button
// works only once that exact text was typed.
export async function confirmDialog(question, { okLabel, typeToConfirm, danger } = {}) {
  const input = typeToConfirm ? h('input', { type: 'text', sb: 'confirm-input', autocomplete: 'off' }) : null;
  // The "not yet" mark must go as soon as the text changes, or the form
  // would stay invalid and never submit.
  if (input) input.addEventListener('input', () => input.setCustomValidity(''));
  const ok = { label: okLabel || t('common.confirm'), sb: 'confirm-ok', value: 'ok', submit: true, class: danger ? 'danger' : 'primary' };
  const r = await modal({
    title: t('common.confirm'), sb: 'confirm',
    body: h('div', {}, h('p', {}, question), input),
    buttons: [{ label: t('common.cancel'), sb: 'confirm-cancel', value: 'cancel' }, ok],
    onSubmit: () => {
      if (input && input.value.trim() !== typeToConfirm) {
        input.setCustomValidity(' ');
        input.reportValidity();
        return false;
      }
      return true;
    },
  });
  return r === 'ok';
}

let toastBox;
// toast shows a short notice (role=status, so screen readers hear it).
export function toast(msg, kind = 'info') {
  if (!toastBox) {
    toastBox = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite', sb: 'toasts' });
    document.body.appendChild(toastBox);
  }
  const el = h('div', { class: 'toast ' + kind, sb: 'toast', data: { kind } }, msg);
  toastBox.appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

export function errorText(e) {
  return t('common.error', { msg: (e && e.message) || String(e) });
}
