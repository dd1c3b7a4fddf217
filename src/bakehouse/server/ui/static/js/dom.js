// Safe DOM building: user strings only ever become text nodes or attribute values, never HTML.

const SAFE_URL = /^(https?:|mailto:|#|\/|\.\/|[^:]*$)/i;

/** h('div', {class: 'x', onclick: fn}, 'text', child, [children]) */
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.setAttribute('class', v);
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value' && !svg) el.value = v;
      else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'indeterminate') el[k] = !!v;
      else if ((k === 'href' || k === 'src') && !svg) el.setAttribute(k, safeUrl(String(v)));
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

export function safeUrl(url) {
  return SAFE_URL.test(url.trim()) ? url : '#';
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function fmtTime(ms) {
  if (ms === undefined || ms === null || ms === '') return '';
  const d = new Date(Number(ms));
  if (isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtDuration(ms) {
  if (ms === undefined || ms === null || isNaN(ms) || ms < 0) return '';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  const hr = Math.floor(m / 60);
  return `${hr}h ${m % 60}m`;
}

export function fmtNum(v) {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e7)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  n = Number(n);
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

export function statusBadge(status) {
  return h('span', { class: `badge st-${String(status || '').toLowerCase()}` }, status || '');
}

export function spinner(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}

export function empty(text, ...extra) {
  return h('div', { class: 'empty' }, h('p', null, text), ...extra);
}

/** A small toast message in the corner. */
export function toast(msg, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) { box = h('div', { id: 'toasts', 'aria-live': 'polite' }); document.body.appendChild(box); }
  // errors (a refused write, say) are announced at once and stay long enough to be read
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : undefined }, msg);
  box.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 10000 : 4000);
}

/** Download text as a file (CSV export). */
export function downloadText(name, text, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { download: name });
  a.href = url;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A tiny modal prompt built from DOM (keyboard: Enter submits, Escape cancels). */
export function ask(title, fields) {
  return new Promise((resolve) => {
    const inputs = fields.map((f) => h(f.multiline ? 'textarea' : 'input', { name: f.name, value: f.value || '', placeholder: f.placeholder || '', 'aria-label': f.label, rows: f.multiline ? 8 : undefined }));
    const close = (val) => { dlg.close(); dlg.remove(); resolve(val); };
    const form = h('form', { method: 'dialog', onsubmit: (e) => { e.preventDefault(); const out = {}; fields.forEach((f, i) => { out[f.name] = inputs[i].value; }); close(out); } },
      h('h3', null, title),
      fields.map((f, i) => h('label', null, f.label, inputs[i])),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'OK'), h('button', { type: 'button', onclick: () => close(null) }, 'Cancel')));
    const dlg = h('dialog', { class: 'dialog' }, form);
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(null); });
    document.body.appendChild(dlg);
    dlg.showModal();
    if (inputs[0]) inputs[0].focus();
  });
}

export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

/** A "read only" marker where edit buttons would be (with --auth, for a user who may only read). */
export function readOnly(level) {
  return h('span', { class: 'muted read-only', title: `Your permission${level ? ` (${level})` : ''} does not allow changes here.` }, 'read only');
}
