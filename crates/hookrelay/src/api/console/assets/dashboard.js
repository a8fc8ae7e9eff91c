// The dashboard: a license at a glance. Attempts per minute over the last hour (or per 15
// minutes over the last day) as a stacked bar chart drawn here as SVG, and per webhook its
// success rate, p50/p99 attempt duration, last attempt and target health. The numbers come
// from GET …/dashboard; the page refreshes them every 10 seconds while it is shown.

import { call, licensePath } from './api.js';
import { h, replace, time, badge, empty, focusHeading } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const KINDS = [['succeeded', 'Succeeded'], ['retried', 'Retried'], ['failed', 'Failed']];
const REFRESH_MS = 10000;

/** Creates an SVG element with attributes (no HTML strings, as everywhere in the console). */
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) if (child) el.appendChild(child);
  return el;
}

export async function dashboardPage(root, query, ctx) {
  const span = query.get('window') === '24h' ? '24h' : '1h';
  const load = () => call('GET', licensePath(`/dashboard?window=${span}`));
  let data = await load();
  if (!ctx.stillCurrent()) return;
  const body = h('div');
  const render = () => replace(body, totals(data), chart(data), webhooks(data));
  const choose = h('div', { class: 'field' },
    h('label', { for: 'dash-window' }, 'Window'),
    h('select', { id: 'dash-window', on: { change: (ev) => { location.hash = `#/dashboard?window=${ev.target.value}`; } } },
      h('option', { value: '1h', selected: span === '1h' }, 'Last hour (per minute)'),
      h('option', { value: '24h', selected: span === '24h' }, 'Last day (per 15 minutes)')));
  render();
  replace(root, h('div', { class: 'title-row' }, h('h1', {}, 'Dashboard'), choose), body);
  focusHeading(root);
  const tick = async () => {
    if (!ctx.stillCurrent() || !document.contains(body)) return;
    try {
      data = await load();
      if (ctx.stillCurrent()) render();
    } catch (e) {
      ctx.notify(e.message, 'error');
    }
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}

function totals(d) {
  return h('ul', { class: 'totals', id: 'dash-totals', 'aria-label': `Attempts in the ${d.window === '24h' ? 'last day' : 'last hour'}` },
    KINDS.map(([key, label]) => h('li', { class: `total total-${key}`, 'data-kind': key },
      h('span', { class: 'total-number' }, String(d.totals[key])), ' ', h('span', { class: 'total-label' }, label))));
}

/** The stacked bars: one per point, succeeded at the bottom, then retried, then failed. */
function chart(d) {
  const width = 960;
  const height = 200;
  const pad = { left: 40, bottom: 22, top: 8 };
  const plotH = height - pad.bottom - pad.top;
  const n = d.points.length;
  const slot = (width - pad.left) / n;
  const max = Math.max(1, ...d.points.map((p) => p.succeeded + p.retried + p.failed));
  const scale = (v) => (v / max) * plotH;
  const bars = svg('g', { class: 'bars' });
  d.points.forEach((p, i) => {
    let y = pad.top + plotH;
    const group = svg('g', { 'data-start': p.start });
    const label = `${new Date(p.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: `
      + KINDS.map(([key, name]) => `${p[key]} ${name.toLowerCase()}`).join(', ');
    group.appendChild(svg('title', {}, document.createTextNode(label)));
    for (const [key] of KINDS) {
      if (!p[key]) continue;
      const barH = Math.max(1, scale(p[key]));
      y -= barH;
      group.appendChild(svg('rect', { class: `bar bar-${key}`, x: (pad.left + i * slot + 1).toFixed(1), y: y.toFixed(1), width: Math.max(1, slot - 2).toFixed(1), height: barH.toFixed(1) }));
    }
    bars.appendChild(group);
  });
  const axis = svg('g', { class: 'axis' },
    svg('line', { x1: pad.left, y1: pad.top + plotH, x2: width, y2: pad.top + plotH }),
    svg('text', { x: pad.left - 6, y: pad.top + 10, 'text-anchor': 'end' }, document.createTextNode(String(max))),
    svg('text', { x: pad.left - 6, y: pad.top + plotH, 'text-anchor': 'end' }, document.createTextNode('0')));
  const every = d.window === '24h' ? 16 : 10;
  d.points.forEach((p, i) => {
    if (i % every !== 0) return;
    axis.appendChild(svg('text', { x: (pad.left + i * slot).toFixed(1), y: height - 6 },
      document.createTextNode(new Date(p.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }))));
  });
  const step = d.step_seconds === 60 ? 'minute' : '15 minutes';
  const picture = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', id: 'dash-chart', role: 'img', 'aria-label': `Attempts per ${step}: ${d.totals.succeeded} succeeded, ${d.totals.retried} retried, ${d.totals.failed} failed` }, axis, bars);
  const legend = h('ul', { class: 'legend' }, KINDS.map(([key, label]) => h('li', {}, h('span', { class: `swatch swatch-${key}` }), label)));
  return h('section', { class: 'card', 'aria-labelledby': 'chart-title' },
    h('h2', { id: 'chart-title' }, `Attempts per ${step}`), picture, legend);
}

function percent(rate) {
  return rate === null ? '—' : `${(rate * 100).toFixed(rate === 1 || rate === 0 ? 0 : 1)}%`;
}

function ms(value) {
  if (value === null) return '—';
  return value >= 50000 ? '≥ 50 s' : `≤ ${value} ms`;
}

function webhooks(d) {
  if (d.webhooks.length === 0) {
    return empty('No webhooks yet.', 'Add a webhook; its deliveries are counted here.', h('a', { href: '#/webhooks' }, 'Go to webhooks'));
  }
  const head = h('thead', {}, h('tr', {}, ['Webhook', 'Success rate', 'Succeeded', 'Retried', 'Failed', 'p50', 'p99', 'Last attempt', 'Target']
    .map((t) => h('th', { scope: 'col' }, t))));
  const rows = d.webhooks.map((w) => h('tr', { 'data-webhook-id': w.webhook_id },
    h('td', { class: 'url' }, h('code', {}, w.event_type), ' → ',
      h('a', { class: 'break', href: `#/deliveries?webhook_id=${encodeURIComponent(w.webhook_id)}` }, w.url),
      w.enabled ? null : [' ', badge('disabled')]),
    h('td', { class: 'num rate' }, percent(w.success_rate)),
    h('td', { class: 'num succeeded' }, String(w.succeeded)),
    h('td', { class: 'num retried' }, String(w.retried)),
    h('td', { class: 'num failed' }, String(w.failed)),
    h('td', { class: 'num' }, ms(w.p50_ms)),
    h('td', { class: 'num' }, ms(w.p99_ms)),
    h('td', {}, time(w.last_attempt_at)),
    h('td', {}, badge(w.target_health.state === 'silent' ? 'silent' : 'answering'))));
  return h('section', { 'aria-labelledby': 'dash-webhooks-title' },
    h('h2', { id: 'dash-webhooks-title' }, 'Webhooks'),
    h('table', { class: 'list', id: 'dash-webhooks' }, head, h('tbody', {}, rows)),
    h('p', { class: 'muted' }, 'Durations are bucketed: p50 and p99 show the bound of the bucket they fall in.'));
}
