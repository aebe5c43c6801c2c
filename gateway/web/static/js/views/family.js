// What parents and students see: grades with the progress chart, attendance as a calendar,
// excuses, and extended access (the 402 screen, buying it, an order's payment page).
import { api } from '../api.js';
import {
  h, field, input, textarea, form, notice, empty, badge, table, announce,
  fmtDate, fmtDateTime, fmtMoney, fmtNumber, isoDay, addDays, parseDay, saveFile, select, uid, fill } from '../dom.js';
import { t, tOr, locale } from '../i18n.js';
import { state, currentStudent, hasRole, loadMe, peopleNames, shared } from '../state.js';
import { progressChart } from './chart.js';

export const STATUSES = ['present', 'absent', 'late', 'excused', 'released', 'school_absence'];

export function statusLabel(status) {
  return tOr(`status.${status}`, status);
}

export function statusShort(status) {
  return tOr(`status_short.${status}`, status);
}

function page(ctx, title, ...content) {
  fill(ctx.main, h('h1', { tabindex: '-1' }, title), ...content);
}

function noStudent(ctx) {
  page(ctx, t('family.no_student_title'), notice('info', t('family.no_student')));
}

function studentName(student) {
  return `${student.firstName} ${student.lastName}`;
}

/** A student's grades, fetched once per view (the attendance calendar also needs subject names). */
function studentGrades(studentId, fresh = false) {
  return shared(`grades:${studentId}`, () => api('GET', `/students/${studentId}/grades`), { fresh });
}

async function subjectNames(studentId) {
  try {
    const grades = await studentGrades(studentId);
    return new Map(grades.subjects.map((s) => [s.subject_id, s.subject_name]));
  } catch {
    return new Map();
  }
}

// -- 402: what extended access gives and how to get it ---------------------------------------------

export async function extendedAccessScreen(ctx, student, feature) {
  let offer = null;
  try {
    offer = await api('GET', '/billing/offer');
  } catch {
    offer = null;
  }
  const product = offer && offer.products.find((p) => p.code === 'extended_access');
  const price = product ? t('access.price', { price: fmtMoney(product.price), months: product.period_months }) : '';
  const buy = hasRole('parent')
    ? [h('h2', {}, t('access.how_title')), price ? h('p', { class: 'price' }, price) : null, channelButtons(ctx, student, offer)]
    : [h('h2', {}, t('access.how_title')), h('p', {}, t('access.student_ask_parent'))];
  page(ctx, t('access.required_title'),
    h('section', { class: 'paywall', 'aria-labelledby': 'paywall-lead' },
      h('p', { class: 'lead', id: 'paywall-lead' }, t(feature === 'attendance' ? 'access.required_attendance' : 'access.required_grades', { name: studentName(student) })),
      h('div', { class: 'columns' },
        h('div', {}, h('h2', {}, t('access.gives_title')), h('ul', { class: 'ticks' },
          ['access.gives_grades', 'access.gives_attendance', 'access.gives_chart', 'access.gives_student', 'access.gives_sms'].map((key) => h('li', {}, t(key))))),
        h('div', {}, h('h2', {}, t('access.free_title')), h('ul', {},
          ['access.free_messages', 'access.free_announcements', 'access.free_calendar', 'access.free_meetings'].map((key) => h('li', {}, t(key)))))),
      ...buy));
}

function channelButtons(ctx, student, offer) {
  const channels = (offer && offer.channels) || ['payu', 'bank_transfer', 'postal', 'cash'];
  const alert = h('div', { class: 'form-alert', role: 'alert', hidden: true });
  const buttons = channels.map((channel) => h('button', {
    type: 'button', class: channel === 'payu' ? 'primary' : 'secondary', 'data-channel': channel,
    onClick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      alert.hidden = true;
      try {
        const order = await api('POST', '/billing/orders', { json: { product: 'extended_access', student_id: student.id, channel } });
        if (channel === 'payu' && order.redirect_url) {
          announce(t('access.redirecting'));
          window.location.assign(order.redirect_url);
          return;
        }
        ctx.navigate(`/payments/${order.id}`);
      } catch (error) {
        fill(alert, h('strong', {}, error.title), error.detail ? h('p', {}, error.detail) : null);
        alert.hidden = false;
        alert.setAttribute('tabindex', '-1');
        alert.focus();
      } finally {
        if (button.isConnected) button.disabled = false;
      }
    },
  }, t(`channel_pay.${channel}`)));
  return h('div', { class: 'stack' }, alert, h('div', { class: 'button-row' }, buttons), h('p', { class: 'hint' }, t('access.channels_hint')));
}

// -- grades ------------------------------------------------------------------------------------------

let resizeListener = null;

/** The chart is drawn for its width: draw it again when the window changes size (a phone turned). */
function redrawOnResize(holder, draw) {
  if (resizeListener) window.removeEventListener('resize', resizeListener);
  let timer = null;
  let width = holder.clientWidth;
  resizeListener = () => {
    if (!holder.isConnected) {
      window.removeEventListener('resize', resizeListener);
      resizeListener = null;
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (Math.abs(holder.clientWidth - width) > 20) {
        width = holder.clientWidth;
        draw();
      }
    }, 100);
  };
  window.addEventListener('resize', resizeListener);
}

function gradeChip(grade, names, detailBox) {
  const describe = () => {
    fill(detailBox, 
      h('h3', {}, t('grades.detail_title', { value: grade.value })),
      h('dl', { class: 'pairs' },
        h('dt', {}, t('grades.category')), h('dd', {}, grade.category || t('grades.no_category')),
        h('dt', {}, t('grades.weight')), h('dd', {}, String(grade.weight), grade.counts_to_average ? '' : ` (${t('grades.not_counted')})`),
        h('dt', {}, t('grades.date')), h('dd', {}, fmtDate(grade.date)),
        h('dt', {}, t('grades.teacher')), h('dd', {}, names.get(grade.teacher) || '—'),
        grade.comment ? [h('dt', {}, t('grades.comment')), h('dd', {}, grade.comment)] : null,
        grade.points !== null && grade.points !== undefined ? [h('dt', {}, t('grades.points')), h('dd', {}, `${grade.points} / ${grade.max_points}`)] : null));
    detailBox.hidden = false;
  };
  const heavy = grade.weight >= 3 ? ' grade-heavy' : '';
  const muted = grade.counts_to_average ? '' : ' grade-muted';
  return h('button', {
    type: 'button', class: `grade${heavy}${muted}`, onClick: describe,
    'aria-label': t('grades.chip_label', { value: grade.value, category: grade.category || t('grades.no_category'), weight: grade.weight, date: fmtDate(grade.date) }),
  }, grade.value, h('span', { class: 'grade-weight', 'aria-hidden': 'true' }, String(grade.weight)));
}

function termGradesText(subject) {
  const parts = [];
  for (const kind of ['semester_proposed', 'semester_final', 'annual_proposed', 'annual_final']) {
    const value = subject.term_grades && subject.term_grades[kind];
    if (value) parts.push(h('span', { class: 'term' }, h('abbr', { title: t(`term.${kind}`) }, t(`term_short.${kind}`)), ' ', h('strong', {}, value)));
  }
  return parts.length ? parts : '—';
}

export async function grades(ctx) {
  const student = currentStudent();
  if (!student) return noStudent(ctx);
  let data;
  try {
    data = await studentGrades(student.id, true);
  } catch (error) {
    if (error.status === 402) return extendedAccessScreen(ctx, student, 'grades');
    throw error;
  }
  if (ctx.stale()) return;
  const names = await peopleNames();
  const detailBox = h('div', { class: 'grade-detail', role: 'status', hidden: true });
  const subjects = data.subjects;
  const rows = subjects.map((s) => h('tr', {},
    h('th', { scope: 'row' }, s.subject_name),
    h('td', {}, h('div', { class: 'grades-cell' }, s.grades.length ? s.grades.map((g) => gradeChip(g, names, detailBox)) : h('span', { class: 'muted' }, '—'))),
    h('td', { class: 'num optional' }, fmtNumber(s.averages ? s.averages.semester_1 : null)),
    h('td', { class: 'num optional' }, fmtNumber(s.averages ? s.averages.semester_2 : null)),
    h('td', { class: 'num strong', 'data-label': t('grades.avg_year') }, fmtNumber(s.average)),
    h('td', { 'data-label': t('grades.term') }, termGradesText(s))));
  const categories = new Map();
  for (const s of subjects) for (const g of s.grades) if (g.category) categories.set(g.category, g);

  const chartHolder = h('div', { class: 'chart-holder' });
  const withGrades = subjects.filter((s) => s.grades.length);
  const chooser = select('chart-subject', withGrades.map((s) => [s.subject_id, s.subject_name]), { id: 'chart-subject' });
  const drawChart = () => {
    const subject = withGrades.find((s) => s.subject_id === chooser.value);
    const width = Math.max(300, Math.min(760, (chartHolder.clientWidth || ctx.main.clientWidth || 640) - 4));
    fill(chartHolder, subject ? progressChart(subject.grades, { title: t('chart.title_subject', { subject: subject.subject_name }), width }) : h('p', { class: 'empty' }, t('chart.no_data')));
  };
  chooser.addEventListener('change', drawChart);
  redrawOnResize(chartHolder, drawChart);

  page(ctx, t('grades.title', { name: studentName(student) }),
    h('p', { class: 'summary-line' }, t('grades.overall'), ' ', h('strong', { class: 'big-number', id: 'overall-average' }, fmtNumber(data.overall_average)),
      data.school_year ? h('span', { class: 'muted' }, ` · ${t('grades.school_year', { year: data.school_year })}`) : null),
    subjects.length === 0 ? empty(t('grades.none')) : table(
      [t('grades.subject'), t('grades.grades'), h('span', { class: 'optional' }, t('grades.avg_s1')), h('span', { class: 'optional' }, t('grades.avg_s2')), t('grades.avg_year'), t('grades.term')], rows,
      { caption: t('grades.caption'), className: 'grades-table' }),
    detailBox,
    categories.size ? h('section', { 'aria-labelledby': 'categories-title' }, h('h2', { id: 'categories-title' }, t('grades.categories')),
      h('ul', { class: 'inline-list' }, [...categories.values()].map((g) => h('li', {}, `${g.category}: ${t('grades.weight_n', { weight: g.weight })}${g.counts_to_average ? '' : ` (${t('grades.not_counted')})`}`)))) : null,
    h('section', { 'aria-labelledby': 'chart-title' },
      h('h2', { id: 'chart-title' }, t('chart.heading')),
      withGrades.length ? field(t('chart.subject'), chooser) : null,
      chartHolder));
  drawChart();
}

// -- attendance -----------------------------------------------------------------------------------------

export async function attendance(ctx) {
  const student = currentStudent();
  if (!student) return noStudent(ctx);
  const month = ctx.query.get('month') || isoDay(new Date()).slice(0, 7);
  const first = parseDay(`${month}-01`);
  const last = new Date(first.getFullYear(), first.getMonth() + 1, 0);
  let summary;
  let records;
  try {
    [summary, records] = await Promise.all([
      api('GET', `/students/${student.id}/attendance/summary`),
      api('GET', `/students/${student.id}/attendance`, { query: { from: isoDay(first), to: isoDay(last) } }),
    ]);
  } catch (error) {
    if (error.status === 402) return extendedAccessScreen(ctx, student, 'attendance');
    throw error;
  }
  if (ctx.stale()) return;
  const subjects = await subjectNames(student.id);
  const byDay = new Map();
  for (const record of records.items) {
    if (!byDay.has(record.date)) byDay.set(record.date, []);
    byDay.get(record.date).push(record);
  }
  for (const list of byDay.values()) list.sort((a, b) => a.lesson_no - b.lesson_no);

  const detail = h('div', { class: 'day-detail', role: 'region', 'aria-live': 'polite', 'aria-label': t('attendance.day_detail') });
  const showDay = (iso) => {
    const list = byDay.get(iso) || [];
    fill(detail, h('h3', {}, fmtDate(iso, { weekday: 'long', day: 'numeric', month: 'long' })),
      list.length ? h('ul', { class: 'lesson-list' }, list.map((r) => h('li', {},
        h('span', { class: 'lesson-no' }, t('attendance.lesson_n', { n: r.lesson_no })), ' ',
        subjects.get(r.subject_id) || t('attendance.lesson'), ' ',
        h('span', { class: `status status-${STATUSES.includes(r.status) ? r.status : 'other'}` }, statusLabel(r.status))))) : empty(t('attendance.no_lessons')));
  };

  const weekdays = [...Array(7)].map((_, i) => new Intl.DateTimeFormat(locale(), { weekday: 'short' }).format(new Date(2024, 0, 1 + i)));
  const cells = [];
  const offset = (first.getDay() + 6) % 7;
  for (let i = 0; i < offset; i += 1) cells.push(h('div', { class: 'day day-empty', 'aria-hidden': 'true' }));
  for (let d = 1; d <= last.getDate(); d += 1) {
    const iso = isoDay(new Date(first.getFullYear(), first.getMonth(), d));
    const list = byDay.get(iso) || [];
    const counts = list.reduce((acc, r) => ({ ...acc, [r.status]: (acc[r.status] || 0) + 1 }), {});
    const label = list.length
      ? `${fmtDate(iso, { day: 'numeric', month: 'long' })}: ${Object.entries(counts).map(([s, n]) => `${statusLabel(s)} ${n}`).join(', ')}`
      : fmtDate(iso, { day: 'numeric', month: 'long' });
    cells.push(h('button', { type: 'button', class: `day${list.length ? ' day-has' : ''}${iso === isoDay(new Date()) ? ' day-today' : ''}`, 'aria-label': label, onClick: () => showDay(iso) },
      h('span', { class: 'day-number', 'aria-hidden': 'true' }, String(d)),
      h('span', { class: 'day-marks', 'aria-hidden': 'true' }, list.map((r) => h('span', { class: `mark status-${STATUSES.includes(r.status) ? r.status : 'other'}` }, statusShort(r.status))))));
  }
  const prev = isoDay(new Date(first.getFullYear(), first.getMonth() - 1, 1)).slice(0, 7);
  const next = isoDay(new Date(first.getFullYear(), first.getMonth() + 1, 1)).slice(0, 7);
  const monthName = new Intl.DateTimeFormat(locale(), { month: 'long', year: 'numeric' }).format(first);
  const counts = summary.counts || {};

  page(ctx, t('attendance.title', { name: studentName(student) }),
    h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, t('attendance.percent')), h('strong', { class: 'big-number', id: 'attendance-percent' }, summary.percent_present === null ? '—' : `${fmtNumber(summary.percent_present, 1)}%`)),
      ...STATUSES.filter((s) => counts[s]).map((s) => h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, statusLabel(s)), h('strong', {}, String(counts[s]))))),
    h('p', { class: 'hint' }, t('attendance.rule')),
    h('section', { 'aria-labelledby': 'month-title', class: 'month' },
      h('div', { class: 'month-nav' },
        h('a', { class: 'button secondary small', href: `#/attendance?month=${prev}`, 'aria-label': t('attendance.prev_month') }, '‹'),
        h('h2', { id: 'month-title' }, monthName),
        h('a', { class: 'button secondary small', href: `#/attendance?month=${next}`, 'aria-label': t('attendance.next_month') }, '›')),
      h('div', { class: 'calendar-grid', role: 'group', 'aria-labelledby': 'month-title' },
        weekdays.map((w) => h('div', { class: 'weekday', 'aria-hidden': 'true' }, w)), cells),
      h('ul', { class: 'legend' }, STATUSES.map((s) => h('li', {}, h('span', { class: `mark status-${s}` }, statusShort(s)), ' ', statusLabel(s))))),
    detail,
    hasRole('parent') ? h('p', {}, h('a', { class: 'button secondary', href: '#/excuses' }, t('attendance.to_excuses'))) : null);
  const today = isoDay(new Date());
  showDay(today.startsWith(month) ? today : isoDay(first));
}

// -- excuses ---------------------------------------------------------------------------------------------

export async function excuses(ctx) {
  const student = currentStudent();
  if (!student) return noStudent(ctx);
  const since = isoDay(addDays(new Date(), -30));
  const [list, absences] = await Promise.all([
    api('GET', '/excuses'),
    api('GET', `/students/${student.id}/attendance`, { query: { from: since, to: isoDay(new Date()) } }).catch((error) => (error.status === 402 ? null : Promise.reject(error))),
  ]);
  if (ctx.stale()) return;
  const subjects = absences ? await subjectNames(student.id) : new Map();
  const mine = list.items.filter((e) => e.student_id === student.id);
  const pendingLessons = new Set(mine.filter((e) => e.status !== 'rejected').flatMap((e) => e.lesson_ids));
  const open = absences ? absences.items.filter((r) => r.status === 'absent' && !pendingLessons.has(r.lesson_id)) : [];
  const byDay = new Map();
  for (const r of open) {
    if (!byDay.has(r.date)) byDay.set(r.date, []);
    byDay.get(r.date).push(r);
  }

  let choice;
  if (absences) {
    choice = h('fieldset', { 'data-field': 'lesson_ids', class: 'absences' }, h('legend', {}, t('excuses.choose')),
      open.length === 0 ? empty(t('excuses.no_absences')) : [...byDay.entries()].sort(([a], [b]) => b.localeCompare(a)).map(([day, lessons]) => h('div', { class: 'absence-day' },
        h('p', { class: 'absence-date' }, fmtDate(day, { weekday: 'long', day: 'numeric', month: 'long' })),
        lessons.map((r) => {
          const id = uid('absence');
          return h('div', { class: 'check' }, h('input', { type: 'checkbox', name: 'lesson_ids', value: r.lesson_id, id }),
            h('label', { for: id }, `${t('attendance.lesson_n', { n: r.lesson_no })} · ${subjects.get(r.subject_id) || t('attendance.lesson')}`));
        }))),
      h('p', { class: 'field-error', hidden: true }));
  } else {
    choice = field(t('excuses.day'), input('days', { type: 'date', max: isoDay(new Date()) }), { hint: t('excuses.day_hint') });
  }
  const submitForm = form({ class: 'stack', onSubmit: async (data, formEl) => {
    const body = { reason: data.get('reason').trim() };
    if (absences) body.lesson_ids = data.getAll('lesson_ids');
    else body.days = data.get('days') ? [data.get('days')] : [];
    await api('POST', `/students/${student.id}/excuses`, { json: body });
    formEl.reset();
    announce(t('excuses.sent'), 'success');
    ctx.navigate('/excuses?sent=1');
  } },
  choice,
  field(t('excuses.reason'), textarea('reason', { required: true, maxlength: 1000, rows: 3 })),
  h('button', { type: 'submit', class: 'primary' }, t('excuses.submit')));

  const cards = mine.map((e) => h('li', { class: 'excuse-card' },
    h('p', {}, badge(t(`excuse_status.${e.status}`), e.status), ' ', h('span', { class: 'muted' }, `${fmtDateTime(e.submitted_at)} · ${t('excuses.lessons_n', { n: e.lesson_ids.length })}`)),
    h('p', { class: 'excuse-reason' }, e.reason)));
  page(ctx, t('excuses.title', { name: studentName(student) }),
    ctx.query.get('sent') ? notice('success', t('excuses.sent')) : null,
    h('section', { 'aria-labelledby': 'new-excuse' }, h('h2', { id: 'new-excuse' }, t('excuses.new')), submitForm),
    h('section', { 'aria-labelledby': 'excuse-list' }, h('h2', { id: 'excuse-list' }, t('excuses.list')),
      mine.length ? h('ul', { class: 'plain-list excuse-list' }, cards) : empty(t('excuses.none'))));
}

/** A button that downloads a file the API serves only with the access token (a PDF, a CSV). */
export function downloadButton(label, path, { query, className = 'secondary' } = {}) {
  const button = h('button', { type: 'button', class: className, onClick: async () => {
    button.disabled = true;
    try {
      saveFile(await api('GET', path, { as: 'blob', query }));
      announce(t('download.done'), 'success');
    } catch (error) {
      announce(error.detail || error.title, 'error');
    } finally {
      button.disabled = false;
    }
  } }, label);
  return button;
}

// -- extended access: the offer, orders, one order's payment ---------------------------------------------------

export async function access(ctx) {
  const student = currentStudent();
  if (!student) return noStudent(ctx);
  const [offer, orders] = await Promise.all([api('GET', '/billing/offer'), api('GET', '/billing/orders')]);
  if (ctx.stale()) return;
  const childName = new Map(state.me.children.map((c) => [c.student_id, `${c.first_name} ${c.last_name}`]));
  const product = offer.products.find((p) => p.code === 'extended_access');
  const tier = student.access || { tier: 'basic' };
  const rows = orders.items.map((o) => h('tr', {},
    h('td', {}, h('a', { href: `#/payments/${o.id}` }, o.transaction_number)),
    h('td', {}, childName.get(o.student_id) || '—'),
    h('td', {}, t(`product.${o.product}`)),
    h('td', {}, t(`channel.${o.channel}`)),
    h('td', { class: 'num' }, fmtMoney(o.amount)),
    h('td', {}, badge(t(`order_status.${o.status}`), o.status))));
  page(ctx, t('access.title'),
    h('div', { class: 'children-access' }, state.me.children.map((c) => h('div', { class: 'access-card' },
      h('strong', {}, `${c.first_name} ${c.last_name}`),
      c.access.tier === 'extended'
        ? h('p', {}, badge(t('tier.extended'), 'paid'), ' ', t('access.valid_until', { date: fmtDate(c.access.valid_until) }))
        : h('p', {}, badge(t('tier.basic')))))),
    h('section', { 'aria-labelledby': 'buy-title' },
      h('h2', { id: 'buy-title' }, t(tier.tier === 'extended' ? 'access.renew_for' : 'access.buy_for', { name: studentName(student) })),
      product ? h('p', { class: 'price' }, t('access.price', { price: fmtMoney(product.price), months: product.period_months })) : null,
      h('p', {}, t('access.renew_note')),
      channelButtons(ctx, student, offer)),
    h('section', { 'aria-labelledby': 'orders-title' }, h('h2', { id: 'orders-title' }, t('access.orders')),
      orders.items.length ? table([t('order.number'), t('order.student'), t('order.product'), t('order.channel'), t('order.amount'), t('order.status')], rows) : empty(t('access.no_orders'))));
}

export async function payment(ctx) {
  const orderId = ctx.params.id;
  let order = await api('GET', `/billing/orders/${orderId}`);
  if (ctx.stale()) return;
  const status = h('div', { class: 'payment-status', role: 'status', 'aria-live': 'polite' });
  const child = state.me.children.find((c) => c.student_id === order.student_id);
  const childName = child ? `${child.first_name} ${child.last_name}` : '';

  const details = [];
  if (order.transfer) {
    const tr = order.transfer;
    details.push(h('section', { 'aria-labelledby': 'transfer-title', class: 'transfer' },
      h('h2', { id: 'transfer-title' }, t(order.channel === 'postal' ? 'payment.slip_title' : 'payment.transfer_title')),
      h('dl', { class: 'pairs' },
        h('dt', {}, t('payment.recipient')), h('dd', {}, tr.recipient),
        h('dt', {}, t('payment.account')), h('dd', {}, h('span', { class: 'account', id: 'account-number' }, tr.account_number)),
        h('dt', {}, t('payment.amount')), h('dd', {}, fmtMoney(order.amount)),
        h('dt', {}, t('payment.title')), h('dd', {}, h('span', { class: 'transfer-title', id: 'transfer-title-text' }, tr.title))),
      h('p', { class: 'hint' }, t('payment.title_hint')),
      downloadButton(t('payment.slip_pdf'), `/billing/orders/${order.id}/slip.pdf`)));
  }
  if (order.channel === 'cash') details.push(notice('info', t('payment.cash', { number: order.transaction_number })));

  page(ctx, t('payment.heading', { number: order.transaction_number }),
    h('dl', { class: 'pairs' },
      h('dt', {}, t('order.student')), h('dd', {}, childName || '—'),
      h('dt', {}, t('order.product')), h('dd', {}, t(`product.${order.product}`)),
      h('dt', {}, t('order.channel')), h('dd', {}, t(`channel.${order.channel}`)),
      h('dt', {}, t('order.amount')), h('dd', {}, fmtMoney(order.amount)),
      h('dt', {}, t('order.created')), h('dd', {}, fmtDateTime(order.created_at))),
    status, ...details,
    h('p', {}, h('a', { href: '#/access' }, t('payment.back'))));

  const show = (kind, ...content) => fill(status, notice(kind, ...content));
  const paidView = (extended) => show('success',
    h('strong', { id: 'payment-paid' }, t('payment.paid')),
    extended ? h('p', { id: 'access-active' }, t('payment.access_active', { name: childName, date: fmtDate(extended.valid_until) })) : h('p', {}, t('payment.access_waiting')),
    extended ? h('p', {}, h('a', { class: 'button primary', href: '#/grades' }, t('payment.see_grades'))) : null);

  const render = () => {
    if (order.status === 'pending') {
      show('info', h('strong', {}, t('payment.pending')), h('p', {}, t(order.channel === 'payu' ? 'payment.pending_payu' : 'payment.pending_other')));
    } else if (order.status === 'paid') {
      paidView(null);
    } else {
      show('error', h('strong', {}, t(`order_status.${order.status}`)), order.status === 'cancelled' ? h('p', {}, h('a', { href: '#/access' }, t('payment.try_again'))) : null);
    }
  };
  render();

  // After PayU the notification settles the order and identity extends access a moment later:
  // both arrive asynchronously, so ask again for a while.
  if (order.channel === 'payu' || order.status === 'paid') {
    for (let attempt = 0; attempt < 90 && !ctx.stale(); attempt += 1) {
      if (order.status === 'paid') {
        const me = await loadMe();
        const now = me.children.find((c) => c.student_id === order.student_id);
        if (now && now.access.tier === 'extended') {
          state.cache.delete(`grades:${order.student_id}`);
          paidView(now.access);
          return;
        }
      } else if (order.status !== 'pending') {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
      if (ctx.stale()) return;
      if (order.status === 'pending') {
        order = await api('GET', `/billing/orders/${orderId}`);
        render();
      }
    }
  }
}
