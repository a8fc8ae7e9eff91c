// Building the page safely: every piece of data becomes a text node or an attribute value,
// never HTML. There is deliberately no helper that takes an HTML string.

/**
 * Creates an element. `props`: `class`, `text`, `on: {event: handler}`, boolean attributes as
 * true/false, anything else as an attribute. Children: nodes, strings (as text), null (skipped),
 * or arrays of those.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (key === 'class') {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A timestamp as the user's local date and time, with the exact value on hover. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted', text: '—' });
  const d = new Date(iso);
  return h('time', { datetime: iso, title: iso, text: isNaN(d) ? iso : d.toLocaleString() });
}

/** A body shown exactly: JSON pretty-printed, anything else as sent. */
export function codeBlock(value, label) {
  let text;
  if (value === null || value === undefined) text = '(empty)';
  else if (typeof value === 'string') text = value === '' ? '(empty)' : value;
  else text = JSON.stringify(value, null, 2);
  return h('pre', { class: 'code', tabindex: '0', 'aria-label': label }, text);
}

/** A status word with a colour; the word carries the meaning, the colour only helps. */
export function badge(status) {
  return h('span', { class: `badge badge-${status}`, text: status });
}

/** An empty state: what is missing and what to do about it. */
export function empty(title, hint, ...actions) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title', text: title }),
    hint ? h('p', { class: 'muted', text: hint }) : null, actions);
}

/** An error box that screen readers announce. */
export function errorBox(message) {
  return h('div', { class: 'error', role: 'alert', text: message });
}

/** Moves focus to the page's heading after navigation, for keyboard and screen reader users. */
export function focusHeading(root) {
  const heading = root.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}
