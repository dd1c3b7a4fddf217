// Inline SVG sparkline (built with createElementNS, no markup strings).
import { h } from './dom.js';

export function sparkline(values, width = 120, height = 24) {
  const vals = values.filter((v) => typeof v === 'number' && isFinite(v));
  const svg = h('svg:svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'spark', role: 'img', 'aria-label': 'trend' });
  if (vals.length < 2) return svg;
  let lo = Infinity; let hi = -Infinity;
  for (const v of vals) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const span = hi - lo || 1;
  const pts = vals.map((v, i) => `${((i / (vals.length - 1)) * (width - 2) + 1).toFixed(1)},${(height - 2 - ((v - lo) / span) * (height - 4)).toFixed(1)}`);
  svg.appendChild(h('svg:polyline', { points: pts.join(' '), fill: 'none', stroke: 'currentColor', 'stroke-width': '1.5' }));
  return svg;
}
