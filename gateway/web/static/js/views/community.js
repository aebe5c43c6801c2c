// Free for everyone: announcements, the calendar of tests and events (with the personal
// iCalendar link), and technical help (tickets to the school's secretary).
import { api } from '../api.js';
import {
  h, field, input, textarea, select, form, notice, empty, badge, announce, checkbox, guarded,
  fmtDate, fmtDateTime, isoDay, parseDay, fill } from '../dom.js';
import { t, locale } from '../i18n.js';
import { state, hasRole, lists, myClasses, peopleNames } from '../state.js';

function page(ctx, title, ...content) {
  fill(ctx.main, h('h1', { tabindex: '-1' }, title), ...content);
}

async function classNames() {
  const names = new Map();
  for (const child of (state.me.children || [])) if (child.class_id) names.set(child.class_id, child.class_name);
  if (hasRole('school_admin', 'principal', 'teacher')) {
    try {
      for (const c of await lists.classes()) names.set(c.id, c.name);
    } catch {
      // Names are a nicety; the list still shows.
    }
  }
  return names;
}

// -- announcements -----------------------------------------------------------------------------

export async function announcements(ctx) {
  const [answer, names] = await Promise.all([api('GET', '/announcements'), classNames()]);
  if (ctx.stale()) return;
  const items = answer.items.map((a) => {
    const details = h('details', { class: `announcement${a.read_at ? '' : ' unread'}` },
      h('summary', {}, h('span', { class: 'announcement-title' }, a.title), a.read_at ? null : badge(t('messages.new_badge'), 'new'),
        h('span', { class: 'message-meta' }, fmtDate(a.published_at),
          a.class_ids.length ? ` · ${a.class_ids.map((id) => names.get(id) || t('calendar.class')).join(', ')}` : ` · ${t('announcements.whole_school')}`,
          a.valid_until ? ` · ${t('announcements.until', { date: fmtDate(a.valid_until) })}` : '')),
      h('div', { class: 'message-body' }, a.body));
    details.addEventListener('toggle', async () => {
      if (details.open && !a.read_at) {
        a.read_at = new Date().toISOString();
        details.classList.remove('unread');
        details.querySelector('.badge')?.remove();
        await api('POST', `/announcements/${a.id}/read`).catch(() => {});
      }
    });
    return h('li', {}, details);
  });
  const publisher = hasRole('school_admin', 'principal', 'teacher') ? await publishForm(ctx) : null;
  page(ctx, t('announcements.title'),
    items.length ? h('ul', { class: 'plain-list' }, items) : empty(t('announcements.none')),
    publisher);
}

async function publishForm(ctx) {
  const classes = await myClasses().catch(() => []);
  const schoolWide = hasRole('school_admin', 'principal');
  return h('section', { 'aria-labelledby': 'publish-title' },
    h('h2', { id: 'publish-title' }, t('announcements.publish')),
    form({ class: 'stack', onSubmit: async (data) => {
      const body = { title: data.get('title').trim(), body: data.get('body'), class_ids: data.getAll('class_ids') };
      if (data.get('valid_until')) body.valid_until = data.get('valid_until');
      await api('POST', '/announcements', { json: body });
      announce(t('announcements.published'), 'success');
      ctx.navigate('/announcements');
    } },
    field(t('announcements.field_title'), input('title', { required: true, maxlength: 200 })),
    field(t('announcements.field_body'), textarea('body', { required: true, rows: 5 })),
    h('fieldset', { 'data-field': 'class_ids' }, h('legend', {}, t(schoolWide ? 'announcements.classes_optional' : 'announcements.classes')),
      classes.map((c) => checkbox(c.name, { name: 'class_ids', value: c.id })),
      h('p', { class: 'field-error', hidden: true })),
    field(t('announcements.valid_until'), input('valid_until', { type: 'date' })),
    h('button', { type: 'submit', class: 'primary' }, t('announcements.publish_button'))));
}

// -- calendar ----------------------------------------------------------------------------------------

const KINDS = ['test', 'quiz', 'event', 'meeting'];

export async function calendar(ctx) {
  const month = ctx.query.get('month') || isoDay(new Date()).slice(0, 7);
  const first = parseDay(`${month}-01`);
  const last = new Date(first.getFullYear(), first.getMonth() + 1, 0);
  const [answer, names] = await Promise.all([api('GET', '/calendar', { query: { from: isoDay(first), to: isoDay(last) } }), classNames()]);
  if (ctx.stale()) return;
  const byDay = new Map();
  for (const event of answer.items) {
    if (!byDay.has(event.date)) byDay.set(event.date, []);
    byDay.get(event.date).push(event);
  }
  const days = [...byDay.keys()].sort();
  const prev = isoDay(new Date(first.getFullYear(), first.getMonth() - 1, 1)).slice(0, 7);
  const next = isoDay(new Date(first.getFullYear(), first.getMonth() + 1, 1)).slice(0, 7);
  const monthName = new Intl.DateTimeFormat(locale(), { month: 'long', year: 'numeric' }).format(first);
  const list = days.length ? h('ol', { class: 'agenda' }, days.map((day) => h('li', {},
    h('h3', { class: 'agenda-day' }, fmtDate(day, { weekday: 'long', day: 'numeric', month: 'long' })),
    h('ul', { class: 'plain-list' }, byDay.get(day).map((e) => h('li', { class: 'agenda-item' },
      badge(t(`calendar.kind_${e.kind}`), e.kind), ' ', h('strong', {}, e.title),
      e.class_id ? h('span', { class: 'muted' }, ` · ${names.get(e.class_id) || t('calendar.class')}`) : h('span', { class: 'muted' }, ` · ${t('announcements.whole_school')}`),
      e.description ? h('p', { class: 'agenda-description' }, e.description) : null)))))) : empty(t('calendar.none'));
  const canSchedule = hasRole('school_admin', 'principal', 'teacher');
  page(ctx, t('calendar.title'),
    h('div', { class: 'month-nav' },
      h('a', { class: 'button secondary small', href: `#/calendar?month=${prev}`, 'aria-label': t('attendance.prev_month') }, '‹'),
      h('h2', { id: 'calendar-month' }, monthName),
      h('a', { class: 'button secondary small', href: `#/calendar?month=${next}`, 'aria-label': t('attendance.next_month') }, '›')),
    list,
    canSchedule ? await scheduleForm(ctx) : null,
    feedSection());
}

async function scheduleForm(ctx) {
  const [classes, subjects] = await Promise.all([myClasses().catch(() => []), lists.subjects().catch(() => [])]);
  const result = h('div', { role: 'status' });
  return h('section', { 'aria-labelledby': 'schedule-title' },
    h('h2', { id: 'schedule-title' }, t('calendar.add')),
    result,
    form({ class: 'stack grid-form', onSubmit: async (data, formEl) => {
      const body = { kind: data.get('kind'), title: data.get('title').trim(), date: data.get('date') };
      for (const key of ['class_id', 'subject_id', 'description']) if (data.get(key)) body[key] = data.get(key);
      const scheduled = await api('POST', '/calendar/events', { json: body });
      formEl.reset();
      announce(t('calendar.added'), 'success');
      if (scheduled.warnings && scheduled.warnings.length) {
        fill(result, notice('warning', h('strong', {}, t('calendar.warning')), h('ul', {}, scheduled.warnings.map((w) => h('li', {}, w)))));
      } else {
        ctx.navigate(`/calendar?month=${body.date.slice(0, 7)}`);
      }
    } },
    field(t('calendar.kind'), select('kind', KINDS.map((k) => [k, t(`calendar.kind_${k}`)]))),
    field(t('calendar.field_title'), input('title', { required: true, maxlength: 200 })),
    field(t('calendar.date'), input('date', { type: 'date', required: true })),
    field(t('calendar.class'), select('class_id', [['', hasRole('teacher') && !hasRole('school_admin', 'principal') ? t('calendar.choose') : t('announcements.whole_school')], ...classes.map((c) => [c.id, c.name])])),
    field(t('calendar.subject'), select('subject_id', [['', '—'], ...subjects.map((s) => [s.id, s.name])])),
    field(t('calendar.description'), textarea('description', { rows: 3, maxlength: 5000 }), { className: 'wide' }),
    h('button', { type: 'submit', class: 'primary' }, t('calendar.add_button'))));
}

function feedSection() {
  const out = h('div', { role: 'status', 'aria-live': 'polite' });
  const create = h('button', { type: 'button', class: 'secondary', onClick: async () => {
    try {
      const feed = await api('POST', '/me/calendar-feed');
      const url = input('feed-url', { value: feed.url, readonly: true, id: 'feed-url' });
      fill(out, field(t('calendar.feed_url'), url, { hint: t('calendar.feed_hint') }),
        h('div', { class: 'button-row' },
          h('button', { type: 'button', class: 'secondary', onClick: async () => {
            url.select();
            try {
              await navigator.clipboard.writeText(feed.url);
              announce(t('calendar.copied'), 'success');
            } catch {
              announce(t('calendar.copy_manually'));
            }
          } }, t('calendar.copy'))));
      url.focus();
      url.select();
    } catch (error) {
      fill(out, notice('error', error.title));
    }
  } }, t('calendar.feed_create'));
  const revoke = h('button', { type: 'button', class: 'secondary', onClick: async () => {
    try {
      await api('DELETE', '/me/calendar-feed');
      fill(out, notice('info', t('calendar.feed_revoked')));
    } catch (error) {
      fill(out, notice('error', error.title));
    }
  } }, t('calendar.feed_revoke'));
  return h('section', { 'aria-labelledby': 'feed-title' },
    h('h2', { id: 'feed-title' }, t('calendar.feed_title')),
    h('p', {}, t('calendar.feed_explain')),
    h('div', { class: 'button-row' }, create, revoke),
    out);
}

// -- technical help ------------------------------------------------------------------------------------

const TICKET_STATUSES = ['open', 'answered', 'closed'];

export async function help(ctx) {
  const status = TICKET_STATUSES.includes(ctx.query.get('status')) ? ctx.query.get('status') : '';
  const answer = await api('GET', '/support/tickets', { query: { status } });
  if (ctx.stale()) return;
  const helper = hasRole('school_admin', 'superadmin');
  const items = answer.items.map((ticket) => h('li', { class: 'message-item' },
    h('a', { href: `#/help/${ticket.id}` },
      h('span', { class: 'message-subject' }, ticket.subject),
      h('span', { class: 'message-meta' }, fmtDateTime(ticket.opened_at), ' · ', t('help.posts', { n: ticket.posts.length }), ticket.escalated ? ` · ${t('help.escalated')}` : '')),
    badge(t(`ticket_status.${ticket.status}`), ticket.status)));
  const filter = h('nav', { class: 'tabs', 'aria-label': t('help.filter') }, [['', t('help.all')], ...TICKET_STATUSES.map((s) => [s, t(`ticket_status.${s}`)])].map(([value, label]) => h('a', {
    href: `#/help${value ? `?status=${value}` : ''}`, class: value === status ? 'tab active' : 'tab', 'aria-current': value === status ? 'page' : false,
  }, label)));
  page(ctx, t(helper ? 'help.title_helper' : 'help.title'),
    helper ? null : h('p', {}, t('help.explain')),
    filter,
    items.length ? h('ul', { class: 'message-list' }, items) : empty(t('help.none')),
    hasRole('superadmin') ? null : h('section', { 'aria-labelledby': 'ticket-new' },
      h('h2', { id: 'ticket-new' }, t('help.new')),
      form({ class: 'stack', onSubmit: async (data) => {
        const ticket = await api('POST', '/support/tickets', { json: { subject: data.get('subject').trim(), body: data.get('body') } });
        announce(t('help.sent'), 'success');
        ctx.navigate(`/help/${ticket.id}`);
      } },
      field(t('help.subject'), input('subject', { required: true, maxlength: 200 })),
      field(t('help.body'), textarea('body', { required: true, rows: 5 })),
      h('button', { type: 'submit', class: 'primary' }, t('help.send')))));
}

export async function ticket(ctx) {
  const [item, names] = await Promise.all([api('GET', `/support/tickets/${ctx.params.id}`), peopleNames()]);
  if (ctx.stale()) return;
  const helper = hasRole('school_admin', 'superadmin');
  const who = (id) => (id === state.me.id ? t('help.you') : names.get(id) || (id === item.author_id ? t('help.author') : t('help.helper')));
  const change = async (body) => {
    await api('PATCH', `/support/tickets/${item.id}`, { json: body });
    announce(t('help.changed'), 'success');
    ctx.navigate(`/help/${item.id}?v=${Date.now()}`);
  };
  page(ctx, item.subject,
    h('p', {}, badge(t(`ticket_status.${item.status}`), item.status), item.escalated ? [' ', badge(t('help.escalated'), 'warning')] : null, ' ', h('span', { class: 'muted' }, fmtDateTime(item.opened_at))),
    h('ol', { class: 'conversation' }, item.posts.map((post) => h('li', { class: post.author_id === state.me.id ? 'own' : '' },
      h('p', { class: 'message-meta' }, `${who(post.author_id)} · ${fmtDateTime(post.at)}`),
      h('div', { class: 'message-body' }, post.body)))),
    h('section', { 'aria-labelledby': 'reply-title' },
      h('h2', { id: 'reply-title' }, t('help.reply')),
      form({ class: 'stack', onSubmit: async (data) => {
        await api('POST', `/support/tickets/${item.id}/replies`, { json: { body: data.get('body') } });
        announce(t('help.sent'), 'success');
        ctx.navigate(`/help/${item.id}?v=${Date.now()}`);
      } },
      field(t('help.body'), textarea('body', { required: true, rows: 4 })),
      h('button', { type: 'submit', class: 'primary' }, t('help.send_reply')))),
    h('div', { class: 'button-row' },
      item.status !== 'closed'
        ? h('button', { type: 'button', class: 'secondary', onClick: guarded(() => change({ status: 'closed' })) }, t('help.close'))
        : h('button', { type: 'button', class: 'secondary', onClick: guarded(() => change({ status: 'open' })) }, t('help.reopen')),
      helper && hasRole('school_admin') && !item.escalated ? h('button', { type: 'button', class: 'secondary', onClick: guarded(() => change({ escalated: true })) }, t('help.escalate')) : null,
      h('a', { class: 'button secondary', href: '#/help' }, t('action.back'))));
}
