// The webhooks section: list, add, edit, enable/disable, delete, "Send test", signing
// (the "Sign requests" switch, rotating the secret with a grace period), and "Resend failed…"
// (the bulk recovery form of recovery.js).
// The data-type checkboxes follow the server's support matrix: a data type the chosen event
// does not carry is disabled and unchecked, so an unsupported combination cannot be chosen.
// A signing secret is shown once, in a panel, and kept nowhere else: not in storage, not in a
// notice, and its nodes are removed from the page when the panel is dismissed.

import { call, licensePath, supportMatrix } from './api.js';
import { h, replace, codeBlock, badge, empty, errorBox, focusHeading, time } from './dom.js';
import { recoveryForm } from './recovery.js';

export async function webhooksPage(root, ctx) {
  const [matrix, list] = await Promise.all([supportMatrix(), call('GET', licensePath('/webhooks'))]);
  if (!ctx.stillCurrent()) return;
  const formSlot = h('div');
  const secretSlot = h('div', { id: 'signing-secret-slot' });
  const testSlot = h('div', { id: 'test-result' });
  const listSlot = h('div');
  const reload = async () => {
    const fresh = await call('GET', licensePath('/webhooks'));
    replace(listSlot, disabledBanners(fresh.webhooks), silentBanners(fresh.webhooks), table(fresh.webhooks));
  };
  const openForm = (webhook) => {
    replace(formSlot, webhookForm(matrix, webhook, {
      saved: async (message, answer) => {
        replace(formSlot);
        ctx.notify(message);
        if (answer && answer.signing_secret) showSecret(secretSlot, answer, null);
        await reload();
      },
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
    const session = w.kind === 'cli' && w.session;
    return h('tr', { 'data-webhook-id': w.id, 'data-kind': w.kind },
      h('td', {}, h('code', {}, w.event_type)),
      h('td', {}, w.data_types.length ? w.data_types.join(', ') : h('span', { class: 'muted' }, 'none')),
      h('td', { class: 'url' }, h('span', { class: 'break' }, w.url), w.description ? h('div', { class: 'muted' }, w.description) : null,
        session ? h('div', { class: 'muted listen-session' }, 'hookrelay listen session since ', time(w.session.started_at)) : null),
      h('td', {}, session ? h('span', {}, badge('cli'), ' ', badge(w.session.connected ? 'connected' : 'waiting')) : null,
        session ? null : badge(w.enabled ? 'enabled' : (w.disabled_reason ? 'auto-disabled' : 'disabled')),
        w.signing ? h('span', {}, ' ', badge('signed')) : null,
        silent(w) ? h('span', {}, ' ', badge('silent')) : null),
      h('td', {}, h('div', { class: 'row-actions' }, test,
        // A session webhook is its command's: it cannot be edited, disabled or rotated here.
        session ? null : h('button', { type: 'button', class: 'edit', on: { click: () => openForm(w) } }, 'Edit'),
        session ? null : toggle,
        w.signing && !session ? h('button', { type: 'button', class: 'rotate-secret', 'aria-expanded': 'false',
          on: { click: (ev) => toggleRotation(w, ev.currentTarget) } }, 'Rotate secret') : null,
        h('button', { type: 'button', class: 'recover-failed', 'aria-expanded': 'false',
          on: { click: (ev) => toggleRecovery(w, ev.currentTarget) } }, 'Resend failed\u2026'),
        h('a', { href: `#/deliveries?webhook_id=${encodeURIComponent(w.id)}` }, 'Deliveries'), remove)));
  };

  // One inline form at a time (rotating the secret, resending failed deliveries), in a row of
  // its own under the webhook's row.
  let inline = null;
  const closeInline = () => {
    if (!inline) return;
    inline.row.remove();
    inline.button.setAttribute('aria-expanded', 'false');
    inline.button.focus();
    inline = null;
  };
  const toggleInline = (button, form) => {
    const same = inline && inline.button === button;
    closeInline();
    if (same) return;
    const row = h('tr', { class: 'inline-row' }, h('td', { colspan: '5' }, form()));
    button.closest('tr').after(row);
    button.setAttribute('aria-expanded', 'true');
    inline = { row, button };
    row.querySelector('select, input').focus();
  };
  const toggleRotation = (w, button) => toggleInline(button, () => rotationForm(w, {
    rotated: async (answer) => {
      closeInline();
      showSecret(secretSlot, answer, answer.previous_secrets_valid_until || []);
      ctx.notify('Signing secret rotated.');
      await reload();
    },
    cancel: closeInline,
  }));
  const toggleRecovery = (w, button) => toggleInline(button, () => recoveryForm(w, { close: closeInline }));

  replace(listSlot, disabledBanners(list.webhooks), silentBanners(list.webhooks), table(list.webhooks));
  replace(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Webhooks'),
      h('button', { type: 'button', class: 'primary', id: 'add-webhook', on: { click: () => openForm(null) } }, 'Add webhook')),
    h('p', { class: 'muted' }, 'Each webhook sends one event type, with the data types you pick, to a URL of yours. A delivery succeeds when your server answers HTTP 200; otherwise it is retried.'),
    secretSlot, formSlot, testSlot, listSlot);
  focusHeading(root);
}

/**
 * Shows a signing secret once: the panel says so, offers Copy and a dismiss button, and
 * dismissing removes every node that held it. `previous` (after a rotation) lists when the
 * previous secrets stop being valid; null when the secret is the webhook's first.
 */
function showSecret(slot, webhook, previous) {
  const field = h('input', { id: 'signing-secret', class: 'secret', type: 'text', readonly: true, value: webhook.signing_secret,
    spellcheck: 'false', autocomplete: 'off', 'aria-label': 'Signing secret', 'aria-describedby': 'signing-secret-warning' });
  const copyStatus = h('p', { id: 'copy-status', class: 'muted', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', class: 'primary', id: 'copy-secret', on: { click: async () => {
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
      await navigator.clipboard.writeText(field.value);
      replace(copyStatus, 'Copied to the clipboard.');
    } catch {
      // No clipboard here (e.g. the console is served over plain HTTP): select it for Ctrl+C.
      field.focus();
      field.setSelectionRange(0, field.value.length);
      replace(copyStatus, 'The secret is selected: press Ctrl+C (\u2318C on a Mac) to copy it.');
    }
  } } }, 'Copy');
  const dismiss = () => {
    replace(slot);
    const add = document.getElementById('add-webhook');
    if (add) add.focus();
  };
  const validity = previous === null ? null
    : previous.length === 0
      ? h('p', { id: 'previous-validity' }, 'The previous secret is no longer valid: requests are signed with the new one only.')
      : h('p', { id: 'previous-validity' },
        previous.length === 1 ? 'The previous secret stays valid until ' : 'The previous secrets stay valid until ',
        previous.map((at, i) => [i === 0 ? null : i === previous.length - 1 ? ' and ' : ', ', time(at)]),
        '. Until then each request carries a signature with every valid secret, so your server can switch to the new one without missing any.');
  replace(slot, h('section', { class: 'card secret-panel', id: 'signing-secret-panel', 'aria-labelledby': 'signing-secret-title' },
    h('h2', { id: 'signing-secret-title' }, previous === null ? 'Signing secret of the ' : 'New signing secret of the ',
      h('code', {}, webhook.event_type), ' webhook to ', h('span', { class: 'break' }, webhook.url)),
    h('p', { id: 'signing-secret-warning', class: 'secret-warning' },
      h('strong', {}, 'Copy this signing secret now: it will not be shown again.'),
      ' Your server uses it to check the webhook-signature header of each request (Standard Webhooks).'),
    h('div', { class: 'secret-row' }, field, copy),
    copyStatus,
    validity,
    h('div', { class: 'actions' },
      h('button', { type: 'button', id: 'dismiss-secret', on: { click: dismiss } }, 'I have copied it, hide it'))));
  slot.scrollIntoView({ block: 'nearest' });
  copy.focus();
}

/** The inline form that rotates a webhook's signing secret after asking for the grace period. */
function rotationForm(w, { rotated, cancel }) {
  const error = h('div');
  const grace = h('select', { id: 'rotate-grace', name: 'grace' },
    h('option', { value: '0s' }, 'no time: stop it now (it leaked)'),
    h('option', { value: '1h' }, '1 hour'),
    h('option', { value: '24h', selected: true }, '24 hours'),
    h('option', { value: '7d' }, '7 days'));
  const submit = h('button', { type: 'submit', class: 'primary', id: 'rotate-confirm' }, 'Rotate secret');
  return h('form', { class: 'inline-form', id: 'rotate-form', 'aria-label': `Rotate the signing secret of the ${w.event_type} webhook`,
    on: { submit: async (ev) => {
      ev.preventDefault();
      replace(error);
      submit.disabled = true;
      try {
        const answer = await call('POST', licensePath(`/webhooks/${encodeURIComponent(w.id)}/signing-secret`), { grace: grace.value });
        await rotated(answer);
      } catch (e) {
        replace(error, errorBox(e.message));
        submit.disabled = false;
      }
    } } },
  h('p', {}, h('strong', {}, 'Rotate the signing secret. '),
    'A new secret is made and shown once; the current one keeps working for the time you choose, so you can update your server first.'),
  h('div', { class: 'filters' },
    h('div', { class: 'field' }, h('label', { for: 'rotate-grace' }, 'Keep the current secret valid for'), grace),
    submit,
    h('button', { type: 'button', on: { click: cancel } }, 'Cancel')),
  error);
}

/** One banner per webhook hookrelay disabled: when, and why (its target kept failing). */
function disabledBanners(webhooks) {
  return webhooks.filter((w) => !w.enabled && w.disabled_reason).map((w) =>
    h('div', { class: 'banner banner-disabled', role: 'status', 'data-webhook-id': w.id },
      h('strong', {}, `hookrelay disabled the ${w.event_type} webhook on ${new Date(w.disabled_at).toLocaleString()}.`), ' ',
      h('span', { class: 'break' }, w.url), h('br'),
      h('span', { class: 'disabled-reason' }, w.disabled_reason), h('br'),
      'Its pending deliveries are held; enable it once its target answers HTTP 200 again and they go out.'));
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
  const wasSigning = editing && webhook.signing;
  const signing = h('input', { id: 'wh-signing', type: 'checkbox', checked: wasSigning, 'aria-describedby': 'wh-signing-hint' });
  const signingHint = h('p', { class: 'muted hint', id: 'wh-signing-hint' });
  const followSigning = () => {
    replace(signingHint, signing.checked
      ? (wasSigning
        ? 'Requests carry webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks). Use \u201cRotate secret\u201d in the list for a new secret.'
        : 'Each request will carry webhook-id, webhook-timestamp and webhook-signature headers (Standard Webhooks). The secret is shown once, after you save.')
      : (wasSigning
        ? 'Turning this off deletes the secret: requests are no longer signed. Turning it on again makes a new secret.'
        : 'Sign each request so your server can check it came from hookrelay and was not changed.'));
    signingHint.classList.toggle('warning', wasSigning && !signing.checked);
  };
  signing.addEventListener('change', followSigning);
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
        if (signing.checked !== wasSigning) patch.signing = signing.checked;
        const answer = await call('PATCH', licensePath(`/webhooks/${encodeURIComponent(webhook.id)}`), patch);
        await saved(answer.signing_secret ? 'Webhook saved. Copy its signing secret now.' : 'Webhook saved.', answer);
      } else {
        const body = { url: urlText, event_type: eventSelect.value, data_types: dataTypes, enabled: enabled.checked, signing: signing.checked };
        if (description.value.trim()) body.description = description.value.trim();
        const answer = await call('POST', licensePath('/webhooks'), body);
        await saved(answer.signing_secret ? 'Webhook added. Copy its signing secret now.' : 'Webhook added.', answer);
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
  h('div', { class: 'switch-field' },
    h('label', { class: 'inline switch', for: 'wh-signing' }, signing, ' Sign requests'),
    signingHint),
  error,
  h('div', { class: 'actions' }, save, h('button', { type: 'button', on: { click: cancel } }, 'Cancel')));
  follow();
  followSigning();
  return form;
}
