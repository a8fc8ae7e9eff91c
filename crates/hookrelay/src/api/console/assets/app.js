// The console's entry point: signing in and out, the header, and the hash router that shows
// one section at a time (#/dashboard, #/webhooks, #/deliveries, #/deliveries/<id>, #/live,
// #/visitors).

import { call, session, saveSession, signOut, ApiError } from './api.js';
import { h, replace, errorBox, empty, focusHeading } from './dom.js';
import { webhooksPage } from './webhooks.js';
import { deliveriesPage, deliveryPage } from './deliveries.js';
import { visitorsPage } from './visitors.js';
import { dashboardPage } from './dashboard.js';
import { tailPage } from './tail.js';

const main = () => document.getElementById('main');

/** Shows a short message in the live region (announced to screen readers). */
export function notify(message, kind = 'ok') {
  const el = document.getElementById('notice');
  replace(el, message ? h('p', { class: `notice-${kind}`, text: message }) : null);
  if (message) {
    clearTimeout(notify.timer);
    notify.timer = setTimeout(() => replace(el), 6000);
  }
}

/** Parses `#/a/b?x=1` into `{parts: ['a', 'b'], query: URLSearchParams}`. */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query] = hash.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || '') };
}

function renderHeader() {
  const s = session();
  const nav = document.getElementById('nav');
  const box = document.getElementById('session');
  nav.hidden = !(s && s.licenseId);
  const section = currentRoute().parts[0] || 'webhooks';
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!s) return replace(box);
  replace(box,
    s.role === 'admin'
      ? h('a', { href: '#/licenses', class: 'who', title: 'Choose another license' },
        'Admin', s.licenseId ? ` · license ${s.licenseId}` : '')
      : h('span', { class: 'who' }, `License ${s.licenseId}`),
    h('button', { type: 'button', class: 'link', id: 'sign-out', on: { click: () => { signOut(); notify('Signed out.'); route(); } } }, 'Sign out'));
}

function signInPage(root, message) {
  let mode = 'license';
  const error = h('div');
  const licenseFields = h('div', { class: 'stack' },
    h('label', { for: 'license-id' }, 'License ID'),
    h('input', { id: 'license-id', name: 'license-id', inputmode: 'numeric', autocomplete: 'username', required: true }),
    h('label', { for: 'api-key' }, 'API key'),
    h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'current-password', required: true }));
  const adminFields = h('div', { class: 'stack', hidden: true },
    h('label', { for: 'admin-token' }, 'Admin token'),
    h('input', { id: 'admin-token', name: 'admin-token', type: 'password', autocomplete: 'current-password' }));
  const choose = (value) => () => {
    mode = value;
    licenseFields.hidden = value !== 'license';
    adminFields.hidden = value !== 'admin';
    for (const input of licenseFields.querySelectorAll('input')) input.required = value === 'license';
    adminFields.querySelector('input').required = value === 'admin';
  };
  const submit = h('button', { type: 'submit', class: 'primary', id: 'sign-in' }, 'Sign in');
  const form = h('form', { class: 'card narrow', novalidate: false, on: { submit: async (ev) => {
    ev.preventDefault();
    replace(error);
    submit.disabled = true;
    try {
      if (mode === 'admin') {
        const token = adminFields.querySelector('input').value.trim();
        await call('GET', '/v1/licenses?limit=1', undefined, token);
        saveSession({ token, role: 'admin', licenseId: null });
        location.hash = '#/licenses';
      } else {
        const licenseId = licenseFields.querySelector('#license-id').value.trim();
        const token = licenseFields.querySelector('#api-key').value.trim();
        await call('GET', `/v1/licenses/${encodeURIComponent(licenseId)}`, undefined, token);
        saveSession({ token, role: 'license', licenseId });
        location.hash = '#/webhooks';
      }
      route();
    } catch (e) {
      const text = e.status === 401 ? 'That token is not valid. Check it and try again.'
        : e.status === 403 ? 'That API key belongs to another license.'
          : e.status === 404 ? 'There is no license with that ID.' : e.message;
      replace(error, errorBox(text));
    } finally {
      submit.disabled = false;
    }
  } } },
  h('h1', {}, 'Sign in'),
  h('p', { class: 'muted' }, 'Use a license\u2019s ID and API key, or the admin token that hookrelay printed when it first started. The token is kept only in this browser tab.'),
  message ? errorBox(message) : null,
  h('fieldset', { class: 'choice' },
    h('legend', {}, 'Sign in with'),
    h('label', {}, h('input', { type: 'radio', name: 'mode', value: 'license', checked: true, on: { change: choose('license') } }), ' License API key'),
    h('label', {}, h('input', { type: 'radio', name: 'mode', value: 'admin', id: 'mode-admin', on: { change: choose('admin') } }), ' Admin token')),
  licenseFields, adminFields, error, submit);
  replace(root, form);
  focusHeading(root);
}

async function licensesPage(root) {
  replace(root, h('h1', {}, 'Choose a license'), h('p', { class: 'muted' }, 'Loading licenses…'));
  focusHeading(root);
  const list = h('ul', { class: 'picker' });
  const more = h('div');
  const created = h('div');
  const pick = (id) => {
    saveSession({ ...session(), licenseId: id });
    location.hash = '#/webhooks';
  };
  const load = async (cursor) => {
    const page = await call('GET', `/v1/licenses?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const l of page.licenses) {
      list.appendChild(h('li', {}, h('button', { type: 'button', class: 'pick', on: { click: () => pick(l.license_id) } },
        h('strong', {}, l.license_id), h('span', { class: 'muted' }, ` ${l.login}`))));
    }
    replace(more, page.next_cursor
      ? h('button', { type: 'button', on: { click: () => load(page.next_cursor).catch(showError) } }, 'More licenses')
      : null);
    return page;
  };
  const showError = (e) => replace(more, errorBox(e.message));
  const create = h('button', { type: 'button', on: { click: async () => {
    try {
      const l = await call('POST', '/v1/licenses', {});
      replace(created, h('div', { class: 'card', role: 'status' },
        h('p', {}, `License ${l.license_id} was created. Its API key is shown only this once:`),
        h('pre', { class: 'code' }, l.api_key),
        h('button', { type: 'button', class: 'primary', on: { click: () => pick(l.license_id) } }, `Open license ${l.license_id}`)));
    } catch (e) {
      replace(created, errorBox(e.message));
    }
  } } }, 'Create a license');
  try {
    const first = await load(null);
    replace(root, h('h1', {}, 'Choose a license'),
      first.licenses.length === 0
        ? empty('There are no licenses yet.', 'A license is one LiveChat account: create one to add webhooks to it.')
        : list,
      more, h('div', { class: 'actions' }, create), created);
    focusHeading(root);
  } catch (e) {
    replace(root, h('h1', {}, 'Choose a license'), errorBox(e.message));
  }
}

let generation = 0;

/** Shows the page the hash names. */
export async function route() {
  const root = main();
  const mine = ++generation;
  renderHeader();
  const s = session();
  if (!s) return signInPage(root);
  const { parts, query } = currentRoute();
  if (s.role === 'admin' && (!s.licenseId || parts[0] === 'licenses')) return licensesPage(root);
  const stillCurrent = () => mine === generation;
  try {
    switch (parts[0] || 'webhooks') {
      case 'webhooks': return await webhooksPage(root, { notify, stillCurrent });
      case 'deliveries':
        if (parts[1]) return await deliveryPage(root, parts[1], { notify, stillCurrent });
        return await deliveriesPage(root, query, { notify, stillCurrent });
      case 'visitors': return await visitorsPage(root, parts[1] || '', { notify, stillCurrent });
      case 'dashboard': return await dashboardPage(root, query, { notify, stillCurrent });
      case 'live': return await tailPage(root, { notify, stillCurrent });
      default:
        replace(root, h('h1', {}, 'Not found'), empty('There is no such page in the console.', null,
          h('a', { href: '#/webhooks' }, 'Go to webhooks')));
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      signOut();
      return signInPage(root, 'Your session is no longer valid. Please sign in again.');
    }
    replace(root, h('h1', {}, 'Something went wrong'), errorBox(e.message));
  }
}

window.addEventListener('hashchange', () => route());
route();
