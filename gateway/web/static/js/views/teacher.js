// The teacher's register: a class grade sheet (batch entry, corrections with history), term
// grades, the week's lessons with attendance marking for the whole class, and for a homeroom
// teacher the excuses to decide and the meeting report.
import { api } from '../api.js';
import {
  h, field, input, select, form, notice, empty, badge, announce, guarded, table, saveFile,
  fmtDate, fmtDateTime, fmtNumber, isoDay, addDays, parseDay, uid, fill } from '../dom.js';
import { t, tOr } from '../i18n.js';
import { state, lists, myClasses, classStudents, homeroomClasses, peopleNames } from '../state.js';
import { STATUSES, statusLabel, downloadButton } from './family.js';

function page(ctx, title, ...content) {
  fill(ctx.main, h('h1', { tabindex: '-1' }, title), ...content);
}

/** (class, subject) pairs from the teacher's timetable this week: what they most likely teach. */
async function taughtPairs() {
  try {
    const week = await api('GET', `/teachers/${state.me.id}/timetable`);
    return week.lessons.map((l) => [l.class_id, l.subject_id]);
  } catch {
    return [];
  }
}

/** Class and subject pickers; changing them reloads the page with ?class=&subject=. */
async function classSubjectPicker(ctx, route) {
  const [classes, subjects, pairs] = await Promise.all([myClasses(), lists.subjects(), taughtPairs()]);
  let classId = ctx.query.get('class') || (pairs[0] && pairs[0][0]) || (classes[0] && classes[0].id) || '';
  if (!classes.some((c) => c.id === classId)) classId = classes[0] ? classes[0].id : '';
  const taught = pairs.filter(([c]) => c === classId).map(([, s]) => s);
  let subjectId = ctx.query.get('subject') || taught[0] || (subjects[0] && subjects[0].id) || '';
  const ordered = [...subjects].sort((a, b) => (taught.includes(b.id) - taught.includes(a.id)) || a.name.localeCompare(b.name, 'pl'));
  if (!subjects.some((s) => s.id === subjectId)) subjectId = ordered[0] ? ordered[0].id : '';
  const classSelect = select('class', classes.map((c) => [c.id, c.name]), { value: classId, id: 'sheet-class' });
  const subjectSelect = select('subject', ordered.map((s) => [s.id, s.name]), { value: subjectId, id: 'sheet-subject' });
  const go = (event) => {
    event.preventDefault();
    ctx.navigate(`${route}?class=${encodeURIComponent(classSelect.value)}&subject=${encodeURIComponent(subjectSelect.value)}`);
  };
  const picker = h('form', { class: 'picker', onSubmit: go },
    field(t('teacher.class'), classSelect), field(t('teacher.subject'), subjectSelect),
    h('button', { type: 'submit', class: 'secondary' }, t('teacher.show')));
  classSelect.addEventListener('change', go);
  subjectSelect.addEventListener('change', go);
  return {
    picker, classId, subjectId,
    klass: classes.find((c) => c.id === classId),
    subject: subjects.find((s) => s.id === subjectId),
  };
}

async function gradesOf(students, subjectId) {
  const answers = await Promise.all(students.map((s) => api('GET', `/students/${s.id}/grades`).catch(() => null)));
  return new Map(students.map((s, i) => {
    const subject = answers[i] && answers[i].subjects.find((x) => x.subject_id === subjectId);
    return [s.id, subject || { grades: [], average: null, averages: {}, term_grades: {} }];
  }));
}

// -- grade sheet --------------------------------------------------------------------------------------

export async function gradeSheet(ctx) {
  const chosen = await classSubjectPicker(ctx, '/teacher/grades');
  if (ctx.stale()) return;
  if (!chosen.klass || !chosen.subject) {
    page(ctx, t('teacher.sheet_title'), chosen.picker, notice('info', t('teacher.no_classes')));
    return;
  }
  const [students, categories] = await Promise.all([classStudents(chosen.classId), lists.categories().catch(() => [])]);
  const sheet = await gradesOf(students, chosen.subjectId);
  if (ctx.stale()) return;
  const dialog = gradeDialog(ctx, categories);

  const rows = students.map((student, index) => {
    const subject = sheet.get(student.id);
    return h('tr', { 'data-student': student.id },
      h('th', { scope: 'row', id: `student-${index}` }, student.name),
      h('td', {}, h('div', { class: 'grades-cell' }, subject.grades.length ? subject.grades.map((g) => h('button', {
        type: 'button', class: `grade${g.weight >= 3 ? ' grade-heavy' : ''}${g.counts_to_average ? '' : ' grade-muted'}`,
        'aria-label': t('teacher.edit_grade_label', { value: g.value, name: student.name, category: g.category || t('grades.no_category'), date: fmtDate(g.date) }),
        onClick: () => dialog.open(g, student),
      }, g.value, h('span', { class: 'grade-weight', 'aria-hidden': 'true' }, String(g.weight)))) : h('span', { class: 'muted' }, '—'))),
      h('td', { class: 'num', 'data-label': t('grades.avg_year') }, fmtNumber(subject.average)),
      h('td', { 'data-label': t('teacher.new_grade') }, h('input', {
        type: 'text', name: `row[${index}].value`, class: 'grade-input', maxlength: 8, autocomplete: 'off', inputmode: 'text',
        'aria-labelledby': `new-grade-head student-${index}`, 'data-student': student.id,
      })),
      h('td', { 'data-label': t('teacher.comment') }, h('input', { type: 'text', name: `row[${index}].comment`, maxlength: 1000, autocomplete: 'off', 'aria-labelledby': `comment-head student-${index}` })));
  });

  const categorySelect = select('category_id', [['', t('teacher.no_category')], ...categories.map((c) => [c.id, t('teacher.category_option', { name: c.name, weight: c.weight })])]);
  const sheetForm = form({ class: 'stack', onSubmit: async (data, formEl) => {
    const entries = [];
    const rowOf = [];
    students.forEach((student, index) => {
      const value = (data.get(`row[${index}].value`) || '').trim();
      if (!value) return;
      const entry = { student_id: student.id, value };
      const comment = (data.get(`row[${index}].comment`) || '').trim();
      if (comment) entry.comment = comment;
      entries.push(entry);
      rowOf.push(index);
    });
    if (!entries.length) throw { title: t('teacher.nothing_to_save'), errors: {} };
    const body = { subject_id: chosen.subjectId, grades: entries };
    if (data.get('category_id')) body.category_id = data.get('category_id');
    if (data.get('date')) body.date = data.get('date');
    try {
      await api('POST', '/grades/batch', { json: body, headers: { 'Idempotency-Key': formEl.dataset.key } });
    } catch (error) {
      // The API names the entry it refused (grades[3].value): point at that student's row.
      const mapped = {};
      for (const [key, message] of Object.entries(error.errors || {})) {
        const found = /^grades\[(\d+)\]\.(\w+)$/.exec(key);
        mapped[found ? `row[${rowOf[Number(found[1])]}].${found[2] === 'student_id' ? 'value' : found[2]}` : key] = message;
      }
      error.errors = mapped;
      throw error;
    }
    formEl.dataset.key = crypto.randomUUID();
    announce(t('teacher.grades_saved', { n: entries.length }), 'success');
    ctx.navigate(`/teacher/grades?class=${chosen.classId}&subject=${chosen.subjectId}&saved=${entries.length}&v=${Date.now()}`);
  } },
  h('div', { class: 'grid-form' },
    field(t('teacher.category'), categorySelect),
    field(t('teacher.date'), input('date', { type: 'date', value: isoDay(new Date()), max: isoDay(new Date()) }))),
  students.length ? table([t('teacher.student'), t('grades.grades'), t('grades.avg_year'), h('span', { id: 'new-grade-head' }, t('teacher.new_grade')), h('span', { id: 'comment-head' }, t('teacher.comment'))], rows, { className: 'sheet-table' }) : empty(t('teacher.no_students')),
  h('p', { class: 'hint' }, t('teacher.values_hint')),
  students.length ? h('button', { type: 'submit', class: 'primary' }, t('teacher.save_grades')) : null);
  sheetForm.dataset.key = crypto.randomUUID(); // a retried submit records the batch once
  const saved = ctx.query.get('saved');
  page(ctx, t('teacher.sheet_heading', { klass: chosen.klass.name, subject: chosen.subject.name }),
    chosen.picker,
    saved ? notice('success', t('teacher.grades_saved', { n: saved })) : null,
    sheetForm, dialog.element);
}

function gradeDialog(ctx, categories) {
  const title = h('h2', { id: 'grade-dialog-title' });
  const body = h('div');
  const element = h('dialog', { class: 'dialog', 'aria-labelledby': 'grade-dialog-title' }, title, body);
  let names = null;
  async function open(grade, student) {
    names = names || await peopleNames();
    const history = h('div', { class: 'history' });
    const close = () => element.close();
    const editForm = form({ class: 'stack', onSubmit: async (data) => {
      const body = { value: data.get('value').trim(), comment: data.get('comment'), version: grade.version };
      if (data.get('category_id')) body.category_id = data.get('category_id');
      await api('PATCH', `/grades/${grade.id}`, { json: body });
      close();
      announce(t('teacher.grade_changed'), 'success');
      ctx.navigate(`${window.location.hash.slice(1).split('&v=')[0]}&v=${Date.now()}`);
    } },
    field(t('teacher.value'), input('value', { value: grade.value, required: true, maxlength: 8 })),
    field(t('teacher.category'), select('category_id', [['', t('teacher.no_category')], ...categories.map((c) => [c.id, c.name])], { value: grade.category_id || '' })),
    field(t('teacher.comment'), input('comment', { value: grade.comment || '', maxlength: 1000 })),
    h('div', { class: 'button-row' },
      h('button', { type: 'submit', class: 'primary' }, t('action.save')),
      h('button', { type: 'button', class: 'danger', onClick: guarded(async () => {
        if (!window.confirm(t('teacher.delete_confirm'))) return;
        await api('DELETE', `/grades/${grade.id}`, { headers: { 'If-Match': `"${grade.version}"` } });
        close();
        announce(t('teacher.grade_deleted'), 'success');
        ctx.navigate(`${window.location.hash.slice(1).split('&v=')[0]}&v=${Date.now()}`);
      }) }, t('action.delete')),
      h('button', { type: 'button', class: 'secondary', onClick: guarded(async () => {
        const answer = await api('GET', `/grades/${grade.id}/history`);
        fill(history, h('h3', {}, t('teacher.history')), h('ol', {}, answer.items.map((e) => h('li', {},
          `${fmtDateTime(e.at)} · ${t(`history.${e.action}`)} · ${names.get(e.actor_id) || (e.actor_id === state.me.id ? t('help.you') : '—')}`,
          e.old && e.new ? ` · ${e.old.value ?? ''} → ${e.new.value ?? ''}` : ''))));
      }) }, t('teacher.show_history')),
      h('button', { type: 'button', class: 'secondary', onClick: close }, t('action.close'))));
    title.textContent = t('teacher.edit_grade', { name: student.name });
    fill(body, h('p', { class: 'muted' }, `${grade.category || t('grades.no_category')} · ${fmtDate(grade.date)}`), editForm, history);
    element.showModal();
    element.querySelector('input[name=value]').focus();
  }
  return { element, open };
}

// -- term grades -----------------------------------------------------------------------------------------

const TERM_KINDS = ['semester_proposed', 'semester_final', 'annual_proposed', 'annual_final'];
const TERM_VALUES = ['', '1', '2', '3', '4', '5', '6', 'nk', 'zw'];

export async function termGrades(ctx) {
  const chosen = await classSubjectPicker(ctx, '/teacher/term-grades');
  if (ctx.stale()) return;
  if (!chosen.klass || !chosen.subject) {
    page(ctx, t('teacher.term_title'), chosen.picker, notice('info', t('teacher.no_classes')));
    return;
  }
  const kind = TERM_KINDS.includes(ctx.query.get('kind')) ? ctx.query.get('kind') : 'semester_proposed';
  const students = await classStudents(chosen.classId);
  const sheet = await gradesOf(students, chosen.subjectId);
  if (ctx.stale()) return;
  const kindSelect = select('kind', TERM_KINDS.map((k) => [k, t(`term.${k}`)]), { value: kind, id: 'term-kind' });
  kindSelect.addEventListener('change', () => ctx.navigate(`/teacher/term-grades?class=${chosen.classId}&subject=${chosen.subjectId}&kind=${kindSelect.value}`));
  const rows = students.map((student, index) => {
    const subject = sheet.get(student.id);
    const current = (subject.term_grades || {})[kind] || '';
    const suggested = kind.startsWith('semester') ? subject.suggested_semester_grade : subject.suggested_annual_grade;
    return h('tr', {},
      h('th', { scope: 'row', id: `term-student-${index}` }, student.name),
      h('td', { class: 'num' }, fmtNumber(kind.startsWith('semester') ? (subject.averages || {}).semester_1 : subject.average)),
      h('td', { class: 'num' }, suggested || '—'),
      h('td', {}, select(`term[${index}]`, TERM_VALUES.map((v) => [v, v || '—']), { value: current, 'data-current': current, 'aria-labelledby': `term-head term-student-${index}` })));
  });
  const termForm = form({ class: 'stack', onSubmit: async (data, formEl) => {
    const errors = {};
    let saved = 0;
    for (const [index, student] of students.entries()) {
      const control = formEl.querySelector(`[name="term[${index}]"]`);
      if (control.value === control.dataset.current || !control.value) continue;
      try {
        await api('PUT', `/students/${student.id}/term-grades/${chosen.subjectId}`, { json: { kind, value: control.value } });
        control.dataset.current = control.value;
        saved += 1;
      } catch (error) {
        errors[`term[${index}]`] = Object.values(error.errors || {}).join(' ') || error.detail || error.title;
      }
    }
    if (Object.keys(errors).length) throw { title: t('teacher.term_some_failed', { n: saved }), errors };
    announce(t('teacher.term_saved', { n: saved }), 'success');
  } },
  field(t('teacher.term_kind'), kindSelect),
  students.length ? table([t('teacher.student'), t(kind.startsWith('semester') ? 'grades.avg_s1' : 'grades.avg_year'), t('teacher.suggested'), h('span', { id: 'term-head' }, t(`term.${kind}`))], rows) : empty(t('teacher.no_students')),
  h('p', { class: 'hint' }, t('teacher.term_hint')),
  students.length ? h('button', { type: 'submit', class: 'primary' }, t('action.save')) : null);
  page(ctx, t('teacher.term_heading', { klass: chosen.klass.name, subject: chosen.subject.name }), chosen.picker, termForm);
}

// -- lessons and attendance ----------------------------------------------------------------------------------

function mondayOf(date) {
  return addDays(date, -((date.getDay() + 6) % 7));
}

export async function lessons(ctx) {
  const day = ctx.query.get('day') || isoDay(new Date());
  const homerooms = await homeroomClasses().catch(() => []);
  const view = ctx.query.get('class') || '';
  const path = view ? `/classes/${view}/timetable` : `/teachers/${state.me.id}/timetable`;
  const [week, classes, subjects] = await Promise.all([api('GET', path, { query: { day } }), lists.classes(), lists.subjects()]);
  if (ctx.stale()) return;
  const className = new Map(classes.map((c) => [c.id, c.name]));
  const subjectName = new Map(subjects.map((s) => [s.id, s.name]));
  const monday = week.monday ? parseDay(week.monday) : mondayOf(parseDay(day));
  const byDay = new Map();
  for (const lesson of week.lessons) {
    if (!byDay.has(lesson.date)) byDay.set(lesson.date, []);
    byDay.get(lesson.date).push(lesson);
  }
  const today = isoDay(new Date());
  const days = [...Array(7)].map((_, i) => isoDay(addDays(monday, i))).filter((d) => byDay.has(d) || parseDay(d).getDay() % 6 !== 0);
  const viewQuery = view ? `&class=${view}` : '';
  const columns = days.map((d) => h('section', { class: `day-column${d === today ? ' today' : ''}`, 'aria-labelledby': `day-${d}` },
    h('h2', { id: `day-${d}` }, fmtDate(d, { weekday: 'long', day: 'numeric', month: 'short' }), d === today ? ` (${t('teacher.today')})` : ''),
    (byDay.get(d) || []).length ? h('ul', { class: 'plain-list' }, byDay.get(d).sort((a, b) => a.lesson_no - b.lesson_no).map((l) => h('li', {},
      h('a', { class: `lesson-card${l.cancelled ? ' cancelled' : ''}`, href: `#/teacher/attendance/${l.id}` },
        h('span', { class: 'lesson-no' }, t('attendance.lesson_n', { n: l.lesson_no })),
        h('span', { class: 'lesson-time' }, l.starts && l.ends ? `${l.starts}–${l.ends}` : ''),
        h('strong', {}, subjectName.get(l.subject_id) || t('attendance.lesson')),
        h('span', {}, className.get(l.class_id) || ''),
        l.substitute_teacher_id ? badge(t('teacher.substitute'), 'warning') : null,
        l.cancelled ? badge(t('teacher.cancelled'), 'cancelled') : null)))) : h('p', { class: 'muted' }, t('teacher.no_lessons'))));
  const prev = isoDay(addDays(monday, -7));
  const next = isoDay(addDays(monday, 7));
  page(ctx, t('teacher.lessons_title'),
    homerooms.length ? h('nav', { class: 'tabs', 'aria-label': t('teacher.timetable_of') },
      h('a', { class: view ? 'tab' : 'tab active', href: `#/teacher/attendance?day=${day}`, 'aria-current': view ? false : 'page' }, t('teacher.my_timetable')),
      homerooms.map((c) => h('a', { class: view === c.id ? 'tab active' : 'tab', href: `#/teacher/attendance?day=${day}&class=${c.id}`, 'aria-current': view === c.id ? 'page' : false }, t('teacher.class_timetable', { klass: c.name })))) : null,
    h('div', { class: 'month-nav' },
      h('a', { class: 'button secondary small', href: `#/teacher/attendance?day=${prev}${viewQuery}`, 'aria-label': t('teacher.prev_week') }, '‹'),
      h('h2', {}, t('teacher.week_of', { date: fmtDate(isoDay(monday)) })),
      h('a', { class: 'button secondary small', href: `#/teacher/attendance?day=${next}${viewQuery}`, 'aria-label': t('teacher.next_week') }, '›')),
    h('div', { class: 'week' }, columns),
    await openLessonForm(ctx));
}

async function openLessonForm(ctx) {
  const [classes, subjects] = await Promise.all([myClasses(), lists.subjects()]);
  return h('details', { class: 'panel' }, h('summary', {}, t('teacher.open_lesson')),
    form({ class: 'stack grid-form', onSubmit: async (data) => {
      const body = { class_id: data.get('class_id'), subject_id: data.get('subject_id'), date: data.get('date'), lesson_no: Number(data.get('lesson_no')) };
      if (data.get('topic')) body.topic = data.get('topic');
      const lesson = await api('POST', '/lessons', { json: body });
      ctx.navigate(`/teacher/attendance/${lesson.id}`);
    } },
    field(t('teacher.class'), select('class_id', classes.map((c) => [c.id, c.name]))),
    field(t('teacher.subject'), select('subject_id', subjects.map((s) => [s.id, s.name]))),
    field(t('teacher.date'), input('date', { type: 'date', value: isoDay(new Date()), required: true })),
    field(t('teacher.lesson_no'), input('lesson_no', { type: 'number', min: 1, max: 14, value: 1, required: true })),
    field(t('teacher.topic'), input('topic', { maxlength: 500 }), { className: 'wide' }),
    h('button', { type: 'submit', class: 'primary' }, t('teacher.open_lesson_button'))));
}

export async function marking(ctx) {
  const [answer, subjects, classes, types] = await Promise.all([
    api('GET', `/lessons/${ctx.params.id}/attendance`), lists.subjects(), lists.classes(), api('GET', '/attendance-types').catch(() => []),
  ]);
  const lesson = answer.lesson;
  const students = await classStudents(lesson.class_id);
  if (ctx.stale()) return;
  const marked = new Map(answer.entries.map((e) => [e.student_id, e.status]));
  const statuses = [...STATUSES, ...types.map((x) => x.code)];
  const typeName = new Map(types.map((x) => [x.code, x.name]));
  const label = (status) => typeName.get(status) || tOr(`status_mark.${status}`, statusLabel(status));
  const subject = subjects.find((s) => s.id === lesson.subject_id);
  const klass = classes.find((c) => c.id === lesson.class_id);

  const rows = students.map((student, index) => h('tr', { 'data-student': student.id },
    h('th', { scope: 'row', id: `mark-student-${index}` }, student.name),
    h('td', {}, h('fieldset', { class: 'status-choice', 'data-field': `entries[${index}].status` },
      h('legend', { class: 'visually-hidden' }, student.name),
      statuses.map((status) => {
        const id = uid('mark');
        return h('span', { class: 'status-option' },
          h('input', { type: 'radio', name: `entries[${index}].status`, value: status, id, checked: (marked.get(student.id) || 'present') === status }),
          h('label', { for: id, class: `status-label status-${STATUSES.includes(status) ? status : 'other'}` }, label(status)));
      })))));
  const topic = input('topic', { value: lesson.topic || '', maxlength: 500 });
  const markForm = form({ class: 'stack', onSubmit: async (data) => {
    if ((data.get('topic') || '') !== (lesson.topic || '')) {
      await api('PATCH', `/lessons/${lesson.id}`, { json: { topic: data.get('topic') } });
      lesson.topic = data.get('topic');
    }
    const entries = students.map((student, index) => ({ student_id: student.id, status: data.get(`entries[${index}].status`) }));
    const saved = await api('PUT', `/lessons/${lesson.id}/attendance`, { json: { entries } });
    fill(result, notice('success', h('strong', { id: 'attendance-saved' }, t('teacher.attendance_saved')),
      h('p', {}, t('teacher.attendance_summary', { present: saved.entries.filter((e) => e.status === 'present').length, absent: saved.entries.filter((e) => e.status === 'absent').length }))));
    announce(t('teacher.attendance_saved'), 'success');
  } },
  field(t('teacher.topic'), topic),
  h('div', { class: 'button-row' }, h('button', { type: 'button', class: 'secondary', onClick: () => {
    for (const radio of markForm.querySelectorAll('input[type=radio][value=present]')) radio.checked = true;
    announce(t('teacher.all_present_done'));
  } }, t('teacher.all_present'))),
  students.length ? table([t('teacher.student'), t('teacher.status')], rows, { className: 'marking-table' }) : empty(t('teacher.no_students')),
  h('button', { type: 'submit', class: 'primary' }, t('teacher.save_attendance')));
  const result = h('div', { role: 'status', 'aria-live': 'polite' });
  page(ctx, t('teacher.marking_title', { klass: klass ? klass.name : '', subject: subject ? subject.name : '' }),
    h('p', { class: 'lead' }, fmtDate(lesson.date, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }), ' · ', t('attendance.lesson_n', { n: lesson.lesson_no }),
      lesson.starts ? ` · ${lesson.starts}–${lesson.ends}` : '', lesson.room ? ` · ${t('teacher.room', { room: lesson.room })}` : ''),
    lesson.cancelled ? notice('warning', t('teacher.lesson_cancelled')) : null,
    result, markForm,
    h('p', {}, h('a', { href: `#/teacher/attendance?day=${lesson.date}` }, t('teacher.back_to_week'))));
}

// -- the homeroom teacher ------------------------------------------------------------------------------------

export async function homeroom(ctx) {
  const classes = await homeroomClasses();
  if (ctx.stale()) return;
  if (!classes.length) {
    page(ctx, t('teacher.homeroom_title'), notice('info', t('teacher.not_homeroom')));
    return;
  }
  const classId = classes.some((c) => c.id === ctx.query.get('class')) ? ctx.query.get('class') : classes[0].id;
  const klass = classes.find((c) => c.id === classId);
  const [excuses, students, subjects, summary] = await Promise.all([
    api('GET', '/excuses'), classStudents(classId), lists.subjects(), api('GET', `/classes/${classId}/attendance/summary`).catch(() => null),
  ]);
  if (ctx.stale()) return;
  const studentName = new Map(students.map((s) => [s.id, s.name]));
  const subjectName = new Map(subjects.map((s) => [s.id, s.name]));
  const mine = excuses.items.filter((e) => studentName.has(e.student_id));
  const pending = mine.filter((e) => e.status === 'pending');
  // What each excuse covers: the lessons' days and subjects (a few requests, only for pending ones).
  const lessonIds = [...new Set(pending.flatMap((e) => e.lesson_ids))].slice(0, 60);
  const lessonInfo = new Map((await Promise.all(lessonIds.map((id) => api('GET', `/lessons/${id}/attendance`).then((a) => a.lesson).catch(() => null))))
    .filter(Boolean).map((l) => [l.id, l]));
  if (ctx.stale()) return;

  const decide = (excuse, decision) => guarded(async () => {
    await api('POST', `/excuses/${excuse.id}/decision`, { json: { decision } });
    announce(t(decision === 'accepted' ? 'teacher.excuse_accepted' : 'teacher.excuse_rejected'), 'success');
    ctx.navigate(`/teacher/homeroom?class=${classId}&v=${Date.now()}`);
  });
  const pendingList = pending.length ? h('ul', { class: 'plain-list' }, pending.map((e) => h('li', { class: 'excuse-card', 'data-excuse': e.id },
    h('p', {}, h('strong', {}, studentName.get(e.student_id)), ' · ', h('span', { class: 'muted' }, fmtDateTime(e.submitted_at))),
    h('p', { class: 'message-body' }, e.reason),
    h('ul', { class: 'inline-list' }, e.lesson_ids.map((id) => {
      const l = lessonInfo.get(id);
      return h('li', {}, l ? `${fmtDate(l.date)}, ${t('attendance.lesson_n', { n: l.lesson_no })} (${subjectName.get(l.subject_id) || ''})` : t('attendance.lesson'));
    })),
    h('div', { class: 'button-row' },
      h('button', { type: 'button', class: 'primary', onClick: decide(e, 'accepted') }, t('teacher.accept')),
      h('button', { type: 'button', class: 'danger', onClick: decide(e, 'rejected') }, t('teacher.reject')))))) : empty(t('teacher.no_pending'));
  const decided = mine.filter((e) => e.status !== 'pending');

  const studentSelect = select('student', students.map((s) => [s.id, s.name]), { id: 'report-student' });
  const studentReport = h('button', { type: 'button', class: 'secondary', onClick: guarded(async () => {
    saveFile(await api('GET', `/students/${studentSelect.value}/meeting-report.pdf`, { as: 'blob' }));
  }) }, t('teacher.report_student'));
  const byStudent = (summary && summary.by_student) || {};
  page(ctx, t('teacher.homeroom_heading', { klass: klass.name }),
    classes.length > 1 ? h('nav', { class: 'tabs', 'aria-label': t('teacher.class') }, classes.map((c) => h('a', { class: c.id === classId ? 'tab active' : 'tab', href: `#/teacher/homeroom?class=${c.id}` }, c.name))) : null,
    h('section', { 'aria-labelledby': 'pending-title' }, h('h2', { id: 'pending-title' }, t('teacher.pending_excuses', { n: pending.length })), pendingList),
    decided.length ? h('details', { class: 'panel' }, h('summary', {}, t('teacher.decided_excuses', { n: decided.length })),
      h('ul', { class: 'plain-list' }, decided.map((e) => h('li', {}, `${studentName.get(e.student_id)} · ${e.reason} · `, badge(t(`excuse_status.${e.status}`), e.status))))) : null,
    h('section', { 'aria-labelledby': 'report-title' }, h('h2', { id: 'report-title' }, t('teacher.report_title')),
      h('p', {}, t('teacher.report_explain')),
      h('div', { class: 'button-row' }, downloadButton(t('teacher.report_class', { klass: klass.name }), `/classes/${classId}/meeting-report.pdf`, { className: 'primary' })),
      students.length ? h('div', { class: 'picker' }, field(t('teacher.student'), studentSelect), studentReport) : null),
    summary ? h('section', { 'aria-labelledby': 'class-attendance' }, h('h2', { id: 'class-attendance' }, t('teacher.class_attendance', { percent: summary.percent_present === null ? '—' : `${fmtNumber(summary.percent_present, 1)}%` })),
      table([t('teacher.student'), t('attendance.percent'), statusLabel('absent'), statusLabel('late')], students.map((s) => {
        const row = byStudent[s.id] || { percent_present: null, counts: {} };
        return h('tr', {}, h('th', { scope: 'row' }, s.name), h('td', { class: 'num' }, row.percent_present === null ? '—' : `${fmtNumber(row.percent_present, 1)}%`),
          h('td', { class: 'num' }, String(row.counts.absent || 0)), h('td', { class: 'num' }, String(row.counts.late || 0)));
      }))) : null);
}
