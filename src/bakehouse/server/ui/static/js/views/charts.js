// Metric history charts for one or many runs: x = step / wall time / relative time, EMA smoothing,
// log scale; long series come downsampled from the server with a min/max envelope.
import * as api from '../api.js';
import { h, clear, errorBox, spinner, empty } from '../dom.js';
import { loadPlotly, PALETTE, LAYOUT, CONFIG } from '../plot.js';
import { setQuery } from '../app.js';

export async function render(main, _args, query) {
  let runIds = (query.get('runs') || '').split(',').filter(Boolean);
  const expIds = (query.get('experiments') || '').split(',').filter(Boolean);
  document.title = 'Charts · Bakehouse';
  main.append(h('div', { class: 'page-head' }, h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, 'Experiments'), ' / '), h('h1', null, 'Metric charts')));
  const firstKey = (query.get('keys') || '').split(',').filter(Boolean).map(decodeURIComponent)[0];
  if (!runIds.length && expIds.length && firstKey) {
    // which runs have this metric: one indexed query on the server, no scan of every run in the browser
    const found = await api.helper('metrics/runs-with-metric', { experiment_ids: expIds, metric_key: firstKey }).catch(() => null);
    if (found) {
      if (found.run_ids.length > 10) main.append(h('p', { class: 'muted' }, `${found.run_ids.length} runs have ${firstKey}; showing 10. Select runs in the table to choose others.`));
      runIds = found.run_ids.slice(0, 10);
    }
  }
  if (!runIds.length) { main.append(empty('No runs chosen. Select runs in a runs table and press “Chart metrics”.')); return; }
  const box = h('div', null, spinner());
  main.append(box);
  let runs;
  try { runs = await Promise.all(runIds.map((id) => api.getRun(id))); } catch (e) { clear(box).append(errorBox(e)); return; }
  clear(box);
  const names = {}; const all = new Set();
  for (const r of runs) { names[r.info.run_id] = r.info.run_name || r.info.run_id; (r.data.metrics || []).forEach((m) => all.add(m.key)); }
  let keys = (query.get('keys') || '').split(',').filter(Boolean).map(decodeURIComponent);
  if (!keys.length) keys = [...all].sort().slice(0, 4);
  const picker = h('fieldset', { class: 'keys' }, h('legend', null, 'Metrics'), [...all].sort().map((k) => h('label', { class: 'chk' }, h('input', { type: 'checkbox', checked: keys.includes(k), onchange: (e) => {
    keys = e.target.checked ? [...keys, k] : keys.filter((x) => x !== k);
    const q = new URLSearchParams(query); q.set('keys', keys.map(encodeURIComponent).join(',')); setQuery(q); draw();
  } }), k)));
  const area = h('div');
  box.append(h('p', { class: 'muted' }, `${runs.length} run(s): `, runs.map((r, i) => [i ? ', ' : '', h('a', { href: `#/experiments/${encodeURIComponent(r.info.experiment_id)}/runs/${encodeURIComponent(r.info.run_id)}` }, names[r.info.run_id])])), picker, area);
  const draw = () => { clear(area); renderChartsInto(area, runIds, keys, { names, query }); };
  draw();
}

/** Exponential moving average (TensorBoard-style smoothing); non-finite values pass through. */
function ema(values, alpha) {
  if (!alpha) return values;
  const out = new Array(values.length); let s = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !isFinite(v)) { out[i] = v; continue; }
    s = s === null ? v : alpha * s + (1 - alpha) * v;
    out[i] = s;
  }
  return out;
}

/** Draw one chart per metric key into container. opts: {names, query} */
export function renderChartsInto(container, runIds, keys, opts = {}) {
  const q = opts.query || new URLSearchParams();
  const st = { x: q.get('x') || 'step', smooth: Number(q.get('smooth') || 0), log: q.get('log') === '1' };
  const xSel = h('select', { 'aria-label': 'X axis' }, [['step', 'Step'], ['wall', 'Wall time'], ['relative', 'Relative time']].map(([v, l]) => h('option', { value: v, selected: v === st.x }, l)));
  const smooth = h('input', { type: 'range', min: '0', max: '0.99', step: '0.01', value: String(st.smooth), 'aria-label': 'Smoothing' });
  const smoothLbl = h('span', { class: 'muted' }, st.smooth.toFixed(2));
  const logChk = h('input', { type: 'checkbox', checked: st.log, 'aria-label': 'Log scale' });
  const grid = h('div', { class: 'chart-grid' });
  container.append(h('div', { class: 'toolbar' }, h('label', null, 'X axis ', xSel), h('label', null, 'Smoothing ', smooth, smoothLbl), h('label', { class: 'chk' }, logChk, 'Log scale')), grid);
  const saveState = () => { if (!opts.query) return; const p = new URLSearchParams(opts.query); p.set('x', st.x); p.set('smooth', String(st.smooth)); if (st.log) p.set('log', '1'); else p.delete('log'); setQuery(p); };
  const data = new Map(); // key -> series
  const cells = new Map();
  if (!keys.length) { grid.append(empty('Choose a metric to plot.')); return; }
  for (const key of keys) {
    const plot = h('div', { class: 'plot', dataset: { metric: key } }, spinner());
    cells.set(key, plot);
    grid.append(h('section', { class: 'card chart-card' }, h('h3', null, key), plot));
  }
  async function loadAndDraw(key) {
    const plot = cells.get(key);
    const t0 = performance.now();
    try {
      const [Plotly, series] = await Promise.all([loadPlotly(), data.has(key) && data.get(key).x === st.x ? data.get(key).series : api.metricSeries(runIds, key, 2000, st.x)]);
      data.set(key, { x: st.x, series });
      await drawOne(Plotly, plot, key, series);
      plot.dataset.renderMs = String(Math.round(performance.now() - t0));
    } catch (e) { clear(plot).append(errorBox(e)); }
  }
  async function drawOne(Plotly, plot, key, series) {
    const traces = []; let points = 0; let stored = 0; let down = false; let sampled = false;
    series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      const t0 = s.timestamps.length ? s.timestamps[0] : 0;
      const xs = st.x === 'step' ? s.steps : st.x === 'wall' ? s.timestamps.map((t) => new Date(t)) : s.timestamps.map((t) => (t - t0) / 1000);
      const name = (opts.names && opts.names[s.run_id]) || s.run_id;
      // a very long series is sampled (no envelope) and its size is a lower bound: counting it would read it
      points += s.values.length; stored += s.total ?? s.total_at_least; down = down || s.downsampled; sampled = sampled || !!s.sampled;
      if (s.downsampled && !s.sampled) {
        traces.push({ x: xs, y: s.maxs, mode: 'lines', line: { width: 0, color }, hoverinfo: 'skip', showlegend: false, type: 'scatter' });
        traces.push({ x: xs, y: s.mins, mode: 'lines', line: { width: 0, color }, fill: 'tonexty', fillcolor: `${color}55`, hoverinfo: 'skip', showlegend: false, type: 'scatter', name: `${name} min/max` });
      }
      traces.push({ x: xs, y: ema(s.values, st.smooth), mode: s.values.length === 1 ? 'markers' : 'lines', name, line: { color, width: 1.5 }, type: 'scatter' });
    });
    if (!points) { clear(plot).append(empty('No data for this metric in the chosen runs.')); return; }
    clear(plot);
    plot.dataset.points = String(points);
    plot.dataset.stored = String(stored);
    await Plotly.newPlot(plot, traces, { ...LAYOUT, height: 320, showlegend: series.length > 1, legend: { orientation: 'h' },
      xaxis: { title: { text: { step: 'Step', wall: 'Time', relative: 'Seconds since start' }[st.x] } },
      yaxis: { type: st.log ? 'log' : 'linear', title: { text: key } } }, CONFIG);
    if (sampled) plot.append(h('p', { class: 'muted note' }, `Over ${stored.toLocaleString()} points, sampled on the server to ${points.toLocaleString()} evenly spaced steps (no min/max band: a spike between two samples does not show).`));
    else if (down) plot.append(h('p', { class: 'muted note' }, `${stored.toLocaleString()} points, downsampled on the server to ${points.toLocaleString()} (shaded band: min/max of each bucket).`));
  }
  const redraw = () => { saveState(); keys.forEach(loadAndDraw); };
  xSel.addEventListener('change', () => { st.x = xSel.value; redraw(); });
  smooth.addEventListener('input', () => { st.smooth = Number(smooth.value); smoothLbl.textContent = st.smooth.toFixed(2); });
  smooth.addEventListener('change', redraw);
  logChk.addEventListener('change', () => { st.log = logChk.checked; redraw(); });
  keys.forEach(loadAndDraw);
}
