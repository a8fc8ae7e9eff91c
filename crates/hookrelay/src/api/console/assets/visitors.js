// The visitor details section: the detail sets that integrations pushed for one visitor through
// the Visitors API (`POST /visitors/{id}/details`), read from
// `GET /v1/licenses/{license}/visitors/{visitor_id}/details`.

import { call, licensePath } from './api.js';
import { h, replace, time, empty, errorBox, focusHeading } from './dom.js';

export async function visitorsPage(root, visitorId, ctx) {
  const result = h('div', { id: 'visitor-result' });
  const input = h('input', { id: 'visitor-id', name: 'visitor-id', required: true, value: visitorId,
    placeholder: 'S1354547427.0c151b0e1b', autocomplete: 'off' });
  const form = h('form', { class: 'filters', on: { submit: (ev) => {
    ev.preventDefault();
    const id = input.value.trim();
    if (id) location.hash = `#/visitors/${encodeURIComponent(id)}`;
  } } },
  h('div', { class: 'field grow' }, h('label', { for: 'visitor-id' }, 'Visitor ID'), input),
  h('button', { type: 'submit', class: 'primary' }, 'Show details'));
  replace(root, h('h1', {}, 'Visitor details'),
    h('p', { class: 'muted' }, 'Integrations add details about a visitor (for example from a chat_started webhook) with the Visitors API. The visitor ID is in the webhook body under visitor.id.'),
    form, result);
  focusHeading(root);
  if (!visitorId) return;
  replace(result, h('p', { class: 'muted' }, 'Loading…'));
  try {
    const body = await call('GET', licensePath(`/visitors/${encodeURIComponent(visitorId)}/details`));
    if (!ctx.stillCurrent()) return;
    const sets = detailSets(body);
    replace(result, sets.length === 0
      ? empty(`No details for visitor ${visitorId}.`, 'No integration has added details for this visitor yet.')
      : sets.map(detailSet));
  } catch (e) {
    if (e.status === 404 && /route/.test(e.message)) {
      replace(result, errorBox('This hookrelay server does not offer visitor details yet (the API answered “route not found”).'));
    } else if (e.status === 404) {
      replace(result, empty(`No details for visitor ${visitorId}.`, 'No integration has added details for this visitor yet.'));
    } else {
      replace(result, errorBox(e.message));
    }
  }
}

/** The list of detail sets, whatever the envelope (`details`, `sets`, or a bare array). */
function detailSets(body) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body.details)) return body.details;
  if (body && Array.isArray(body.sets)) return body.sets;
  return [];
}

function detailSet(set) {
  const fields = Array.isArray(set.fields) ? set.fields : [];
  return h('section', { class: 'card detail-set' },
    h('h2', {}, String(set.id ?? 'details')),
    set.icon ? h('p', { class: 'muted' }, 'Icon: ', h('span', { class: 'break' }, String(set.icon))) : null,
    h('dl', { class: 'meta' }, fields.map((f) => [
      h('dt', {}, String(f.name ?? '')),
      h('dd', {}, value(f)),
    ])),
    set.updated_at ? h('p', { class: 'muted' }, 'Updated ', time(set.updated_at)) : null);
}

/** A field's value, as a link only when its URL is http(s): no `javascript:` links. */
function value(f) {
  const text = String(f.value ?? '');
  if (typeof f.url === 'string' && /^https?:\/\//i.test(f.url)) {
    return h('a', { href: f.url, target: '_blank', rel: 'noopener noreferrer' }, text || f.url);
  }
  return text;
}
