// The webhooks section: list, add, edit, enable/disable, delete, and "Send test".
// The data-type checkboxes follow the server's support matrix: a data type the chosen event
// does not carry is disabled and unchecked, so an unsupported combination cannot be chosen.

import { call, licensePath, supportMatrix } from './api.js';
import { h, replace, codeBlock, badge, empty, errorBox, focusHeading } from './dom.js';

export async function webhooksPage(root, ctx) {
  const [matrix, list] = await Promise.all([supportMatrix(), call('GET', licensePath('/webhooks'))]);
  if (!ctx.stillCurrent()) return;
  const formSlot = h('div');
  const testSlot = h('div', { id: 'test-result' });
  const listSlot = h('div');
  const reload = async () => {
    const fresh = await call('GET', licensePath('/webhooks'));
    replace(listSlot, silentBanners(fresh.webhooks), table(fresh.webhooks));
  };
  const openForm = (webhook) => {
    replace(formSlot, webhookForm(matrix, webhook, {
      saved: async (message) => { replace(formSlot); ctx.notify(message); await reload(); },
      cancel: () => replace(formSlot),
    }));
    formSlot.querySelector('input, select').focus();
  };

  const table = (webhooks) => {
    if (webhooks.length === 0) {
      return empty('No webhooks yet.', 'Add one to have hookrelay POST events such as chat_started to your server.',
        h('button', { type: 'button', class: 'primary', on: { click: () => openForm(null) } }, 'Add your first webhook'));
    }
    return h('table', { class: 'list', id: 'webhooks' },
      h('caption', { class: 'visually-hidden' }, 'Webhooks of this license'),
      h('thead', {}, h('tr', {}, ['Event', 'Data types', 'Target URL', 'Status', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, webhooks.map((w) => row(w))));
  };

  const row = (w) => {
    const act = async (fn, button) => {
      button.disabled = true;
      try {
        await fn();
      } catch (e) {
        ctx.notify(e.message, 'error');
      } finally {
        button.disabled = false;
      }
    };
    const test = h('button', { type: 'button', class: 'send-test', on: { click: () => act(() => sendTest(w, testSlot), test) } }, 'Send test');
    const toggle = h('button', { type: 'button', class: 'toggle', on: { click: () => act(async () => {
      await call('PATCH', licensePath(`/webhooks/${encodeURIComponent(w.id)}`), { enabled: !w.enabled });
      ctx.notify(w.enabled ? 'Webhook disabled: no new deliveries are made for it.' : 'Webhook enabled.');
      await reload();
    }, toggle) } }, w.enabled ? 'Disable' : 'Enable');
    const remove = h('button', { type: 'button', class: 'danger', on: { click: () => act(async () => {
      if (!window.confirm(`Delete the ${w.event_type} webhook to ${w.url}? Its pending deliveries will fail.`)) return;
      await call('DELETE', licensePath(`/webhooks/${encodeURIComponent(w.id)}`));
      ctx.notify('Webhook deleted.');
      await reload();
    }, remove) } }, 'Delete');
    return h('tr', { 'data-webhook-id': w.id },
      h('td', {}, h('code', {}, w.event_type)),
      h('td', {}, w.data_types.length ? w.data_types.join(', ') : h('span', { class: 'muted' }, 'none')),
      h('td', { class: 'url' }, h('span', { class: 'break' }, w.url), w.description ? h('div', { class: 'muted' }, w.description) : null),
      h('td', {}, badge(w.enabled ? 'enabled' : 'disabled'),
        silent(w) ? h('span', {}, ' ', badge('silent')) : null),
      h('td', {}, h('div', { class: 'row-actions' }, test,
        h('button', { type: 'button', on: { click: () => openForm(w) } }, 'Edit'), toggle,
        h('a', { href: `#/deliveries?webhook_id=${encodeURIComponent(w.id)}` }, 'Deliveries'), remove)));
  };

  replace(listSlot, silentBanners(list.webhooks), table(list.webhooks));
  replace(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Webhooks'),
      h('button', { type: 'button', class: 'primary', id: 'add-webhook', on: { click: () => openForm(null) } }, 'Add webhook')),
    h('p', { class: 'muted' }, 'Each webhook sends one event type, with the data types you pick, to a URL of yours. A delivery succeeds when your server answers HTTP 200; otherwise it is retried.'),
    formSlot, testSlot, listSlot);
  focusHeading(root);
}

function silent(w) {
  return w.target_health && w.target_health.state === 'silent';
}

/** One banner per webhook whose target does not answer: since when, and its last error. */
function silentBanners(webhooks) {
  return webhooks.filter(silent).map((w) => {
    const health = w.target_health;
    const since = new Date(health.silent_since).toLocaleString();
    const next = health.next_probe_at ? ` Next probe: ${new Date(health.next_probe_at).toLocaleTimeString()}.` : ' A probe is under way.';
    return h('div', { class: 'banner banner-silent', role: 'status', 'data-webhook-id': w.id },
      h('strong', {}, `The target of the ${w.event_type} webhook has not answered since ${since}.`), ' ',
      h('span', { class: 'break' }, w.url), h('br'),
      `Last error: ${health.last_error || 'none recorded'}.`,
      ` hookrelay tries it one attempt at a time; its other deliveries wait and go out as soon as it answers.${next}`);
  });
}

/** Sends a sample payload now and shows the target's answer. */
async function sendTest(w, slot) {
  replace(slot, h('section', { class: 'card', 'aria-busy': 'true' }, h('h2', {}, 'Sending a test…')));
  const r = await call('POST', licensePath(`/webhooks/${encodeURIComponent(w.id)}/test`));
  replace(slot, h('section', { class: 'card', 'aria-labelledby': 'test-title' },
    h('div', { class: 'title-row' },
      h('h2', { id: 'test-title' }, `Test of ${w.event_type} → `, h('span', { class: 'break' }, w.url)),
      h('button', { type: 'button', class: 'link', on: { click: () => replace(slot) } }, 'Close')),
    h('p', { id: 'test-outcome' }, badge(r.succeeded ? 'succeeded' : 'failed'), ' ',
      r.status_code ? `HTTP ${r.status_code}` : 'no HTTP answer', ` in ${r.duration_ms} ms`,
      r.error ? ` — ${r.error}` : ''),
    h('h3', {}, 'Response body'), codeBlock(r.response_body, 'Response body'),
    h('details', {}, h('summary', {}, 'Request body sent'), codeBlock(r.request_body, 'Request body'))));
  slot.scrollIntoView({ block: 'nearest' });
}

/** The add/edit form. `webhook` is null when adding. */
function webhookForm(matrix, webhook, { saved, cancel }) {
  const editing = !!webhook;
  const error = h('div');
  const url = h('input', { id: 'wh-url', name: 'url', type: 'url', required: true, autocomplete: 'off',
    placeholder: 'https://user:password@example.com/livechat', value: editing ? webhook.url : '' });
  const eventSelect = h('select', { id: 'wh-event', name: 'event_type', disabled: editing },
    matrix.event_types.map((e) => h('option', { value: e.name, selected: editing && e.name === webhook.event_type }, e.name)));
  const boxes = matrix.data_types.map((d) => h('input', { type: 'checkbox', name: 'data_types', value: d, id: `wh-dt-${d}`,
    checked: editing && webhook.data_types.includes(d) }));
  const allowedHint = h('p', { class: 'muted', id: 'wh-dt-hint' });
  const follow = () => {
    const allowed = matrix.event_types.find((e) => e.name === eventSelect.value).data_types;
    for (const box of boxes) {
      const ok = allowed.includes(box.value);
      box.disabled = !ok;
      if (!ok) box.checked = false;
      box.closest('label').classList.toggle('unavailable', !ok);
    }
    replace(allowedHint, `${eventSelect.value} can carry: ${allowed.join(', ')}.`);
  };
  eventSelect.addEventListener('change', follow);
  const description = h('input', { id: 'wh-description', name: 'description', maxlength: '500', value: editing ? (webhook.description || '') : '' });
  const enabled = h('input', { id: 'wh-enabled', type: 'checkbox', checked: editing ? webhook.enabled : true });
  const save = h('button', { type: 'submit', class: 'primary', id: 'wh-save' }, editing ? 'Save changes' : 'Add webhook');
  const form = h('form', { class: 'card', id: 'webhook-form', 'aria-labelledby': 'wh-title', on: { submit: async (ev) => {
    ev.preventDefault();
    replace(error);
    const dataTypes = boxes.filter((b) => b.checked).map((b) => b.value);
    const urlText = url.value.trim();
    if (urlText.includes(':***@') && (!editing || urlText !== webhook.url)) {
      replace(error, errorBox('The password in the URL is hidden as ***. Type the real password again, or leave the URL unchanged.'));
      url.focus();
      return;
    }
    save.disabled = true;
    try {
      if (editing) {
        const patch = { data_types: dataTypes, description: description.value.trim() || null, enabled: enabled.checked };
        if (urlText !== webhook.url) patch.url = urlText;
        await call('PATCH', licensePath(`/webhooks/${encodeURIComponent(webhook.id)}`), patch);
        await saved('Webhook saved.');
      } else {
        const body = { url: urlText, event_type: eventSelect.value, data_types: dataTypes, enabled: enabled.checked };
        if (description.value.trim()) body.description = description.value.trim();
        await call('POST', licensePath('/webhooks'), body);
        await saved('Webhook added.');
      }
    } catch (e) {
      replace(error, errorBox(e.message));
    } finally {
      save.disabled = false;
    }
  } } },
  h('h2', { id: 'wh-title' }, editing ? 'Edit webhook' : 'Add a webhook'),
  h('div', { class: 'stack' },
    h('label', { for: 'wh-url' }, 'Target URL'), url,
    h('p', { class: 'muted' }, editing
      ? 'The password is shown as ***; leave the URL as it is to keep it.'
      : 'Credentials in the URL (user:password@) are sent as HTTP Basic auth, not in the URL.'),
    h('label', { for: 'wh-event' }, 'Event'), eventSelect,
    editing ? h('p', { class: 'muted' }, 'The event of a webhook cannot change; add a new webhook for another event.') : null),
  h('fieldset', { class: 'choice', 'aria-describedby': 'wh-dt-hint' },
    h('legend', {}, 'Data types to include'),
    boxes.map((box) => h('label', { for: box.id }, box, ` ${box.value}`)),
    allowedHint),
  h('div', { class: 'stack' },
    h('label', { for: 'wh-description' }, 'Description (optional)'), description),
  h('label', { class: 'inline' }, enabled, ' Enabled'),
  error,
  h('div', { class: 'actions' }, save, h('button', { type: 'button', on: { click: cancel } }, 'Cancel')));
  follow();
  return form;
}
