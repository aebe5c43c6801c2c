// The only door to the server: the public REST API /api/v1. Tokens live in sessionStorage (this
// tab only, gone when it closes), so a trip to PayU and back keeps the session; an expired access
// token is refreshed once through /auth/refresh and the request repeated.
import { lang, t } from './i18n.js';

const STORAGE_KEY = 'dz.session';
const signOutListeners = new Set();
let tokens = readTokens();
let refreshing = null;

function readTokens() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE_KEY)) || null;
  } catch {
    return null;
  }
}

export function setTokens(pair) {
  tokens = { access_token: pair.access_token, refresh_token: pair.refresh_token };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
}

export function clearTokens() {
  tokens = null;
  sessionStorage.removeItem(STORAGE_KEY);
}

export function hasSession() {
  return Boolean(tokens && tokens.access_token);
}

/** Called when the session ends on its own (refresh refused): the app shows the sign-in page. */
export function onSessionEnded(listener) {
  signOutListeners.add(listener);
}

export class ApiError extends Error {
  constructor(status, problem = {}, retryAfter = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || (status ? `http_${status}` : 'network');
    this.title = problem.title || (status ? t('error.generic') : t('error.network'));
    this.detail = problem.detail || '';
    this.errors = problem.errors || {};
    this.retryAfter = retryAfter;
  }
}

function filenameOf(response) {
  const disposition = response.headers.get('Content-Disposition') || '';
  const match = /filename="?([^";]+)"?/.exec(disposition);
  return match ? match[1] : null;
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return {};
  }
}

/**
 * api('GET', '/me'); api('POST', '/messages', {json: {...}}); api('GET', '/x.pdf', {as: 'blob'});
 * A file as the body: {body: file, contentType: file.type}. Throws ApiError with the problem's
 * code, title, detail and field errors.
 */
export async function api(method, path, { json, body, contentType, query, headers: extra, as = 'json', auth = true, retried = false } = {}) {
  const url = new URL(`/api/v1${path}`, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
  }
  const headers = { 'Accept-Language': lang(), Accept: 'application/json, application/problem+json', ...(extra || {}) };
  if (auth && tokens) headers.Authorization = `Bearer ${tokens.access_token}`;
  let payload;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  } else if (body !== undefined) {
    headers['Content-Type'] = contentType || 'application/octet-stream';
    payload = body;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError(0, { code: 'network', title: t('error.network'), detail: t('error.network_detail') });
  }
  if (response.status === 401 && auth && tokens && !retried) {
    const problem = await problemOf(response.clone());
    if (problem.code === 'unauthenticated') {
      if (await refresh()) return api(method, path, { json, body, contentType, query, headers: extra, as, auth, retried: true });
      endSession();
    }
  }
  if (!response.ok) {
    throw new ApiError(response.status, await problemOf(response), response.headers.get('Retry-After'));
  }
  if (response.status === 204) return null;
  if (as === 'blob') return { blob: await response.blob(), filename: filenameOf(response) };
  if (as === 'text') return response.text();
  return response.json();
}

/** One refresh at a time, however many requests found the token expired. */
export function refresh() {
  if (!tokens || !tokens.refresh_token) return Promise.resolve(false);
  if (!refreshing) {
    const refreshToken = tokens.refresh_token;
    refreshing = api('POST', '/auth/refresh', { json: { refresh_token: refreshToken }, auth: false })
      .then((pair) => {
        setTokens(pair);
        return true;
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

function endSession() {
  clearTokens();
  for (const listener of signOutListeners) listener();
}

export async function signOut() {
  try {
    if (tokens) await api('POST', '/auth/logout');
  } catch {
    // The session ends here either way.
  }
  clearTokens();
}
