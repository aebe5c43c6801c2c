// The progress chart: a subject's grades over time (dots, bigger for heavier categories) and the
// weighted average as it grew (a line). Inline SVG, drawn here; no library.
import { svg, h, parseDay, fmtDate, fmtNumber } from '../dom.js';
import { t } from '../i18n.js';

/** 4+ → 4.5, 4- → 3.75 (the default modifier values); marks and points → null. */
export function numericValue(value, plus = 0.5, minus = 0.25) {
  const found = /^([1-6])([+-])?$/.exec(String(value || '').trim());
  if (!found) return null;
  const base = Number(found[1]);
  if (found[2] === '+') return Math.min(6, base + plus);
  if (found[2] === '-') return base - minus;
  return base;
}

/** [{date, value, weight, average}] in date order: each counting grade and the average after it. */
export function progress(grades) {
  const points = grades
    .map((g) => ({ date: g.date, value: numericValue(g.value), weight: g.weight || 1, counts: g.counts_to_average !== false, label: g.value, category: g.category }))
    .filter((p) => p.value !== null)
    .sort((a, b) => a.date.localeCompare(b.date));
  let sum = 0;
  let weights = 0;
  for (const point of points) {
    if (point.counts) {
      sum += point.value * point.weight;
      weights += point.weight;
    }
    point.average = weights ? sum / weights : null;
  }
  return points;
}

export function progressChart(grades, { title, width = 640 } = {}) {
  const points = progress(grades);
  if (points.length === 0) return h('p', { class: 'empty' }, t('chart.no_data'));
  const height = 240;
  const pad = { left: 34, right: 14, top: 14, bottom: 34 };
  const first = parseDay(points[0].date).getTime();
  const last = parseDay(points[points.length - 1].date).getTime();
  const span = Math.max(last - first, 24 * 3600 * 1000);
  const x = (iso) => pad.left + ((parseDay(iso).getTime() - first) / span) * (width - pad.left - pad.right) + (last === first ? (width - pad.left - pad.right) / 2 : 0);
  const y = (value) => pad.top + ((6 - value) / 5) * (height - pad.top - pad.bottom);
  const titleId = `chart-title-${Math.random().toString(36).slice(2, 8)}`;
  const descId = `${titleId}-desc`;
  const averages = points.filter((p) => p.average !== null);
  const description = averages.length
    ? t('chart.description', { count: points.length, from: fmtNumber(averages[0].average), to: fmtNumber(averages[averages.length - 1].average) })
    : t('chart.description_no_average', { count: points.length });

  const grid = [1, 2, 3, 4, 5, 6].map((value) => svg('g', {},
    svg('line', { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: 'chart-grid' }),
    svg('text', { x: pad.left - 8, y: y(value) + 4, class: 'chart-label', 'text-anchor': 'end' }, String(value))));
  const ticks = [points[0].date, points[points.length - 1].date].filter((d, i, all) => all.indexOf(d) === i).map((iso, i, all) => svg('text', {
    x: x(iso), y: height - 10, class: 'chart-label', 'text-anchor': all.length === 1 ? 'middle' : i === 0 ? 'start' : 'end',
  }, fmtDate(iso, { day: 'numeric', month: 'short' })));
  const line = averages.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.date).toFixed(1)},${y(p.average).toFixed(1)}`).join(' ');
  const dots = points.map((p) => svg('circle', {
    cx: x(p.date).toFixed(1), cy: y(p.value).toFixed(1), r: 3 + Math.min(p.weight, 5), class: p.counts ? 'chart-dot' : 'chart-dot chart-dot-muted',
  }, svg('title', {}, `${p.label} · ${p.category || t('grades.no_category')} · ${fmtDate(p.date)}`)));

  return h('figure', { class: 'chart' },
    svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-labelledby': `${titleId} ${descId}`, class: 'chart-svg' },
      svg('title', { id: titleId }, title || t('chart.title')),
      svg('desc', { id: descId }, description),
      ...grid,
      ...ticks,
      line ? svg('path', { d: line, class: 'chart-line' }) : null,
      ...dots),
    h('figcaption', { class: 'chart-legend' },
      h('span', { class: 'legend-dot', 'aria-hidden': 'true' }), t('chart.legend_grade'), ' ',
      h('span', { class: 'legend-line', 'aria-hidden': 'true' }), t('chart.legend_average')));
}
