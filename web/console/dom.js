// DOM building and formatting for the console's pages. Text always goes in
// as text, never parsed as HTML.

// h makes an element: props set attributes (on* add listeners; value,
// checked, disabled, selected and hidden set properties), children are
// nodes or text (never parsed as HTML), null and false are skipped.
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (['value', 'checked', 'disabled', 'selected', 'hidden', 'indeterminate'].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, kids);
  return el;
}

export function add(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) add(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// fill replaces a region's content, unless the new content is the same as
// what is shown (a live update that changed nothing here leaves the nodes
// alone, so a click or a selection in progress is not lost), and keeps the
// keyboard focus on the element with the same data-key if it had it: live
// updates must not throw a keyboard user back to the top of the page.
export function fill(region, ...kids) {
  if (!region) return;
  const next = document.createElement(region.tagName);
  add(next, kids);
  if (next.innerHTML === region.innerHTML && controls(next) === controls(region)) return;
  const active = document.activeElement;
  const key = active && region.contains(active) ? active.getAttribute('data-key') : null;
  region.replaceChildren(...next.childNodes);
  if (key) {
    const again = $$('[data-key]', region).find((e) => e.getAttribute('data-key') === key);
    if (again) again.focus();
  }
}

// mount puts a new page (or dialog) in place, whatever was there: its
// regions are what the page fills later.
export function mount(el, ...kids) {
  el.replaceChildren();
  add(el, kids);
}

// controls is the state of a region's form controls, which its HTML does
// not show (properties, not attributes).
function controls(root) {
  return JSON.stringify($$('input, select, textarea, option, button', root)
    .map((e) => [e.value, e.checked, e.selected, e.disabled, e.indeterminate]));
}

let toastTimer = 0;
export function toast(msg, kind = 'ok') {
  const t = $('#toast');
  t.className = 'toast show ' + kind;
  t.textContent = msg;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = 'toast'; t.textContent = ''; }, 8000);
}


export function fmtBytes(n) {
  n = Number(n) || 0;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

export function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toLocaleString();
}

export function fmtAgo(t) {
  if (!t) return '';
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (isNaN(s)) return '';
  if (s < 5) return 'just now';
  if (s < 90) return s + ' s ago';
  if (s < 90 * 60) return Math.round(s / 60) + ' min ago';
  if (s < 36 * 3600) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' days ago';
}

// when shows a time as "3 min ago", the full time in its title.
export function when(t) {
  return t ? h('time', { datetime: t, title: fmtTime(t) }, fmtAgo(t)) : '—';
}

export function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many || one + 's'); }
