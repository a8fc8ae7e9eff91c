// The live tail: deliveries as they happen, without reloading. The stream is read with fetch
// (api.js `stream`), so the API key travels in the Authorization header, never in a URL. A
// delivery appears when it is created and its row is updated as attempts move it on; clicking
// it opens its detail. The stream is reopened when the server closes it (its time limit), and
// closed when the page is left.

import { stream, licensePath } from './api.js';
import { h, replace, time, badge, empty, errorBox, focusHeading } from './dom.js';

/** Rows kept on the page: older ones drop off the bottom. */
const KEEP = 200;

export async function tailPage(root, ctx) {
  const state = h('p', { id: 'tail-state', class: 'muted', role: 'status' }, 'Connecting…');
  const tbody = h('tbody');
  const waiting = empty('Waiting for deliveries…', 'New deliveries of this license show up here as they happen, on every node.');
  const table = h('table', { class: 'list', id: 'tail', hidden: true },
    h('caption', { class: 'visually-hidden' }, 'Deliveries as they happen, newest first'),
    h('thead', {}, h('tr', {}, ['Delivery', 'Created', 'Event', 'Status', 'Attempts', 'Last answer']
      .map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const problem = h('div');
  replace(root, h('div', { class: 'title-row' }, h('h1', {}, 'Live deliveries'), state), problem, waiting, table);
  focusHeading(root);

  const rows = new Map();
  const show = (d) => {
    const fresh = row(d);
    const old = rows.get(d.id);
    if (old) {
      old.replaceWith(fresh);
    } else {
      tbody.prepend(fresh);
      while (tbody.children.length > KEEP) {
        const last = tbody.lastElementChild;
        rows.delete(last.dataset.deliveryId);
        last.remove();
      }
    }
    rows.set(d.id, fresh);
    waiting.hidden = true;
    table.hidden = false;
  };

  const controller = new AbortController();
  const alive = () => ctx.stillCurrent() && document.contains(table);
  // Leaving the page (another hash) ends the stream.
  const leave = () => {
    if (!alive()) {
      controller.abort();
      window.removeEventListener('hashchange', leave);
    }
  };
  window.addEventListener('hashchange', leave);
  // The last delivery event seen: a reconnection resumes after it, so nothing made or changed
  // while the stream was down is missed.
  let lastId = null;
  while (alive()) {
    let reason = null;
    try {
      await stream(licensePath('/deliveries/tail'), (name, data, id) => {
        if (id) lastId = id;
        if (name === 'ready') replace(state, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), ' Live');
        else if (name === 'delivery') show(data);
        else if (name === 'end') reason = data.reason;
      }, controller.signal, lastId);
    } catch (e) {
      if (!alive()) return;
      replace(problem, errorBox(e.message));
      if (e.status === 401 || e.status === 403) return;
    }
    if (!alive()) return;
    replace(state, reason === 'server_stopping' ? 'The server is stopping; reconnecting…' : 'Reconnecting…');
    await new Promise((resolve) => setTimeout(resolve, reason === 'time_limit' ? 100 : 2000));
    replace(problem);
  }
}

function row(d) {
  return h('tr', { 'data-delivery-id': d.id, class: 'tail-row' },
    h('td', {}, h('a', { href: `#/deliveries/${encodeURIComponent(d.id)}` }, d.id)),
    h('td', {}, time(d.created_at)),
    h('td', {}, h('code', {}, d.event_type)),
    h('td', {}, badge(d.status)),
    h('td', { class: 'num' }, String(d.attempt_count)),
    h('td', {}, d.last_status_code ? `HTTP ${d.last_status_code}`
      : (d.last_error ? h('span', { class: 'break' }, d.last_error) : h('span', { class: 'muted' }, '—'))));
}
