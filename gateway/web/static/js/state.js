// Who is signed in (GET /me), the parent's chosen child, and a few lists the views share.
import { api } from './api.js';

const CHILD_KEY = 'dz.child';

export const state = {
  me: null,
  childId: sessionStorage.getItem(CHILD_KEY),
  cache: new Map(),
};

export async function loadMe() {
  state.me = await api('GET', '/me');
  const children = state.me.children || [];
  if (children.length && !children.some((c) => c.student_id === state.childId)) selectChild(children[0].student_id);
  return state.me;
}

export function resetState() {
  state.me = null;
  state.cache.clear();
}

export function hasRole(...roles) {
  return Boolean(state.me && state.me.roles.some((role) => roles.includes(role)));
}

export function isStaff() {
  return hasRole('school_admin', 'principal', 'teacher', 'superadmin');
}

export function selectChild(studentId) {
  state.childId = studentId;
  sessionStorage.setItem(CHILD_KEY, studentId);
}

/** The student whose register a parent or student is looking at. */
export function currentStudent() {
  const me = state.me;
  if (!me) return null;
  if (hasRole('parent') && me.children.length) {
    const child = me.children.find((c) => c.student_id === state.childId) || me.children[0];
    return { id: child.student_id, firstName: child.first_name, lastName: child.last_name, classId: child.class_id, className: child.class_name, access: child.access, isChild: true };
  }
  if (hasRole('student')) {
    return { id: me.id, firstName: me.first_name, lastName: me.last_name, classId: null, className: null, access: me.access, isChild: false };
  }
  return null;
}

/** A list fetched once per sign-in (subjects, classes, recipients), or again with `fresh`. */
export async function shared(key, loader, { fresh = false } = {}) {
  if (fresh || !state.cache.has(key)) {
    const promise = loader();
    state.cache.set(key, promise);
    promise.catch(() => state.cache.delete(key));
  }
  return state.cache.get(key);
}

export const lists = {
  recipients: (opts) => shared('recipients', () => api('GET', '/messages/recipients'), opts),
  classes: (opts) => shared('classes', () => api('GET', '/classes'), opts),
  subjects: (opts) => shared('subjects', () => api('GET', '/subjects'), opts),
  categories: (opts) => shared('categories', () => api('GET', '/grade-categories'), opts),
};

/** Names of people the caller may write to (teachers for a parent, students for a teacher). */
export async function peopleNames() {
  try {
    const recipients = await lists.recipients();
    return new Map(recipients.map((r) => [r.id, r.name]));
  } catch {
    return new Map();
  }
}

/**
 * The students of a class as a teacher sees them. The API has no class roster for teachers, so
 * this reads the people a teacher may write to (the students of their classes, labelled with the
 * class name); the secretary reads GET /users?class_id= instead.
 */
export async function classStudents(classId) {
  if (hasRole('school_admin')) {
    const users = await api('GET', '/users', { query: { role: 'student', class_id: classId } });
    return users.map((u) => ({ id: u.id, name: `${u.last_name} ${u.first_name}`, sortName: `${u.last_name} ${u.first_name}` }));
  }
  const [recipients, classes] = await Promise.all([lists.recipients(), lists.classes()]);
  const klass = classes.find((c) => c.id === classId);
  if (!klass) return [];
  const label = `uczeń ${klass.name}`;
  return recipients
    .filter((r) => r.kind === 'student' && (r.detail || '').split('; ').includes(label))
    .map((r) => {
      const parts = r.name.split(' ');
      const sortName = parts.length > 1 ? `${parts.slice(1).join(' ')} ${parts[0]}` : r.name;
      return { id: r.id, name: sortName, sortName };
    })
    .sort((a, b) => a.sortName.localeCompare(b.sortName, 'pl'));
}

/** The classes a teacher teaches or leads (the groups they may write to), with names. */
export async function myClasses() {
  const classes = await lists.classes();
  if (!hasRole('teacher') || hasRole('school_admin', 'principal')) return classes;
  const recipients = await lists.recipients();
  const mine = new Set(recipients.filter((r) => r.kind === 'group').map((r) => r.id.split(':')[1]));
  return classes.filter((c) => mine.has(c.id) || c.homeroom_teacher_id === state.me.id);
}

export async function homeroomClasses() {
  if (!hasRole('teacher')) return [];
  const classes = await lists.classes();
  return classes.filter((c) => c.homeroom_teacher_id === state.me.id);
}
