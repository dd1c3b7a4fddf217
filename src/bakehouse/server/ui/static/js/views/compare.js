// Compare runs: side-by-side params/metrics ("differences only"), parallel coordinates (canvas),
// scatter and contour plots over chosen params and metrics.
import * as api from '../api.js';
import { h, clear, errorBox, spinner, empty, fmtNum, fmtTime } from '../dom.js';
import { parallelCoordinates } from '../parcoords.js';
import { accessor, colLabel } from '../columns.js';
import { loadPlotly, LAYOUT, CONFIG } from '../plot.js';
import { setQuery } from '../app.js';

const TABLE_MAX = 100;

export async function render(main, _args, query) {
  document.title = 'Compare runs · Bakehouse';
  const runIds = (query.get('runs') || '').split(',').filter(Boolean);
  const expIds = (query.get('experiments') || '').split(',').filter(Boolean);
  const head = h('div', { class: 'page-head' }, h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, 'Experiments'), ' / ',
    expIds.length ? [h('a', { href: `#/experiments/${expIds.join(',')}` }, 'Runs'), ' / '] : null), h('h1', null, 'Compare runs'));
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const box = h('div', null, spinner());
  main.append(head, status, box);
  let rows = [];
  let cancelled = false; let loader = null;
  // opened by link on a Bakehouse server: rows past the first TABLE_MAX hold only the columns in
  // partial.loaded; others are fetched for every run when a plot needs them (ensureCols)
  let partial = null;
  let extraKeys = null; // every key of the experiments (experiments/keys), for the axis chooser
  let onKeys = null; // redraws the axis chooser when those keys come after the plot
  const t0 = performance.now();
  try {
    if (runIds.length) {
      for (let i = 0; i < runIds.length; i += 16) {
        const got = await Promise.all(runIds.slice(i, i + 16).map((id) => api.getRun(id)));
        rows.push(...got.map((r) => api.toRow(r)));
        if (cancelled) return;
      }
      show();
    } else if (expIds.length && api.recentRuns(api.searchKey(expIds, query.get('q') || '', query.get('life') || 'ACTIVE_ONLY'))) {
      rows = api.recentRuns(api.searchKey(expIds, query.get('q') || '', query.get('life') || 'ACTIVE_ONLY')); // just loaded by the runs table
      show();
    } else if (expIds.length) {
      const sel = { experimentIds: expIds, filter: query.get('q') || '', viewType: query.get('life') || 'ACTIVE_ONLY' };
      // the first runs with every param and metric (the side-by-side table, the default axes), the key
      // names for the axis chooser, then the other runs with only the plotted keys
      // (the key names are not waited for before the runs: they are only needed to draw the chooser)
      const keysLoad = api.experimentKeys(expIds, sel.viewType).catch(() => null);
      const first = await api.firstRuns(sel, TABLE_MAX);
      if (cancelled) return;
      if (!first.columnar) { // another server: every run, complete, through runs/search
        await new Promise((resolve, reject) => {
          loader = api.loadAllRuns({ ...sel, firstPage: 1000, pageSize: 1000 }, (page, done) => {
            rows = rows.concat(page); status.textContent = `${rows.length.toLocaleString()} runs loaded${done ? '' : '…'}`; if (done) resolve();
          }, reject);
        });
      } else {
        rows = first.rows;
        partial = { sel, total: first.total, loaded: new Set(), more: first.total > first.rows.length };
        // the link's axes (even keys the first runs lack), or the defaults from the complete first runs
        const want = linkedCols().length ? linkedCols() : chosenCols(rows);
        partial.cols = want;
        if (partial.more) {
          status.textContent = `${rows.length.toLocaleString()} of ${first.total.toLocaleString()} runs loaded…`;
          rows = rows.concat(await api.runsWithKeys(sel, { keys: splitCols(want), offset: rows.length, total: first.total }));
          // the key names if they are here already; else they fill the axis chooser when they come
          // (experiments/keys reads every key row of the experiments: seconds at 100,000 runs)
          extraKeys = await Promise.race([keysLoad, Promise.resolve(null)]);
          if (!extraKeys) keysLoad.then((k) => { if (k && !cancelled) { extraKeys = k; if (onKeys) onKeys(); } });
        }
        want.forEach((c) => partial.loaded.add(c));
      }
      if (cancelled) return;
      show();
    } else {
      clear(box).append(empty('No runs chosen. Select runs in a runs table and press “Compare”.'));
    }
  } catch (e) { clear(box).append(errorBox(e)); }

  /** The param and metric keys of the runs (plus every key of the experiments when only some runs are here). */
  function columnsOf(some) {
    const pk = new Set(); const mk = new Set();
    for (const r of some) { for (const k in r.params) pk.add(k); for (const k in r.metrics) mk.add(k); }
    if (extraKeys) { (extraKeys.param_keys || []).forEach((k) => pk.add(k)); (extraKeys.metric_keys || []).forEach((k) => mk.add(k)); }
    const paramKeys = [...pk].sort();
    const metricKeys = [...mk].sort();
    return { paramKeys, metricKeys, allCols: [...paramKeys.map((k) => `p:${k}`), ...metricKeys.map((k) => `m:${k}`)] };
  }

  function linkedCols() { return query.get('pc') ? query.get('pc').split(',').map(decodeURIComponent).filter(Boolean) : []; }

  /** The axes: the link's `pc`, else up to 6 params that vary between the runs, then metrics. */
  function chosenCols(some) {
    const { paramKeys, metricKeys, allCols } = columnsOf(some);
    const pc = linkedCols().filter((c) => allCols.includes(c));
    if (pc.length) return pc;
    const varies = (get) => { const seen = new Set(); for (const r of some) { seen.add(String(get(r))); if (seen.size > 1) return true; } return false; };
    const vp = paramKeys.filter((k) => varies(accessor(`p:${k}`))).slice(0, 6).map((k) => `p:${k}`);
    // metrics after the params; the first metric (alphabetically) goes last, where it colors the lines
    const vm = metricKeys.slice(0, Math.max(1, 7 - vp.length)).map((k) => `m:${k}`);
    return [...vp, ...vm.slice(1), ...vm.slice(0, 1)];
  }

  /** Fetch the columns `cols` ('p:…' / 'm:…') of every run when some runs lack them (opened by link). */
  async function ensureCols(cols) {
    if (!partial || !partial.more) return;
    const missing = [...new Set(cols)].filter((c) => !partial.loaded.has(c));
    if (!missing.length) return;
    const got = await api.runsWithKeys(partial.sel, { keys: splitCols(missing), offset: TABLE_MAX, total: partial.total });
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const r of got) {
      const row = byId.get(r.id);
      if (row) { Object.assign(row.params, r.params); Object.assign(row.metrics, r.metrics); }
    }
    missing.forEach((c) => partial.loaded.add(c));
  }

  function show() {
    document.body.dataset.compareLoadMs = String(Math.round(performance.now() - t0));
    status.textContent = `${rows.length.toLocaleString()} runs`;
    clear(box);
    if (!rows.length) { box.append(empty('No runs to compare.')); return; }
    const { paramKeys, metricKeys, allCols } = columnsOf(rows);
    // partial rows: the axes were chosen (on the complete first runs) before the others were fetched
    let pcCols = partial ? partial.cols.filter((c) => allCols.includes(c)) : chosenCols(rows);
    if (!pcCols.length) pcCols = chosenCols(rows.slice(0, TABLE_MAX));
    box.append(section('Parallel coordinates', pcSection()));
    // the other sections after the plot's first frame: the wide side-by-side table's layout would delay it
    requestAnimationFrame(() => setTimeout(() => box.append(
      section('Scatter plot', scatterSection()),
      section('Contour plot', contourSection()),
      section(`Runs side by side${rows.length > TABLE_MAX ? ` (first ${TABLE_MAX})` : ''}`, tableSection()))));

    function pcSection() {
      const holder = h('div', { class: 'pc-holder' });
      const list = h('div', { class: 'chk-list' });
      const fillList = (cols) => clear(list).append(...cols.map((c) => h('label', { class: 'chk' }, h('input', { type: 'checkbox', checked: pcCols.includes(c), onchange: (e) => {
        pcCols = e.target.checked ? [...pcCols, c] : pcCols.filter((x) => x !== c);
        const q = new URLSearchParams(query); q.set('pc', pcCols.map(encodeURIComponent).join(',')); setQuery(q);
        ensureCols(pcCols).then(draw, (err) => clear(holder).append(errorBox(err)));
      } }), `${c[0] === 'p' ? 'param' : 'metric'}: ${colLabel(c)}`)));
      fillList(allCols);
      onKeys = () => fillList(columnsOf(rows).allCols);
      const chooser = h('details', { class: 'pc-chooser' }, h('summary', null, 'Axes (last one colors the lines)'), list);
      const selInfo = h('p', { class: 'muted' });
      const draw = () => {
        clear(holder);
        if (!pcCols.length) { holder.append(empty('Choose at least one axis.')); return; }
        holder.append(parallelCoordinates(rows, pcCols.map((c) => ({ id: c, label: `${colLabel(c)}`, get: accessor(c) })), {
          onBrush: (kept) => { selInfo.textContent = kept.length <= 20 ? `Selected: ${kept.map((r) => r.name || r.id).join(', ')}` : `${kept.length} runs in the brushed range.`; },
        }));
      };
      ensureCols(pcCols).then(draw, (err) => clear(holder).append(errorBox(err)));
      return [chooser, holder, selInfo];
    }

    function colSelect(label, value) {
      return h('select', { 'aria-label': label }, allCols.map((c) => h('option', { value: c, selected: c === value }, `${c[0] === 'p' ? 'param' : 'metric'}: ${colLabel(c)}`)));
    }

    function scatterSection() {
      const xs = colSelect('Scatter X', query.get('sx') || pcCols[0] || allCols[0]);
      const ys = colSelect('Scatter Y', query.get('sy') || pcCols[pcCols.length - 1] || allCols[0]);
      const plot = h('div', { class: 'plot', id: 'scatter-plot' });
      const draw = async () => {
        const gx = accessor(xs.value); const gy = accessor(ys.value);
        try {
          await ensureCols([xs.value, ys.value]);
          const pts = rows.filter((r) => gx(r) != null && gy(r) != null);
          const Plotly = await loadPlotly();
          await Plotly.react(plot, [{ type: pts.length > 3000 ? 'scattergl' : 'scatter', mode: 'markers', x: pts.map(gx), y: pts.map(gy), text: pts.map((r) => r.name), marker: { size: pts.length > 1000 ? 4 : 8, opacity: 0.7, color: '#1f77b4' }, hovertemplate: '%{text}<br>x=%{x}<br>y=%{y}<extra></extra>' }],
            { ...LAYOUT, height: 360, xaxis: { title: { text: colLabel(xs.value) }, type: axisType(pts.map(gx)) }, yaxis: { title: { text: colLabel(ys.value) }, type: axisType(pts.map(gy)) } }, CONFIG);
          plot.dataset.points = String(pts.length);
        } catch (e) { clear(plot).append(errorBox(e)); }
      };
      xs.addEventListener('change', draw); ys.addEventListener('change', draw);
      lazy(plot, draw);
      return [h('div', { class: 'toolbar' }, h('label', null, 'X ', xs), h('label', null, 'Y ', ys)), plot];
    }

    function contourSection() {
      const usable = (c) => { // numeric everywhere and at least two different values
        const get = accessor(c); let first; let two = false;
        for (const r of rows) {
          const v = get(r);
          if (v == null || v === '') continue;
          if (isNaN(Number(v))) return false;
          if (first === undefined) first = v; else if (v !== first) two = true;
        }
        return two;
      };
      const numericCols = allCols.filter(usable);
      if (numericCols.length < 3) return h('p', { class: 'muted' }, 'A contour plot needs three numeric params or metrics that vary between the runs.');
      const zDefault = numericCols.filter((c) => c[0] === 'm').pop() || numericCols[2];
      const [xDefault, yDefault] = numericCols.filter((c) => c !== zDefault);
      const xs = colSelect('Contour X', xDefault); const ys = colSelect('Contour Y', yDefault); const zs = colSelect('Contour Z', zDefault);
      const plot = h('div', { class: 'plot', id: 'contour-plot' });
      const draw = async () => {
        const gx = accessor(xs.value); const gy = accessor(ys.value); const gz = accessor(zs.value);
        try {
          await ensureCols([xs.value, ys.value, zs.value]);
          const pts = rows.filter((r) => gx(r) != null && gy(r) != null && gz(r) != null).slice(0, 5000);
          if (new Set(pts.map(gx)).size < 2 || new Set(pts.map(gy)).size < 2) { clear(plot).append(empty('X and Y need at least two different values each.')); return; }
          const Plotly = await loadPlotly();
          await Plotly.react(plot, [{ type: 'contour', x: pts.map((r) => Number(gx(r))), y: pts.map((r) => Number(gy(r))), z: pts.map((r) => Number(gz(r))), colorscale: 'Viridis', connectgaps: true, contours: { coloring: 'heatmap' }, colorbar: { title: { text: colLabel(zs.value) } } },
            { type: 'scatter', mode: 'markers', x: pts.map((r) => Number(gx(r))), y: pts.map((r) => Number(gy(r))), marker: { color: '#fff', size: 5, line: { width: 1, color: '#000' } }, showlegend: false, text: pts.map((r) => r.name) }],
          { ...LAYOUT, height: 380, xaxis: { title: { text: colLabel(xs.value) } }, yaxis: { title: { text: colLabel(ys.value) } } }, CONFIG);
        } catch (e) { clear(plot).append(errorBox(e)); }
      };
      [xs, ys, zs].forEach((s) => s.addEventListener('change', draw));
      lazy(plot, draw);
      return [h('div', { class: 'toolbar' }, h('label', null, 'X ', xs), h('label', null, 'Y ', ys), h('label', null, 'Z (color) ', zs)), plot];
    }

    function tableSection() {
      const shown = rows.slice(0, TABLE_MAX);
      let diffOnly = query.get('diff') === '1';
      const holder = h('div', { class: 'scroll-x' });
      const chk = h('label', { class: 'chk' }, h('input', { type: 'checkbox', checked: diffOnly, onchange: (e) => { diffOnly = e.target.checked; const q = new URLSearchParams(query); if (diffOnly) q.set('diff', '1'); else q.delete('diff'); setQuery(q); draw(); } }), 'Differences only');
      const draw = () => {
        const line = (label, get, fmt = (v) => (v == null ? '' : String(v))) => {
          const vals = shown.map(get);
          const differs = new Set(vals.map((v) => String(v))).size > 1;
          if (diffOnly && !differs) return null;
          return h('tr', { class: differs ? 'differs' : '' }, h('th', null, label), vals.map((v) => h('td', null, fmt(v))));
        };
        clear(holder).append(h('table', { class: 'table compare' },
          h('thead', null, h('tr', null, h('th', null, 'Run'), shown.map((r) => h('th', null, h('a', { href: `#/experiments/${encodeURIComponent(r.exp)}/runs/${encodeURIComponent(r.id)}` }, r.name || r.id))))),
          h('tbody', null,
            line('Start time', (r) => r.start, fmtTime), line('Status', (r) => r.status),
            h('tr', { class: 'group' }, h('th', { colspan: shown.length + 1 }, `Parameters (${paramKeys.length})`)),
            paramKeys.map((k) => line(k, (r) => r.params[k])),
            h('tr', { class: 'group' }, h('th', { colspan: shown.length + 1 }, `Metrics (${metricKeys.length})`)),
            metricKeys.map((k) => line(k, (r) => r.metrics[k], fmtNum)))));
      };
      draw();
      return [chk, holder];
    }
  }
  return () => { cancelled = true; if (loader) loader.cancel(); };
}

/** plotly axis type: log when every value is positive and they span 3+ orders of magnitude. */
function axisType(values) {
  const nums = values.map(Number).filter((v) => isFinite(v));
  if (!nums.length) return 'linear';
  const lo = Math.min(...nums); const hi = Math.max(...nums);
  return lo > 0 && hi / lo >= 1000 ? 'log' : 'linear';
}

/** 'p:…' / 'm:…' columns as {params: [...], metrics: [...]} keys. */
function splitCols(cols) {
  return { params: cols.filter((c) => c[0] === 'p').map((c) => c.slice(2)), metrics: cols.filter((c) => c[0] === 'm').map((c) => c.slice(2)) };
}

function section(title, content) {
  return h('section', { class: 'card' }, h('h2', null, title), content);
}

/**
 * Draw a plotly chart only when it scrolls into view, and never before the parallel coordinates are on
 * screen: plotly.js is 4.8 MB of script to compile, which must not delay the main plot.
 */
function lazy(el, draw) {
  const io = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting)) return;
    io.disconnect();
    const idle = window.requestIdleCallback || ((fn) => setTimeout(fn, 200));
    requestAnimationFrame(() => requestAnimationFrame(() => idle(() => draw(), { timeout: 1500 })));
  });
  io.observe(el);
}
