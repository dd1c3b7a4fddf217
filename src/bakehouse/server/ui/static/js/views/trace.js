// One trace: its assessments, the span tree with a timeline (collapsible, keyboard reachable), and the
// selected span's inputs, outputs, attributes and events.
import * as api from '../api.js';
import { h, clear, errorBox, fmtTime, spinner } from '../dom.js';
import { setQuery } from '../app.js';
import { fmtLatency, stateBadge, tokensOf } from './traces.js';

const HIDDEN_ATTRS = new Set(['mlflow.spanInputs', 'mlflow.spanOutputs', 'mlflow.traceRequestId', 'mlflow.spanType']);

function pretty(value) {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2);
}

export async function render(main, [expId, traceId], query) {
  main.appendChild(spinner());
  let trace;
  try { trace = await api.getTrace(traceId); } catch (e) { clear(main).appendChild(errorBox(e)); return; }
  const { info, spans } = trace;
  const tags = info.tags || {};
  const meta = info.trace_metadata || {};
  const name = tags['mlflow.traceName'] || info.trace_id;
  document.title = `${name} · Trace · Bakehouse`;

  // ------------------------------------------------------------------------------------ the tree
  const byId = new Map(spans.map((s) => [s.id, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent && byId.has(s.parent)) {
      if (!children.has(s.parent)) children.set(s.parent, []);
      children.get(s.parent).push(s);
    } else roots.push(s);
  }
  for (const list of children.values()) list.sort((a, b) => a.start - b.start);
  roots.sort((a, b) => a.start - b.start);
  const t0 = Math.min(...spans.map((s) => s.start));
  const t1 = Math.max(...spans.map((s) => s.end || s.start));
  const total = Math.max(1, t1 - t0);
  // Large traces open with the first two levels visible; the rest expands on demand.
  const expanded = new Set(spans.length <= 60 ? spans.map((s) => s.id) : roots.map((s) => s.id));
  let selected = query.get('span') || (roots[0] && roots[0].id);

  const treeBox = h('div', { class: 'span-tree', role: 'tree', 'aria-label': 'Spans' });
  const detail = h('section', { class: 'span-detail card', id: 'span-detail', 'aria-live': 'polite' });

  function rowsOf(span, depth, out) {
    out.push([span, depth]);
    if (expanded.has(span.id)) for (const c of children.get(span.id) || []) rowsOf(c, depth + 1, out);
    return out;
  }

  function drawTree() {
    const rows = [];
    for (const r of roots) rowsOf(r, 0, rows);
    clear(treeBox);
    treeBox.append(h('div', { class: 'span-row head' }, h('span', { class: 'span-name' }, `${spans.length} spans`),
      h('span', { class: 'span-time muted' }, `0 – ${fmtLatency(Math.round(total / 1e6))}`)));
    for (const [span, depth] of rows) {
      const kids = children.get(span.id) || [];
      const open = expanded.has(span.id);
      const dur = span.end ? span.end - span.start : 0;
      const left = ((span.start - t0) / total) * 100;
      const width = Math.max(0.4, (dur / total) * 100);
      treeBox.append(h('div', {
        class: `span-row${span.id === selected ? ' selected' : ''}${span.status === 'ERROR' ? ' error' : ''}`,
        role: 'treeitem', 'aria-level': depth + 1, 'aria-selected': String(span.id === selected),
        'aria-expanded': kids.length ? String(open) : undefined, dataset: { spanId: span.id },
      },
      h('span', { class: 'span-name', style: { paddingLeft: `${depth * 14}px` } },
        kids.length ? h('button', { class: 'twisty', 'aria-expanded': String(open), 'aria-label': `${open ? 'Collapse' : 'Expand'} ${span.name} (${kids.length} children)`,
          onclick: () => { if (open) expanded.delete(span.id); else expanded.add(span.id); drawTree(); } }, open ? '▾' : `▸ ${kids.length}`) : h('span', { class: 'twisty-space' }),
        h('button', { class: 'span-pick link', onclick: () => pick(span.id), title: `${span.name} (${span.type})` }, span.name),
        h('span', { class: 'badge span-type' }, span.type)),
      h('span', { class: 'span-time' },
        h('span', { class: 'timeline-bar', style: { left: `${left}%`, width: `${width}%` }, title: fmtLatency(Math.round(dur / 1e6)) }))));
    }
  }

  function pick(id) {
    selected = id;
    const q = new URLSearchParams(); q.set('span', id); setQuery(q);
    drawTree();
    drawDetail();
  }

  function drawDetail() {
    clear(detail);
    const span = byId.get(selected);
    if (!span) { detail.append(h('p', { class: 'muted' }, 'Select a span.')); return; }
    const kv = (k, v) => h('tr', null, h('th', null, k), h('td', null, v));
    const dur = span.end ? Math.round((span.end - span.start) / 1e6) : null;
    const attrs = Object.entries(span.attributes).filter(([k]) => !HIDDEN_ATTRS.has(k));
    detail.append(
      h('h2', null, span.name, ' ', h('span', { class: 'badge' }, span.type), ' ', stateBadge(span.status === 'UNSET' ? 'OK' : span.status)),
      h('table', { class: 'kv' }, h('tbody', null,
        kv('Span ID', h('code', null, span.id)),
        kv('Parent', span.parent ? h('code', null, span.parent) : '(root)'),
        kv('Start', `+${fmtLatency(Math.round((span.start - t0) / 1e6))}`),
        kv('Duration', fmtLatency(dur)),
        span.statusMessage ? kv('Status message', span.statusMessage) : null)),
      h('h3', null, 'Inputs'), h('pre', { class: 'code span-inputs' }, pretty(span.attributes['mlflow.spanInputs'])),
      h('h3', null, 'Outputs'), h('pre', { class: 'code span-outputs' }, pretty(span.attributes['mlflow.spanOutputs'])),
      h('h3', null, `Attributes (${attrs.length})`),
      attrs.length ? h('table', { class: 'table span-attrs' }, h('tbody', null, attrs.map(([k, v]) => h('tr', null, h('th', null, k), h('td', { class: 'val' }, pretty(v)))))) : h('p', { class: 'muted' }, 'None.'),
      h('h3', null, `Events (${span.events.length})`),
      span.events.length ? h('ul', { class: 'plain span-events' }, span.events.map((e) => h('li', null,
        h('strong', null, e.name), ` at +${fmtLatency(Math.round((e.time - t0) / 1e6))}`,
        Object.keys(e.attributes).length ? h('pre', { class: 'code' }, pretty(e.attributes)) : null))) : h('p', { class: 'muted' }, 'None.'));
  }

  // ------------------------------------------------------------------------------------ the page
  const tokens = tokensOf(info);
  const run = meta['mlflow.sourceRun'];
  const userTags = Object.entries(tags).filter(([k]) => !k.startsWith('mlflow.'));
  const assessments = info.assessments || [];
  const crumbExp = h('a', { href: `#/experiments/${encodeURIComponent(expId)}/traces` }, `Experiment ${expId} traces`);
  api.get('experiments/get', { experiment_id: expId }).then((r) => { crumbExp.textContent = `${r.experiment.name} traces`; }).catch(() => {});
  clear(main).append(
    h('div', { class: 'page-head' }, h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, 'Experiments'), ' / ', crumbExp, ' / '),
      h('h1', null, name), stateBadge(info.state)),
    h('section', { class: 'card' }, h('table', { class: 'kv' }, h('tbody', null,
      h('tr', null, h('th', null, 'Trace ID'), h('td', null, h('code', null, info.trace_id))),
      h('tr', null, h('th', null, 'Started'), h('td', null, fmtTime(Date.parse(info.request_time)))),
      h('tr', null, h('th', null, 'Latency'), h('td', null, fmtLatency(api.durationMs(info.execution_duration)))),
      h('tr', null, h('th', null, 'Tokens'), h('td', null, tokens ? `${tokens.total_tokens ?? ''} (in ${tokens.input_tokens ?? '?'}, out ${tokens.output_tokens ?? '?'})` : '')),
      h('tr', null, h('th', null, 'Run'), h('td', null, run ? h('a', { href: `#/experiments/${encodeURIComponent(expId)}/runs/${encodeURIComponent(run)}` }, run) : '')),
      h('tr', null, h('th', null, 'Tags'), h('td', null, userTags.map(([k, v]) => h('span', { class: 'tag' }, `${k}: ${v}`)))),
      h('tr', null, h('th', null, 'Request'), h('td', { class: 'val' }, info.request_preview || '')),
      h('tr', null, h('th', null, 'Response'), h('td', { class: 'val' }, info.response_preview || ''))))),
    assessments.length ? h('section', { class: 'card assessments' }, h('h2', null, `Assessments (${assessments.length})`),
      h('table', { class: 'table' }, h('thead', null, h('tr', null, ['Name', 'Kind', 'Value', 'Source', 'Rationale', 'Valid'].map((c) => h('th', null, c)))),
        h('tbody', null, assessments.map((a) => {
          const kind = a.feedback ? 'feedback' : 'expectation';
          const payload = a[kind] || {};
          const value = 'value' in payload ? payload.value : (payload.serialized_value || {}).value;
          return h('tr', { class: a.valid === false ? 'deleted' : '' }, h('td', null, a.assessment_name), h('td', null, kind),
            h('td', { class: 'val' }, pretty(value)), h('td', null, `${(a.source || {}).source_type || ''} ${(a.source || {}).source_id || ''}`),
            h('td', null, a.rationale || ''), h('td', null, a.valid === false ? 'overridden' : 'yes'));
        })))) : null,
    spans.length ? h('div', { class: 'trace-layout' }, h('section', { class: 'card tree-card' }, treeBox), detail)
      : h('div', { class: 'empty' }, h('p', null, 'No spans were received for this trace (yet).')));
  if (spans.length) { drawTree(); drawDetail(); }
}
