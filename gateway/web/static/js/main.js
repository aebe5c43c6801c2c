// The app's frame: sign-in state, the menu for each role, the parent's child switcher, the
// language switch, and hash routes (#/grades, #/messages/ID, ...).
import { hasSession, onSessionEnded, signOut } from './api.js';
import { h, problemPanel, loading, fill } from './dom.js';
import { loadLanguage, preferredLanguage, lang, t } from './i18n.js';
import { state, loadMe, resetState, hasRole, selectChild, homeroomClasses } from './state.js';
import * as auth from './views/auth.js';
import * as family from './views/family.js';
import * as messages from './views/messages.js';
import * as community from './views/community.js';
import * as settings from './views/settings.js';
import * as teacher from './views/teacher.js';
import * as office from './views/office.js';

const FAMILY = ['parent', 'student'];
const TEACHER = ['teacher'];
const OFFICE = ['school_admin'];
const EVERYONE = null;

// [pattern, view, roles allowed (null: anyone signed in)]
const ROUTES = [
  ['/grades', family.grades, FAMILY],
  ['/attendance', family.attendance, FAMILY],
  ['/excuses', family.excuses, ['parent']],
  ['/access', family.access, ['parent']],
  ['/payments/:id', family.payment, ['parent']],
  ['/messages', messages.folder, EVERYONE],
  ['/messages/new', messages.compose, EVERYONE],
  ['/messages/:id', messages.read, EVERYONE],
  ['/announcements', community.announcements, EVERYONE],
  ['/calendar', community.calendar, EVERYONE],
  ['/help', community.help, EVERYONE],
  ['/help/:id', community.ticket, EVERYONE],
  ['/settings', settings.settings, EVERYONE],
  ['/teacher/grades', teacher.gradeSheet, TEACHER],
  ['/teacher/term-grades', teacher.termGrades, TEACHER],
  ['/teacher/attendance', teacher.lessons, TEACHER],
  ['/teacher/attendance/:id', teacher.marking, TEACHER],
  ['/teacher/homeroom', teacher.homeroom, TEACHER],
  ['/office/users', office.users, OFFICE],
  ['/office/classes', office.classes, OFFICE],
  ['/office/payments', office.payments, OFFICE],
  ['/office/statements', office.statements, OFFICE],
];

const PUBLIC_ROUTES = [
  ['/login', auth.login],
  ['/activate', auth.activate],
];

function parseHash() {
  const raw = window.location.hash.startsWith('#/') ? window.location.hash.slice(1) : '/';
  const [path, search = ''] = raw.split('?');
  return { path: path.replace(/\/+$/, '') || '/', query: new URLSearchParams(search) };
}

function match(routes, path) {
  for (const [pattern, view, roles] of routes) {
    const names = [];
    const regex = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, name) => { names.push(name); return '([^/]+)'; })}$`);
    const found = regex.exec(path);
    if (found) return { view, roles, params: Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1])])) };
  }
  return null;
}

export function navigate(path) {
  if (window.location.hash === `#${path}`) render();
  else window.location.hash = path;
}

function homePath() {
  if (hasRole('parent', 'student')) return '/grades';
  if (hasRole('teacher')) return '/teacher/grades';
  if (hasRole('school_admin')) return '/office/users';
  return '/announcements';
}

// -- the menu ------------------------------------------------------------------------------------

function menuItems(homeroom) {
  const items = [];
  if (hasRole('parent', 'student')) {
    items.push(['/grades', 'nav.grades'], ['/attendance', 'nav.attendance']);
    if (hasRole('parent')) items.push(['/excuses', 'nav.excuses']);
  }
  if (hasRole('teacher')) {
    items.push(['/teacher/grades', 'nav.grade_sheet'], ['/teacher/term-grades', 'nav.term_grades'], ['/teacher/attendance', 'nav.lessons']);
    if (homeroom) items.push(['/teacher/homeroom', 'nav.homeroom']);
  }
  if (hasRole('school_admin')) {
    items.push(['/office/users', 'nav.users'], ['/office/classes', 'nav.classes'], ['/office/payments', 'nav.payments'], ['/office/statements', 'nav.statements']);
  }
  items.push(['/messages', 'nav.messages'], ['/announcements', 'nav.announcements'], ['/calendar', 'nav.calendar']);
  if (hasRole('parent')) items.push(['/access', 'nav.access']);
  items.push(['/help', hasRole('school_admin', 'superadmin') ? 'nav.tickets' : 'nav.help'], ['/settings', 'nav.settings']);
  return items;
}

/** The page's own texts outside the app's root (the skip link) in the current language. */
function translatePage() {
  document.getElementById('skip-link').textContent = t('shell.skip');
}

function languageSwitch() {
  const other = lang() === 'pl' ? 'en' : 'pl';
  // An id of its own: after the page is drawn again in the other language, focus comes back here.
  return h('button', {
    type: 'button', id: 'lang-switch', class: 'link-button lang-switch', lang: other, 'aria-label': t('lang.switch_label'),
    onClick: async () => {
      await loadLanguage(other);
      translatePage();
      render();
    },
  }, t('lang.other'));
}

function childSwitcher() {
  const children = (state.me && state.me.children) || [];
  if (!hasRole('parent') || children.length === 0) return null;
  const control = h('select', { id: 'child-switcher', name: 'child', onChange: (event) => { selectChild(event.target.value); render(); } },
    children.map((c) => h('option', { value: c.student_id, selected: c.student_id === state.childId }, `${c.first_name} ${c.last_name}${c.class_name ? ` (${c.class_name})` : ''}`)));
  return h('div', { class: 'child-switcher' }, h('label', { for: 'child-switcher' }, t('shell.child')), control);
}

async function frame(path) {
  const homeroom = hasRole('teacher') ? (await homeroomClasses().catch(() => [])).length > 0 : false;
  const navList = h('ul', {}, menuItems(homeroom).map(([href, key]) => {
    const current = path === href || (href !== '/' && path.startsWith(`${href}/`));
    return h('li', {}, h('a', { href: `#${href}`, 'aria-current': current ? 'page' : false }, t(key)));
  }));
  const nav = h('nav', { id: 'menu', class: 'menu', 'aria-label': t('shell.menu') }, navList);
  const toggle = h('button', {
    type: 'button', class: 'menu-toggle', 'aria-controls': 'menu', 'aria-expanded': 'false',
    onClick: () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      nav.classList.toggle('open', open);
    },
  }, t('shell.menu'));
  const me = state.me;
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: `#${homePath()}` }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'D'), t('app.name')),
    toggle,
    h('div', { class: 'topbar-tools' },
      childSwitcher(),
      languageSwitch(),
      h('span', { class: 'who' }, `${me.first_name} ${me.last_name}`),
      h('button', { type: 'button', class: 'secondary small', onClick: logout }, t('action.logout'))));
  const main = h('main', { id: 'main', tabindex: '-1' });
  return { shell: h('div', { class: 'shell' }, header, h('div', { class: 'layout' }, nav, main)), main };
}

async function logout() {
  await signOut();
  resetState();
  navigate('/login');
}

// -- rendering -----------------------------------------------------------------------------------

let renderCount = 0;
let lastRoute = null;

export async function render() {
  const ticket = ++renderCount;
  const root = document.getElementById('app');
  const { path, query } = parseHash();
  const route = `${path}?${query}`;
  const focusedId = document.activeElement && document.activeElement !== document.body ? document.activeElement.id : '';
  const stale = () => ticket !== renderCount;
  root.setAttribute('aria-busy', 'true');
  try {
    if (!hasSession()) {
      resetState();
      const found = match(PUBLIC_ROUTES, path) || { view: auth.login, params: {} };
      if (!match(PUBLIC_ROUTES, path) && path !== '/') sessionStorage.setItem('dz.after-login', path);
      const page = h('main', { id: 'main', class: 'public', tabindex: '-1' });
      fill(root, h('div', { class: 'public-top' }, languageSwitch()), page);
      await found.view({ main: page, params: found.params, query, navigate, afterSignIn, stale });
      finish(root, page, route, focusedId);
      return;
    }
    if (!state.me) {
      fill(root, loading());
      await loadMe();
      if (stale()) return;
    }
    if (state.me.mfa_enrollment_required) {
      const page = h('main', { id: 'main', class: 'public', tabindex: '-1' });
      fill(root, h('div', { class: 'public-top' }, languageSwitch(), h('button', { type: 'button', class: 'secondary small', onClick: logout }, t('action.logout'))), page);
      await auth.enrolMfa({ main: page, navigate, afterSignIn, stale });
      finish(root, page, route, focusedId);
      return;
    }
    if (path === '/' || match(PUBLIC_ROUTES, path)) {
      navigate(homePath());
      return;
    }
    const found = match(ROUTES, path);
    const { shell, main } = await frame(path);
    if (stale()) return;
    fill(root, shell);
    if (!found || (found.roles && !hasRole(...found.roles))) {
      main.append(h('h1', { tabindex: '-1' }, t('error.not_found_page')), h('p', {}, h('a', { href: `#${homePath()}` }, t('action.home'))));
    } else {
      main.append(loading());
      await found.view({ main, params: found.params, query, navigate, stale });
    }
    finish(root, main, route, focusedId);
  } catch (error) {
    if (stale()) return;
    const main = document.getElementById('main') || root;
    fill(main, h('h1', { tabindex: '-1' }, t('error.generic')), problemPanel(error, () => render()));
    finish(root, main, route, focusedId);
  }
}

/** After a screen is drawn: its title, and where the keyboard focus goes. On a new route (a
 * menu link, a tab, another month) focus moves to the screen's heading, so a screen reader reads
 * it and Tab continues from there. When the screen was drawn again in place (the language, the
 * child) and its control went with the old screen, focus returns to the same control, or else to
 * the heading: never to the top of the document. */
function finish(root, main, route, focusedId) {
  root.removeAttribute('aria-busy');
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} – ${t('app.name')}` : t('app.name');
  const active = document.activeElement;
  const lost = !active || active === document.body || !active.isConnected;
  const again = lost && focusedId ? document.getElementById(focusedId) : null;
  if (lastRoute !== null) {
    if (again && again.getClientRects().length) {
      again.focus();
    } else if (lastRoute !== route || lost) {
      const target = heading || main;
      target.setAttribute('tabindex', '-1');
      target.focus();
    }
  }
  lastRoute = route;
}

async function afterSignIn() {
  resetState();
  await loadMe();
  const wanted = sessionStorage.getItem('dz.after-login');
  sessionStorage.removeItem('dz.after-login');
  navigate(wanted && wanted !== '/login' ? wanted : homePath());
}

async function boot() {
  await loadLanguage(preferredLanguage());
  translatePage();
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    const main = document.getElementById('main');
    if (main) main.focus();
  });
  onSessionEnded(() => {
    resetState();
    sessionStorage.setItem('dz.session-ended', '1');
    navigate('/login');
  });
  window.addEventListener('hashchange', () => render());
  await render();
}

boot();
