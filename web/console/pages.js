// The dashboard and a session's page.
import { h, $, fill, mount, toast, fmtBytes, fmtTime, when, plural } from './dom.js';
import { call, can, enc, sessionPath } from './api.js';
import { go, refresh, pageError, header, section, table, phaseBadge, progress, hostsConnected, yes, loadAgents } from './view.js';
import { openConfig } from './dialog.js';
import { enrolment } from './agents.js';

// Event kinds the hub writes (roles/hub/sessions.go, run.go, startup.go, live.go,
// conflicts.go); kinds seen in a fetched log are added to the filter as they
// appear.
const EVENT_KINDS = ['created', 'changed', 'start', 'stop', 'synced', 'interrupted', 'failed',
  'lock', 'unlock', 'release', 'lock-contended', 'conflict', 'conflict-settled', 'conflict-resolved',
  'away', 'catch-up', 'caught-up', 'catch-up-failed', 'resumed', 'clock', 'lock-moved'];

const EVENT_PAGE = 100;

export function dashboardPage(main) {
  document.title = 'Dashboard · peerlink';
  const sessions = h('div', { id: 'sessions' });
  const agents = h('div', { id: 'agents' });
  const enrolled = enrolment();
  mount(main, header([['Dashboard']], 'Dashboard',
    can('admin') ? h('button', { type: 'button', class: 'primary', id: 'new-session', onclick: () => openConfig(null) }, 'New session') : null),
  section('sessions', 'Sessions', sessions),
  section('agents', 'Agents', agents, enrolled.el));
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
      fill(agents, table('Agents', ['Agent', 'Connected', 'Version', 'Last seen', 'Address', 'Clock vs hub'],
        (st.agents || []).map((a) => [h('strong', null, a.name), yes(a.connected, 'connected', 'not connected'),
          a.version || '—', a.connected ? 'now' : when(a.last_seen), a.addr || '—', clockCell(a.clock)]),
        'No agent has connected yet: create a join code below and run `peerlink agent --join CODE --hub … --data DIR` on each file server.'));
      await enrolled.refresh(st);
    },
  };
}


export function sessionPage(main, r) {
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
    const conflictsLink = h('a', { class: 'button', href: '#/s/' + enc(name) + '/conflicts', id: 'conflicts-link' },
      'File Conflict List (' + (st.quarantined || 0) + ')');
    // Session changes are the admin's; helpdesk and viewer see no button
    // for them (the hub would refuse them with 403).
    if (!can('admin')) { fill(actions, conflictsLink); return; }
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

  mount(main, header([['Dashboard', '#/'], [name]], 'Session ' + name, badge),
    actions, summary,
    section('hosts', 'Hosts and root folders', hosts),
    section('locks', 'Live locks', locks),
    section('transfers', 'Transfers in flight', transfers),
    section('options', 'Options', options),
    section('events', 'Event log', log.el));

  return {
    // A notice without a session is about every session.
    wants: (n) => !n.session || n.session === name,
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
        heldBanners(name, st, act),
        h('dl', { class: 'facts' },
          h('dt', null, 'Hosts connected'), h('dd', null, hostsConnected(sess)),
          h('dt', null, 'Open conflicts'), h('dd', { id: 'open-conflicts' }, String(st.quarantined || 0)),
          h('dt', null, 'Live locks'), h('dd', null, String(st.locks || 0)),
          h('dt', null, 'Started'), h('dd', null, when(st.started)),
          h('dt', null, 'Synchronised'), h('dd', { id: 'synced' }, when(st.synced),
            st.synced && st.files ? ' — ' + st.files.done + ' / ' + st.files.total + ' files, ' + fmtBytes(st.bytes ? st.bytes.done : 0) : ''),
          h('dt', null, 'Propagated live'), h('dd', null, plural(st.live ? st.live.changes : 0, 'change') + ', ' + fmtBytes(st.live ? st.live.bytes : 0)),
          h('dt', null, 'Errors'), h('dd', null, String(st.error_count || 0))),
        (st.errors || []).length ? h('ul', { class: 'errors', 'aria-label': 'First errors of this run' },
          st.errors.map((e) => h('li', null, [e.host, e.op, e.path].filter(Boolean).join(' ') + ': ' + (e.msg || e.kind)))) : null,
        (st.warnings || []).length ? h('ul', { class: 'warnings', 'aria-label': 'Warnings' }, st.warnings.map((w) => h('li', null, w))) : null);
      fill(hosts, table('Hosts', ['Host', 'Root folder', 'Connected', 'State', 'Files', 'Bytes', 'Clock vs hub'],
        (st.hosts || sess.hosts).map((x) => [h('strong', null, x.host), h('code', null, x.root), yes(x.connected),
          h('span', null, x.state || '—',
            x.away_since ? ' since ' + when(x.away_since) + ', ' + plural(x.catch_up || 0, 'path') + ' to catch up' : null,
            x.error ? h('span', { class: 'error' }, ' — ' + x.error) : null),
          String(x.files || 0), fmtBytes(x.bytes), clockCell(x.clock)]), 'No hosts.'));
      fill(options, optionsList(sess));
      const release = (l) => h('button', { type: 'button', class: 'danger', 'data-key': 'release-' + l.path,
        'aria-label': 'Release the lock of ' + l.path,
        onclick: () => act('Release ' + l.path, async () => {
          const r = await call('POST', sessionPath(name) + '/locks/release', { path: l.path });
          toast('Lock of ' + r.path + ' released; copies restored on ' + ((r.targets || []).join(', ') || 'no other host') + '.');
        }) }, 'Release');
      fill(locks, table('Live locks', ['Path', 'Source', 'User', 'Since', 'Locked on'].concat(can('helpdesk') ? [''] : []),
        (lk || []).map((l) => [h('code', null, l.path), l.source, l.user || '—', when(l.since),
          (l.targets || []).join(', ') + ((l.writers || []).length ? ' (also writing: ' + l.writers.join(', ') + ')' : '')]
          .concat(can('helpdesk') ? [release(l)] : [])),
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

// clockCell shows a host's clock against the hub's ("+5.000123s ±41µs",
// Go durations as the API carries them), flagged past a second: offline
// changes closer in time than two hosts' clocks differ are quarantined
// as clock-skew.
function clockCell(c) {
  if (!c) return '—';
  const off = c.offset.startsWith('-') ? c.offset : '+' + c.offset;
  const far = Math.abs(goSeconds(c.offset)) > 1;
  return h('span', far ? { class: 'error', title: 'More than a second off the hub’s clock: set its time synchronisation (NTP) right' } : null,
    off + ' ±' + c.error);
}

// goSeconds reads a Go duration string ("1h2m3.5s", "-300ms", "41µs").
function goSeconds(d) {
  const unit = { h: 3600, m: 60, s: 1, ms: 1e-3, 'µs': 1e-6, 'us': 1e-6, ns: 1e-9 };
  let total = 0;
  for (const [, n, u] of d.matchAll(/([\d.]+)(h|ms|m|s|µs|us|ns)/g)) total += parseFloat(n) * unit[u];
  return d.startsWith('-') ? -total : total;
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
    ['Lock grace period', s.lock_grace || '5m0s'],
    ['Delta compression', s.delta === false ? 'off' : 'on, files of ' + fmtBytes(s.delta_min || 1048576) + ' and more'],
    ['Mass-delete guard', (s.delete_guard_percent || 50) >= 100 ? 'off'
      : 'holds one host\'s deletions of more than ' + (s.delete_guard_percent || 50) + '% of the files, and at least ' + (s.delete_guard_min || 1000)],
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

// heldBanners says which hosts' deletions the mass-delete breaker holds
// (an emptied root, or a burst beyond the session's guard), with the
// operator's two choices: Approve deletes them on every host, Discard
// brings the files back to that host.
function heldBanners(name, st, act) {
  const held = st.held_deletions || [];
  if (!held.length) return null;
  return held.map((d) => {
    const why = d.reason === 'empty-root'
      ? d.host + '\'s root folder is empty (an unmounted share or a wrong folder?)'
      : d.host + ' deleted many of the session\'s files at once';
    const decide = (action) => act(action === 'approve' ? 'Approve' : 'Discard',
      () => call('POST', sessionPath(name) + '/deletions', { host: d.host, action }));
    return h('div', { class: 'held', role: 'alert', 'data-host': d.host },
      h('p', null, h('strong', null, 'Deletions held: '), why + ': ' + plural(d.paths, 'path') + ' (' + plural(d.files, 'file') +
        ') since ' + when(d.since) + ' are deleted nowhere else until you decide.'),
      h('button', { type: 'button', class: 'danger', 'data-key': 'held-approve-' + d.host, onclick: () => decide('approve') }, 'Approve: delete them everywhere'),
      ' ',
      h('button', { type: 'button', 'data-key': 'held-discard-' + d.host, onclick: () => decide('discard') }, 'Discard: bring them back to ' + d.host));
  });
}
