// Polish by default, English on request; the choice is remembered in this browser.
const STORAGE_KEY = 'dz.lang';
export const LANGUAGES = ['pl', 'en'];

let current = 'pl';
let dictionary = {};

export function preferredLanguage() {
  const stored = localStorage.getItem(STORAGE_KEY);
  return LANGUAGES.includes(stored) ? stored : 'pl';
}

export async function loadLanguage(language) {
  const wanted = LANGUAGES.includes(language) ? language : 'pl';
  const answer = await fetch(`/app/i18n/${wanted}.json`, { credentials: 'omit' });
  dictionary = await answer.json();
  current = wanted;
  localStorage.setItem(STORAGE_KEY, wanted);
  document.documentElement.lang = wanted;
}

export function lang() {
  return current;
}

export function locale() {
  return current === 'pl' ? 'pl-PL' : 'en-GB';
}

/** t('grades.average', {value: '4,50'}): the text in the current language, {names} filled in. */
export function t(key, params = {}) {
  const text = dictionary[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (params[name] === undefined ? whole : String(params[name])));
}

/** A text the dictionary may not have (e.g. a status from the API): the key's text or a fallback. */
export function tOr(key, fallback) {
  return dictionary[key] ?? fallback;
}
