// What every page shares: the page shown and its refresh, navigation, and
// the parts pages are made of.
import { h, $, fmtBytes } from './dom.js';
import { call } from './api.js';

// shown is the page on screen: {refresh(), wants(notice)}; render draws
// the page of the current route (set by app.js).
export const shown = { page: null, render: () => {} };

// known.agents are the agents of the last /status, for the dialog's host
// choice.
export const known = { agents: [] };

export function go(hash) {
  if (location.hash === hash) shown.render();
  else location.hash = hash;
}

// refresh has the page fetch again; notices that arrive while it fetches
// make one more fetch after it, not one each.
let refreshing = false;
let refreshAgain = false;
export async function refresh() {
  if (!shown.page) return;
  if (refreshing) { refreshAgain = true; return; }
  refreshing = true;
  try {
    do {
      refreshAgain = false;
      const page = shown.page;
      try {
        await page.refresh();
      } catch (e) {
        if (page === shown.page && e.status !== 401) pageError(e.message);
      }
    } while (refreshAgain);
  } finally {
    refreshing = false;
  }
}

export function pageError(msg) {
  const el = $('#page-error');
  if (el) { el.textContent = msg; el.hidden = !msg; }
}

export function header(crumbs, title, ...extra) {
  return [
    crumbs.length < 2 ? null : h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, crumbs.map(([label, href], i) =>
      [i ? h('span', { 'aria-hidden': 'true' }, ' › ') : null,
        href ? h('a', { href }, label) : h('span', { 'aria-current': 'page' }, label)])),
    h('div', { class: 'page-head' }, h('h1', null, title), ...extra),
    h('p', { id: 'page-error', class: 'error', role: 'alert', hidden: true }),
  ];
}

export function section(id, title, ...kids) {
  return h('section', { 'aria-labelledby': id + '-h', class: 'block' }, h('h2', { id: id + '-h' }, title), ...kids);
}

// table makes a table whose cells carry their column's name, which the
// narrow layout shows beside each value.
export function table(label, cols, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted empty' }, empty);
  return h('div', { class: 'scroll' }, h('table', { class: 'grid', 'aria-label': label },
    h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c, i) => h('td', { 'data-label': cols[i] }, c)))))));
}

export function phaseBadge(st) {
  return h('span', { class: 'badge phase-' + st.phase, 'data-phase': st.phase }, st.phase);
}

// progress shows a session's synchronisation as files and bytes done.
export function progress(st) {
  if (!['attaching', 'scanning', 'merging', 'synchronising'].includes(st.phase)) return null;
  const bar = (label, c, fmt) => h('div', { class: 'bar' },
    h('progress', { max: c.total || 1, value: c.total ? c.done : null, 'aria-label': label }),
    h('span', null, c.total ? fmt(c.done) + ' / ' + fmt(c.total) + ' ' + (label === 'Files' ? 'files' : '') : (st.phase === 'scanning' ? 'scanning…' : '…')));
  return h('div', { class: 'progress' }, bar('Files', st.files || {}, String), bar('Bytes', st.bytes || {}, fmtBytes));
}

export function hostsConnected(s) {
  const hs = s.status.hosts || [];
  const up = hs.filter((x) => x.connected).length;
  return h('span', { class: up === hs.length ? 'ok' : 'warn' }, up + '/' + hs.length);
}

export function yes(b, t = 'yes', f = 'no') {
  return h('span', { class: 'badge ' + (b ? 'on' : 'off') }, b ? t : f);
}

export async function loadAgents() {
  const st = await call('GET', '/status');
  known.agents = st.agents || [];
  return st;
}
