// Agents' enrolment on the dashboard: a join code for a new host, the
// enrolled hosts with a revoke button, and the hub's warnings (an upgraded
// hub still admitting agents by the shared token). Join codes and
// revocation are an admin's: other roles see the list alone.
import { h, fill, toast, when } from './dom.js';
import { call, can, enc } from './api.js';
import { table } from './view.js';

export function enrolment() {
  const el = h('div', { id: 'enrolment' });
  const out = h('div', { id: 'join-code-out', role: 'status' });
  const name = h('input', { id: 'join-name', placeholder: 'host name, e.g. site-a', 'aria-label': 'Host name for a join code' });
  const create = async (ev) => {
    ev.preventDefault();
    try {
      const jc = await call('POST', '/join-codes', { name: name.value.trim() });
      fill(out, h('p', null, 'Join code for ' + jc.name + ', valid once until ' + when(jc.expires) + '; on that host run:'),
        h('pre', { id: 'join-code' }, 'peerlink agent --join ' + jc.code + ' --hub ' + location.origin + ' --data DIR'));
    } catch (e) { toast(e.message, 'error'); }
  };
  const form = h('form', { class: 'inline', onsubmit: create }, name, h('button', { type: 'submit', id: 'create-join-code' }, 'Create join code'));
  const list = h('div', { id: 'credentials' });
  const warn = h('div', { id: 'hub-warnings' });
  let confirming = '';
  async function refresh(st) {
    fill(warn, ...(st.warnings || []).map((w) => h('p', { class: 'warn' }, '⚠ ' + w)));
    let creds = [];
    try { creds = await call('GET', '/agent-credentials'); } catch (e) { /* a hub without enrolment */ }
    const revoke = async (n) => {
      try { await call('POST', '/agent-credentials/' + enc(n) + '/revoke'); toast(n + ' revoked'); } catch (e) { toast(e.message, 'error'); }
      confirming = ''; refresh(await call('GET', '/status'));
    };
    const act = (c) => {
      if (c.revoked) return 'revoked ' + when(c.revoked);
      if (!can('admin')) return 'enrolled';
      if (confirming === c.name) {
        return h('span', null, h('button', { type: 'button', class: 'danger', 'data-key': 'rv-' + c.name, onclick: () => revoke(c.name) }, 'Revoke ' + c.name),
          h('button', { type: 'button', onclick: () => { confirming = ''; refresh(st); } }, 'Keep'));
      }
      return h('button', { type: 'button', 'data-key': 'r-' + c.name, onclick: () => { confirming = c.name; refresh(st); } }, 'Revoke…');
    };
    fill(list, table('Enrolled agents', ['Agent', 'Issued', 'Credential'],
      (creds || []).map((c) => [h('strong', null, c.name), when(c.issued), act(c)]),
      'No agent enrolled yet: create a join code for each file server.'));
  }
  fill(el, warn, can('admin') ? [form, out] : null, list);
  return { el, refresh };
}
