// Runs table of one or several experiments: all matching runs in one virtualized, sortable table.
import * as api from '../api.js';
import { h, clear, errorBox, toast, downloadText, readOnly } from '../dom.js';
import { VirtualGrid } from '../table.js';
import { ATTRS, DEFAULT_ATTRS, accessor, colGroup, colLabel, formatter, orderClause, parseCol, sortRows, toCsv } from '../columns.js';
import { setQuery } from '../app.js';
import { experimentTabs } from './traces.js';

const MAX_DEFAULT_DATA_COLS = 30;

export async function render(main, [expParam], query) {
  const expIds = expParam.split(',').filter(Boolean);
  const state = {
    q: query.get('q') || '',
    status: query.get('status') || '',
    life: query.get('life') || 'ACTIVE_ONLY',
    sort: query.get('sort') || 'a:start_time',
    desc: query.has('sort') ? query.get('desc') === '1' : true,
    cols: query.get('cols') ? query.get('cols').split(',').map(decodeURIComponent) : null,
    expandAll: query.get('expand') === '1',
  };
  let rows = [];           // everything loaded, in server order
  let complete = false;
  let loader = null;
  let known = { m: new Set(), p: new Set(), t: new Set() };
  const selected = new Set();
  const expanded = new Set();
  let displayed = [];

  const saveUrl = () => {
    const q = new URLSearchParams();
    if (state.q) q.set('q', state.q);
    if (state.status) q.set('status', state.status);
    if (state.life !== 'ACTIVE_ONLY') q.set('life', state.life);
    if (state.sort !== 'a:start_time' || !state.desc) { q.set('sort', state.sort); q.set('desc', state.desc ? '1' : '0'); }
    if (state.cols) q.set('cols', state.cols.map(encodeURIComponent).join(','));
    if (state.expandAll) q.set('expand', '1');
    setQuery(q);
  };

  // ----------------------------------------------------------------------------------- header
  const title = h('h1', null, 'Runs');
  const expLinks = h('span', { class: 'muted' });
  Promise.all(expIds.map((id) => api.get('experiments/get', { experiment_id: id }).then((r) => r.experiment).catch(() => ({ experiment_id: id, name: `#${id}` }))))
    .then((exps) => { title.textContent = exps.map((e) => e.name).join(' + '); document.title = `${title.textContent} · Bakehouse`; });

  const search = h('input', { type: 'search', class: 'search', value: state.q, placeholder: "Filter, e.g. metrics.rmse < 1 and params.model = 'tree' (OR and parentheses work)", 'aria-label': 'Filter runs' });
  const searchErr = h('div', { class: 'search-error', role: 'alert' });
  const statusSel = h('select', { 'aria-label': 'Status filter' }, ['', 'RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'SCHEDULED'].map((s) => h('option', { value: s, selected: s === state.status }, s || 'Any status')));
  const lifeSel = h('select', { 'aria-label': 'Lifecycle filter' }, [['ACTIVE_ONLY', 'Active'], ['DELETED_ONLY', 'Deleted'], ['ALL', 'Active + deleted']].map(([v, l]) => h('option', { value: v, selected: v === state.life }, l)));
  const countEl = h('span', { class: 'count', 'aria-live': 'polite' });
  const selEl = h('span', { class: 'muted' });
  const btnCompare = h('button', { onclick: () => openCompare(), disabled: true }, 'Compare');
  const btnChart = h('button', { onclick: () => openCharts(), title: 'Chart the selected runs (or runs that have the first metric)' }, 'Chart metrics');
  const btnDelete = h('button', { class: 'danger', onclick: () => lifecycle('delete'), disabled: true }, 'Delete');
  const btnRestore = h('button', { onclick: () => lifecycle('restore'), disabled: true }, 'Restore');
  const btnCols = h('button', { 'aria-haspopup': 'true', onclick: () => toggleChooser() }, 'Columns');
  const btnCsv = h('button', { onclick: () => downloadCsv() }, 'Download CSV');
  const btnExpand = h('button', { 'aria-pressed': String(state.expandAll), onclick: () => { state.expandAll = !state.expandAll; btnExpand.setAttribute('aria-pressed', String(state.expandAll)); saveUrl(); rebuild(); } }, 'Expand nested');
  const btnParallel = h('a', { class: 'button', href: '#' }, 'Parallel coordinates (all)');
  const chooser = h('div', { class: 'chooser', hidden: true });

  const syncParallelLink = () => {
    const q = new URLSearchParams({ experiments: expIds.join(',') });
    const f = fullFilter();
    if (f) q.set('q', f);
    if (state.life !== 'ACTIVE_ONLY') q.set('life', state.life);
    btnParallel.setAttribute('href', `#/compare?${q}`);
  };

  main.append(
    h('div', { class: 'page-head' }, h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, 'Experiments'), ' / '), title, expLinks),
    ...(expIds.length === 1 ? [experimentTabs(expIds[0], 'runs')] : []),
    h('div', { class: 'toolbar' },
      h('form', { class: 'searchform', onsubmit: (e) => { e.preventDefault(); state.q = search.value.trim(); saveUrl(); reload(); } }, search, h('button', { type: 'submit', class: 'primary' }, 'Search')),
      statusSel, lifeSel),
    searchErr,
    h('div', { class: 'toolbar' }, countEl, selEl, btnCompare, btnChart, btnDelete, btnRestore, h('span', { class: 'spacer' }), btnExpand, btnCols, btnCsv, btnParallel),
    chooser);
  // with --auth, deleting and restoring runs needs MANAGE on their experiment: no buttons the server refuses
  const canDelete = (exp) => api.can('experiment', exp, 'delete');
  api.loadPermissions().then(() => {
    const any = expIds.some(canDelete);
    btnDelete.hidden = !any; btnRestore.hidden = !any;
    if (!any) btnDelete.after(readOnly(api.permissionOf('experiment', expIds[0])));
  });
  statusSel.addEventListener('change', () => { state.status = statusSel.value; saveUrl(); reload(); });
  lifeSel.addEventListener('change', () => { state.life = lifeSel.value; saveUrl(); reload(); });

  // ----------------------------------------------------------------------------------- columns
  const attrIds = DEFAULT_ATTRS.map((a) => `a:${a}`).concat(expIds.length > 1 ? ['a:experiment_id'] : []);
  const defaultCols = () => attrIds.concat([...known.m].slice(0, MAX_DEFAULT_DATA_COLS).map((k) => `m:${k}`), [...known.p].slice(0, MAX_DEFAULT_DATA_COLS).map((k) => `p:${k}`));
  const visibleCols = () => state.cols || defaultCols();

  const checkCol = {
    id: '_sel', label: '', width: 36, cls: 'sel',
    header: () => h('input', { type: 'checkbox', 'aria-label': 'Select all runs', onchange: (e) => { if (e.target.checked) displayed.forEach((r) => selected.add(r.id)); else selected.clear(); selectionChanged(); } }),
    render: (r) => h('input', { type: 'checkbox', checked: selected.has(r.id), 'aria-label': `Select run ${r.name}`, onchange: (e) => { if (e.target.checked) selected.add(r.id); else selected.delete(r.id); selectionChanged(); } }),
  };

  const gridCols = () => [checkCol, ...visibleCols().map((id) => {
    const get = accessor(id); const fmt = formatter(id); const { type, key } = parseCol(id);
    const col = { id, label: colLabel(id), title: `${colGroup(id)}: ${colLabel(id)}`, width: type === 'a' ? ATTRS[key].width : 110, sortable: true, cls: type === 'm' ? 'num' : '' };
    if (id === 'a:run_name') {
      col.render = (r) => {
        const kids = childrenOf.get(r.id);
        const depth = r._depth || 0;
        return h('span', { class: 'namecell', style: { paddingLeft: `${depth * 16}px` } },
          kids ? h('button', { class: 'twisty', 'aria-expanded': String(isOpen(r.id)), 'aria-label': `${isOpen(r.id) ? 'Collapse' : 'Expand'} ${kids.length} child runs`, onclick: () => { if (isOpen(r.id)) { expanded.delete(r.id); closed.add(r.id); } else { expanded.add(r.id); closed.delete(r.id); } rebuild(); } }, isOpen(r.id) ? '▾' : `▸ ${kids.length}`) : null,
          h('a', { href: `#/experiments/${encodeURIComponent(r.exp)}/runs/${encodeURIComponent(r.id)}`, title: r.name }, r.name || r.id));
      };
    } else if (id === 'a:status') {
      col.render = (r) => h('span', { class: `badge st-${String(r.status).toLowerCase()}` }, r.status);
    } else {
      col.render = (r) => fmt(get(r));
    }
    return col;
  })];

  const grid = new VirtualGrid({
    label: 'Runs', columns: gridCols(), sort: { id: state.sort, desc: state.desc },
    onSort: (id) => sortBy(id),
    onActivate: (r) => { location.hash = `#/experiments/${encodeURIComponent(r.exp)}/runs/${encodeURIComponent(r.id)}`; },
    onToggle: (r) => { if (selected.has(r.id)) selected.delete(r.id); else selected.add(r.id); selectionChanged(); },
    rowClass: (r) => `${selected.has(r.id) ? 'selected' : ''}${r.life === 'deleted' ? ' deleted' : ''}`,
  });
  grid.el.dataset.experiments = expIds.join(',');  // which table this is: a hash change keeps the old one until the new renders
  const emptyEl = h('div', { class: 'empty', hidden: true });
  main.append(h('div', { class: 'grid-wrap' }, grid.el), emptyEl);

  // ----------------------------------------------------------------------------------- nesting
  let childrenOf = new Map();
  const closed = new Set();
  const isOpen = (id) => (state.expandAll ? !closed.has(id) : expanded.has(id));

  function rebuild() {
    const ids = new Set(rows.length ? rows.map((r) => r.id) : []);
    childrenOf = new Map();
    const sorted = sortedRows;
    for (const r of sorted) {
      if (r.parent && ids.has(r.parent) && r.parent !== r.id) {
        let l = childrenOf.get(r.parent);
        if (!l) childrenOf.set(r.parent, (l = []));
        l.push(r);
      }
    }
    const out = [];
    const seen = new Set();
    const add = (r, depth) => {
      if (seen.has(r.id)) return;
      seen.add(r.id);
      r._depth = depth;
      out.push(r);
      const kids = childrenOf.get(r.id);
      if (kids && isOpen(r.id)) for (const k of kids) add(k, depth + 1);
    };
    for (const r of sorted) if (!(r.parent && ids.has(r.parent) && r.parent !== r.id)) add(r, 0);
    displayed = out;
    grid.setColumns(gridCols());
    grid.setItems(displayed);
    updateCount();
  }

  let sortedRows = [];
  function applyClientSort() {
    const t0 = performance.now();
    sortedRows = serverSorted ? rows : sortRows(rows, state.sort, state.desc);
    const ms = performance.now() - t0;
    return ms;
  }

  function updateCount() {
    const n = rows.length;
    countEl.textContent = complete ? `${n.toLocaleString()} run${n === 1 ? '' : 's'}` : `${n.toLocaleString()} runs loaded, loading more…`;
    grid.el.dataset.loaded = String(n);
    grid.el.dataset.complete = complete ? '1' : '0';
    emptyEl.hidden = !(complete && n === 0);
    grid.el.hidden = complete && n === 0;
  }

  function selectionChanged() {
    const n = selected.size;
    selEl.textContent = n ? `${n} selected` : '';
    btnCompare.disabled = n < 1;
    btnDelete.disabled = n < 1;
    btnRestore.disabled = n < 1;
    grid.refresh();
  }

  // ----------------------------------------------------------------------------------- loading
  let serverSorted = false;
  function fullFilter() {
    let f = state.q;
    if (state.status) {
      const st = `attributes.status = '${state.status}'`;
      f = f ? `${/\bor\b/i.test(f) ? `(${f})` : f} AND ${st}` : st;
    }
    return f;
  }

  function reload() {
    if (loader) loader.cancel();
    rows = []; complete = false; selected.clear(); selectionChanged();
    searchErr.textContent = '';
    search.classList.remove('invalid');
    syncParallelLink();
    const order = orderClause(state.sort, state.desc);
    serverSorted = !!order;
    const t0 = performance.now();
    let first = true;
    loader = api.loadAllRuns({ experimentIds: expIds, filter: fullFilter(), viewType: state.life, orderBy: order ? [order] : [] }, (page, done) => {
      rows = rows.concat(page);
      complete = done;
      for (const r of page) {
        for (const k in r.metrics) known.m.add(k);
        for (const k in r.params) known.p.add(k);
        for (const k in r.tags) known.t.add(k);
      }
      if (done && !serverSorted) applyClientSort(); else sortedRows = rows;
      rebuild();
      if (first) { grid.el.dataset.firstRowsMs = String(Math.round(performance.now() - t0)); first = false; }
      if (done) {
        api.rememberRuns(api.searchKey(expIds, fullFilter(), state.life), rows);
        grid.el.dataset.allRowsMs = String(Math.round(performance.now() - t0));
        emptyEl.replaceChildren(h('p', null, state.q || state.status ? 'No runs match this filter.' : 'This experiment has no runs yet.'),
          h('p', { class: 'muted' }, 'Log runs with ', h('code', null, 'bakehouse.start_run()'), ' or the mlflow client.'));
      }
    }, (e) => {
      complete = true; updateCount();
      if (e.status === 400) { searchErr.textContent = `Invalid filter: ${e.message}`; search.classList.add('invalid'); search.focus(); }
      else searchErr.replaceChildren(errorBox(e));
    });
  }

  function sortBy(id) {
    if (id === '_sel') return;
    if (state.sort === id) state.desc = !state.desc; else { state.sort = id; state.desc = parseCol(id).type === 'm'; }
    saveUrl();
    grid.setSort({ id: state.sort, desc: state.desc });
    if (complete) {
      // everything is here: sort in the browser (milliseconds), no round trip
      serverSorted = false;
      const ms = applyClientSort();
      rebuild();
      grid.el.scrollTop = 0;
      grid.el.dataset.sortMs = ms.toFixed(1);
      grid.el.dataset.sortedBy = `${state.sort}:${state.desc ? 'desc' : 'asc'}`;
    } else if (orderClause(id, state.desc)) {
      reload();
    } else {
      toast('This column sorts once all runs are loaded.');
    }
  }

  // ----------------------------------------------------------------------------------- column chooser
  function toggleChooser() {
    if (!chooser.hidden) { chooser.hidden = true; return; }
    const vis = new Set(visibleCols());
    const filterIn = h('input', { type: 'search', placeholder: 'Find a column…', 'aria-label': 'Find a column' });
    const groups = [['Attributes', Object.keys(ATTRS).map((k) => `a:${k}`)], ['Metrics', [...known.m].map((k) => `m:${k}`)], ['Parameters', [...known.p].map((k) => `p:${k}`)], ['Tags', [...known.t].map((k) => `t:${k}`)]];
    const lists = groups.map(([name, ids]) => {
      const items = ids.map((id) => h('label', { class: 'chk', dataset: { col: id } }, h('input', { type: 'checkbox', checked: vis.has(id), value: id, onchange: (e) => { if (e.target.checked) vis.add(id); else vis.delete(id); apply(); } }), colLabel(id)));
      return h('fieldset', null, h('legend', null, `${name} (${ids.length}) `,
        h('button', { type: 'button', class: 'link', onclick: () => { ids.forEach((i) => vis.add(i)); apply(); redraw(); } }, 'all'), ' ',
        h('button', { type: 'button', class: 'link', onclick: () => { ids.forEach((i) => vis.delete(i)); apply(); redraw(); } }, 'none')), h('div', { class: 'chk-list' }, items));
    });
    function apply() {
      const order = groups.flatMap(([, ids]) => ids).filter((id) => vis.has(id));
      state.cols = order; saveUrl(); grid.setColumns(gridCols());
    }
    function redraw() { chooser.hidden = true; toggleChooser(); }
    filterIn.addEventListener('input', () => {
      const f = filterIn.value.toLowerCase();
      chooser.querySelectorAll('label.chk').forEach((l) => { l.hidden = f && !l.dataset.col.toLowerCase().includes(f); });
    });
    clear(chooser).append(h('div', { class: 'row' }, filterIn, h('button', { onclick: () => { state.cols = null; saveUrl(); grid.setColumns(gridCols()); redraw(); } }, 'Reset'), h('button', { onclick: () => { chooser.hidden = true; } }, 'Close')), ...lists);
    chooser.hidden = false;
    filterIn.focus();
  }

  // ----------------------------------------------------------------------------------- actions
  function openCompare() { location.hash = `#/compare?runs=${[...selected].join(',')}`; }
  function openCharts() {
    if (!selected.size) {
      const key = [...known.m][0];
      location.hash = `#/charts?experiments=${expIds.join(',')}${key ? `&keys=${encodeURIComponent(key)}` : ''}`;
      return;
    }
    const sel = rows.filter((r) => selected.has(r.id));
    const keys = [...new Set(sel.flatMap((r) => Object.keys(r.metrics)))].slice(0, 4);
    location.hash = `#/charts?runs=${[...selected].slice(0, 100).join(',')}&keys=${keys.map(encodeURIComponent).join(',')}`;
  }
  async function lifecycle(action) {
    const exps = new Map(rows.map((r) => [r.id, r.exp]));
    const all = [...selected];
    const ids = all.filter((id) => canDelete(exps.get(id)));
    const refused = all.length - ids.length;
    if (!ids.length) { toast(`You may not ${action} these runs: that needs MANAGE permission on their experiment.`, 'error'); return; }
    if (action === 'delete' && !confirm(`Delete ${ids.length} run(s)? They can be restored later.${refused ? ` ${refused} other selected run(s) are left alone: you may not delete them.` : ''}`)) return;
    let failed = 0; let reason = '';
    for (let i = 0; i < ids.length; i += 8) {
      const res = await Promise.allSettled(ids.slice(i, i + 8).map((id) => api.post(`runs/${action}`, { run_id: id })));
      for (const r of res) if (r.status === 'rejected') { failed++; reason = reason || r.reason.message; }
    }
    const skipped = refused ? ` ${refused} skipped (no permission).` : '';
    toast(`${action === 'delete' ? 'Deleted' : 'Restored'} ${ids.length - failed} run(s)${failed ? `, ${failed} failed: ${reason}` : '.'}${skipped}`, failed || refused ? 'error' : 'info');
    reload();
  }
  function downloadCsv() {
    downloadText('runs.csv', toCsv(displayed.length ? sortedRows : rows, visibleCols()));
  }

  // helper endpoint: know every column up front, without scanning runs
  api.experimentKeys(expIds, state.life).then((keys) => {
    if (!keys) return;
    keys.metric_keys.forEach((k) => known.m.add(k));
    keys.param_keys.forEach((k) => known.p.add(k));
    keys.tag_keys.forEach((k) => known.t.add(k));
    if (!state.cols) grid.setColumns(gridCols());
  }).catch(() => {});

  reload();
  grid.el.focus({ preventScroll: true });
  return () => { if (loader) loader.cancel(); grid.destroy(); };
}
