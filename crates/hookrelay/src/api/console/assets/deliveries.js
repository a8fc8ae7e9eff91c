// The deliveries section: a filtered, cursor-paginated list ("Older" fetches the next page, so
// it stays fast on 100,000 deliveries) and one delivery with its exact body, every attempt and
// a Redeliver button.

import { call, licensePath, supportMatrix } from './api.js';
import { h, replace, time, codeBlock, badge, empty, errorBox, focusHeading } from './dom.js';

const PAGE = 50;

/** What a delivery can be found by (the list's query parameters, each served by an index). */
const FIND = [['event_unique_id', 'Event unique id'], ['chat_id', 'Chat id'], ['visitor_id', 'Visitor id']];

export async function deliveriesPage(root, query, ctx) {
  const filters = {
    status: query.get('status') || '',
    webhook_id: query.get('webhook_id') || '',
    event_type: query.get('event_type') || '',
  };
  for (const [key] of FIND) filters[key] = query.get(key) || '';
  const [matrix, hooks] = await Promise.all([supportMatrix(), call('GET', licensePath('/webhooks'))]);
  if (!ctx.stillCurrent()) return;
  const webhookName = new Map(hooks.webhooks.map((w) => [w.id, `${w.event_type} → ${w.url}`]));

  const apply = () => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    location.hash = `#/deliveries${q.toString() ? `?${q}` : ''}`;
  };
  const select = (id, label, key, options) => h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('select', { id, on: { change: (ev) => { filters[key] = ev.target.value; apply(); } } },
      options.map(([value, text]) => h('option', { value, selected: filters[key] === value }, text))));

  const tbody = h('tbody');
  const more = h('div', { class: 'actions' });
  const tableSlot = h('div');
  const load = async (cursor) => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    if (cursor) q.set('cursor', cursor);
    const page = await call('GET', licensePath(`/deliveries?${q}`));
    for (const d of page.deliveries) tbody.appendChild(row(d, webhookName));
    replace(more, page.next_cursor
      ? h('button', { type: 'button', id: 'older', on: { click: async (ev) => {
        ev.target.disabled = true;
        try {
          await load(page.next_cursor);
        } catch (e) {
          replace(more, errorBox(e.message));
        }
      } } }, 'Older deliveries')
      : (cursor ? h('p', { class: 'muted' }, 'No older deliveries.') : null));
    return page;
  };
  const first = await load(null);
  if (!ctx.stillCurrent()) return;
  const filtered = Object.values(filters).some(Boolean);
  replace(tableSlot, first.deliveries.length === 0
    ? (filtered
      ? empty('No deliveries match these filters.', 'Try another status, webhook, event type or search.',
        h('a', { href: '#/deliveries' }, 'Show all deliveries'))
      : empty('No deliveries yet.', hooks.webhooks.length
        ? 'A delivery is made for each event your producer posts to a matching enabled webhook. Use “Send test” on the Webhooks page to try a target without one.'
        : 'Add a webhook first; events are then delivered to it and show up here.',
      h('a', { href: '#/webhooks' }, 'Go to webhooks')))
    : h('table', { class: 'list', id: 'deliveries' },
      h('caption', { class: 'visually-hidden' }, 'Deliveries, newest first'),
      h('thead', {}, h('tr', {}, ['Delivery', 'Created', 'Event', 'Webhook', 'Status', 'Attempts', 'Last answer']
        .map((t) => h('th', { scope: 'col' }, t)))),
      tbody));

  const findBy = (FIND.find(([key]) => filters[key]) || FIND[0])[0];
  const findSelect = h('select', { id: 'find-by' },
    FIND.map(([value, text]) => h('option', { value, selected: value === findBy }, text)));
  const findInput = h('input', { id: 'find-value', type: 'search', value: filters[findBy], autocomplete: 'off',
    placeholder: 'e.g. 32 hex characters, or a chat or visitor id as LiveChat sends it' });
  const find = h('form', { class: 'filters', id: 'find', role: 'search', 'aria-label': 'Find deliveries', on: { submit: (ev) => {
    ev.preventDefault();
    for (const [key] of FIND) filters[key] = '';
    const value = findInput.value.trim();
    if (value) filters[findSelect.value] = value;
    apply();
  } } },
  h('div', { class: 'field' }, h('label', { for: 'find-by' }, 'Find by'), findSelect),
  h('div', { class: 'field grow' }, h('label', { for: 'find-value' }, 'Value'), findInput),
  h('button', { type: 'submit', id: 'find-submit' }, 'Find'),
  FIND.some(([key]) => filters[key])
    ? h('button', { type: 'button', class: 'link', id: 'find-clear', on: { click: () => {
      for (const [key] of FIND) filters[key] = '';
      apply();
    } } }, 'Clear')
    : null);

  replace(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Deliveries'),
      h('button', { type: 'button', id: 'refresh', on: { click: () => deliveriesPage(root, query, ctx).catch((e) => replace(tableSlot, errorBox(e.message))) } }, 'Refresh')),
    h('form', { class: 'filters', 'aria-label': 'Filter deliveries', on: { submit: (ev) => ev.preventDefault() } },
      select('f-status', 'Status', 'status', [['', 'Any status'], ['pending', 'pending'], ['succeeded', 'succeeded'], ['failed', 'failed']]),
      select('f-webhook', 'Webhook', 'webhook_id', [['', 'Any webhook'], ...hooks.webhooks.map((w) => [w.id, webhookName.get(w.id)])]),
      select('f-event', 'Event type', 'event_type', [['', 'Any event type'], ...matrix.event_types.map((e) => [e.name, e.name])])),
    find, tableSlot, more);
  focusHeading(root);
}

function row(d, webhookName) {
  return h('tr', { 'data-delivery-id': d.id },
    h('td', {}, h('a', { href: `#/deliveries/${encodeURIComponent(d.id)}` }, d.id)),
    h('td', {}, time(d.created_at)),
    h('td', {}, h('code', {}, d.event_type)),
    h('td', { class: 'url' }, h('span', { class: 'break' }, webhookName.get(d.webhook_id) || `${d.webhook_id} (deleted)`)),
    h('td', {}, badge(d.status)),
    h('td', { class: 'num' }, String(d.attempt_count)),
    h('td', {}, lastAnswer(d)));
}

function lastAnswer(d) {
  if (d.last_status_code) return `HTTP ${d.last_status_code}`;
  if (d.last_error) return h('span', { class: 'break' }, d.last_error);
  return h('span', { class: 'muted' }, d.attempt_count ? '—' : 'not tried yet');
}

/** One delivery. While it is pending the page refreshes itself every second. */
export async function deliveryPage(root, id, ctx) {
  const path = licensePath(`/deliveries/${encodeURIComponent(id)}`);
  let d;
  try {
    d = await call('GET', path);
  } catch (e) {
    if (e.status !== 404) throw e;
    replace(root, h('h1', {}, `Delivery ${id}`), empty('There is no such delivery in this license.', null,
      h('a', { href: '#/deliveries' }, 'Back to deliveries')));
    return focusHeading(root);
  }
  if (!ctx.stillCurrent()) return;
  const actionError = h('div');
  const redeliver = h('button', { type: 'button', class: 'primary', id: 'redeliver', on: { click: async () => {
    redeliver.disabled = true;
    replace(actionError);
    try {
      await call('POST', `${path}/resend`);
      ctx.notify('Redelivery started.');
      await refresh();
    } catch (e) {
      replace(actionError, errorBox(e.message));
    } finally {
      redeliver.disabled = false;
    }
  } } }, 'Redeliver');
  const body = h('div');
  const render = () => {
    replace(body,
      h('p', { id: 'delivery-status', class: 'status-line' }, badge(d.status), ' ',
        d.status === 'pending' && d.next_attempt_at ? h('span', {}, 'next attempt ', time(d.next_attempt_at)) : null),
      h('dl', { class: 'meta' },
        h('dt', {}, 'Event'), h('dd', {}, h('code', {}, d.event_type)),
        h('dt', {}, 'Event id'), h('dd', {}, h('code', {}, d.event_id)),
        h('dt', {}, 'Webhook'), h('dd', {}, h('a', { href: `#/deliveries?webhook_id=${encodeURIComponent(d.webhook_id)}` }, d.webhook_id)),
        h('dt', {}, 'Created'), h('dd', {}, time(d.created_at)),
        h('dt', {}, 'Updated'), h('dd', {}, time(d.updated_at))),
      h('div', { class: 'columns' },
        h('section', { 'aria-labelledby': 'request-title' },
          h('h2', { id: 'request-title' }, 'Request body'),
          codeBlock(d.request_body, 'Request body')),
        h('section', { 'aria-labelledby': 'attempts-title' },
          h('h2', { id: 'attempts-title' }, `Attempts (${d.attempts.length})`),
          d.attempts.length === 0
            ? empty('No attempt yet.', 'The first attempt is made as soon as the delivery is due.')
            : h('ol', { class: 'attempts', id: 'attempts', reversed: true },
              [...d.attempts].reverse().map((a) => attempt(a))))));
  };
  const refresh = async () => {
    d = await call('GET', path);
    if (ctx.stillCurrent()) render();
  };
  render();
  replace(root,
    h('p', {}, h('a', { href: '#/deliveries' }, '← All deliveries')),
    h('div', { class: 'title-row' }, h('h1', {}, `Delivery ${d.id}`), redeliver),
    actionError, body);
  focusHeading(root);
  const poll = async () => {
    if (!ctx.stillCurrent() || !document.contains(body)) return;
    if (d.status === 'pending') {
      try {
        await refresh();
      } catch (e) {
        replace(actionError, errorBox(e.message));
      }
    }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 1000);
}

function attempt(a) {
  // The server marks every unsuccessful answer with an error, so no error means success.
  const ok = !!a.status_code && !a.error;
  return h('li', { class: 'attempt', 'data-attempt': a.attempt },
    h('div', { class: 'attempt-head' },
      h('strong', {}, `Attempt ${a.attempt}`), ' ',
      badge(ok ? 'succeeded' : 'failed'), ' ',
      h('span', { class: 'attempt-status' }, a.status_code ? `HTTP ${a.status_code}` : 'no HTTP answer'),
      h('span', { class: 'muted' }, ` · ${a.duration_ms} ms · `), time(a.started_at)),
    a.error ? h('p', { class: 'attempt-error' }, a.error) : null,
    h('details', { open: !ok }, h('summary', {}, 'Response body'), codeBlock(a.response_body, `Response body of attempt ${a.attempt}`)));
}
