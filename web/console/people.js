// People, an admin's page: API tokens (made, shown once, revoked) and
// console accounts (added, their role changed, removed), over the same
// routes as `peerlink tokens` and `peerlink users`. The hub refuses every
// one of them to other roles; the console shows them neither the page's
// link nor its controls.
import { h, $, fill, mount, toast, when } from './dom.js';
import { call, can, enc, session } from './api.js';
import { header, section, table, pageError } from './view.js';

const ROLES = ['viewer', 'helpdesk', 'admin'];

function roleSelect(id, value, label, onchange) {
  return h('select', { id, 'data-key': id, 'aria-label': label, onchange },
    ROLES.map((r) => h('option', { value: r, selected: r === value }, r)));
}

export function peoplePage(main) {
  document.title = 'People · peerlink';
  if (!can('admin')) {
    mount(main, header([['Dashboard', '#/'], ['People']], 'People'),
      h('p', { class: 'muted' }, 'API tokens and console accounts are managed by an admin.'));
    return { wants: () => false, async refresh() {} };
  }
  const tokens = tokenSection();
  const accounts = accountSection();
  mount(main, header([['Dashboard', '#/'], ['People']], 'People'),
    section('tokens', 'API tokens', tokens.el),
    section('accounts', 'Console accounts', accounts.el));
  return {
    // Tokens and accounts change only by this page or the CLI, which the
    // live feed does not announce: the page fetches after each change.
    wants: () => false,
    async refresh() {
      await Promise.all([tokens.refresh(), accounts.refresh()]);
      pageError('');
    },
  };
}

// tokenSection lists the API tokens, makes one (its secret shown this
// once) and revokes one, after a confirmation.
function tokenSection() {
  const out = h('div', { id: 'token-out', role: 'status' });
  const list = h('div', { id: 'token-list' });
  const name = h('input', { id: 'token-name', placeholder: 'e.g. alice', 'aria-label': 'Token name', autocomplete: 'off' });
  const role = roleSelect('token-role', 'viewer', 'Role of the token');
  const ttl = h('input', { id: 'token-ttl', placeholder: 'never', 'aria-label': 'Expires after (e.g. 720h), empty for never', size: 8 });
  let confirming = '';

  const create = async (ev) => {
    ev.preventDefault();
    const req = { name: name.value.trim(), role: role.value };
    if (ttl.value.trim()) req.ttl = ttl.value.trim();
    try {
      const tok = await call('POST', '/tokens', req);
      name.value = '';
      ttl.value = '';
      const secret = h('pre', { id: 'token-secret', class: 'secret' }, tok.secret);
      const copy = h('button', { type: 'button', id: 'copy-token', onclick: async () => {
        try { await navigator.clipboard.writeText(tok.secret); toast('Copied.'); } catch (e) {
          getSelection().selectAllChildren(secret);
          toast('Selected: copy it with Ctrl-C (or ⌘-C).');
        }
      } }, 'Copy');
      fill(out, h('p', null, h('strong', null, 'Token ' + tok.name + ' (' + tok.role + '), shown this once: '),
        'copy it now; the hub keeps only its hash. Save it in a file only its owner reads, then: ',
        h('code', null, 'peerlink --token-file FILE status'), ' (or PEERLINK_TOKEN_FILE=FILE).'),
      secret, copy);
    } catch (e) { toast(e.message, 'error'); }
    await refresh();
  };
  const form = h('form', { class: 'inline', onsubmit: create, 'aria-label': 'Create an API token' },
    name, role, h('label', { for: 'token-ttl' }, 'expires after'), ttl,
    h('button', { type: 'submit', id: 'create-token', class: 'primary' }, 'Create token'));

  const revoke = async (n) => {
    try {
      await call('DELETE', '/tokens/' + enc(n));
      toast('Token ' + n + ' revoked: its next request is refused.');
      if ($('#token-secret') && out.textContent.includes('Token ' + n + ' (')) fill(out);
    } catch (e) { toast(e.message, 'error'); }
    confirming = '';
    await refresh();
  };
  const act = (t) => {
    if (confirming === t.name) {
      return h('span', null,
        h('button', { type: 'button', class: 'danger', 'data-key': 'tv-' + t.name, onclick: () => revoke(t.name) }, 'Revoke ' + t.name),
        h('button', { type: 'button', 'data-key': 'tk-' + t.name, onclick: () => { confirming = ''; refresh(); } }, 'Keep'));
    }
    return h('button', { type: 'button', 'data-key': 't-' + t.name, onclick: () => { confirming = t.name; refresh(); } }, 'Revoke…');
  };
  async function refresh() {
    const list0 = (await call('GET', '/tokens')) || [];
    fill(list, table('API tokens', ['Name', 'Role', 'Created by', 'Created', 'Last used', 'Expires', ''],
      list0.map((t) => [h('strong', null, t.name), t.role, t.creator || '—', when(t.created), when(t.last_used), t.expires ? when(t.expires) : 'never', act(t)]),
      'No API token: create one per person or script.'));
  }
  return { el: h('div', null, form, out, list), refresh };
}

// accountSection lists the local console accounts, adds one, changes a
// role (which ends that person's console sign-ins) and removes one,
// after a confirmation. An admin cannot remove their own account.
function accountSection() {
  const list = h('div', { id: 'account-list' });
  const name = h('input', { id: 'user-name', placeholder: 'e.g. bob', 'aria-label': 'Account name', autocomplete: 'off' });
  const role = roleSelect('user-role', 'viewer', 'Role of the account');
  const pw = h('input', { id: 'user-password', type: 'password', autocomplete: 'new-password', 'aria-label': 'Password (8 characters or more)', placeholder: 'password, 8+ characters' });
  let confirming = '';

  const add = async (ev) => {
    ev.preventDefault();
    try {
      const u = await call('POST', '/users', { name: name.value.trim(), role: role.value, password: pw.value });
      toast('Account ' + u.name + ' added (' + u.role + ').');
      name.value = '';
      pw.value = '';
    } catch (e) { toast(e.message, 'error'); }
    await refresh();
  };
  const form = h('form', { class: 'inline', onsubmit: add, 'aria-label': 'Add a console account' },
    name, role, pw, h('button', { type: 'submit', id: 'add-user', class: 'primary' }, 'Add account'));

  const setRole = async (n, r) => {
    try {
      await call('PUT', '/users/' + enc(n) + '/role', { role: r });
      toast(n + ' is now ' + r + '; their console sign-ins ended.');
    } catch (e) { toast(e.message, 'error'); }
    await refresh();
  };
  const remove = async (n) => {
    try { await call('DELETE', '/users/' + enc(n)); toast('Account ' + n + ' removed.'); } catch (e) { toast(e.message, 'error'); }
    confirming = '';
    await refresh();
  };
  const act = (u) => {
    if (u.name === session.user) return h('span', { class: 'muted' }, 'you');
    if (confirming === u.name) {
      return h('span', null,
        h('button', { type: 'button', class: 'danger', 'data-key': 'uv-' + u.name, onclick: () => remove(u.name) }, 'Remove ' + u.name),
        h('button', { type: 'button', 'data-key': 'uk-' + u.name, onclick: () => { confirming = ''; refresh(); } }, 'Keep'));
    }
    return h('button', { type: 'button', 'data-key': 'u-' + u.name, onclick: () => { confirming = u.name; refresh(); } }, 'Remove…');
  };
  async function refresh() {
    const users = (await call('GET', '/users')) || [];
    fill(list, table('Console accounts', ['Account', 'Role', 'Created by', 'Created', ''],
      users.map((u) => [h('strong', null, u.name),
        u.name === session.user ? u.role : roleSelect('role-' + u.name, u.role, 'Role of ' + u.name, (ev) => setRole(u.name, ev.target.value)),
        u.creator || '—', when(u.created), act(u)]),
      'No local account.'));
  }
  return { el: h('div', null, form, list), refresh };
}
