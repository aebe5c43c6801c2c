// The school's secretary: people and their activation codes, classes and class lists from CSV,
// payments (cash, refunds, reports, prices) and bank statements with the review queue.
import { api } from '../api.js';
import {
  h, field, input, select, form, notice, empty, badge, announce, guarded, table,
  fmtDate, fmtMoney, fill } from '../dom.js';
import { t } from '../i18n.js';
import { lists } from '../state.js';
import { downloadButton } from './family.js';

const ROLES = ['student', 'parent', 'teacher', 'principal', 'school_admin'];

function page(ctx, title, ...content) {
  fill(ctx.main, h('h1', { tabindex: '-1' }, title), ...content);
}

function currentSchoolYear() {
  const now = new Date();
  const start = now.getMonth() >= 7 ? now.getFullYear() : now.getFullYear() - 1;
  return `${start}/${start + 1}`;
}

function accountNotice(account, title) {
  return notice('success', h('strong', {}, title),
    h('dl', { class: 'pairs' },
      h('dt', {}, t('office.login')), h('dd', {}, h('code', { class: 'new-login' }, account.login)),
      account.activation_code ? [h('dt', {}, t('office.activation_code')), h('dd', {}, h('code', { class: 'activation-code' }, account.activation_code))] : null),
    h('p', { class: 'hint' }, t('office.code_hint')));
}

// -- people ---------------------------------------------------------------------------------------------

export async function users(ctx) {
  const role = ROLES.includes(ctx.query.get('role')) ? ctx.query.get('role') : '';
  const classId = ctx.query.get('class') || '';
  const [people, classes, students] = await Promise.all([
    api('GET', '/users', { query: { role, class_id: classId } }), lists.classes({ fresh: true }), api('GET', '/users', { query: { role: 'student' } }),
  ]);
  if (ctx.stale()) return;
  const className = new Map(classes.map((c) => [c.id, c.name]));
  const filter = h('form', { class: 'picker', onSubmit: (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    ctx.navigate(`/office/users?role=${data.get('role')}&class=${data.get('class')}`);
  } },
  field(t('office.role'), select('role', [['', t('office.all_roles')], ...ROLES.map((r) => [r, t(`role.${r}`)])], { value: role })),
  field(t('teacher.class'), select('class', [['', t('office.all_classes')], ...classes.map((c) => [c.id, c.name])], { value: classId })),
  h('button', { type: 'submit', class: 'secondary' }, t('action.filter')));
  const rows = people.map((u) => h('tr', {},
    h('th', { scope: 'row' }, `${u.last_name} ${u.first_name}`),
    h('td', {}, h('code', {}, u.login)),
    h('td', {}, u.roles.map((r) => t(`role.${r}`)).join(', ')),
    h('td', {}, u.class_id ? className.get(u.class_id) || '—' : '—'),
    h('td', {}, u.activated ? badge(t('office.active'), 'paid') : badge(t('office.not_active'), 'pending'))));

  const result = h('div', { role: 'status', 'aria-live': 'polite' });
  const roleSelect = select('role', ROLES.map((r) => [r, t(`role.${r}`)]), { id: 'new-user-role' });
  const classField = field(t('office.student_class'), select('class_id', [['', '—'], ...classes.map((c) => [c.id, c.name])]));
  const childrenField = field(t('office.children'), select('children', students.map((s) => [s.id, `${s.last_name} ${s.first_name}${s.class_id ? ` (${className.get(s.class_id) || ''})` : ''}`]), { multiple: true, size: 5 }), { hint: t('office.children_hint') });
  const sync = () => {
    classField.hidden = roleSelect.value !== 'student';
    childrenField.hidden = roleSelect.value !== 'parent';
  };
  roleSelect.addEventListener('change', sync);
  const create = form({ class: 'stack grid-form', onSubmit: async (data, formEl) => {
    const body = { role: data.get('role'), first_name: data.get('first_name').trim(), last_name: data.get('last_name').trim() };
    for (const key of ['email', 'phone']) if (data.get(key).trim()) body[key] = data.get(key).trim();
    if (body.role === 'student' && data.get('class_id')) body.class_id = data.get('class_id');
    if (body.role === 'parent' && data.getAll('children').length) body.children = data.getAll('children');
    const account = await api('POST', '/users', { json: body });
    formEl.reset();
    sync();
    fill(result, accountNotice(account, t('office.user_created', { name: `${body.first_name} ${body.last_name}` })));
    result.querySelector('strong').setAttribute('tabindex', '-1');
    result.querySelector('strong').focus();
  } },
  field(t('office.role'), roleSelect),
  field(t('office.first_name'), input('first_name', { required: true, maxlength: 100, autocomplete: 'off' })),
  field(t('office.last_name'), input('last_name', { required: true, maxlength: 100, autocomplete: 'off' })),
  field(t('office.email'), input('email', { type: 'email', maxlength: 254, autocomplete: 'off' })),
  field(t('office.phone'), input('phone', { type: 'tel', maxlength: 30, autocomplete: 'off' })),
  classField, childrenField,
  h('button', { type: 'submit', class: 'primary' }, t('office.create_user')));
  sync();
  page(ctx, t('office.users_title'),
    h('section', { 'aria-labelledby': 'new-user' }, h('h2', { id: 'new-user' }, t('office.new_user')), result, create),
    h('section', { 'aria-labelledby': 'user-list' }, h('h2', { id: 'user-list' }, t('office.user_list', { n: people.length })), filter,
      people.length ? table([t('office.name'), t('office.login'), t('office.role'), t('teacher.class'), t('office.account')], rows) : empty(t('office.no_users'))));
}

// -- classes and class lists ----------------------------------------------------------------------------------

export async function classes(ctx) {
  const [list, teachers, students] = await Promise.all([
    lists.classes({ fresh: true }), api('GET', '/users', { query: { role: 'teacher' } }), api('GET', '/users', { query: { role: 'student' } }),
  ]);
  if (ctx.stale()) return;
  const teacherOptions = [['', t('office.no_homeroom')], ...teachers.map((x) => [x.id, `${x.last_name} ${x.first_name}`])];
  const counts = students.reduce((acc, s) => ({ ...acc, [s.class_id]: (acc[s.class_id] || 0) + 1 }), {});
  const rows = list.map((c) => {
    const homeroom = select(`homeroom-${c.id}`, teacherOptions, { value: c.homeroom_teacher_id || '', 'aria-label': t('office.homeroom_of', { klass: c.name }) });
    homeroom.addEventListener('change', guarded(async () => {
      await api('PATCH', `/classes/${c.id}`, { json: { homeroom_teacher_id: homeroom.value || null } });
      announce(t('office.homeroom_changed', { klass: c.name }), 'success');
      lists.classes({ fresh: true });
    }));
    return h('tr', {}, h('th', { scope: 'row' }, c.name), h('td', {}, c.school_year), h('td', {}, homeroom), h('td', { class: 'num' }, String(counts[c.id] || 0)),
      h('td', {}, h('a', { href: `#/office/users?role=student&class=${c.id}` }, t('office.show_students'))));
  });
  const createForm = form({ class: 'stack grid-form', onSubmit: async (data) => {
    const body = { name: data.get('name').trim(), school_year: data.get('school_year').trim() };
    if (data.get('homeroom_teacher_id')) body.homeroom_teacher_id = data.get('homeroom_teacher_id');
    await api('POST', '/classes', { json: body });
    announce(t('office.class_created', { klass: body.name }), 'success');
    ctx.navigate(`/office/classes?v=${Date.now()}`);
  } },
  field(t('office.class_name'), input('name', { required: true, maxlength: 20, placeholder: '1A' })),
  field(t('office.school_year'), input('school_year', { required: true, value: currentSchoolYear(), pattern: '\\d{4}/\\d{4}' })),
  field(t('office.homeroom'), select('homeroom_teacher_id', teacherOptions)),
  h('button', { type: 'submit', class: 'primary' }, t('office.create_class')));

  const importResult = h('div', { role: 'status', 'aria-live': 'polite' });
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,text/csv', required: true });
  const importForm = form({ class: 'stack', onSubmit: async (data) => {
    const chosen = file.files[0];
    if (!chosen) throw { title: t('office.choose_file'), errors: { file: t('office.choose_file') } };
    const report = await api('POST', `/classes/${data.get('class_id')}/students/import`, { body: chosen, contentType: 'text/csv' });
    const account = (a) => (a.existing ? t('office.existing_parent', { login: a.login }) : `${a.login} · ${a.activation_code}`);
    fill(importResult, notice('success', h('strong', {}, t('office.imported', { n: report.created.length }))),
      table([t('office.row'), t('office.student'), t('office.parents')], report.created.map((r) => h('tr', {},
        h('td', { class: 'num' }, String(r.row)),
        h('td', {}, `${r.student.first_name} ${r.student.last_name}: `, h('code', {}, account(r.student))),
        h('td', {}, r.parents.map((p) => h('div', {}, `${p.first_name} ${p.last_name}: `, h('code', {}, account(p)))))))),
      h('p', { class: 'hint' }, t('office.code_hint')));
  } },
  field(t('teacher.class'), select('class_id', list.map((c) => [c.id, c.name]))),
  field(t('office.csv_file'), file, { hint: t('office.csv_hint') }),
  h('button', { type: 'submit', class: 'primary' }, t('office.import')));

  page(ctx, t('office.classes_title'),
    list.length ? table([t('office.class_name'), t('office.school_year'), t('office.homeroom'), t('office.students'), ''], rows) : empty(t('office.no_classes')),
    h('section', { 'aria-labelledby': 'new-class' }, h('h2', { id: 'new-class' }, t('office.new_class')), createForm),
    list.length ? h('section', { 'aria-labelledby': 'csv-import' }, h('h2', { id: 'csv-import' }, t('office.csv_title')), importForm, importResult) : null);
}

// -- payments ----------------------------------------------------------------------------------------------

const ORDER_STATUSES = ['pending', 'paid', 'cancelled', 'refunded'];

export async function payments(ctx) {
  const status = ORDER_STATUSES.includes(ctx.query.get('status')) ? ctx.query.get('status') : '';
  const [orders, report, students, offer] = await Promise.all([
    api('GET', '/billing/orders', { query: { status } }), api('GET', '/billing/reports/summary'),
    api('GET', '/users', { query: { role: 'student' } }), api('GET', '/billing/offer'),
  ]);
  if (ctx.stale()) return;
  const studentName = new Map(students.map((s) => [s.id, `${s.last_name} ${s.first_name}`]));
  const refresh = () => ctx.navigate(`/office/payments?status=${status}&v=${Date.now()}`);
  const rows = orders.items.map((o) => h('tr', {},
    h('th', { scope: 'row' }, h('code', {}, o.transaction_number)),
    h('td', {}, studentName.get(o.student_id) || '—'),
    h('td', {}, t(`product.${o.product}`)),
    h('td', {}, t(`channel.${o.channel}`)),
    h('td', { class: 'num' }, fmtMoney(o.amount)),
    h('td', {}, badge(t(`order_status.${o.status}`), o.status)),
    h('td', {}, fmtDate(o.created_at)),
    h('td', { class: 'actions' },
      o.status === 'pending' ? h('button', { type: 'button', class: 'secondary small', onClick: guarded(async () => {
        if (!window.confirm(t('office.cash_confirm', { amount: fmtMoney(o.amount), number: o.transaction_number }))) return;
        await api('POST', `/billing/orders/${o.id}/cash-payment`, { json: { amount: o.amount } });
        announce(t('office.cash_recorded'), 'success');
        refresh();
      }) }, t('office.cash')) : null,
      o.status === 'paid' ? h('button', { type: 'button', class: 'secondary small', onClick: guarded(async () => {
        const reason = window.prompt(t('office.refund_reason'));
        if (!reason) return;
        await api('POST', `/billing/orders/${o.id}/refund`, { json: { reason } });
        announce(t('office.refunded'), 'success');
        refresh();
      }) }, t('office.refund')) : null,
      o.status === 'paid' && o.channel === 'cash' ? downloadButton(t('office.receipt'), `/billing/orders/${o.id}/receipt.pdf`, { className: 'secondary small' }) : null)));
  const totals = (entries, prefix) => (Object.keys(entries).length
    ? h('ul', { class: 'inline-list' }, Object.entries(entries).map(([key, total]) => h('li', {}, `${t(`${prefix}.${key}`)}: ${total.count} · ${fmtMoney(total.amount)}`)))
    : empty(t('office.nothing_yet')));
  const tabs = h('nav', { class: 'tabs', 'aria-label': t('office.filter_orders') }, [['', t('help.all')], ...ORDER_STATUSES.map((s) => [s, t(`order_status.${s}`)])].map(([value, label]) => h('a', {
    href: `#/office/payments${value ? `?status=${value}` : ''}`, class: value === status ? 'tab active' : 'tab', 'aria-current': value === status ? 'page' : false,
  }, label)));
  const priceForm = form({ class: 'stack grid-form', onSubmit: async (data) => {
    const amount = Math.round(Number(String(data.get('price')).replace(',', '.')) * 100);
    await api('PUT', `/billing/products/${data.get('code')}`, { json: { price: { amount, currency: 'PLN' }, period_months: Number(data.get('period_months')) } });
    announce(t('office.price_saved'), 'success');
    refresh();
  } },
  field(t('order.product'), select('code', offer.products.map((p) => [p.code, `${t(`product.${p.code}`)} (${fmtMoney(p.price)} / ${p.period_months} ${t('office.months')})`]))),
  field(t('office.price'), input('price', { inputmode: 'decimal', required: true, 'data-field': 'price', placeholder: '22,00' })),
  field(t('office.period'), input('period_months', { type: 'number', min: 1, max: 24, value: 12, required: true })),
  h('button', { type: 'submit', class: 'secondary' }, t('action.save')));

  page(ctx, t('office.payments_title'),
    h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, t('office.balance')), h('strong', { class: 'big-number' }, fmtMoney(report.balance)))),
    h('section', { 'aria-labelledby': 'report-status' }, h('h2', { id: 'report-status' }, t('office.by_status')), totals(report.by_status, 'order_status')),
    h('section', { 'aria-labelledby': 'report-channel' }, h('h2', { id: 'report-channel' }, t('office.by_channel')), totals(report.by_channel, 'channel'),
      h('div', { class: 'button-row' }, downloadButton(t('office.ledger_csv'), '/billing/reports/ledger.csv'))),
    h('section', { 'aria-labelledby': 'orders-title' }, h('h2', { id: 'orders-title' }, t('office.orders')), tabs,
      orders.items.length ? table([t('order.number'), t('order.student'), t('order.product'), t('order.channel'), t('order.amount'), t('order.status'), t('order.created'), ''], rows) : empty(t('access.no_orders'))),
    h('details', { class: 'panel' }, h('summary', {}, t('office.prices')), priceForm));
}

// -- bank statements and the review queue ------------------------------------------------------------------------

export async function statements(ctx) {
  const [queue, pending, students] = await Promise.all([
    api('GET', '/billing/review'), api('GET', '/billing/orders', { query: { status: 'pending' } }), api('GET', '/users', { query: { role: 'student' } }),
  ]);
  if (ctx.stale()) return;
  const studentName = new Map(students.map((s) => [s.id, `${s.last_name} ${s.first_name}`]));
  const orderOptions = [['', t('office.choose_order')], ...pending.items.map((o) => [o.id, `${o.transaction_number} · ${studentName.get(o.student_id) || ''} · ${fmtMoney(o.amount)}`])];
  const result = h('div', { role: 'status', 'aria-live': 'polite' });
  const file = h('input', { type: 'file', name: 'file', accept: '.sta,.mt940,.txt,.csv', required: true });
  const line = (l) => h('tr', {}, h('td', {}, fmtDate(l.date)), h('td', { class: 'num' }, fmtMoney(l.amount)), h('td', {}, l.title), h('td', {}, l.counterparty), h('td', {}, t(`outcome.${l.outcome.split(':')[0]}`), l.outcome.includes(':') ? ` (${t(`outcome.${l.outcome.split(':')[1]}`)})` : ''));
  const importForm = form({ class: 'stack', onSubmit: async () => {
    const chosen = file.files[0];
    if (!chosen) throw { title: t('office.choose_file'), errors: { file: t('office.choose_file') } };
    const report = await api('POST', '/billing/statements', { body: chosen, contentType: chosen.name.toLowerCase().endsWith('.csv') ? 'text/csv' : 'text/plain' });
    const heads = [t('office.date'), t('order.amount'), t('office.title'), t('office.counterparty'), t('office.outcome')];
    fill(result, notice('success', h('strong', {}, t('office.statement_done', { matched: report.matched.length, unmatched: report.unmatched.length, duplicates: report.duplicates }))),
      report.matched.length ? table(heads, report.matched.map(line), { caption: t('office.matched') }) : null,
      report.unmatched.length ? table(heads, report.unmatched.map(line), { caption: t('office.to_review') }) : null,
      h('p', {}, h('a', { href: `#/office/statements?v=${Date.now()}` }, t('office.refresh_queue'))));
  } },
  field(t('office.statement_file'), file, { hint: t('office.statement_hint') }),
  h('button', { type: 'submit', class: 'primary' }, t('office.import')));

  const rows = queue.items.map((l) => {
    const chooser = select(`order-${l.id}`, orderOptions, { value: l.order_id || (pending.items.find((o) => o.transaction_number === l.transaction_number) || {}).id || '', 'aria-label': t('office.order_for', { title: l.title }) });
    return h('tr', {},
      h('td', {}, fmtDate(l.date)), h('td', { class: 'num' }, fmtMoney(l.amount)), h('td', {}, l.title), h('td', {}, l.counterparty),
      h('td', {}, t(`outcome.${l.outcome.split(':')[1] || l.outcome}`)),
      h('td', { class: 'actions' }, chooser,
        h('button', { type: 'button', class: 'primary small', onClick: guarded(async () => {
          if (!chooser.value) throw { title: t('office.choose_order') };
          await api('POST', `/billing/review/${l.id}`, { json: { order_id: chooser.value } });
          announce(t('office.line_resolved'), 'success');
          ctx.navigate(`/office/statements?v=${Date.now()}`);
        }) }, t('office.pay_order')),
        h('button', { type: 'button', class: 'secondary small', onClick: guarded(async () => {
          await api('POST', `/billing/review/${l.id}`, { json: { dismiss: true } });
          announce(t('office.line_dismissed'), 'success');
          ctx.navigate(`/office/statements?v=${Date.now()}`);
        }) }, t('office.dismiss'))));
  });
  page(ctx, t('office.statements_title'),
    h('section', { 'aria-labelledby': 'statement-import' }, h('h2', { id: 'statement-import' }, t('office.statement_import')), importForm, result),
    h('section', { 'aria-labelledby': 'review-queue' }, h('h2', { id: 'review-queue' }, t('office.review_queue', { n: queue.items.length })),
      rows.length ? table([t('office.date'), t('order.amount'), t('office.title'), t('office.counterparty'), t('office.reason'), t('office.decision')], rows) : empty(t('office.queue_empty'))));
}
