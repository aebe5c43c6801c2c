// Signing in (password, then the code from an authenticator app for accounts with a second
// factor), account activation with the school's one-time code, and TOTP enrolment for staff.
import { api, setTokens, refresh } from '../api.js';
import { h, field, input, form, notice, fill, guarded } from '../dom.js';
import { t } from '../i18n.js';
import { loadMe } from '../state.js';

function card(main, title, ...content) {
  fill(main, h('section', { class: 'auth-card' },
    h('p', { class: 'auth-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'D'), t('app.name')),
    h('h1', { tabindex: '-1' }, title), ...content));
}

export async function login(ctx) {
  const ended = sessionStorage.getItem('dz.session-ended');
  sessionStorage.removeItem('dz.session-ended');
  const loginInput = input('login', { autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const passwordInput = input('password', { type: 'password', autocomplete: 'current-password', required: true });
  const passwordForm = form({ class: 'stack', onSubmit: async (data) => {
    const answer = await api('POST', '/auth/login', { json: { login: data.get('login').trim(), password: data.get('password') }, auth: false });
    if (answer.mfa_required) {
      secondFactor(ctx, answer.mfa_token);
      return;
    }
    setTokens(answer);
    await ctx.afterSignIn();
  } },
  field(t('login.login'), loginInput),
  field(t('login.password'), passwordInput),
  h('button', { type: 'submit', class: 'primary' }, t('login.submit')));
  card(ctx.main, t('login.title'),
    ended ? notice('info', t('login.session_ended')) : null,
    passwordForm,
    h('p', { class: 'auth-links' }, h('a', { href: '#/activate' }, t('login.activate_link'))),
    h('p', { class: 'hint' }, t('login.help')));
  loginInput.focus();
}

function secondFactor(ctx, mfaToken) {
  const code = input('code', { inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true });
  card(ctx.main, t('mfa.title'),
    h('p', {}, t('mfa.explain')),
    form({ class: 'stack', onSubmit: async (data) => {
      const pair = await api('POST', '/auth/mfa', { json: { mfa_token: mfaToken, code: data.get('code').trim() }, auth: false });
      setTokens(pair);
      await ctx.afterSignIn();
    } },
    field(t('mfa.code'), code, { hint: t('mfa.code_hint') }),
    h('button', { type: 'submit', class: 'primary' }, t('mfa.submit'))),
    h('p', { class: 'auth-links' }, h('a', { href: '#/login', onClick: (e) => { e.preventDefault(); login(ctx); } }, t('mfa.back'))));
  ctx.main.querySelector('h1').focus();
  code.focus();
}

export async function activate(ctx) {
  const codeInput = input('activation_code', { required: true, autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', value: ctx.query.get('code') || '' });
  const password = input('password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 64 });
  const repeat = input('password_repeat', { type: 'password', autocomplete: 'new-password', required: true });
  card(ctx.main, t('activate.title'),
    h('p', {}, t('activate.explain')),
    form({ class: 'stack', onSubmit: async (data) => {
      if (data.get('password') !== data.get('password_repeat')) {
        throw { title: t('activate.mismatch_title'), errors: { password_repeat: t('activate.mismatch') } };
      }
      const answer = await api('POST', '/auth/activate', { json: { activation_code: data.get('activation_code').trim(), password: data.get('password') }, auth: false });
      card(ctx.main, t('activate.done_title'),
        notice('success', h('p', {}, t('activate.done', { login: answer.login }))),
        h('p', {}, t('activate.your_login'), ' ', h('strong', { class: 'login-name' }, answer.login)),
        h('p', {}, h('a', { class: 'button primary', href: '#/login' }, t('activate.to_login'))));
    } },
    field(t('activate.code'), codeInput),
    field(t('activate.password'), password, { hint: t('activate.password_hint') }),
    field(t('activate.repeat'), repeat),
    h('button', { type: 'submit', class: 'primary' }, t('activate.submit'))),
    h('p', { class: 'auth-links' }, h('a', { href: '#/login' }, t('activate.back'))));
}

/** Staff must enrol an authenticator app before anything else works. */
export async function enrolMfa(ctx) {
  card(ctx.main, t('enrol.title'), h('p', {}, t('enrol.explain')),
    h('button', { type: 'button', class: 'primary', onClick: guarded(start) }, t('enrol.start')));

  async function start() {
    const enrolment = await api('POST', '/me/mfa/totp');
    const code = input('code', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, required: true });
    card(ctx.main, t('enrol.title'),
      h('ol', { class: 'steps' },
        h('li', {}, t('enrol.step_app')),
        h('li', {}, t('enrol.step_secret'), ' ', h('code', { class: 'secret' }, enrolment.secret)),
        h('li', {}, t('enrol.step_code'))),
      h('details', {}, h('summary', {}, t('enrol.uri')), h('code', { class: 'secret' }, enrolment.otpauth_uri)),
      form({ class: 'stack', onSubmit: async (data) => {
        await api('POST', '/me/mfa/totp/confirm', { json: { code: data.get('code').trim() } });
        await refresh(); // the new access token is no longer limited to enrolment
        await loadMe();
        ctx.navigate('/');
      } },
      field(t('mfa.code'), code),
      h('button', { type: 'submit', class: 'primary' }, t('enrol.confirm'))));
    code.focus();
  }
}
