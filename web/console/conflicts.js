// The File Conflict List of a session: every conflicted path, each host's
// copy with a button to make it the winner, bulk resolution, and a
// side-by-side comparison of two hosts' copies.
import { h, $, fill, mount, toast, fmtBytes, fmtTime, when, plural } from './dom.js';
import { call, enc, sessionPath } from './api.js';
import { header, table, pageError, refresh } from './view.js';
import { DIFF_MAX_LINES, lineDiff, sideBySide } from './diff.js';

export function conflictsPage(main, r) {
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

  mount(main, header([['Dashboard', '#/'], [name, '#/s/' + enc(name)], ['File Conflict List']], 'File Conflict List — ' + name),
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
    // A notice without a session is about every session.
    wants: (n) => (!n.session || n.session === name) && (n.kind === 'conflicts' || n.kind === 'sessions'),
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
  // text is left out of the JSON when empty: an empty file is text too.
  const texts = (s) => s.exists && !s.binary && !s.too_large && !s.error;
  if (!texts(a) || !texts(b)) {
    const same = a.hash && a.hash === b.hash;
    return box(heads, h('p', { class: 'muted' }, same ? 'The copies are identical.' : 'No line comparison: ' +
      (a.exists && b.exists ? 'only text files up to 256 KiB are compared; compare the sizes and hashes.' : 'one host has no copy.')));
  }
  const res = lineDiff(a.text || '', b.text || '', DIFF_MAX_LINES);
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
