// "Resend failed deliveries since …" on a webhook: the inline form of the bulk recovery
// (`POST …/deliveries/recover`). It asks for a time (24 hours ago by default), shows how many
// failed deliveries a dry run finds, and only then offers to resend them. Both calls send the
// same window (`until` is the moment of the count), so what is resent is what was counted.

import { call, licensePath } from './api.js';
import { h, replace, errorBox } from './dom.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A Date as the value of a datetime-local input: the user's local time, to the minute. */
function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function deliveriesWord(n) {
  return n === 1 ? '1 failed delivery' : `${n} failed deliveries`;
}

/**
 * The inline recovery form of webhook `w`: count first (a dry run), then resend on confirmation
 * and say how many are on their way, with a link to follow them. `close()` closes it.
 */
export function recoveryForm(w, { close }) {
  const error = h('div');
  const preview = h('div', { id: 'recover-preview', 'aria-live': 'polite' });
  const since = h('input', { id: 'recover-since', name: 'since', type: 'datetime-local', required: true,
    value: localInputValue(new Date(Date.now() - DAY_MS)) });
  const countButton = h('button', { type: 'submit', class: 'primary', id: 'recover-count' }, 'Count failed deliveries');
  const path = licensePath('/deliveries/recover');
  // A changed time needs a new count before anything is resent.
  since.addEventListener('input', () => replace(preview));

  const resend = (range, count) => {
    const button = h('button', { type: 'button', class: 'primary', id: 'recover-confirm', on: { click: async () => {
      replace(error);
      button.disabled = true;
      try {
        const answer = await call('POST', path, { webhook_id: w.id, ...range });
        const pending = `#/deliveries?webhook_id=${encodeURIComponent(w.id)}&status=pending`;
        replace(preview, h('p', { id: 'recover-result', role: 'status' },
          h('strong', {}, `${deliveriesWord(answer.count)} ${answer.count === 1 ? 'is' : 'are'} being resent.`), ' ',
          h('a', { href: pending }, 'Follow them in Deliveries'), '.'));
      } catch (e) {
        replace(error, errorBox(e.message));
        button.disabled = false;
      }
    } } }, count === 1 ? 'Resend it' : `Resend all ${count}`);
    return button;
  };

  return h('form', { class: 'inline-form recover-form', id: 'recover-form', 'aria-label': `Resend failed deliveries of the ${w.event_type} webhook`,
    on: { submit: async (ev) => {
      ev.preventDefault();
      replace(error);
      replace(preview);
      const from = new Date(since.value);
      if (!since.value || isNaN(from)) {
        replace(error, errorBox('Choose the date and time from which failed deliveries are resent.'));
        since.focus();
        return;
      }
      // The same window for the count and the resend: what is resent is what was counted.
      const range = { since: from.toISOString(), until: new Date().toISOString() };
      countButton.disabled = true;
      try {
        const { count } = await call('POST', path, { webhook_id: w.id, ...range, dry_run: true });
        const when = from.toLocaleString();
        replace(preview, count === 0
          ? h('p', { id: 'recover-count-text' }, `No failed deliveries since ${when}: nothing to resend.`)
          : h('div', { class: 'filters' },
            h('p', { id: 'recover-count-text' }, h('strong', {}, `${deliveriesWord(count)} will be resent`),
              ` (failed since ${when}), paced like any delivery.`),
            resend(range, count)));
      } catch (e) {
        replace(error, errorBox(e.message));
      } finally {
        countButton.disabled = false;
      }
    } } },
  h('p', {}, h('strong', {}, 'Resend failed deliveries. '),
    'Deliveries of this webhook that failed since the time you choose become pending again and are sent once more. Fix the target first: the count comes before anything is resent.'),
  h('div', { class: 'filters' },
    h('div', { class: 'field' }, h('label', { for: 'recover-since' }, 'Resend failed deliveries since'), since),
    countButton,
    h('button', { type: 'button', on: { click: close } }, 'Close')),
  preview,
  error);
}
