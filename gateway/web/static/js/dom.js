// Building the page from elements, never from markup strings: every text goes in as text, so nothing from the API can
// turn into markup (and the Content-Security-Policy needs no inline anything).
import { t, locale } from './i18n.js';

const PROPERTIES = new Set(['value', 'checked', 'selected', 'indeterminate']);

function apply(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') el.textContent = value;
    else if (key === 'class') el.setAttribute('class', value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (PROPERTIES.has(key)) continue; // after the children (a select's value needs its options)
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false || child === '') continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** h('button', {class: 'primary', onClick}, 'Zapisz') */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  apply(el, props);
  append(el, children);
  for (const key of PROPERTIES) {
    if (props && props[key] !== undefined && props[key] !== null) el[key] = props[key];
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) el.setAttribute(key, String(value));
  }
  return append(el, children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// -- forms ----------------------------------------------------------------------------------------

let sequence = 0;

export function uid(prefix = 'f') {
  sequence += 1;
  return `${prefix}${sequence}`;
}

/** A labelled control with a place for its error (aria-describedby points at both hint and error). */
export function field(label, control, { hint, className } = {}) {
  if (!control.id) control.id = uid();
  const described = [];
  const hintEl = hint ? h('p', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) described.push(hintEl.id);
  const error = h('p', { class: 'field-error', id: `${control.id}-error`, hidden: true });
  described.push(error.id);
  control.setAttribute('aria-describedby', described.join(' '));
  return h('div', { class: `field${className ? ` ${className}` : ''}` }, h('label', { for: control.id }, label), control, hintEl, error);
}

export function input(name, props = {}) {
  return h('input', { name, type: 'text', ...props });
}

export function textarea(name, props = {}) {
  return h('textarea', { name, rows: 5, ...props });
}

/** options: [[value, label], ...] */
export function select(name, options, props = {}) {
  return h('select', { name, ...props }, options.map(([value, label]) => h('option', { value }, label)));
}

export function checkbox(label, props = {}) {
  const box = h('input', { type: 'checkbox', ...props });
  if (!box.id) box.id = uid();
  return h('div', { class: 'check' }, box, h('label', { for: box.id }, label));
}

/** A form with a place for its problem (role=alert) and a submit handler that shows API errors. */
export function form(props, ...children) {
  const { onSubmit, ...rest } = props;
  const alert = h('div', { class: 'form-alert', role: 'alert', hidden: true });
  const el = h('form', { novalidate: true, ...rest }, alert, ...children);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(el);
    const submit = el.querySelector('button[type=submit]');
    if (submit) submit.disabled = true;
    el.setAttribute('aria-busy', 'true');
    try {
      await onSubmit(new FormData(el), el);
    } catch (error) {
      showErrors(el, error);
    } finally {
      if (submit && submit.isConnected) submit.disabled = false;
      el.removeAttribute('aria-busy');
    }
  });
  return el;
}

export function clearErrors(formEl) {
  const alert = formEl.querySelector('.form-alert');
  if (alert) {
    clear(alert);
    alert.hidden = true;
  }
  for (const el of formEl.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of formEl.querySelectorAll('.field-error')) {
    el.textContent = '';
    el.hidden = true;
  }
}

/** Where a field's problem belongs: the group the field names (a fieldset of checkboxes or radio
 * buttons that share the name), else the control of that name. */
function controlFor(formEl, key) {
  const escaped = CSS.escape(key);
  return formEl.querySelector(`[data-field="${escaped}"]`) || formEl.querySelector(`[name="${escaped}"]`);
}

/** The control itself, or for a group (a fieldset of checkboxes) its first control one can reach. */
function focusableIn(control) {
  if (control.matches('input, select, textarea, button')) return control;
  return [...control.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .find((el) => !el.disabled && el.getClientRects().length) || null;
}

/** An API problem next to the right fields: `errors` by field name, the rest in the form's alert. */
export function showErrors(formEl, error) {
  const alert = formEl.querySelector('.form-alert');
  const unplaced = [];
  let first = null;
  for (const [key, message] of Object.entries(error.errors || {})) {
    const control = controlFor(formEl, key);
    if (!control) {
      unplaced.push(`${key}: ${message}`);
      continue;
    }
    control.setAttribute('aria-invalid', 'true');
    const holder = control.closest('.field, .check, td, fieldset') || control.parentElement;
    let place = holder.querySelector(':scope > .field-error');
    if (!place) {
      place = h('p', { class: 'field-error' });
      holder.append(place);
    }
    // The message is part of the control's description, next to its hint (a group's too).
    if (!place.id) place.id = uid('err');
    const described = (control.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    if (!described.includes(place.id)) control.setAttribute('aria-describedby', [...described, place.id].join(' '));
    place.textContent = message;
    place.hidden = false;
    first = first || focusableIn(control);
  }
  if (alert) {
    const title = error.title || t('error.generic');
    const detail = error.detail && error.detail !== error.title ? error.detail : '';
    append(alert, [h('strong', {}, title), detail ? h('p', {}, detail) : null, unplaced.length ? h('ul', {}, unplaced.map((line) => h('li', {}, line))) : null]);
    if (error.retryAfter) append(alert, [h('p', {}, t('error.retry_after', { seconds: error.retryAfter }))]);
    alert.hidden = false;
  }
  if (first) {
    first.focus();
  } else if (alert) {
    alert.setAttribute('tabindex', '-1');
    alert.focus();
  }
}

// -- feedback ---------------------------------------------------------------------------------------

/** Says something to screen readers (and shows it briefly). */
export function announce(message, kind = 'info') {
  const live = document.getElementById('live');
  if (live) live.textContent = message;
  let toasts = document.getElementById('toasts');
  if (!toasts) {
    toasts = h('div', { id: 'toasts', class: 'toasts' });
    document.body.append(toasts);
  }
  const toast = h('div', { class: `toast toast-${kind}` }, message);
  toasts.append(toast);
  setTimeout(() => toast.remove(), 6000);
}

export function notice(kind, ...children) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

export function problemPanel(error, retry) {
  return notice('error', h('strong', {}, error.title || t('error.generic')), error.detail && error.detail !== error.title ? h('p', {}, error.detail) : null,
    retry ? h('button', { type: 'button', class: 'secondary', onClick: retry }, t('action.retry')) : null);
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

export function loading() {
  return h('p', { class: 'loading', role: 'status' }, t('status.loading'));
}

export function badge(text, kind = '') {
  return h('span', { class: `badge${kind ? ` badge-${kind}` : ''}` }, text);
}

export function table(headers, rows, { caption, className } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: className || '' },
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((head) => h('th', { scope: 'col' }, head)))),
      h('tbody', {}, rows)));
}

// -- formats ------------------------------------------------------------------------------------------

export function parseDay(iso) {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return new Date(y, m - 1, d);
}

export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function addDays(date, days) {
  const copy = new Date(date);
  copy.setDate(copy.getDate() + days);
  return copy;
}

export function fmtDate(iso, options = { day: 'numeric', month: 'short', year: 'numeric' }) {
  if (!iso) return '—';
  const date = iso.length <= 10 ? parseDay(iso) : new Date(iso);
  return new Intl.DateTimeFormat(locale(), options).format(date);
}

export function fmtDateTime(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

export function fmtMoney(money) {
  if (!money) return '—';
  return new Intl.NumberFormat(locale(), { style: 'currency', currency: money.currency || 'PLN' }).format(money.amount / 100);
}

export function fmtNumber(value, digits = 2) {
  if (value === null || value === undefined) return '—';
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** Saves a downloaded file (a Blob from the API) under its name. */
export function saveFile({ blob, filename }) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename || 'plik', class: 'visually-hidden' });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

/** A click handler whose API problem is said aloud and shown, not lost. */
export function guarded(handler) {
  return async (event) => {
    const button = event && event.currentTarget instanceof HTMLButtonElement ? event.currentTarget : null;
    if (button) button.disabled = true;
    try {
      await handler(event);
    } catch (error) {
      announce(error.detail && error.detail !== error.title ? `${error.title}: ${error.detail}` : error.title || t('error.generic'), 'error');
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  };
}

/** Replaces an element's content (nulls and falses skipped, like h()). */
export function fill(el, ...children) {
  clear(el);
  return append(el, children);
}
