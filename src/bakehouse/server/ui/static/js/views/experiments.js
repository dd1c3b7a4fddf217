// Experiments list: search, create, rename, delete/restore, tags; open one or several in the runs table.
import * as api from '../api.js';
import { h, clear, errorBox, fmtTime, spinner, toast, ask, empty, readOnly } from '../dom.js';
import { setQuery } from '../app.js';

export async function render(main, _args, query) {
  document.title = 'Experiments · Bakehouse';
  let q = query.get('q') || '';
  let view = query.get('view') || 'ACTIVE_ONLY';
  const selected = new Set();
  const search = h('input', { type: 'search', class: 'search', value: q, placeholder: 'Search experiments by name', 'aria-label': 'Search experiments' });
  const viewSel = h('select', { 'aria-label': 'Show' }, [['ACTIVE_ONLY', 'Active'], ['DELETED_ONLY', 'Deleted'], ['ALL', 'All']].map(([v, l]) => h('option', { value: v, selected: v === view }, l)));
  const openBtn = h('button', { disabled: true, onclick: () => { location.hash = `#/experiments/${[...selected].join(',')}`; } }, 'Open selected');
  const list = h('div', { class: 'list' });
  main.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Experiments')),
    h('div', { class: 'toolbar' },
      h('form', { class: 'searchform', onsubmit: (e) => { e.preventDefault(); q = search.value.trim(); save(); load(); } }, search, h('button', { type: 'submit', class: 'primary' }, 'Search')),
      viewSel, openBtn, h('span', { class: 'spacer' }), h('button', { class: 'primary', onclick: create }, 'New experiment')),
    list);
  viewSel.addEventListener('change', () => { view = viewSel.value; save(); load(); });

  function save() {
    const p = new URLSearchParams();
    if (q) p.set('q', q);
    if (view !== 'ACTIVE_ONLY') p.set('view', view);
    setQuery(p);
  }

  async function create() {
    const v = await ask('New experiment', [{ name: 'name', label: 'Name' }, { name: 'location', label: 'Artifact location (optional)' }]);
    if (!v || !v.name.trim()) return;
    try {
      const out = await api.post('experiments/create', { name: v.name.trim(), artifact_location: v.location.trim() || undefined });
      toast(`Created experiment ${v.name.trim()}`);
      location.hash = `#/experiments/${out.experiment_id}`;
    } catch (e) { toast(e.message, 'error'); }
  }

  let loads = 0; // a load started later wins (a restore's reload and a change of "Show" may overlap)
  async function load() {
    const mine = ++loads;
    clear(list).appendChild(spinner());
    selected.clear(); openBtn.disabled = true;
    try {
      const exps = [];
      let token = null;
      const filter = q ? `name ILIKE '%${q.replace(/'/g, "\\'")}%'` : '';
      const perms = api.loadPermissions(); // with --auth: which buttons the server would refuse
      do {
        const out = await api.get('experiments/search', { max_results: 1000, view_type: view, filter, page_token: token, order_by: 'last_update_time DESC' });
        exps.push(...(out.experiments || []));
        token = out.next_page_token;
      } while (token && exps.length < 20000);
      await perms;
      if (mine !== loads) return;
      clear(list);
      if (!exps.length) {
        list.appendChild(empty(q ? 'No experiment matches this search.' : 'No experiments yet.', h('button', { class: 'primary', onclick: create }, 'Create one')));
        return;
      }
      const table = h('table', { class: 'table exps' },
        h('thead', null, h('tr', null, h('th', { class: 'sel' }, ''), h('th', null, 'Name'), h('th', null, 'ID'), h('th', null, 'Created'), h('th', null, 'Last modified'), h('th', null, 'Tags'), h('th', null, 'Actions'))),
        h('tbody', null, exps.map(row)));
      list.appendChild(table);
    } catch (e) { if (mine === loads) clear(list).appendChild(errorBox(e)); }
  }

  function row(e) {
    const tags = (e.tags || []).filter((t) => !t.key.startsWith('mlflow.'));
    const tagCell = h('td', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag', title: `${t.key}=${t.value}` }, `${t.key}: ${t.value}`)));
    const deleted = e.lifecycle_stage === 'deleted';
    return h('tr', { class: deleted ? 'deleted' : '' },
      h('td', { class: 'sel' }, h('input', { type: 'checkbox', 'aria-label': `Select ${e.name}`, onchange: (ev) => { if (ev.target.checked) selected.add(e.experiment_id); else selected.delete(e.experiment_id); openBtn.disabled = !selected.size; } })),
      h('td', null, h('a', { href: `#/experiments/${encodeURIComponent(e.experiment_id)}` }, e.name), deleted ? h('span', { class: 'badge' }, 'deleted') : null),
      h('td', null, e.experiment_id),
      h('td', null, fmtTime(e.creation_time)),
      h('td', null, fmtTime(e.last_update_time)),
      tagCell,
      h('td', { class: 'actions' }, actions(e, deleted)));
  }

  // only the buttons the server will accept (with --auth: EDIT renames and edits tags, MANAGE deletes)
  function actions(e, deleted) {
    const edit = api.can('experiment', e.experiment_id, 'update');
    const manage = api.can('experiment', e.experiment_id, 'delete');
    const out = [
      edit ? h('button', { class: 'small', onclick: () => rename(e) }, 'Rename') : null,
      edit ? h('button', { class: 'small', onclick: () => editTags(e) }, 'Tags') : null,
      !manage ? null : deleted ? h('button', { class: 'small', onclick: () => act('restore', e) }, 'Restore') : h('button', { class: 'small danger', onclick: () => act('delete', e) }, 'Delete'),
    ];
    if (!edit && !manage) return readOnly(api.permissionOf('experiment', e.experiment_id));
    return out;
  }

  async function rename(e) {
    const v = await ask(`Rename “${e.name}”`, [{ name: 'name', label: 'New name', value: e.name }]);
    if (!v || !v.name.trim() || v.name.trim() === e.name) return;
    try { await api.post('experiments/update', { experiment_id: e.experiment_id, new_name: v.name.trim() }); toast('Renamed'); load(); } catch (err) { toast(err.message, 'error'); }
  }

  async function act(what, e) {
    if (what === 'delete' && !confirm(`Delete experiment “${e.name}” and its runs? You can restore it later.`)) return;
    try { await api.post(`experiments/${what}`, { experiment_id: e.experiment_id }); toast(what === 'delete' ? 'Deleted' : 'Restored'); load(); } catch (err) { toast(err.message, 'error'); }
  }

  async function editTags(e) {
    const v = await ask(`Tags of “${e.name}”`, [{ name: 'tags', label: 'One key=value per line (remove a line to delete the tag)', multiline: true, value: (e.tags || []).filter((t) => !t.key.startsWith('mlflow.')).map((t) => `${t.key}=${t.value}`).join('\n') }]);
    if (!v) return;
    const next = new Map();
    for (const line of v.tags.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) next.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    try {
      for (const t of e.tags || []) if (!t.key.startsWith('mlflow.') && !next.has(t.key)) await api.post('experiments/delete-experiment-tag', { experiment_id: e.experiment_id, key: t.key });
      for (const [key, value] of next) await api.post('experiments/set-experiment-tag', { experiment_id: e.experiment_id, key, value });
      toast('Tags saved'); load();
    } catch (err) { toast(err.message, 'error'); }
  }

  load();
}
