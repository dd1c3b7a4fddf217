// Run page: overview (editable description and tags), params, metrics with sparklines, logged models,
// artifacts; a RUNNING run refreshes itself.
import * as api from '../api.js';
import { h, append, clear, errorBox, fmtTime, fmtDuration, fmtNum, spinner, statusBadge, toast, ask, empty, readOnly } from '../dom.js';
import { markdown } from '../markdown.js';
import { sparkline } from '../sparkline.js';
import { setQuery } from '../app.js';
import { renderArtifacts } from './artifacts.js';
import { renderTraceList } from './traces.js';

const POLL_MS = 3000;

export async function render(main, args, query) {
  const runId = args.length > 1 ? args[1] : args[0];
  let tab = query.get('tab') || 'overview';
  let timer = null;
  let run;
  main.appendChild(spinner());
  try { [run] = await Promise.all([api.getRun(runId), api.loadPermissions()]); } catch (e) { clear(main).appendChild(errorBox(e)); return; }
  const expId = run.info.experiment_id;
  // with --auth, editing the description and tags needs EDIT on the experiment: no buttons the server refuses
  const mayEdit = () => api.can('experiment', expId, 'update');
  let exp = { name: `Experiment ${expId}` };
  api.get('experiments/get', { experiment_id: expId }).then((r) => { exp = r.experiment; crumbExp.textContent = exp.name; document.querySelectorAll('.exp-name').forEach((e) => { e.textContent = exp.name; }); }).catch(() => {});

  const crumbExp = h('a', { href: `#/experiments/${encodeURIComponent(expId)}` }, exp.name);
  const titleEl = h('h1');
  const statusEl = h('span');
  const tabs = [['overview', 'Overview'], ['metrics', 'Metric charts'], ['artifacts', 'Artifacts'], ['traces', 'Traces']];
  const tabBar = h('div', { class: 'tabs', role: 'tablist' });
  const body = h('div', { class: 'tab-body' });
  clear(main).append(h('div', { class: 'page-head' }, h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, 'Experiments'), ' / ', crumbExp, ' / '), titleEl, statusEl), tabBar, body);

  function drawTabs() {
    clear(tabBar).append(...tabs.map(([id, label]) => h('button', { role: 'tab', 'aria-selected': String(tab === id), class: tab === id ? 'active' : '', onclick: () => { tab = id; const q = new URLSearchParams(); if (id !== 'overview') q.set('tab', id); setQuery(q); drawTabs(); drawBody(); } }, label)));
  }

  function drawHead() {
    titleEl.textContent = run.info.run_name || run.info.run_id;
    document.title = `${titleEl.textContent} · Bakehouse`;
    append(clear(statusEl), [statusBadge(run.info.status), run.info.lifecycle_stage === 'deleted' ? h('span', { class: 'badge' }, 'deleted') : null,
      run.info.status === 'RUNNING' ? h('span', { class: 'muted live' }, ' live') : null]);
  }

  function drawBody() {
    clear(body);
    if (tab === 'artifacts') renderArtifacts(body, run, query.get('path') || '');
    else if (tab === 'traces') renderTraceList(body.appendChild(h('section', { class: 'card' })), { experimentIds: [expId], fixedFilter: `trace.run_id = '${run.info.run_id}'`, title: 'Traces of this run' });
    else if (tab === 'metrics') drawMetricCharts();
    else drawOverview();
  }

  function tagMap() { const m = {}; for (const t of run.data.tags || []) m[t.key] = t.value; return m; }

  function drawOverview() {
    const tags = tagMap();
    const info = run.info;
    const parent = tags['mlflow.parentRunId'];
    const src = tags['mlflow.source.name'];
    const commit = tags['mlflow.source.git.commit'];
    const dur = info.end_time ? Number(info.end_time) - Number(info.start_time) : info.status === 'RUNNING' ? Date.now() - Number(info.start_time) : null;
    const kv = (k, v) => h('tr', null, h('th', null, k), h('td', null, v));
    body.append(h('section', { class: 'card' }, h('h2', null, 'About this run'), h('table', { class: 'kv' }, h('tbody', null,
      kv('Run ID', h('code', null, info.run_id)),
      kv('Experiment', h('a', { class: 'exp-name', href: `#/experiments/${encodeURIComponent(expId)}` }, exp.name || expId)),
      kv('Status', statusBadge(info.status)),
      kv('Started', fmtTime(info.start_time)),
      kv('Ended', fmtTime(info.end_time)),
      kv('Duration', fmtDuration(dur)),
      kv('User', info.user_id || tags['mlflow.user'] || ''),
      kv('Source', src ? `${tags['mlflow.source.type'] ? `${tags['mlflow.source.type']}: ` : ''}${src}` : ''),
      kv('Git commit', commit ? h('code', null, commit) : ''),
      kv('Parent run', parent ? h('a', { href: `#/experiments/${encodeURIComponent(expId)}/runs/${encodeURIComponent(parent)}` }, parent) : ''),
      kv('Artifact location', h('code', null, info.artifact_uri || '')),
      kv('Lifecycle', info.lifecycle_stage)))));
    body.append(descriptionCard(tags['mlflow.note.content'] || ''));
    body.append(paramsCard(), metricsCard(), tagsCard(tags), modelsCard());
  }

  function descriptionCard(text) {
    const view = h('div', { class: 'desc' }, text ? markdown(text) : h('p', { class: 'muted' }, 'No description.'));
    const card = h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Description'), mayEdit() ? h('button', { class: 'small', onclick: edit }, 'Edit') : readOnly(api.permissionOf('experiment', expId))), view);
    function edit() {
      const ta = h('textarea', { rows: 8, 'aria-label': 'Description (Markdown)', value: text });
      const save = async () => {
        try { await api.post('runs/set-tag', { run_id: runId, key: 'mlflow.note.content', value: ta.value }); await refresh(); toast('Description saved'); } catch (e) { toast(e.message, 'error'); }
      };
      clear(view).append(ta, h('div', { class: 'row' }, h('button', { class: 'primary', onclick: save }, 'Save'), h('button', { onclick: () => drawBody() }, 'Cancel')));
      ta.focus();
    }
    return card;
  }

  function paramsCard() {
    const ps = [...(run.data.params || [])].sort((a, b) => a.key.localeCompare(b.key));
    const filter = h('input', { type: 'search', placeholder: 'Filter params', 'aria-label': 'Filter params' });
    const tbody = h('tbody', null, ps.map((p) => h('tr', { dataset: { k: p.key.toLowerCase() } }, h('td', null, p.key), h('td', { class: 'val' }, p.value))));
    filter.addEventListener('input', () => { const f = filter.value.toLowerCase(); tbody.querySelectorAll('tr').forEach((tr) => { tr.hidden = f && !tr.dataset.k.includes(f); }); });
    return h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, `Parameters (${ps.length})`), ps.length > 10 ? filter : null),
      ps.length ? h('table', { class: 'table kvt' }, h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Value'))), tbody) : h('p', { class: 'muted' }, 'No parameters logged.'));
  }

  function metricsCard() {
    const ms = [...(run.data.metrics || [])].sort((a, b) => a.key.localeCompare(b.key));
    const rows = ms.map((m) => {
      const cell = h('td', { class: 'spark-cell' });
      return { m, cell, tr: h('tr', null, h('td', null, h('a', { href: `#/charts?runs=${encodeURIComponent(runId)}&keys=${encodeURIComponent(m.key)}` }, m.key)), h('td', { class: 'num' }, fmtNum(m.value)), h('td', { class: 'num' }, String(m.step ?? '')), cell) };
    });
    // sparklines for the first 40 metrics, fetched a few at a time
    (async () => {
      for (let i = 0; i < Math.min(rows.length, 40); i += 4) {
        await Promise.all(rows.slice(i, i + 4).map(async (r) => {
          try { const [s] = await api.metricSeries([runId], r.m.key, 60); if (s && s.values.length > 1) r.cell.appendChild(sparkline(s.values)); } catch { /* sparkline is optional */ }
        }));
      }
    })();
    return h('section', { class: 'card' }, h('h2', null, `Metrics (${ms.length})`),
      ms.length ? h('table', { class: 'table kvt metrics' }, h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Latest value'), h('th', null, 'Step'), h('th', null, 'History'))), h('tbody', null, rows.map((r) => r.tr))) : h('p', { class: 'muted' }, 'No metrics logged.'));
  }

  function tagsCard(tags) {
    let showSystem = false;
    const tbody = h('tbody');
    const draw = () => {
      const keys = Object.keys(tags).filter((k) => showSystem || !k.startsWith('mlflow.')).sort();
      clear(tbody).append(...keys.map((k) => h('tr', null, h('td', null, k), h('td', { class: 'val' }, tags[k]),
        mayEdit() ? h('td', { class: 'actions' }, h('button', { class: 'small', onclick: () => editTag(k, tags[k]) }, 'Edit'), h('button', { class: 'small danger', 'aria-label': `Delete tag ${k}`, onclick: () => delTag(k) }, '✕')) : null)));
      if (!keys.length) tbody.append(h('tr', null, h('td', { colspan: 3, class: 'muted' }, 'No tags.')));
    };
    const editTag = async (key = '', value = '') => {
      const v = await ask(key ? `Edit tag ${key}` : 'Add tag', [{ name: 'key', label: 'Key', value: key }, { name: 'value', label: 'Value', value }]);
      if (!v || !v.key.trim()) return;
      try { await api.post('runs/set-tag', { run_id: runId, key: v.key.trim(), value: v.value }); await refresh(); toast('Tag saved'); } catch (e) { toast(e.message, 'error'); }
    };
    const delTag = async (key) => {
      try { await api.post('runs/delete-tag', { run_id: runId, key }); await refresh(); toast('Tag deleted'); } catch (e) { toast(e.message, 'error'); }
    };
    draw();
    const sys = h('label', { class: 'chk' }, h('input', { type: 'checkbox', onchange: (e) => { showSystem = e.target.checked; draw(); } }), 'show system tags');
    return h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Tags'), sys, mayEdit() ? h('button', { class: 'small', onclick: () => editTag() }, 'Add tag') : null),
      h('table', { class: 'table kvt tags' }, tbody));
  }

  function modelsCard() {
    const box = h('div', null, spinner());
    (async () => {
      const items = [];
      try {
        const lm = await api.post('logged-models/search', { experiment_ids: [expId], filter: `source_run_id = '${runId}'`, max_results: 100 });
        for (const m of lm.models || []) items.push(h('li', null, h('strong', null, m.info.name), ' ', h('code', null, m.info.model_id), ' ', h('span', { class: 'muted' }, m.info.status || ''), ' ',
          h('a', { href: `#/experiments/${encodeURIComponent(expId)}/runs/${encodeURIComponent(runId)}?tab=artifacts` }, 'artifacts')));
      } catch { /* older servers have no logged models */ }
      try {
        const mv = await api.get('model-versions/search', { filter: `run_id = '${runId}'`, max_results: 100 });
        for (const v of mv.model_versions || []) items.push(h('li', null, 'Registered: ', h('a', { href: `#/models/${encodeURIComponent(v.name)}/versions/${encodeURIComponent(v.version)}` }, `${v.name} v${v.version}`), v.current_stage && v.current_stage !== 'None' ? ` (${v.current_stage})` : ''));
      } catch { /* registry may be disabled */ }
      const hist = tagMap()['mlflow.log-model.history'];
      if (!items.length && hist) {
        try { for (const m of JSON.parse(hist)) items.push(h('li', null, h('a', { href: `#/experiments/${encodeURIComponent(expId)}/runs/${encodeURIComponent(runId)}?tab=artifacts&path=${encodeURIComponent(m.artifact_path)}` }, m.artifact_path), ' ', h('span', { class: 'muted' }, Object.keys(m.flavors || {}).join(', ')))); } catch { /* malformed tag */ }
      }
      clear(box).append(items.length ? h('ul', { class: 'plain' }, items) : h('p', { class: 'muted' }, 'No models logged by this run.'));
    })();
    const inputs = (run.inputs && run.inputs.dataset_inputs) || [];
    return h('section', { class: 'card' }, h('h2', null, 'Models'), box,
      inputs.length ? [h('h3', null, 'Datasets'), h('ul', { class: 'plain' }, inputs.map((d) => h('li', null, d.dataset.name, ' ', h('code', null, d.dataset.digest), ' ', (d.tags || []).map((t) => h('span', { class: 'tag' }, `${t.key}: ${t.value}`)))))] : null);
  }

  async function drawMetricCharts() {
    const keys = (run.data.metrics || []).map((m) => m.key).sort();
    if (!keys.length) { body.append(empty('No metrics logged.')); return; }
    const { renderChartsInto } = await import('./charts.js');
    renderChartsInto(body, [runId], keys.slice(0, 12), { names: { [runId]: run.info.run_name } });
  }

  async function refresh() {
    run = await api.getRun(runId);
    drawHead();
    if (tab === 'overview') drawBody();
  }

  drawHead(); drawTabs(); drawBody();
  if (run.info.status === 'RUNNING') {
    timer = setInterval(async () => {
      try {
        const fresh = await api.getRun(runId);
        const changed = JSON.stringify(fresh.data.metrics) !== JSON.stringify(run.data.metrics) || fresh.info.status !== run.info.status;
        run = fresh;
        if (changed) { drawHead(); if (tab === 'overview' && !body.querySelector('textarea')) drawBody(); }
        if (run.info.status !== 'RUNNING') clearInterval(timer);
      } catch { /* keep polling */ }
    }, POLL_MS);
  }
  return () => clearInterval(timer);
}
