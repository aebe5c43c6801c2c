// The signed-in person's settings: SMS notifications (events, phone, quiet hours), password,
// second factor, language.
import { api } from '../api.js';
import { h, field, input, form, notice, announce, checkbox, fill } from '../dom.js';
import { t } from '../i18n.js';
import { state, hasRole, isStaff } from '../state.js';

const EVENTS = ['grade_recorded', 'grade_changed', 'term_grade_set', 'absence_recorded', 'excuse_decided', 'message_received', 'access_extended', 'access_expiring'];

export async function settings(ctx) {
  let current = null;
  let problem = null;
  try {
    current = await api('GET', '/me/notification-settings');
  } catch (error) {
    problem = error;
  }
  if (ctx.stale()) return;
  const me = state.me;
  const quiet = current && current.quiet_hours;
  const quietOn = checkbox(t('settings.quiet_on'), { name: 'quiet_on', checked: Boolean(quiet) });
  const quietFrom = input('quiet_hours.from', { type: 'time', value: quiet ? quiet.from : '21:00', 'data-field': 'quiet_hours' });
  const quietTo = input('quiet_hours.to', { type: 'time', value: quiet ? quiet.to : '07:00' });
  const notifications = current ? form({ class: 'stack', onSubmit: async (data) => {
    const body = {
      sms_enabled: data.get('sms_enabled') === 'on',
      phone: data.get('phone').trim(),
      events: data.getAll('events'),
      quiet_hours: data.get('quiet_on') === 'on' ? { from: data.get('quiet_hours.from'), to: data.get('quiet_hours.to') } : null,
    };
    await api('PUT', '/me/notification-settings', { json: body });
    announce(t('settings.saved'), 'success');
  } },
  checkbox(t('settings.sms_enabled'), { name: 'sms_enabled', checked: current.sms_enabled }),
  field(t('settings.phone'), input('phone', { type: 'tel', autocomplete: 'tel', value: current.phone, placeholder: '+48600100200' }), { hint: t('settings.phone_hint') }),
  h('fieldset', { 'data-field': 'events' }, h('legend', {}, t('settings.events')),
    EVENTS.map((event) => checkbox(t(`event.${event}`), { name: 'events', value: event, checked: current.events.includes(event) })),
    h('p', { class: 'field-error', hidden: true })),
  h('fieldset', { class: 'inline-fields' }, h('legend', {}, t('settings.quiet')),
    quietOn,
    field(t('settings.quiet_from'), quietFrom),
    field(t('settings.quiet_to'), quietTo)),
  h('button', { type: 'submit', class: 'primary' }, t('action.save'))) : notice('error', problem ? problem.title : t('error.generic'));

  const password = form({ class: 'stack', onSubmit: async (data, formEl) => {
    if (data.get('new_password') !== data.get('new_password_repeat')) {
      throw { title: t('activate.mismatch_title'), errors: { new_password_repeat: t('activate.mismatch') } };
    }
    await api('POST', '/me/password', { json: { current_password: data.get('current_password'), new_password: data.get('new_password') } });
    formEl.reset();
    announce(t('settings.password_changed'), 'success');
  } },
  field(t('settings.current_password'), input('current_password', { type: 'password', autocomplete: 'current-password', required: true })),
  field(t('settings.new_password'), input('new_password', { type: 'password', autocomplete: 'new-password', required: true }), { hint: t('activate.password_hint') }),
  field(t('activate.repeat'), input('new_password_repeat', { type: 'password', autocomplete: 'new-password', required: true })),
  h('button', { type: 'submit', class: 'primary' }, t('settings.change_password')));

  fill(ctx.main, h('h1', { tabindex: '-1' }, t('settings.title')),
    h('dl', { class: 'pairs' },
      h('dt', {}, t('settings.name')), h('dd', {}, `${me.first_name} ${me.last_name}`),
      h('dt', {}, t('settings.login')), h('dd', {}, me.login),
      h('dt', {}, t('settings.roles')), h('dd', {}, me.roles.map((r) => t(`role.${r}`)).join(', ')),
      isStaff() || me.mfa_enabled ? [h('dt', {}, t('settings.mfa')), h('dd', {}, t(me.mfa_enabled ? 'settings.mfa_on' : 'settings.mfa_off'))] : null),
    h('section', { 'aria-labelledby': 'sms-title' }, h('h2', { id: 'sms-title' }, t('settings.sms_title')),
      hasRole('parent') ? h('p', { class: 'hint' }, t('settings.sms_parent_hint')) : null, notifications),
    h('section', { 'aria-labelledby': 'password-title' }, h('h2', { id: 'password-title' }, t('settings.password_title')), h('p', { class: 'hint' }, t('settings.password_hint')), password));
}
