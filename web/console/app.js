// The peerlink console: one ES2020 module, no framework and no build step.
// Everything it shows comes from the hub's REST API (/api/v1/, the one the
// CLI uses); one WebSocket (/api/v1/live) says when what a page shows has
// changed, and the page fetches it again. Nothing polls.
//
// Pages (hash routes): #/signin, #/ (dashboard), #/s/NAME (session),
// #/s/NAME/conflicts (File Conflict List). The session configuration
// dialog opens over the dashboard and the session page.

const API = '/api/v1';

// Line diffs compare at most this many lines of each side.
export const DIFF_MAX_LINES = 5000;

// Event kinds the hub writes (hub/live.go, hub/conflicts.go); kinds seen in
// a fetched log are added to the filter as they appear.
const EVENT_KINDS = ['start', 'stop', 'transfer', 'lock', 'unlock', 'lock-contended',
  'conflict', 'conflict-resolved'];

const EVENT_PAGE = 100;

const state = {
  user: '',
  csrf: '',
  page: null, // the page object shown: {refresh(), wants(notice)}
  agents: [], // last /status agents, for the dialog's host choice
};

// ---------------------------------------------------------------- DOM

// h makes an element: props set attributes (on* add listeners; value,
// checked, disabled, selected and hidden set properties), children are
// nodes or text (never parsed as HTML), null and false are skipped.
function h(tag, props, ...kids) {
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

function add(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) add(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// fill replaces a region's content, keeping the keyboard focus on the
// element with the same data-key if it had it: live updates must not throw
// a keyboard user back to the top of the page.
function fill(region, ...kids) {
  if (!region) return;
  const active = document.activeElement;
  const key = active && region.contains(active) ? active.getAttribute('data-key') : null;
  region.replaceChildren();
  add(region, kids);
  if (key) {
    const again = $$('[data-key]', region).find((e) => e.getAttribute('data-key') === key);
    if (again) again.focus();
  }
}

let toastTimer = 0;
function toast(msg, kind = 'ok') {
  const t = $('#toast');
  t.className = 'toast show ' + kind;
  t.textContent = msg;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = 'toast'; t.textContent = ''; }, 8000);
}

// ---------------------------------------------------------------- formats

function fmtBytes(n) {
  n = Number(n) || 0;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toLocaleString();
}

function fmtAgo(t) {
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
function when(t) {
  return t ? h('time', { datetime: t, title: fmtTime(t) }, fmtAgo(t)) : '—';
}

function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many || one + 's'); }

// ---------------------------------------------------------------- API

class APIError extends Error {
  constructor(status, msg, retryAfter) {
    super(msg);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// call sends one request to the REST API. Every state-changing request
// carries the CSRF token of the cookie session. A 401 outside the sign-in
// form means the session ended: back to the sign-in page.
async function call(method, path, body) {
  const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = state.csrf;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(API + path, opts);
  } catch (e) {
    throw new APIError(0, 'the hub does not answer (' + e.message + ')');
  }
  let data = null;
  if (r.status !== 204) {
    try { data = await r.json(); } catch (e) { data = null; }
  }
  if (!r.ok) {
    const msg = (data && data.error) || r.status + ' ' + r.statusText;
    const err = new APIError(r.status, msg, Number(r.headers.get('Retry-After')) || 0);
    if (r.status === 401 && path !== '/login' && state.user) signedOut('Your session ended: sign in again.');
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;
const sessionPath = (name) => '/sessions/' + enc(name);

// ---------------------------------------------------------------- live

// The live feed: one WebSocket, notices {kind, session}; each makes the
// page shown fetch what it shows again. A dropped socket is reopened with
// backoff (0.5 s doubling to 30 s); a refused one after sign-out is not.
const live = {
  ws: null,
  backoff: 500,
  timer: 0,
  wanted: false,

  start() {
    this.wanted = true;
    if (!this.ws) this.open();
  },

  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
    this.show('off');
  },

  open() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(proto + '//' + location.host + API + '/live');
    } catch (e) {
      this.retry();
      return;
    }
    this.ws = ws;
    this.show('connecting');
    ws.onmessage = (ev) => {
      let n;
      try { n = JSON.parse(ev.data); } catch (e) { return; }
      if (n.kind === 'hello') {
        this.backoff = 500;
        this.show('open');
        refresh(); // notices may have been missed while it was down
        return;
      }
      if (state.page && state.page.wants(n)) refresh();
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.wanted) this.retry();
    };
  },

  async retry() {
    this.show('reconnecting');
    clearTimeout(this.timer);
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 30000);
    this.timer = setTimeout(async () => {
      if (!this.wanted) return;
      // A socket refused for want of a sign-in looks like any drop: ask.
      try { await call('GET', '/me'); } catch (e) { if (e.status === 401) return; }
      if (this.wanted && !this.ws) this.open();
    }, wait);
  },

  show(s) {
    const el = $('#live');
    el.hidden = s === 'off';
    el.dataset.state = s;
    el.textContent = { open: 'live', connecting: 'connecting…', reconnecting: 'reconnecting…', off: '' }[s];
    el.title = s === 'open' ? 'Updates arrive as they happen' : 'Live updates are paused; the page may be out of date';
  },
};

// refresh has the page fetch again; notices that arrive while it fetches
// make one more fetch after it, not one each.
let refreshing = false;
let refreshAgain = false;
async function refresh() {
  if (!state.page) return;
  if (refreshing) { refreshAgain = true; return; }
  refreshing = true;
  try {
    do {
      refreshAgain = false;
      const page = state.page;
      try {
        await page.refresh();
      } catch (e) {
        if (page === state.page && e.status !== 401) pageError(e.message);
      }
    } while (refreshAgain);
  } finally {
    refreshing = false;
  }
}

function pageError(msg) {
  const el = $('#page-error');
  if (el) { el.textContent = msg; el.hidden = !msg; }
}

// ---------------------------------------------------------------- routing

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'signin') return { page: 'signin' };
  if (parts[0] === 's' && parts[1]) return { page: parts[2] === 'conflicts' ? 'conflicts' : 'session', session: parts[1] };
  return { page: 'dashboard' };
}

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function render() {
  const r = route();
  if (!state.user) {
    if (r.page !== 'signin') sessionStorage.setItem('peerlink-next', location.hash);
    showSignin();
    return;
  }
  if (r.page === 'signin') { go('#/'); return; }
  const main = $('#main');
  const pages = { dashboard: dashboardPage, session: sessionPage, conflicts: conflictsPage };
  state.page = pages[r.page](main, r);
  refresh();
}

function chrome(signedIn) {
  $('#nav').hidden = !signedIn;
  $('#signout').hidden = !signedIn;
  $('#who').textContent = signedIn ? state.user : '';
}

// ---------------------------------------------------------------- sign-in

function showSignin(note) {
  state.page = null;
  chrome(false);
  document.title = 'Sign in · peerlink';
  const err = h('p', { id: 'signin-error', class: 'error', role: 'alert', hidden: !note }, note || '');
  const pw = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit', class: 'primary', id: 'signin-button' }, 'Sign in');
  const form = h('form', { class: 'card signin', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    if (!pw.value) { err.textContent = 'Type the admin password.'; err.hidden = false; pw.focus(); return; }
    btn.disabled = true;
    try {
      const me = await call('POST', '/login', { password: pw.value });
      signedIn(me);
      const next = sessionStorage.getItem('peerlink-next');
      sessionStorage.removeItem('peerlink-next');
      go(next && next !== '#/signin' ? next : '#/');
    } catch (e) {
      pw.value = '';
      if (e.status === 429) {
        const secs = e.retryAfter || 60;
        err.textContent = 'Too many attempts, try again in ' + secs + ' s.';
        setTimeout(() => { btn.disabled = false; }, secs * 1000);
      } else {
        err.textContent = e.status === 401 ? 'Wrong password.' : 'Could not sign in: ' + e.message;
        btn.disabled = false;
      }
      err.hidden = false;
      pw.focus();
    }
  } },
  h('h1', null, 'Sign in to peerlink'),
  h('p', { class: 'muted' }, 'User ', h('strong', null, 'admin'), '. The password was set with ',
    h('code', null, 'peerlink hub --admin-password-file'), ' or printed once when the hub first started.'),
  h('label', { for: 'password' }, 'Password'), pw, err, btn);
  fill($('#main'), form);
  pw.focus();
}

function signedIn(me) {
  state.user = me.user;
  state.csrf = me.csrf;
  chrome(true);
  live.start();
}

function signedOut(note) {
  state.user = '';
  state.csrf = '';
  live.stop();
  closeDialog();
  if (location.hash !== '#/signin') sessionStorage.setItem('peerlink-next', location.hash);
  history.replaceState(null, '', '#/signin');
  showSignin(note);
}

async function signOut() {
  try { await call('POST', '/logout'); } catch (e) { /* signed out either way */ }
  sessionStorage.removeItem('peerlink-next');
  signedOut('You signed out.');
}

// ---------------------------------------------------------------- shared bits

function header(crumbs, title, ...extra) {
  return [
    crumbs.length < 2 ? null : h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, crumbs.map(([label, href], i) =>
      [i ? h('span', { 'aria-hidden': 'true' }, ' › ') : null,
        href ? h('a', { href }, label) : h('span', { 'aria-current': 'page' }, label)])),
    h('div', { class: 'page-head' }, h('h1', null, title), ...extra),
    h('p', { id: 'page-error', class: 'error', role: 'alert', hidden: true }),
  ];
}

function section(id, title, ...kids) {
  return h('section', { 'aria-labelledby': id + '-h', class: 'block' }, h('h2', { id: id + '-h' }, title), ...kids);
}

// table makes a table whose cells carry their column's name, which the
// narrow layout shows beside each value.
function table(label, cols, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted empty' }, empty);
  return h('div', { class: 'scroll' }, h('table', { class: 'grid', 'aria-label': label },
    h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c, i) => h('td', { 'data-label': cols[i] }, c)))))));
}

function phaseBadge(st) {
  return h('span', { class: 'badge phase-' + st.phase, 'data-phase': st.phase }, st.phase);
}

// progress shows a session's synchronisation as files and bytes done.
function progress(st) {
  if (!['attaching', 'scanning', 'merging', 'synchronising'].includes(st.phase)) return null;
  const bar = (label, c, fmt) => h('div', { class: 'bar' },
    h('progress', { max: c.total || 1, value: c.total ? c.done : null, 'aria-label': label }),
    h('span', null, c.total ? fmt(c.done) + ' / ' + fmt(c.total) + ' ' + (label === 'Files' ? 'files' : '') : (st.phase === 'scanning' ? 'scanning…' : '…')));
  return h('div', { class: 'progress' }, bar('Files', st.files || {}, String), bar('Bytes', st.bytes || {}, fmtBytes));
}

function hostsConnected(s) {
  const hs = s.status.hosts || [];
  const up = hs.filter((x) => x.connected).length;
  return h('span', { class: up === hs.length ? 'ok' : 'warn' }, up + '/' + hs.length);
}

function yes(b, t = 'yes', f = 'no') {
  return h('span', { class: 'badge ' + (b ? 'on' : 'off') }, b ? t : f);
}

async function loadAgents() {
  const st = await call('GET', '/status');
  state.agents = st.agents || [];
  return st;
}

// ---------------------------------------------------------------- dashboard

function dashboardPage(main) {
  document.title = 'Dashboard · peerlink';
  const sessions = h('div', { id: 'sessions' });
  const agents = h('div', { id: 'agents' });
  fill(main, header([['Dashboard']], 'Dashboard',
    h('button', { type: 'button', class: 'primary', id: 'new-session', onclick: () => openConfig(null) }, 'New session')),
  section('sessions', 'Sessions', sessions),
  section('agents', 'Agents', agents));
  return {
    wants: (n) => ['sessions', 'agents', 'conflicts', 'locks'].includes(n.kind),
    async refresh() {
      const [list, st] = await Promise.all([call('GET', '/sessions'), loadAgents()]);
      pageError('');
      fill(sessions, table('Sessions', ['Session', 'State', 'Hosts connected', 'Open conflicts', 'Live locks'],
        (list || []).map((s) => [
          h('a', { href: '#/s/' + enc(s.name), 'data-key': 's-' + s.name }, s.name),
          h('div', { class: 'state' }, phaseBadge(s.status), progress(s.status),
            s.status.phase === 'failed' && s.status.reason ? h('p', { class: 'error reason' }, s.status.reason) : null),
          hostsConnected(s),
          s.status.quarantined
            ? h('a', { href: '#/s/' + enc(s.name) + '/conflicts', class: 'warn', 'data-key': 'c-' + s.name,
              'aria-label': plural(s.status.quarantined, 'open conflict') + ' in ' + s.name }, String(s.status.quarantined))
            : '0',
          String(s.status.locks || 0),
        ]), 'No sessions yet. Start an agent on each file server, then define a session with “New session”.'));
      fill(agents, table('Agents', ['Agent', 'Connected', 'Version', 'Last seen', 'Address'],
        (st.agents || []).map((a) => [h('strong', null, a.name), yes(a.connected, 'connected', 'not connected'),
          a.version || '—', a.connected ? 'now' : when(a.last_seen), a.addr || '—']),
        'No agent has connected yet: run `peerlink agent --name NAME --broker …` on each file server.'));
    },
  };
}

// ---------------------------------------------------------------- session

function sessionPage(main, r) {
  const name = r.session;
  document.title = name + ' · peerlink';
  const badge = h('span', { id: 'phase' });
  const actions = h('div', { class: 'actions', id: 'session-actions' });
  const summary = h('div', { id: 'summary' });
  const hosts = h('div', { id: 'hosts' });
  const options = h('div', { id: 'options' });
  const locks = h('div', { id: 'locks' });
  const transfers = h('div', { id: 'transfers' });
  const log = eventLog(name);
  let sess = null;
  let confirmDelete = false;

  const act = async (what, fn) => {
    try {
      await fn();
      pageError('');
    } catch (e) {
      pageError(what + ': ' + e.message);
    }
    refresh();
  };

  const drawActions = () => {
    const st = sess.status;
    const stopped = st.phase === 'stopped' || st.phase === 'failed';
    const btn = (label, onclick, opts = {}) => h('button', Object.assign({ type: 'button', onclick, 'data-key': 'a-' + label }, opts), label);
    fill(actions,
      btn('Start', () => act('Start', () => call('POST', sessionPath(name) + '/start')), { disabled: st.phase !== 'stopped' && st.phase !== 'failed', class: 'primary' }),
      btn('Stop', () => act('Stop', () => call('POST', sessionPath(name) + '/stop')), { disabled: st.phase === 'stopped' }),
      btn('Edit', () => openConfig(sess), { disabled: !stopped, title: stopped ? null : 'Stop the session to change it' }),
      confirmDelete
        ? [btn('Confirm delete', () => act('Delete', async () => {
          await call('DELETE', sessionPath(name));
          toast('Session ' + name + ' deleted (no file was touched).');
          go('#/');
        }), { class: 'danger', 'aria-label': 'Confirm: delete session ' + name }),
        btn('Keep it', () => { confirmDelete = false; drawActions(); })]
        : btn('Delete', () => { confirmDelete = true; drawActions(); $('[data-key="a-Keep it"]').focus(); }, { disabled: !stopped, class: 'danger' }),
      h('a', { class: 'button', href: '#/s/' + enc(name) + '/conflicts', id: 'conflicts-link' },
        'File Conflict List (' + (st.quarantined || 0) + ')'));
  };

  fill(main, header([['Dashboard', '#/'], [name]], 'Session ' + name, badge),
    actions, summary,
    section('hosts', 'Hosts and root folders', hosts),
    section('locks', 'Live locks', locks),
    section('transfers', 'Transfers in flight', transfers),
    section('options', 'Options', options),
    section('events', 'Event log', log.el));

  return {
    wants: (n) => n.session === name || n.kind === 'agents' || (!n.session && n.kind === 'sessions'),
    async refresh() {
      let lk;
      try {
        [sess, lk] = await Promise.all([call('GET', sessionPath(name)), call('GET', sessionPath(name) + '/locks')]);
      } catch (e) {
        if (e.status === 404) {
          fill(summary, h('p', { class: 'error' }, 'There is no session ' + name + '.'), h('a', { href: '#/' }, 'Back to the dashboard'));
          return;
        }
        throw e;
      }
      pageError('');
      const st = sess.status;
      fill(badge, phaseBadge(st));
      drawActions();
      fill(summary, progress(st),
        st.phase === 'failed' && st.reason ? h('p', { class: 'error reason', role: 'alert' }, 'Failed: ' + st.reason) : null,
        h('dl', { class: 'facts' },
          h('dt', null, 'Hosts connected'), h('dd', null, hostsConnected(sess)),
          h('dt', null, 'Open conflicts'), h('dd', { id: 'open-conflicts' }, String(st.quarantined || 0)),
          h('dt', null, 'Live locks'), h('dd', null, String(st.locks || 0)),
          h('dt', null, 'Started'), h('dd', null, when(st.started)),
          h('dt', null, 'Synchronised'), h('dd', null, when(st.synced)),
          h('dt', null, 'Propagated live'), h('dd', null, plural(st.live ? st.live.changes : 0, 'change') + ', ' + fmtBytes(st.live ? st.live.bytes : 0)),
          h('dt', null, 'Errors'), h('dd', null, String(st.error_count || 0))),
        (st.errors || []).length ? h('ul', { class: 'errors', 'aria-label': 'First errors of this run' },
          st.errors.map((e) => h('li', null, [e.host, e.op, e.path].filter(Boolean).join(' ') + ': ' + (e.msg || e.kind)))) : null,
        (st.warnings || []).length ? h('ul', { class: 'warnings', 'aria-label': 'Warnings' }, st.warnings.map((w) => h('li', null, w))) : null);
      fill(hosts, table('Hosts', ['Host', 'Root folder', 'Connected', 'State', 'Files', 'Bytes'],
        (st.hosts || sess.hosts).map((x) => [h('strong', null, x.host), h('code', null, x.root), yes(x.connected),
          h('span', null, x.state || '—', x.error ? h('span', { class: 'error' }, ' — ' + x.error) : null),
          String(x.files || 0), fmtBytes(x.bytes)]), 'No hosts.'));
      fill(options, optionsList(sess));
      fill(locks, table('Live locks', ['Path', 'Source', 'User', 'Since', 'Locked on'],
        (lk || []).map((l) => [h('code', null, l.path), l.source, l.user || '—', when(l.since),
          (l.targets || []).join(', ') + ((l.writers || []).length ? ' (also writing: ' + l.writers.join(', ') + ')' : '')]),
        'No file is open for writing.'));
      fill(transfers, table('Transfers in flight', ['Path', 'From', 'To', 'Progress', 'Started'],
        (st.transfers || []).map((x) => [h('code', null, x.path), x.from, x.to,
          h('div', { class: 'bar' }, h('progress', { max: x.size || 1, value: x.size ? x.done : 1, 'aria-label': 'Transfer of ' + x.path }),
            h('span', null, fmtBytes(x.done) + ' / ' + fmtBytes(x.size))), when(x.started)]),
        'Nothing is being transferred.'));
      await log.refresh();
    },
  };
}

function optionsList(s) {
  const o = s.options || {};
  const on = (b) => (b ? 'on' : 'off');
  const rows = [
    ['Resolver', o.resolver === 'manual' ? 'None (Manual Resolution)' : 'Last Modified Time Wins'],
    ['Truncate milliseconds', on(o.truncate_ms)],
    ['Quarantine offline version conflicts', on(o.quarantine_offline_conflicts)],
    ['Delete quarantined files', on(o.delete_quarantined)],
    ['Offline folder rename detection', on(o.offline_rename_detection)],
    ['Offline delete detection', on(o.offline_delete_detection)],
    ['Delete detection master host', o.delete_master || '—'],
    ['Target protection', s.target_protection === false ? 'off' : 'on, ' + plural(s.protect_days || 30, 'day')],
    ['Exclude', (s.exclude || []).length ? s.exclude.join('  ') : '—'],
  ];
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

// eventLog is the session's event log, newest first, filtered by kind and
// text on the hub (GET …/events?kind=&q=); older pages load on demand.
function eventLog(name) {
  let list = [];
  let more = false;
  const kinds = new Set(EVENT_KINDS);
  const kind = h('select', { id: 'ev-kind', 'data-key': 'ev-kind', onchange: () => reload() },
    h('option', { value: '' }, 'All kinds'), EVENT_KINDS.map((k) => h('option', { value: k }, k)));
  let debounce = 0;
  const q = h('input', { id: 'ev-q', type: 'search', placeholder: 'path, host, user or text', 'data-key': 'ev-q',
    oninput: () => { clearTimeout(debounce); debounce = setTimeout(reload, 300); } });
  const body = h('div', { id: 'event-list' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the event log', onsubmit: (ev) => { ev.preventDefault(); reload(); } },
    h('label', { for: 'ev-kind' }, 'Kind'), kind,
    h('label', { for: 'ev-q' }, 'Text'), q,
    h('button', { type: 'submit' }, 'Filter'));

  const query = (before) => {
    const p = new URLSearchParams({ limit: String(EVENT_PAGE) });
    if (kind.value) p.set('kind', kind.value);
    if (q.value.trim()) p.set('q', q.value.trim());
    if (before) p.set('before', String(before));
    return sessionPath(name) + '/events?' + p;
  };

  const draw = () => {
    for (const e of list) {
      if (e.kind && !kinds.has(e.kind)) {
        kinds.add(e.kind);
        kind.append(h('option', { value: e.kind }, e.kind));
      }
    }
    fill(body, table('Events', ['Time', 'Kind', 'Host', 'Path', 'Message', 'User'],
      list.map((e) => [h('time', { datetime: e.time }, fmtTime(e.time)), h('span', { class: 'kind kind-' + e.kind }, e.kind),
        e.host || '', e.path ? h('code', null, e.path) : '', e.msg || '', e.user || '']),
      kind.value || q.value ? 'No event matches.' : 'No events yet.'),
    more ? h('button', { type: 'button', 'data-key': 'ev-more', onclick: older }, 'Older events') : null);
  };

  // refresh fetches the newest page and keeps the older ones already shown.
  const refresh = async () => {
    const page = (await call('GET', query())) || [];
    const oldest = page.length ? page[page.length - 1].seq : Infinity;
    const kept = list.filter((e) => e.seq < oldest);
    if (!kept.length) more = page.length === EVENT_PAGE;
    list = page.concat(kept);
    draw();
  };
  const reload = async () => {
    list = [];
    try { await refresh(); } catch (e) { pageError('Event log: ' + e.message); }
  };
  async function older() {
    if (!list.length) return;
    try {
      const page = (await call('GET', query(list[list.length - 1].seq))) || [];
      more = page.length === EVENT_PAGE;
      list = list.concat(page);
      draw();
    } catch (e) { pageError('Event log: ' + e.message); }
  }
  return { el: h('div', null, form, body), refresh };
}

// ---------------------------------------------------------------- conflicts

function conflictsPage(main, r) {
  const name = r.session;
  document.title = 'File Conflict List · ' + name + ' · peerlink';
  const selected = new Set(); // paths picked for bulk resolution
  let diff = null; // {path, a, b, data | error | loading}
  let list = [];
  let hosts = [];
  let busy = false;

  const region = h('div', { id: 'conflict-list', 'aria-live': 'polite' });
  const count = h('p', { id: 'conflict-count', class: 'muted' });
  const all = h('input', { type: 'checkbox', id: 'select-all', onchange: () => {
    if (all.checked) list.forEach((c) => selected.add(c.path)); else selected.clear();
    draw();
  } });
  const winner = h('select', { id: 'bulk-winner' });
  const bulk = h('form', { class: 'bulk', 'aria-label': 'Resolve several conflicts', onsubmit: (ev) => ev.preventDefault() },
    h('label', { class: 'check' }, all, ' Select all'),
    h('label', { for: 'bulk-winner' }, 'Winning host'), winner,
    h('button', { type: 'button', id: 'resolve-selected', onclick: () => resolveSelected() }, 'Resolve selected'),
    h('button', { type: 'button', id: 'resolve-all', class: 'danger', onclick: () => resolveAll() }, 'Resolve all'));

  fill(main, header([['Dashboard', '#/'], [name, '#/s/' + enc(name)], ['File Conflict List']], 'File Conflict List — ' + name),
    h('p', { class: 'muted' }, 'Paths that synchronisation leaves alone until you pick the host whose copy wins. ',
      'The winner’s copy then goes to every other host (the session must be running).'),
    count, bulk, region);

  const report = (res, what) => {
    const ok = res.resolved || [];
    const failed = res.failed || [];
    if (failed.length) pageError(failed.map((f) => f.path + ': ' + f.error).join('; '));
    else pageError('');
    if (ok.length) toast(what + ': ' + plural(ok.length, 'path') + ' resolved' + (failed.length ? ', ' + failed.length + ' failed' : '') + '.');
  };

  const resolve = async (body, what) => {
    if (busy) return;
    busy = true;
    try {
      report(await call('POST', sessionPath(name) + '/conflicts/resolve', body), what);
    } catch (e) {
      pageError(what + ': ' + e.message);
    } finally {
      busy = false;
    }
    refresh();
  };

  const resolveSelected = async () => {
    const paths = list.map((c) => c.path).filter((p) => selected.has(p));
    if (!paths.length) { pageError('Select the paths to resolve first.'); return; }
    if (!winner.value) { pageError('Pick the winning host.'); return; }
    if (busy) return;
    busy = true;
    const res = { resolved: [], failed: [] };
    for (const p of paths) {
      try {
        const one = await call('POST', sessionPath(name) + '/conflicts/resolve', { path: p, winner: winner.value });
        res.resolved.push(...(one.resolved || []));
        res.failed.push(...(one.failed || []));
      } catch (e) {
        res.failed.push({ path: p, error: e.message });
      }
    }
    busy = false;
    paths.forEach((p) => selected.delete(p));
    report(res, winner.value + ' won');
    refresh();
  };

  const resolveAll = () => {
    if (!winner.value) { pageError('Pick the winning host.'); return; }
    resolve({ all: true, winner: winner.value }, winner.value + ' won every path');
  };

  const compare = async (path, a, b) => {
    if (a === b) { diff = { path, a, b, error: 'Pick two different hosts.' }; draw(); return; }
    diff = { path, a, b, loading: true };
    draw();
    try {
      const p = new URLSearchParams({ path, a, b });
      const data = await call('GET', sessionPath(name) + '/diff?' + p);
      if (diff && diff.path === path) diff = { path, a, b, data };
    } catch (e) {
      if (diff && diff.path === path) diff = { path, a, b, error: e.message };
    }
    draw();
  };

  const draw = () => {
    for (const p of Array.from(selected)) if (!list.some((c) => c.path === p)) selected.delete(p);
    if (diff && !list.some((c) => c.path === diff.path)) diff = null;
    all.checked = list.length > 0 && selected.size === list.length;
    all.indeterminate = selected.size > 0 && selected.size < list.length;
    const keep = winner.value;
    winner.replaceChildren(h('option', { value: '' }, 'choose…'), hosts.map((x) => h('option', { value: x }, x)));
    winner.value = hosts.includes(keep) ? keep : '';
    $('#resolve-selected').disabled = !selected.size;
    $('#resolve-all').disabled = !list.length;
    count.textContent = list.length ? plural(list.length, 'conflicted path') + (selected.size ? ', ' + selected.size + ' selected' : '') : '';
    fill(region, list.length ? list.map(conflictCard) : h('p', { class: 'muted empty', id: 'no-conflicts' }, 'No conflicts: every host agrees.'));
  };

  const conflictCard = (c) => {
    const copyHosts = c.copies.map((x) => x.host);
    const check = h('input', { type: 'checkbox', checked: selected.has(c.path), 'data-key': 'sel-' + c.path,
      'aria-label': 'Select ' + c.path, onchange: (ev) => { if (ev.target.checked) selected.add(c.path); else selected.delete(c.path); draw(); } });
    const pick = (id, v) => h('select', { 'data-key': id + c.path, 'aria-label': (id === 'a-' ? 'First' : 'Second') + ' host to compare for ' + c.path },
      copyHosts.map((x) => h('option', { value: x, selected: x === v }, x)));
    const open = diff && diff.path === c.path;
    const selA = pick('a-', open ? diff.a : copyHosts[0]);
    const selB = pick('b-', open ? diff.b : copyHosts[1] || copyHosts[0]);
    return h('article', { class: 'conflict card', 'data-path': c.path },
      h('header', null, h('label', { class: 'check' }, check), h('h2', null, h('code', null, c.path)),
        h('span', { class: 'badge reason' }, c.reason)),
      c.detail ? h('p', { class: 'muted' }, c.detail) : null,
      h('p', { class: 'muted small' }, 'In the list since ', when(c.since)),
      table('Copies of ' + c.path, ['Host', 'Copy', 'Size', 'Modified', 'Hash', 'User', ''],
        c.copies.map((x) => [h('strong', null, x.host),
          x.exists ? (x.kind || 'file') : h('span', { class: 'muted' }, 'no copy'),
          x.exists && x.kind !== 'dir' ? fmtBytes(x.size) : '—',
          x.exists ? h('time', { datetime: x.mtime }, fmtTime(x.mtime)) : '—',
          x.hash ? h('code', { title: x.hash }, x.hash.slice(0, 12)) : '—',
          x.user || '—',
          h('button', { type: 'button', class: 'win', 'data-key': 'win-' + x.host + c.path,
            'aria-label': 'Make ' + x.host + ' the winner of ' + c.path,
            onclick: () => resolve({ path: c.path, winner: x.host }, c.path + ': ' + x.host + '’s copy won') },
          'Make ' + x.host + ' the winner')]), ''),
      h('form', { class: 'compare', onsubmit: (ev) => { ev.preventDefault(); compare(c.path, selA.value, selB.value); } },
        h('span', null, 'Compare'), selA, h('span', null, 'with'), selB,
        h('button', { type: 'submit', 'data-key': 'cmp-' + c.path, 'aria-label': 'Compare copies of ' + c.path }, 'Compare'),
        open ? h('button', { type: 'button', class: 'secondary', 'aria-label': 'Close the comparison of ' + c.path,
          onclick: () => { diff = null; draw(); } }, 'Close') : null),
      open ? diffView(diff) : null);
  };

  return {
    wants: (n) => n.session === name && (n.kind === 'conflicts' || n.kind === 'sessions'),
    async refresh() {
      const [cl, sess] = await Promise.all([call('GET', sessionPath(name) + '/conflicts'), call('GET', sessionPath(name))]);
      pageError('');
      list = cl || [];
      hosts = sess.hosts.map((x) => x.host);
      draw();
    },
  };
}

// diffView shows two hosts' copies of a path side by side.
function diffView(d) {
  const box = (...kids) => h('div', { class: 'diff', id: 'diff', 'aria-label': 'Comparison of ' + d.a + ' and ' + d.b }, ...kids);
  if (d.loading) return box(h('p', { class: 'muted' }, 'Reading both copies through the agents…'));
  if (d.error) return box(h('p', { class: 'error', role: 'alert' }, d.error));
  const { a, b } = d.data;
  const about = (s) => {
    if (s.error) return s.error;
    if (!s.exists) return 'no copy on ' + s.host;
    const what = s.binary ? 'binary file' : s.too_large ? 'too large to compare' : 'text';
    return what + ', ' + fmtBytes(s.size) + (s.hash ? ', hash ' + s.hash.slice(0, 12) : '');
  };
  const heads = h('div', { class: 'diff-heads' },
    h('div', null, h('strong', null, a.host), ' ', h('span', { class: 'muted' }, about(a))),
    h('div', null, h('strong', null, b.host), ' ', h('span', { class: 'muted' }, about(b))));
  const texts = (s) => s.exists && !s.binary && !s.too_large && !s.error && typeof s.text === 'string';
  if (!texts(a) || !texts(b)) {
    const same = a.hash && a.hash === b.hash;
    return box(heads, h('p', { class: 'muted' }, same ? 'The copies are identical.' : 'No line comparison: ' +
      (a.exists && b.exists ? 'only text files up to 256 KiB are compared; compare the sizes and hashes.' : 'one host has no copy.')));
  }
  const res = lineDiff(a.text, b.text, DIFF_MAX_LINES);
  const rows = sideBySide(res.ops);
  const num = (n) => h('td', { class: 'ln' }, n ? String(n) : '');
  const cell = (t, cls) => h('td', { class: 'code ' + cls }, t === null ? '' : t);
  return box(heads,
    h('p', { class: 'muted small' }, res.same ? 'The texts are identical.' : plural(res.removed, 'line') + ' only on ' + a.host + ', ' +
      plural(res.added, 'line') + ' only on ' + b.host + '.' + (res.capped ? ' Only the first ' + DIFF_MAX_LINES + ' lines of each side are compared.' : '')),
    h('div', { class: 'scroll' }, h('table', { class: 'diff-table' },
      h('caption', { class: 'sr-only' }, 'Lines of ' + a.host + ' (left) and ' + b.host + ' (right)'),
      h('thead', null, h('tr', null, h('th', { scope: 'col', class: 'ln' }, '#'), h('th', { scope: 'col' }, a.host),
        h('th', { scope: 'col', class: 'ln' }, '#'), h('th', { scope: 'col' }, b.host))),
      h('tbody', null, rows.map((r) => h('tr', { class: r.t },
        num(r.ai), cell(r.a, r.a === null ? 'none' : r.t === 'same' ? '' : 'del'),
        num(r.bi), cell(r.b, r.b === null ? 'none' : r.t === 'same' ? '' : 'add')))))));
}

// splitLines splits a text into lines without their line ends; a final
// line end does not make an empty last line.
function splitLines(s) {
  if (s === '') return [];
  const lines = s.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// lineDiff compares two texts line by line with a longest common
// subsequence, after setting aside the common head and tail. Each side is
// cut to max lines. ops are {t: 'same'|'del'|'add', a, b, ai, bi} with
// 1-based line numbers.
export function lineDiff(textA, textB, max = DIFF_MAX_LINES) {
  let A = splitLines(textA);
  let B = splitLines(textB);
  const capped = A.length > max || B.length > max;
  A = A.slice(0, max);
  B = B.slice(0, max);
  let head = 0;
  while (head < A.length && head < B.length && A[head] === B[head]) head++;
  let tail = 0;
  while (tail < A.length - head && tail < B.length - head && A[A.length - 1 - tail] === B[B.length - 1 - tail]) tail++;
  const a = A.slice(head, A.length - tail);
  const b = B.slice(head, B.length - tail);
  const n = a.length;
  const m = b.length;
  // L[i*(m+1)+j] is the LCS length of a[i:] and b[j:]; lengths fit in 16
  // bits since a side has at most max (< 65536) lines.
  const L = new Uint16Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * (m + 1) + j] = a[i] === b[j] ? L[(i + 1) * (m + 1) + j + 1] + 1
        : Math.max(L[(i + 1) * (m + 1) + j], L[i * (m + 1) + j + 1]);
    }
  }
  const ops = [];
  for (let k = 0; k < head; k++) ops.push({ t: 'same', a: A[k], b: B[k], ai: k + 1, bi: k + 1 });
  let i = 0;
  let j = 0;
  let added = 0;
  let removed = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ t: 'same', a: a[i], b: b[j], ai: head + i + 1, bi: head + j + 1 });
      i++; j++;
    } else if (j < m && (i === n || L[i * (m + 1) + j + 1] >= L[(i + 1) * (m + 1) + j])) {
      ops.push({ t: 'add', a: null, b: b[j], ai: 0, bi: head + j + 1 });
      j++; added++;
    } else {
      ops.push({ t: 'del', a: a[i], b: null, ai: head + i + 1, bi: 0 });
      i++; removed++;
    }
  }
  for (let k = 0; k < tail; k++) {
    const ai = A.length - tail + k;
    const bi = B.length - tail + k;
    ops.push({ t: 'same', a: A[ai], b: B[bi], ai: ai + 1, bi: bi + 1 });
  }
  return { ops, added, removed, capped, same: added === 0 && removed === 0 && !capped };
}

// sideBySide pairs each run of removed lines with the run of added lines
// next to it, so a changed line shows on one row: old left, new right.
export function sideBySide(ops) {
  const rows = [];
  for (let k = 0; k < ops.length;) {
    if (ops[k].t === 'same') { rows.push(ops[k]); k++; continue; }
    const dels = [];
    const adds = [];
    while (k < ops.length && ops[k].t !== 'same') {
      (ops[k].t === 'del' ? dels : adds).push(ops[k]);
      k++;
    }
    for (let x = 0; x < Math.max(dels.length, adds.length); x++) {
      const d = dels[x];
      const a = adds[x];
      rows.push({ t: d && a ? 'change' : d ? 'del' : 'add', a: d ? d.a : null, ai: d ? d.ai : 0, b: a ? a.b : null, bi: a ? a.bi : 0 });
    }
  }
  return rows;
}

// ---------------------------------------------------------------- dialog

let dialogOpener = null;

function closeDialog() {
  const dlg = $('#dialog');
  if (dlg.open) dlg.close();
}

// trapFocus keeps Tab and Shift+Tab inside the dialog; Escape closes it
// (the browser's own cancel, made explicit).
function trapFocus(ev) {
  const dlg = $('#dialog');
  if (ev.key === 'Escape') {
    ev.preventDefault();
    closeDialog();
    return;
  }
  if (ev.key !== 'Tab') return;
  const f = $$('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])', dlg)
    .filter((e) => !e.disabled && e.offsetParent !== null);
  if (!f.length) return;
  const first = f[0];
  const last = f[f.length - 1];
  if (ev.shiftKey && (document.activeElement === first || !dlg.contains(document.activeElement))) {
    ev.preventDefault();
    last.focus();
  } else if (!ev.shiftKey && (document.activeElement === last || !dlg.contains(document.activeElement))) {
    ev.preventDefault();
    first.focus();
  }
}

const STEPS = [
  ['participants', '1', 'Participants and root folders'],
  ['filters', '2', 'File filters'],
  ['conflicts', '3', 'Conflict resolution'],
];

// openConfig opens the session configuration dialog: for a new session
// (s null) or to change a stopped one. Its steps follow the seed's File
// Collaboration Configuration dialog.
async function openConfig(s) {
  dialogOpener = document.activeElement;
  try { await loadAgents(); } catch (e) { /* the host names can be typed */ }
  const editing = !!s;
  const cfg = s || { name: '', hosts: [], exclude: [], options: { resolver: 'last-modified' }, target_protection: true, protect_days: 30 };
  const o = cfg.options || {};
  const dlg = $('#dialog');
  const errors = h('div', { id: 'cfg-errors', class: 'errors', role: 'alert', hidden: true });

  // Step 1: participants.
  const name = h('input', { id: 'cfg-name', name: 'name', value: cfg.name, disabled: editing, autocomplete: 'off',
    'aria-describedby': 'cfg-name-hint', maxlength: 64 });
  const rows = h('tbody', { id: 'cfg-hosts' });
  let rowSeq = 0;
  const renumber = () => $$('tr', rows).forEach((tr, i) => {
    const n = i + 1;
    tr.querySelector('.host').setAttribute('aria-label', 'Host ' + n);
    tr.querySelector('.other').setAttribute('aria-label', 'Name of host ' + n);
    tr.querySelector('.root').setAttribute('aria-label', 'Root folder of host ' + n);
    tr.querySelector('.remove').setAttribute('aria-label', 'Remove host ' + n);
    tr.querySelector('.remove').disabled = rows.children.length <= 1;
  });
  const hostRow = (hr) => {
    const id = 'h' + rowSeq++;
    const known = state.agents.map((a) => a.name);
    const isOther = hr.host && !known.includes(hr.host);
    const other = h('input', { class: 'other', id: id + '-other', value: isOther ? hr.host : '', hidden: !isOther,
      placeholder: 'agent name', autocomplete: 'off', oninput: () => master.refresh() });
    const sel = h('select', { class: 'host', id: id + '-host', onchange: () => {
      other.hidden = sel.value !== '*';
      if (!other.hidden) other.focus();
      master.refresh();
    } },
    h('option', { value: '' }, 'choose a host…'),
    state.agents.map((a) => h('option', { value: a.name, selected: a.name === hr.host }, a.name + (a.connected ? '' : ' (not connected)'))),
    h('option', { value: '*', selected: isOther }, 'other host…'));
    const root = h('input', { class: 'root', id: id + '-root', value: hr.root || '', placeholder: '/srv/share', autocomplete: 'off', spellcheck: 'false' });
    const tr = h('tr', null,
      h('td', { 'data-label': 'Host' }, sel, other),
      h('td', { 'data-label': 'Root folder' }, root),
      h('td', null, h('button', { type: 'button', class: 'remove secondary', onclick: () => {
        tr.remove();
        renumber();
        master.refresh();
        $('.host', rows).focus();
      } }, 'Remove')));
    rows.append(tr);
    renumber();
  };
  const hostOf = (tr) => {
    const v = $('.host', tr).value;
    return (v === '*' ? $('.other', tr).value : v).trim();
  };

  // Step 2: filters.
  const exclude = h('textarea', { id: 'cfg-exclude', rows: 6, spellcheck: 'false', 'aria-describedby': 'cfg-exclude-hint' });
  exclude.value = (cfg.exclude || []).join('\n');

  // Step 3: conflict resolution.
  const radio = (value, label, hint) => h('label', { class: 'check' },
    h('input', { type: 'radio', name: 'resolver', value, checked: (o.resolver || 'last-modified') === value, onchange: sync }),
    ' ', h('span', null, label, hint ? h('small', null, hint) : null));
  const box = (id, label, checked, hint) => h('label', { class: 'check', for: id },
    h('input', { type: 'checkbox', id, checked: !!checked, onchange: sync }), ' ', h('span', null, label, hint ? h('small', null, hint) : null));
  const truncate = box('cfg-truncate', 'Truncate milliseconds', o.truncate_ms, 'Compare modification times without their milliseconds.');
  const master = h('select', { id: 'cfg-master' });
  master.refresh = () => {
    const keep = master.value || o.delete_master || '';
    const hs = $$('tr', rows).map(hostOf).filter(Boolean);
    master.replaceChildren(h('option', { value: '' }, 'none'), hs.map((x) => h('option', { value: x }, x)));
    master.value = hs.includes(keep) ? keep : '';
  };
  const protect = box('cfg-protect', 'Target protection', cfg.target_protection !== false,
    'Before a copy on a target host is overwritten or deleted, keep it in the root’s .peerlink/protected folder.');
  const days = h('input', { id: 'cfg-days', type: 'number', min: 1, step: 1, value: String(cfg.protect_days || 30), inputmode: 'numeric' });

  function sync() {
    const manual = $('input[name=resolver][value=manual]', dlg).checked;
    $('#cfg-truncate', dlg).disabled = manual;
    master.disabled = !$('#cfg-offline-delete', dlg).checked;
    days.disabled = !$('#cfg-protect', dlg).checked;
  }

  const panes = {
    participants: h('fieldset', { id: 'step-participants', class: 'step' },
      h('legend', null, 'Step 1 — Participants and root folders'),
      h('label', { for: 'cfg-name' }, 'Session name'), name,
      h('small', { id: 'cfg-name-hint' }, editing ? 'A session’s name cannot change.' : 'Letters, digits, “-”, “_” and “.”.'),
      h('p', { class: 'muted' }, 'Two or more hosts, each with the folder (the watch set’s root) kept identical on all of them.'),
      h('div', { class: 'scroll' }, h('table', { class: 'hosts-table', 'aria-label': 'Participants' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Host'), h('th', { scope: 'col' }, 'Root folder'), h('th', null, h('span', { class: 'sr-only' }, 'Remove')))),
        rows)),
      h('button', { type: 'button', id: 'cfg-add-host', class: 'secondary', onclick: () => { hostRow({}); $$('.host', rows).pop().focus(); } }, 'Add host')),
    filters: h('fieldset', { id: 'step-filters', class: 'step' },
      h('legend', null, 'Step 2 — File filters'),
      h('label', { for: 'cfg-exclude' }, 'Exclude patterns, one per line'), exclude,
      h('small', { id: 'cfg-exclude-hint' }, '“*” and “?” match within a name, “**” across folders, a leading “/” anchors at the root, a trailing “/” matches folders only. ',
        'Office and editor temp files and peerlink’s own are always excluded.')),
    conflicts: h('fieldset', { id: 'step-conflicts', class: 'step' },
      h('legend', null, 'Step 3 — Conflict resolution'),
      h('fieldset', null, h('legend', null, 'Resolver, for conflicts found when the session starts'),
        radio('last-modified', 'Last Modified Time Wins', 'The copy modified last is the source.'), h('div', { class: 'sub' }, truncate),
        radio('manual', 'None (Manual Resolution)', 'Every conflict goes to the File Conflict List until you pick the winner.')),
      h('fieldset', null, h('legend', null, 'Advanced'),
        box('cfg-quarantine-offline', 'Quarantine offline version conflicts', o.quarantine_offline_conflicts, 'A file changed on two or more hosts while the session was stopped goes to the File Conflict List.'),
        box('cfg-delete-quarantined', 'Enable deletion of quarantined files', o.delete_quarantined, 'A quarantined file deleted everywhere leaves the list.'),
        box('cfg-offline-rename', 'Offline folder rename detection', o.offline_rename_detection, 'A folder renamed or moved while stopped is renamed on every host.'),
        box('cfg-offline-delete', 'Offline delete detection during scan', o.offline_delete_detection, 'What was deleted while stopped is deleted everywhere (with target protection on); otherwise it is brought back.'),
        h('div', { class: 'sub' }, h('label', { for: 'cfg-master' }, 'Delete detection master host (optional)'), master)),
      h('fieldset', null, h('legend', null, 'Target protection'), protect,
        h('div', { class: 'sub' }, h('label', { for: 'cfg-days' }, 'Keep protected copies for (days)'), days))),
  };

  let current = 'participants';
  const stepNav = h('ol', { class: 'steps' });
  const show = (step, focus) => {
    current = step;
    for (const [k] of STEPS) panes[k].hidden = k !== step;
    fill(stepNav, STEPS.map(([k, n, label]) => h('li', null, h('button', { type: 'button', class: 'step-link',
      'aria-current': k === step ? 'step' : null, id: 'go-' + k, onclick: () => show(k, true) }, h('span', { class: 'n' }, n), ' ', label))));
    const i = STEPS.findIndex(([k]) => k === step);
    back.disabled = i === 0;
    next.disabled = i === STEPS.length - 1;
    if (focus) { const f = $('input:not([disabled]), select, textarea', panes[step]); if (f) f.focus(); }
  };
  const move = (d) => show(STEPS[STEPS.findIndex(([k]) => k === current) + d][0], true);
  const back = h('button', { type: 'button', class: 'secondary', id: 'cfg-back', onclick: () => move(-1) }, 'Back');
  const next = h('button', { type: 'button', class: 'secondary', id: 'cfg-next', onclick: () => move(1) }, 'Next');
  const save = h('button', { type: 'submit', class: 'primary', id: 'cfg-save' }, editing ? 'Save changes' : 'Create session');

  const read = () => ({
    name: name.value.trim(),
    hosts: $$('tr', rows).map((tr) => ({ host: hostOf(tr), root: $('.root', tr).value.trim() })).filter((x) => x.host || x.root),
    exclude: exclude.value.split('\n').map((x) => x.trim()).filter(Boolean),
    options: {
      resolver: $('input[name=resolver]:checked', dlg).value,
      truncate_ms: $('#cfg-truncate', dlg).checked,
      quarantine_offline_conflicts: $('#cfg-quarantine-offline', dlg).checked,
      delete_quarantined: $('#cfg-delete-quarantined', dlg).checked,
      offline_rename_detection: $('#cfg-offline-rename', dlg).checked,
      offline_delete_detection: $('#cfg-offline-delete', dlg).checked,
      delete_master: $('#cfg-offline-delete', dlg).checked ? master.value : '',
    },
    target_protection: $('#cfg-protect', dlg).checked,
    protect_days: Number(days.value),
  });

  const showErrors = (list) => {
    $$('[aria-invalid]', dlg).forEach((e) => e.removeAttribute('aria-invalid'));
    if (!list.length) { errors.hidden = true; errors.replaceChildren(); return; }
    errors.hidden = false;
    fill(errors, h('p', null, h('strong', null, list.length === 1 ? 'Please fix this:' : 'Please fix these:')),
      h('ul', null, list.map((e) => h('li', null, e.msg))));
    list.forEach((e) => e.el && e.el.setAttribute('aria-invalid', 'true'));
    const first = list.find((e) => e.step);
    if (first) {
      show(first.step);
      if (first.el) first.el.focus();
    }
  };

  const form = h('form', { class: 'config', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    const c = read();
    const problems = validate(c, { name, rows, days, master, hostOf });
    showErrors(problems);
    if (problems.length) return;
    save.disabled = true;
    try {
      const out = editing ? await call('PUT', sessionPath(c.name), c) : await call('POST', '/sessions', c);
      closeDialog();
      toast(editing ? 'Session ' + out.name + ' saved.' : 'Session ' + out.name + ' created: start it when you are ready.');
      go('#/s/' + enc(out.name));
      if (editing) refresh();
    } catch (e) {
      showErrors([{ msg: 'The hub refused the session: ' + e.message }]);
      errors.focus();
    } finally {
      save.disabled = false;
    }
  } },
  h('header', { class: 'dialog-head' },
    h('h2', { id: 'dialog-title' }, editing ? 'Edit session ' + cfg.name : 'New session'),
    h('button', { type: 'button', class: 'icon', 'aria-label': 'Close the dialog', onclick: closeDialog }, '×')),
  h('div', { class: 'dialog-body' },
    h('nav', { 'aria-label': 'Configuration steps' }, stepNav),
    h('div', { class: 'panes' }, errors, Object.values(panes))),
  h('footer', { class: 'dialog-foot' }, back, next, h('span', { class: 'grow' }), save,
    h('button', { type: 'button', class: 'secondary', onclick: closeDialog }, 'Cancel')));
  errors.tabIndex = -1;

  fill(dlg, form);
  const start = cfg.hosts.length ? cfg.hosts : [{}, {}];
  start.forEach(hostRow);
  master.refresh();
  master.value = o.delete_master || '';
  sync();
  show('participants');
  dlg.onkeydown = trapFocus;
  dlg.onclose = () => {
    dlg.replaceChildren();
    if (dialogOpener && document.contains(dialogOpener)) dialogOpener.focus();
    dialogOpener = null;
  };
  dlg.showModal();
  (editing ? $('.host', rows) : name).focus();
}

// validate catches the obvious mistakes before the hub is asked; the hub
// checks everything again and its message is shown if it refuses.
function validate(c, f) {
  const out = [];
  const nameRe = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
  if (!c.name) out.push({ step: 'participants', el: f.name, msg: 'Give the session a name.' });
  else if (!nameRe.test(c.name)) out.push({ step: 'participants', el: f.name, msg: 'Session name “' + c.name + '”: use letters, digits, “-”, “_” and “.”, starting with a letter, digit or “_”.' });
  const trs = $$('tr', f.rows);
  const seen = new Map();
  let hosts = 0;
  for (const tr of trs) {
    const host = f.hostOf(tr);
    const rootEl = $('.root', tr);
    const root = rootEl.value.trim();
    const hostEl = $('.host', tr).value === '*' ? $('.other', tr) : $('.host', tr);
    if (!host && !root) continue;
    if (!host) { out.push({ step: 'participants', el: hostEl, msg: 'Root folder ' + root + ': choose its host.' }); continue; }
    hosts++;
    if (!nameRe.test(host)) out.push({ step: 'participants', el: hostEl, msg: 'Host name “' + host + '”: use letters, digits, “-”, “_” and “.”.' });
    if (seen.has(host)) out.push({ step: 'participants', el: hostEl, msg: 'Host ' + host + ' is named twice: a host takes part once.' });
    seen.set(host, true);
    if (!root) out.push({ step: 'participants', el: rootEl, msg: 'Give the root folder of ' + host + '.' });
    else if (!(root.startsWith('/') || /^[A-Za-z]:[\\/]/.test(root))) {
      out.push({ step: 'participants', el: rootEl, msg: 'Root folder “' + root + '” of ' + host + ' is relative: give an absolute path such as /srv/share.' });
    }
  }
  if (hosts < 2) out.push({ step: 'participants', el: hosts ? null : $('.host', f.rows), msg: 'A session needs at least two hosts.' });
  if (c.target_protection && !(Number.isInteger(c.protect_days) && c.protect_days >= 1)) {
    out.push({ step: 'conflicts', el: f.days, msg: 'Keep protected copies for a whole number of days, 1 or more.' });
  }
  return out;
}

// ---------------------------------------------------------------- start

async function boot() {
  $('#signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => { closeDialog(); render(); });
  try {
    signedIn(await call('GET', '/me'));
  } catch (e) {
    if (e.status !== 401) {
      fill($('#main'), h('p', { class: 'error', role: 'alert' }, 'The hub did not answer as expected: ' + e.message));
      return;
    }
  }
  render();
}

boot();
