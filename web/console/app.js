// The peerlink console: plain ES2020 modules, no framework and no build
// step. Everything it shows comes from the hub's REST API (/api/v1/, the one
// the CLI uses); one WebSocket (/api/v1/live) says when what a page shows
// has changed, and the page fetches it again. Nothing polls.
//
// Pages (hash routes): #/signin, #/ (dashboard), #/s/NAME (session),
// #/s/NAME/conflicts (File Conflict List), #/people (API tokens and
// console accounts, for admins). The session configuration
// dialog (dialog.js) opens over the dashboard and the session page.
import { h, $, mount } from './dom.js';
import { call, can, session } from './api.js';
import { shown, go, refresh } from './view.js';

const API = '/api/v1';
import { dashboardPage, sessionPage } from './pages.js';
import { conflictsPage } from './conflicts.js';
import { peoplePage } from './people.js';
import { closeDialog } from './dialog.js';

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
      if (shown.page && shown.page.wants(n)) refresh();
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

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'signin') return { page: 'signin' };
  if (parts[0] === 'people') return { page: 'people' };
  if (parts[0] === 's' && parts[1]) return { page: parts[2] === 'conflicts' ? 'conflicts' : 'session', session: parts[1] };
  return { page: 'dashboard' };
}

function render() {
  const r = route();
  if (!session.user) {
    if (r.page !== 'signin') sessionStorage.setItem('peerlink-next', location.hash);
    showSignin();
    return;
  }
  if (r.page === 'signin') { go('#/'); return; }
  const main = $('#main');
  const pages = { dashboard: dashboardPage, session: sessionPage, conflicts: conflictsPage, people: peoplePage };
  shown.page = pages[r.page](main, r);
  refresh();
}

function chrome(signedIn) {
  $('#nav').hidden = !signedIn;
  $('#signout').hidden = !signedIn;
  $('#nav-people').hidden = !signedIn || !can('admin');
  $('#who').textContent = signedIn ? session.user + ' (' + session.role + ')' : '';
}

function showSignin(note) {
  shown.page = null;
  chrome(false);
  document.title = 'Sign in · peerlink';
  const err = h('p', { id: 'signin-error', class: 'error', role: 'alert', hidden: !note }, note || '');
  const user = h('input', { id: 'user', name: 'user', type: 'text', autocomplete: 'username', value: 'admin', required: true });
  const pw = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit', class: 'primary', id: 'signin-button' }, 'Sign in');
  const form = h('form', { class: 'card signin', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    if (!pw.value) { err.textContent = 'Type your password.'; err.hidden = false; pw.focus(); return; }
    btn.disabled = true;
    try {
      const me = await call('POST', '/login', { user: user.value, password: pw.value });
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
        err.textContent = e.status === 401 ? 'Wrong user name or password.' : 'Could not sign in: ' + e.message;
        btn.disabled = false;
      }
      err.hidden = false;
      pw.focus();
    }
  } },
  h('h1', null, 'Sign in to peerlink'),
  h('p', { class: 'muted' }, 'Your console account, or your directory account where the hub has one. The ',
    h('strong', null, 'admin'), ' password was set with ',
    h('code', null, 'peerlink hub --admin-password-file'), ', or printed once when the hub first started (by ',
    h('code', null, 'peerlink demo'), ': at every start).'),
  h('label', { for: 'user' }, 'User'), user,
  h('label', { for: 'password' }, 'Password'), pw, err, btn);
  mount($('#main'), form);
  pw.focus();
}

function signedIn(me) {
  session.user = me.user;
  session.role = me.role;
  session.csrf = me.csrf;
  const warn = $('#warnings');
  warn.textContent = (me.warnings || []).join(' ');
  warn.hidden = !(me.warnings || []).length;
  chrome(true);
  live.start();
}

function signedOut(note) {
  session.user = '';
  session.role = '';
  $('#warnings').hidden = true;
  session.csrf = '';
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

async function boot() {
  shown.render = render;
  session.onUnauthorized = () => signedOut('Your session ended: sign in again.');
  $('#signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => { closeDialog(); render(); });
  try {
    signedIn(await call('GET', '/me'));
  } catch (e) {
    if (e.status !== 401) {
      mount($('#main'), h('p', { class: 'error', role: 'alert' }, 'The hub did not answer as expected: ' + e.message));
      return;
    }
  }
  render();
}

boot();
