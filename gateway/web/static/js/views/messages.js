// Messages: inbox, sent (with read receipts), archive, search, reading, replying, composing
// with attachments. A group message goes as private copies; the API keeps recipients apart.
import { api } from '../api.js';
import { h, field, input, textarea, form, empty, badge, announce, guarded, fmtDateTime, fill } from '../dom.js';
import { t } from '../i18n.js';
import { state, lists } from '../state.js';
import { downloadButton } from './family.js';

const FOLDERS = ['inbox', 'sent', 'archive'];

function page(ctx, title, ...content) {
  fill(ctx.main, h('h1', { tabindex: '-1' }, title), ...content);
}

function readSummary(message) {
  const receipts = message.receipts || [];
  const read = receipts.filter((r) => r.read_at).length;
  return receipts.length ? t('messages.read_count', { read, total: receipts.length }) : '';
}

export async function folder(ctx) {
  const folderName = FOLDERS.includes(ctx.query.get('folder')) ? ctx.query.get('folder') : 'inbox';
  const q = ctx.query.get('q') || '';
  const answer = await api('GET', '/messages', { query: { folder: folderName, q, limit: 100 } });
  if (ctx.stale()) return;
  const tabs = h('nav', { class: 'tabs', 'aria-label': t('messages.folders') }, FOLDERS.map((f) => h('a', {
    href: `#/messages?folder=${f}`, class: f === folderName ? 'tab active' : 'tab', 'aria-current': f === folderName ? 'page' : false,
  }, t(`messages.folder_${f}`))));
  const search = h('form', { class: 'search-row', role: 'search', onSubmit: (event) => {
    event.preventDefault();
    const value = new FormData(event.target).get('q').trim();
    ctx.navigate(`/messages?folder=${folderName}${value ? `&q=${encodeURIComponent(value)}` : ''}`);
  } }, field(t('messages.search'), input('q', { type: 'search', value: q })), h('button', { type: 'submit', class: 'secondary' }, t('action.search')));
  const items = answer.items.map((m) => {
    const unread = folderName !== 'sent' && !m.read_at;
    const who = folderName === 'sent' ? (m.receipts || []).map((r) => r.recipient_name).join(', ') : m.sender_name;
    return h('li', { class: `message-item${unread ? ' unread' : ''}` },
      h('a', { href: `#/messages/${m.id}` },
        h('span', { class: 'message-who' }, who || '—'),
        h('span', { class: 'message-subject' }, unread ? h('span', { class: 'visually-hidden' }, `${t('messages.unread')}: `) : null, m.subject),
        h('span', { class: 'message-meta' }, fmtDateTime(m.sent_at),
          m.attachments.length ? ` · ${t('messages.attachments_n', { n: m.attachments.length })}` : '',
          folderName === 'sent' ? ` · ${readSummary(m)}` : '')),
      unread ? badge(t('messages.new_badge'), 'new') : null);
  });
  page(ctx, t('messages.title'),
    h('div', { class: 'toolbar' }, h('a', { class: 'button primary', href: '#/messages/new' }, t('messages.compose')), tabs),
    search,
    items.length ? h('ul', { class: 'message-list', 'aria-label': t(`messages.folder_${folderName}`) }, items) : empty(t('messages.empty')));
}

export async function read(ctx) {
  const message = await api('GET', `/messages/${ctx.params.id}`);
  if (ctx.stale()) return;
  const mine = message.sender_id === state.me.id;
  const receipts = mine ? h('section', { 'aria-labelledby': 'receipts-title' },
    h('h2', { id: 'receipts-title' }, t('messages.receipts')),
    h('ul', { class: 'receipts' }, (message.receipts || []).map((r) => h('li', {},
      h('span', {}, r.recipient_name), ' — ',
      r.read_at ? h('span', { class: 'read' }, t('messages.read_at', { at: fmtDateTime(r.read_at) })) : h('span', { class: 'muted' }, t('messages.not_read')))))) : null;
  const attachments = message.attachments.length ? h('section', { 'aria-labelledby': 'attachments-title' },
    h('h2', { id: 'attachments-title' }, t('messages.attachments')),
    h('ul', { class: 'attachments' }, message.attachments.map((a) => h('li', {},
      downloadButton(`${a.filename} (${Math.max(1, Math.round(a.size / 1024))} KB)`, `/messages/attachments/${a.id}`, { className: 'link-button' }))))) : null;
  const actions = h('div', { class: 'button-row' },
    !mine ? h('a', { class: 'button primary', href: `#/messages/new?reply=${message.id}` }, t('messages.reply')) : null,
    !mine ? h('button', { type: 'button', class: 'secondary', onClick: guarded(async () => {
      await api('PUT', `/messages/${message.id}/archive`, { json: { archived: !message.archived } });
      announce(t(message.archived ? 'messages.unarchived' : 'messages.archived'), 'success');
      ctx.navigate('/messages');
    }) }, t(message.archived ? 'messages.unarchive' : 'messages.archive')) : null,
    h('a', { class: 'button secondary', href: `#/messages?folder=${mine ? 'sent' : 'inbox'}` }, t('action.back')));
  page(ctx, message.subject,
    h('dl', { class: 'pairs message-head' },
      h('dt', {}, t('messages.from')), h('dd', {}, message.sender_name),
      h('dt', {}, t('messages.sent_at')), h('dd', {}, fmtDateTime(message.sent_at)),
      !mine && message.read_at ? [h('dt', {}, t('messages.read')), h('dd', {}, fmtDateTime(message.read_at))] : null),
    h('div', { class: 'message-body' }, message.body),
    attachments, receipts, actions);
}

async function uploadAll(files) {
  const ids = [];
  for (const file of files) {
    try {
      const attachment = await api('POST', '/messages/attachments', { body: file, contentType: file.type || 'application/octet-stream', query: { filename: file.name } });
      ids.push(attachment.id);
    } catch (error) {
      // The file's own problems belong next to the file input.
      const detail = Object.values(error.errors || {}).join(' ') || error.detail;
      error.errors = { attachments: `${file.name}: ${detail}` };
      throw error;
    }
  }
  return ids;
}

export async function compose(ctx) {
  const replyTo = ctx.query.get('reply');
  const [recipients, original] = await Promise.all([
    lists.recipients({ fresh: true }),
    replyTo ? api('GET', `/messages/${replyTo}`) : Promise.resolve(null),
  ]);
  if (ctx.stale()) return;
  const chosen = new Set(original ? [original.sender_id] : (ctx.query.get('to') ? [ctx.query.get('to')] : []));
  const ordered = [...recipients].sort((a, b) => (a.kind === 'group') - (b.kind === 'group') || a.name.localeCompare(b.name, 'pl'));
  const filter = input('recipient-filter', { type: 'search', autocomplete: 'off' });
  const options = ordered.map((r, i) => {
    const id = `recipient-${i}`;
    return h('div', { class: 'check recipient', 'data-search': `${r.name} ${r.detail || ''}`.toLowerCase() },
      h('input', { type: 'checkbox', name: 'recipient_ids', value: r.id, id, checked: chosen.has(r.id) }),
      h('label', { for: id }, r.name, r.detail ? h('span', { class: 'muted' }, ` — ${r.detail}`) : null, r.kind === 'group' ? ` ${t('messages.group')}` : ''));
  });
  filter.addEventListener('input', () => {
    const needle = filter.value.trim().toLowerCase();
    for (const option of options) option.hidden = Boolean(needle) && !option.dataset.search.includes(needle) && !option.querySelector('input').checked;
  });
  const files = h('input', { type: 'file', name: 'attachments', multiple: true, accept: '.pdf,.jpg,.jpeg,.png,.txt,.docx,.odt' });
  const subject = original ? (original.subject.startsWith('Re:') ? original.subject : `Re: ${original.subject}`) : '';
  page(ctx, t(original ? 'messages.reply_title' : 'messages.new_title'),
    form({ class: 'stack', onSubmit: async (data) => {
      const recipientIds = data.getAll('recipient_ids');
      if (recipientIds.length === 0) throw { title: t('messages.no_recipient_title'), errors: { recipient_ids: t('messages.no_recipient') } };
      const attachmentIds = await uploadAll([...files.files]);
      const body = { recipient_ids: recipientIds, subject: data.get('subject').trim(), body: data.get('body') };
      if (attachmentIds.length) body.attachment_ids = attachmentIds;
      if (original) body.in_reply_to = original.id;
      await api('POST', '/messages', { json: body });
      announce(t('messages.sent'), 'success');
      ctx.navigate('/messages?folder=sent');
    } },
    h('fieldset', { 'data-field': 'recipient_ids', class: 'recipients' },
      h('legend', {}, t('messages.to')),
      field(t('messages.filter'), filter),
      h('div', { class: 'recipient-list' }, options.length ? options : empty(t('messages.no_recipients'))),
      h('p', { class: 'field-error', hidden: true })),
    field(t('messages.subject'), input('subject', { required: true, maxlength: 200, value: subject })),
    field(t('messages.body'), textarea('body', { required: true, rows: 8, maxlength: 20000 })),
    field(t('messages.attach'), files, { hint: t('messages.attach_hint') }),
    h('div', { class: 'button-row' }, h('button', { type: 'submit', class: 'primary' }, t('messages.send')), h('a', { class: 'button secondary', href: '#/messages' }, t('action.cancel')))),
    original ? h('details', { class: 'quoted' }, h('summary', {}, t('messages.original')), h('div', { class: 'message-body' }, original.body)) : null);
}
