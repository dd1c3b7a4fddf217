// Traces of an experiment (or of one run): filter with MLflow's trace fields (OR and parentheses work),
// status, latency, tokens; newest first, more on demand. A row opens the trace view.
import * as api from '../api.js';
import { h, clear, fmtTime } from '../dom.js';
import { setQuery } from '../app.js';

const PAGE = 200;

export function fmtLatency(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return '';
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function tokensOf(info) {
  const raw = (info.trace_metadata || {})['mlflow.trace.tokenUsage'];
  if (!raw) return null;
  try { return JSON.parse(raw); } catch { return null; }
}

export function stateBadge(state) {
  const cls = state === 'OK' ? 'st-finished' : state === 'ERROR' ? 'st-failed' : 'st-running';
  return h('span', { class: `badge ${cls}` }, state || '');
}

/** The list, into `box`: experimentIds to search, an optional fixed filter (a run's traces). */
export function renderTraceList(box, { experimentIds, fixedFilter = '', query = null, title = 'Traces' }) {
  const state = { q: query ? query.get('q') || '' : '', status: query ? query.get('status') || '' : '' };
  const search = h('input', { type: 'search', class: 'search', value: state.q, 'aria-label': 'Filter traces',
    placeholder: "Filter, e.g. tags.team = 'search' AND span.type = 'LLM' (OR and parentheses work)" });
  const statusSel = h('select', { 'aria-label': 'Trace status' },
    [['', 'Any status'], ['OK', 'OK'], ['ERROR', 'Error'], ['IN_PROGRESS', 'In progress']].map(([v, l]) => h('option', { value: v, selected: v === state.status }, l)));
  const err = h('div', { class: 'search-error', role: 'alert' });
  const count = h('span', { class: 'count', 'aria-live': 'polite' });
  const body = h('tbody');
  const more = h('button', { hidden: true, onclick: () => load(false) }, 'Load more');
  const table = h('table', { class: 'table traces' }, h('thead', null, h('tr', null,
    h('th', null, 'Trace'), h('th', null, 'Request'), h('th', null, 'Status'), h('th', null, 'Started'),
    h('th', { class: 'num' }, 'Latency'), h('th', { class: 'num' }, 'Tokens'), h('th', null, 'Run'), h('th', null, 'Tags'))), body);
  box.append(
    h('div', { class: 'card-head' }, h('h2', null, title), count),
    h('div', { class: 'toolbar' },
      h('form', { class: 'searchform', onsubmit: (e) => { e.preventDefault(); state.q = search.value.trim(); save(); load(true); } },
        search, h('button', { type: 'submit', class: 'primary' }, 'Search')), statusSel),
    err, h('div', { class: 'scroll-x' }, table), more);
  statusSel.addEventListener('change', () => { state.status = statusSel.value; save(); load(true); });

  let token = null;
  let shown = 0;
  let generation = 0; // a newer search makes the answers of older ones stale
  function save() {
    if (!query) return;
    const q = new URLSearchParams();
    if (query.get('tab')) q.set('tab', query.get('tab'));
    if (state.q) q.set('q', state.q);
    if (state.status) q.set('status', state.status);
    setQuery(q);
  }
  function filter() {
    const parts = [fixedFilter, state.q ? `(${state.q})` : '', state.status ? `trace.status = '${state.status}'` : ''].filter(Boolean);
    return parts.join(' AND ');
  }
  function row(info) {
    const tags = info.tags || {};
    const meta = info.trace_metadata || {};
    const exp = (info.trace_location || {}).mlflow_experiment || {};
    const href = `#/experiments/${encodeURIComponent(exp.experiment_id)}/traces/${encodeURIComponent(info.trace_id)}`;
    const tokens = tokensOf(info);
    const run = meta['mlflow.sourceRun'];
    const userTags = Object.entries(tags).filter(([k]) => !k.startsWith('mlflow.'));
    return h('tr', { dataset: { traceId: info.trace_id } },
      h('td', null, h('a', { href, class: 'trace-link' }, tags['mlflow.traceName'] || info.trace_id), h('div', { class: 'muted small' }, info.trace_id)),
      h('td', { class: 'val preview', title: info.request_preview || '' }, (info.request_preview || '').slice(0, 160)),
      h('td', null, stateBadge(info.state)),
      h('td', null, fmtTime(Date.parse(info.request_time))),
      h('td', { class: 'num' }, fmtLatency(api.durationMs(info.execution_duration))),
      h('td', { class: 'num', title: tokens ? `in ${tokens.input_tokens ?? '?'} / out ${tokens.output_tokens ?? '?'}` : '' }, tokens ? String(tokens.total_tokens ?? '') : ''),
      h('td', null, run ? h('a', { href: `#/experiments/${encodeURIComponent(exp.experiment_id)}/runs/${encodeURIComponent(run)}` }, run.slice(0, 8)) : ''),
      h('td', null, userTags.map(([k, v]) => h('span', { class: 'tag', title: `${k}: ${v}` }, `${k}: ${v}`))));
  }
  async function load(reset) {
    if (reset) { generation += 1; token = null; shown = 0; clear(body); err.textContent = ''; }
    const mine = generation;
    more.disabled = true;
    try {
      const page = await api.searchTraces(experimentIds, filter(), token, PAGE);
      if (mine !== generation) return; // a later search (status or filter changed) owns the table now
      const traces = page.traces || [];
      for (const info of traces) body.appendChild(row(info));
      shown += traces.length;
      token = page.next_page_token || null;
      more.hidden = !token;
      count.textContent = `${shown}${token ? '+' : ''} trace${shown === 1 ? '' : 's'}`;
      if (!shown) body.appendChild(h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'No traces match.')));
    } catch (e) {
      if (mine === generation) err.textContent = e.message;
    } finally {
      if (mine === generation) more.disabled = false;
    }
  }
  load(true);
}

/** The Runs | Traces tabs of one experiment (links, so each view keeps its own URL). */
export function experimentTabs(expId, active) {
  const id = encodeURIComponent(expId);
  const tab = (key, label, href, cls) => h('a', { role: 'tab', href, class: `${cls}${active === key ? ' active' : ''}`, 'aria-selected': String(active === key) }, label);
  return h('nav', { class: 'tabs exp-tabs', role: 'tablist', 'aria-label': 'Experiment views' },
    tab('runs', 'Runs', `#/experiments/${id}`, 'runs-link'), tab('traces', 'Traces', `#/experiments/${id}/traces`, 'traces-link'));
}

export async function render(main, [expId], query) {
  const title = h('h1', null, 'Traces');
  const crumbExp = h('a', { href: `#/experiments/${encodeURIComponent(expId)}` }, `Experiment ${expId}`);
  main.append(h('div', { class: 'page-head' }, h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, 'Experiments'), ' / ', crumbExp, ' / '), title),
    experimentTabs(expId, 'traces'));
  api.get('experiments/get', { experiment_id: expId }).then((r) => {
    crumbExp.textContent = r.experiment.name;
    document.title = `Traces · ${r.experiment.name} · Bakehouse`;
  }).catch(() => {});
  const card = h('section', { class: 'card' });
  main.append(card);
  renderTraceList(card, { experimentIds: [expId], query });
}

