// Parallel coordinates on a canvas: 10,000 runs draw in well under a second (lines are batched by
// color into a few paths). Axes, labels and ticks are an SVG overlay; drag on an axis to brush a range.
import { h, fmtNum } from './dom.js';

const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];
const PAD = { l: 60, r: 70, t: 46, b: 28 };

function axisScale(values) {
  const present = values.filter((v) => v !== null && v !== undefined && v !== '');
  const numeric = present.length > 0 && present.every((v) => typeof v === 'number' || (!isNaN(Number(v)) && String(v).trim() !== ''));
  if (numeric) {
    let lo = Infinity; let hi = -Infinity;
    for (const v of present) { const n = Number(v); if (isFinite(n)) { if (n < lo) lo = n; if (n > hi) hi = n; } }
    if (lo === Infinity) { lo = 0; hi = 1; }
    const missing = (v) => v === null || v === undefined || v === '' || !isFinite(Number(v));
    // one value for every run: lines cross the middle, and the axis shows that value once
    if (lo === hi) return { numeric: true, constant: true, lo, hi, value: () => lo, pos: (v) => (missing(v) ? null : 0.5) };
    if (lo > 0 && hi / lo >= 1000) {
      // values spanning 3+ orders of magnitude (learning rates, C, ...) get a log axis
      const a = Math.log10(lo); const b = Math.log10(hi);
      return { numeric: true, log: true, lo, hi, value: (p) => 10 ** (a + p * (b - a)), pos: (v) => (missing(v) ? null : (Math.log10(Number(v)) - a) / (b - a)) };
    }
    return { numeric: true, lo, hi, value: (p) => lo + p * (hi - lo), pos: (v) => (missing(v) ? null : (Number(v) - lo) / (hi - lo)) };
  }
  const cats = [...new Set(present.map(String))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const idx = new Map(cats.map((c, i) => [c, i]));
  return { numeric: false, cats, pos: (v) => (v === null || v === undefined || v === '' ? null : cats.length === 1 ? 0.5 : idx.get(String(v)) / (cats.length - 1)) };
}

/** [position, label] ticks of a numeric axis: a constant axis has one; labels that round to the same text
 * (a range narrower than the printed precision) are shown once. */
function numericTicks(s) {
  if (s.constant) return [[0.5, fmtNum(s.lo)]];
  const seen = new Set();
  const ticks = [];
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    const label = fmtNum(Number(s.value(p).toPrecision(s.log ? 2 : 4)));
    if (!seen.has(label)) { seen.add(label); ticks.push([p, label]); }
  }
  return ticks;
}

/**
 * rows: objects; axes: [{id, label, get(row)}]; the last axis colors the lines.
 * Returns the element (with data-lines / data-render-ms set after drawing).
 */
export function parallelCoordinates(rows, axes, { height = 420, onBrush } = {}) {
  const wrap = h('div', { class: 'parcoords', role: 'img', 'aria-label': `Parallel coordinates of ${rows.length} runs over ${axes.length} axes` });
  const canvas = h('canvas', { class: 'pc-canvas' });
  const overlay = h('svg:svg', { class: 'pc-axes' });
  const info = h('div', { class: 'muted pc-info' });
  wrap.append(canvas, overlay, info);
  const scales = axes.map((a) => axisScale(rows.map(a.get)));
  // pre-compute normalized positions once (Float32Array, NaN = missing)
  const n = rows.length; const m = axes.length;
  const pos = new Float32Array(n * m);
  for (let j = 0; j < m; j++) { const s = scales[j]; const g = axes[j].get; for (let i = 0; i < n; i++) { const p = s.pos(g(rows[i])); pos[i * m + j] = p === null ? NaN : p; } }
  const brushes = axes.map(() => null); // [lo, hi] in 0..1 (value space)

  function draw() {
    const t0 = performance.now();
    const width = Math.max(320, wrap.clientWidth || 900);
    const dpr = window.devicePixelRatio || 1;
    canvas.width = width * dpr; canvas.height = height * dpr;
    canvas.style.width = `${width}px`; canvas.style.height = `${height}px`;
    overlay.setAttribute('width', width); overlay.setAttribute('height', height);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const plotW = width - PAD.l - PAD.r; const plotH = height - PAD.t - PAD.b;
    const xs = axes.map((_, j) => PAD.l + (m === 1 ? plotW / 2 : (j * plotW) / (m - 1)));
    const y = (p) => PAD.t + (1 - p) * plotH;
    const active = (i) => brushes.every((b, j) => !b || (pos[i * m + j] >= b[0] && pos[i * m + j] <= b[1]));
    const alpha = n > 2000 ? 0.12 : n > 300 ? 0.3 : 0.8;
    // dim (filtered-out) lines first, then colored lines batched by color bucket
    const buckets = VIRIDIS.map(() => []); const dim = [];
    let shown = 0;
    for (let i = 0; i < n; i++) {
      if (!active(i)) { dim.push(i); continue; }
      shown++;
      const c = pos[i * m + m - 1];
      buckets[isNaN(c) ? 0 : Math.min(VIRIDIS.length - 1, Math.floor(c * VIRIDIS.length))].push(i);
    }
    const stroke = (list, color, a) => {
      if (!list.length) return;
      ctx.strokeStyle = color; ctx.globalAlpha = a; ctx.lineWidth = n > 2000 ? 0.7 : 1.4;
      ctx.beginPath();
      for (const i of list) {
        let pen = false;
        for (let j = 0; j < m; j++) {
          const p = pos[i * m + j];
          if (isNaN(p)) { pen = false; continue; }
          if (pen) ctx.lineTo(xs[j], y(p)); else { ctx.moveTo(xs[j], y(p)); pen = true; }
        }
      }
      ctx.stroke();
    };
    stroke(dim, '#bbb', Math.min(0.15, alpha));
    buckets.forEach((list, b) => stroke(list, VIRIDIS[b], alpha));
    ctx.globalAlpha = 1;
    // axes overlay
    while (overlay.firstChild) overlay.removeChild(overlay.firstChild);
    axes.forEach((a, j) => {
      const s = scales[j]; const x = xs[j];
      const g = h('svg:g', { class: 'pc-axis', 'data-axis': a.id });
      g.append(h('svg:line', { x1: x, x2: x, y1: PAD.t, y2: PAD.t + plotH, stroke: '#333', 'stroke-width': 1 }));
      const title = h('svg:text', { x, y: PAD.t - 24, 'text-anchor': 'middle', class: 'pc-title' }, a.label.length > 22 ? `${a.label.slice(0, 21)}…` : a.label);
      if (s.log) g.append(h('svg:text', { x, y: PAD.t - 10, 'text-anchor': 'middle', class: 'pc-note' }, 'log scale'));
      g.append(h('svg:title', null, a.label), title);
      const ticks = s.numeric ? numericTicks(s) : s.cats.length <= 12 ? s.cats.map((c, i) => [s.cats.length === 1 ? 0.5 : i / (s.cats.length - 1), c]) : [[0, s.cats[0]], [1, s.cats[s.cats.length - 1]]];
      for (const [p, label] of ticks) {
        g.append(h('svg:line', { x1: x - 4, x2: x, y1: y(p), y2: y(p), stroke: '#333' }));
        g.append(h('svg:text', { x: x - 6, y: y(p) + 4, 'text-anchor': 'end', class: 'pc-tick' }, String(label).slice(0, 12)));
      }
      const b = brushes[j];
      if (b) g.append(h('svg:rect', { x: x - 7, width: 14, y: y(b[1]), height: Math.max(2, y(b[0]) - y(b[1])), class: 'pc-brush' }));
      // brushing: drag vertically on the axis
      const hit = h('svg:rect', { x: x - 12, width: 24, y: PAD.t, height: plotH, fill: 'transparent', class: 'pc-hit', tabindex: '0', 'aria-label': `Brush ${a.label}` });
      hit.addEventListener('pointerdown', (e) => {
        const rect = overlay.getBoundingClientRect();
        const toP = (cy) => Math.min(1, Math.max(0, 1 - (cy - rect.top - PAD.t) / plotH));
        const start = toP(e.clientY);
        e.preventDefault();
        // listen on window: the overlay is redrawn while dragging
        const move = (ev) => { const p = toP(ev.clientY); brushes[j] = Math.abs(p - start) < 0.01 ? null : [Math.min(start, p), Math.max(start, p)]; draw(); };
        const up = (ev) => { move(ev); window.removeEventListener('pointermove', move); window.removeEventListener('pointerup', up); if (onBrush) onBrush(rows.filter((_, i) => active(i))); };
        window.addEventListener('pointermove', move); window.addEventListener('pointerup', up);
      });
      hit.addEventListener('keydown', (e) => { if (e.key === 'Escape' || e.key === 'Delete') { brushes[j] = null; draw(); } });
      g.append(hit);
      overlay.append(g);
    });
    const ms = performance.now() - t0;
    wrap.dataset.lines = String(shown);
    wrap.dataset.axes = String(m);
    wrap.dataset.renderMs = ms.toFixed(1);
    info.textContent = `${shown.toLocaleString()} of ${n.toLocaleString()} runs shown · color: ${axes[m - 1] ? axes[m - 1].label : ''} · drag on an axis to filter, Esc on a focused axis clears`;
  }
  const ro = new ResizeObserver(() => draw());
  requestAnimationFrame(() => { draw(); ro.observe(wrap); });
  wrap.redraw = draw;
  return wrap;
}
