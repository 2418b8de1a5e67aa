// The session configuration dialog, laid out like the seed's File
// Collaboration Configuration dialog: participants and root folders, file
// filters, conflict resolution, delta compression (the seed's step 5).
import { h, $, $$, fill, mount, toast } from './dom.js';
import { call, enc, sessionPath } from './api.js';
import { go, refresh, known, loadAgents } from './view.js';

let dialogOpener = null;

export function closeDialog() {
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
  ['delta', '4', 'Delta compression'],
];

// openConfig opens the session configuration dialog: for a new session
// (s null) or to change a stopped one. Its steps follow the seed's File
// Collaboration Configuration dialog.
export async function openConfig(s) {
  dialogOpener = document.activeElement;
  try { await loadAgents(); } catch (e) { /* the host names can be typed */ }
  const editing = !!s;
  const cfg = s || { name: '', hosts: [], exclude: [], options: { resolver: 'last-modified' }, target_protection: true, protect_days: 30, delta: true, delta_min: 1048576, delete_guard_percent: 50, delete_guard_min: 1000 };
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
    const names = known.agents.map((a) => a.name);
    const isOther = hr.host && !names.includes(hr.host);
    const other = h('input', { class: 'other', id: id + '-other', value: isOther ? hr.host : '', hidden: !isOther,
      placeholder: 'agent name', autocomplete: 'off', oninput: () => master.refresh() });
    const sel = h('select', { class: 'host', id: id + '-host', onchange: () => {
      other.hidden = sel.value !== '*';
      if (!other.hidden) other.focus();
      master.refresh();
    } },
    h('option', { value: '' }, 'choose a host…'),
    known.agents.map((a) => h('option', { value: a.name, selected: a.name === hr.host }, a.name + (a.connected ? '' : ' (not connected)'))),
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
  const days = h('input', { id: 'cfg-days', type: 'number', min: 1, max: 3650, step: 1, value: String(cfg.protect_days || 30), inputmode: 'numeric' });
  // The mass-delete guard (issue 14): one host's deletions of more than
  // this share of the files, and at least this many, are held.
  const guardPct = h('input', { id: 'cfg-guard-percent', type: 'number', min: 1, max: 100, step: 1, inputmode: 'numeric',
    value: String(cfg.delete_guard_percent || 50), 'aria-describedby': 'cfg-guard-hint' });
  const guardMin = h('input', { id: 'cfg-guard-min', type: 'number', min: 1, max: 1000000000, step: 1, inputmode: 'numeric',
    value: String(cfg.delete_guard_min || 1000), 'aria-describedby': 'cfg-guard-hint' });
  const grace = h('input', { id: 'cfg-grace', type: 'text', value: cfg.lock_grace || '5m0s', spellcheck: 'false',
    autocomplete: 'off', 'aria-describedby': 'cfg-grace-hint' });

  // Step 4: delta compression, in KiB: a whole number that reads well for
  // the sizes that matter (256 KiB to a few GiB).
  const delta = box('cfg-delta', 'Delta compression', cfg.delta !== false,
    'A host that holds an older copy of a file receives only the parts that changed, found by content, so an insertion that shifts the rest of the file costs only the insertion.');
  const deltaMin = h('input', { id: 'cfg-delta-min', type: 'number', min: 1, max: 1073741824, step: 1, inputmode: 'numeric',
    value: String(Math.max(1, Math.round((cfg.delta_min || 1048576) / 1024))), 'aria-describedby': 'cfg-delta-min-hint' });

  function sync() {
    const manual = $('input[name=resolver][value=manual]', dlg).checked;
    $('#cfg-truncate', dlg).disabled = manual;
    master.disabled = !$('#cfg-offline-delete', dlg).checked;
    days.disabled = !$('#cfg-protect', dlg).checked;
    deltaMin.disabled = !$('#cfg-delta', dlg).checked;
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
        h('div', { class: 'sub' }, h('label', { for: 'cfg-days' }, 'Keep protected copies for (days)'), days)),
      h('fieldset', null, h('legend', null, 'Mass-delete guard'),
        h('label', { for: 'cfg-guard-percent' }, 'Hold one host’s deletions of more than (% of the files)'), guardPct,
        h('label', { for: 'cfg-guard-min' }, 'and at least (files)'), guardMin,
        h('small', { id: 'cfg-guard-hint' }, 'Deletions beyond this (or a root folder that turns up empty) are deleted nowhere else until you approve or discard them; 100% turns the guard off.')),
      h('fieldset', null, h('legend', null, 'Real-time locks'),
        h('label', { for: 'cfg-grace' }, 'Lock grace period'), grace,
        h('small', { id: 'cfg-grace-hint' }, 'How long the other hosts’ copies of a file stay locked after the host of its writer disconnects, ',
          'e.g. 90s, 5m or 1h; 0s releases them at once.'))),
    delta: h('fieldset', { id: 'step-delta', class: 'step' },
      h('legend', null, 'Step 4 — Delta compression'),
      delta,
      h('div', { class: 'sub' }, h('label', { for: 'cfg-delta-min' }, 'Smallest file delta applies to (KiB)'), deltaMin,
        h('small', { id: 'cfg-delta-min-hint' }, 'Smaller files are sent whole: over a WAN, exchanging signatures costs more than their bytes. ',
          'The default, 1024 KiB (1 MiB), suits links of 10 to 100 Mbit/s.')),
      h('p', { class: 'muted' }, 'What is sent is also compressed where that pays (text, CAD, office documents); media and archives are sent as they are.')),
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
    lock_grace: grace.value.trim() || undefined,
    delete_guard_percent: Number(guardPct.value),
    delete_guard_min: Number(guardMin.value),
    delta: $('#cfg-delta', dlg).checked,
    // Off keeps the size that was set, for when it is turned on again.
    delta_min: $('#cfg-delta', dlg).checked ? Number(deltaMin.value) * 1024 : (cfg.delta_min || undefined),
  });

  // An edit makes the last answer stale: the field edited is no longer
  // marked, and the hub's refusal (of the version it was sent) goes.
  const edited = (ev) => {
    ev.target.removeAttribute('aria-invalid');
    if (errors.dataset.from === 'hub' || !$('[aria-invalid]', dlg)) errors.hidden = true;
  };

  const showErrors = (list, from = 'check') => {
    errors.dataset.from = from;
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

  const form = h('form', { class: 'config', novalidate: true, oninput: edited, onchange: edited, onsubmit: async (ev) => {
    ev.preventDefault();
    const c = read();
    const problems = validate(c, { name, rows, days, deltaMin, guardPct, guardMin, master, hostOf });
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
      showErrors([{ msg: 'The hub refused the session: ' + e.message }], 'hub');
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

  mount(dlg, form);
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
  if (c.target_protection && !(Number.isInteger(c.protect_days) && c.protect_days >= 1 && c.protect_days <= 3650)) {
    out.push({ step: 'conflicts', el: f.days, msg: 'Keep protected copies for a whole number of days, 1 to 3650.' });
  }
  if (!(Number.isInteger(c.delete_guard_percent) && c.delete_guard_percent >= 1 && c.delete_guard_percent <= 100)) {
    out.push({ step: 'conflicts', el: f.guardPct, msg: 'Give the mass-delete guard’s share as a whole percentage, 1 to 100 (100 turns it off).' });
  }
  if (!(Number.isInteger(c.delete_guard_min) && c.delete_guard_min >= 1 && c.delete_guard_min <= 1000000000)) {
    out.push({ step: 'conflicts', el: f.guardMin, msg: 'Give the mass-delete guard’s count as a whole number of files, 1 to 1000000000.' });
  }
  const kib = c.delta_min / 1024;
  if (c.delta && !(Number.isInteger(kib) && kib >= 1 && kib <= 1073741824)) {
    out.push({ step: 'delta', el: f.deltaMin, msg: 'Give the smallest file for delta compression as a whole number of KiB, 1 to 1073741824 (1 TiB).' });
  }
  return out;
}
