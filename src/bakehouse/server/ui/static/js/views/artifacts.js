// Artifact browser with previews: text, JSON, YAML, CSV (as a table), images, HTML (sandboxed iframe,
// no scripts), Markdown and MLmodel (flavors, signature, a snippet to load the model).
import * as api from '../api.js';
import { h, clear, errorBox, fmtBytes, spinner, empty } from '../dom.js';
import { markdown } from '../markdown.js';
import { setQuery } from '../app.js';

const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp|ico)$/i;
const TEXT = /\.(txt|log|py|yaml|yml|toml|ini|cfg|sh|r|sql|js|ts|java|scala|go|rs|c|h|cpp|requirements|lock|env|text)$|(^|\/)(MLproject|Dockerfile|LICENSE|requirements\.txt|python_env\.yaml|conda\.yaml)$/i;
const MAX_PREVIEW = 2 * 1024 * 1024;

export function renderArtifacts(container, run, initialPath) {
  const runId = run.info.run_id;
  const tree = h('nav', { class: 'art-tree', 'aria-label': 'Artifacts' });
  const preview = h('div', { class: 'art-preview' });
  container.append(h('div', { class: 'artifacts' }, tree, preview));
  let active = null;

  async function listInto(ul, path, depth) {
    ul.append(h('li', { class: 'muted' }, 'Loading…'));
    let files;
    try { files = await api.listArtifacts(runId, path || undefined); } catch (e) { clear(ul).append(h('li', null, errorBox(e))); return; }
    clear(ul);
    if (!files.length && depth === 0) { preview.replaceChildren(empty('No artifacts recorded for this run.', h('p', { class: 'muted' }, 'Use log_artifact(), log_text() or log_model() to add some.'))); return; }
    files.sort((a, b) => (b.is_dir - a.is_dir) || a.path.localeCompare(b.path));
    for (const f of files) {
      const name = f.path.split('/').pop();
      if (f.is_dir) {
        const sub = h('ul', { hidden: true });
        const btn = h('button', { class: 'art-item dir', 'aria-expanded': 'false', onclick: async () => {
          const open = sub.hidden;
          sub.hidden = !open;
          btn.setAttribute('aria-expanded', String(open));
          if (open && !sub.dataset.loaded) { sub.dataset.loaded = '1'; await listInto(sub, f.path, depth + 1); }
          if (sub.querySelector('button[data-path="' + CSS.escape(f.path + '/MLmodel') + '"]') && open) select(f.path + '/MLmodel', { path: f.path + '/MLmodel', is_dir: false });
        } }, name);
        btn.dataset.path = f.path;
        ul.append(h('li', null, btn, sub));
        if (initialPath && (initialPath === f.path || initialPath.startsWith(f.path + '/'))) btn.click();
      } else {
        const btn = h('button', { class: 'art-item file', onclick: () => select(f.path, f) }, name, h('span', { class: 'muted size' }, fmtBytes(f.file_size)));
        btn.dataset.path = f.path;
        ul.append(h('li', null, btn));
        if (initialPath === f.path) select(f.path, f);
      }
    }
    if (depth === 0 && !initialPath && !active) {
      const first = files.find((f) => !f.is_dir);
      if (first) select(first.path, first);
      else preview.replaceChildren(h('p', { class: 'muted' }, 'Select a file to preview it.'));
    }
  }

  async function select(path, f) {
    active = path;
    tree.querySelectorAll('.art-item.active').forEach((b) => b.classList.remove('active'));
    const btn = tree.querySelector(`button[data-path="${CSS.escape(path)}"]`);
    if (btn) btn.classList.add('active');
    const q = new URLSearchParams({ tab: 'artifacts', path });
    setQuery(q);
    const url = api.artifactUrl(runId, path);
    const head = h('div', { class: 'card-head' }, h('h3', null, path), h('a', { class: 'button small', href: url, download: path.split('/').pop() }, 'Download'));
    const box = h('div', { class: 'art-body' }, spinner());
    clear(preview).append(head, box);
    try {
      await renderPreview(box, path, url, f, runId);
    } catch (e) { clear(box).append(errorBox(e)); }
  }

  const root = h('ul', { class: 'art-root' });
  tree.append(root);
  listInto(root, '', 0);
}

async function fetchText(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`Could not read the artifact (HTTP ${r.status}).`);
  return r.text();
}

async function renderPreview(box, path, url, f, runId) {
  const name = path.split('/').pop();
  const size = f && f.file_size != null ? Number(f.file_size) : 0;
  if (IMAGE.test(name)) { clear(box).append(h('img', { src: url, alt: name, class: 'art-img' })); return; }
  if (size > MAX_PREVIEW) { clear(box).append(h('p', { class: 'muted' }, `This file is ${fmtBytes(size)}; download it to view it.`)); return; }
  if (/\.html?$/i.test(name)) {
    const text = await fetchText(url);
    const frame = h('iframe', { class: 'art-html', sandbox: '', referrerpolicy: 'no-referrer', title: name });
    frame.srcdoc = text; // sandbox="" : no scripts, no forms, a unique origin
    clear(box).append(frame);
    return;
  }
  if (name === 'MLmodel') { clear(box).append(mlmodelView(await fetchText(url), path, runId)); return; }
  if (/\.json$/i.test(name)) {
    const text = await fetchText(url);
    let pretty = text;
    try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch { /* show as is */ }
    clear(box).append(h('pre', { class: 'code' }, pretty));
    return;
  }
  if (/\.(csv|tsv)$/i.test(name)) { clear(box).append(csvTable(await fetchText(url), /\.tsv$/i.test(name) ? '\t' : ',')); return; }
  if (/\.md$/i.test(name)) { clear(box).append(markdown(await fetchText(url))); return; }
  if (TEXT.test(path) || size < 256 * 1024) {
    const text = await fetchText(url);
    if (/[\x00-\x08\x0e-\x1f]/.test(text.slice(0, 2000))) { clear(box).append(h('p', { class: 'muted' }, 'Binary file: no preview.')); return; }
    clear(box).append(h('pre', { class: 'code' }, text));
    return;
  }
  clear(box).append(h('p', { class: 'muted' }, 'No preview for this file type.'));
}

export function parseCsv(text, sep = ',', maxRows = 500) {
  const rows = []; let row = []; let cell = ''; let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') { if (text[i + 1] === '"') { cell += '"'; i++; } else q = false; } else cell += c;
    } else if (c === '"') q = true;
    else if (c === sep) { row.push(cell); cell = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell); rows.push(row); row = []; cell = '';
      if (rows.length > maxRows) break;
    } else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

function csvTable(text, sep) {
  const rows = parseCsv(text, sep);
  if (!rows.length) return h('p', { class: 'muted' }, 'Empty file.');
  const [head, ...rest] = rows;
  return h('div', { class: 'scroll-x' }, h('table', { class: 'table csv' }, h('thead', null, h('tr', null, head.map((c) => h('th', null, c)))),
    h('tbody', null, rest.slice(0, 500).map((r) => h('tr', null, r.map((c) => h('td', null, c)))))),
    rest.length > 500 ? h('p', { class: 'muted' }, 'Showing the first 500 rows.') : null);
}

/** Just enough YAML for MLmodel files: nested mappings, scalars, quoted (possibly folded) strings. */
export function parseSimpleYaml(text) {
  const root = {}; const stack = [{ indent: -1, obj: root }];
  const lines = text.replace(/\r/g, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.trim() || line.trim().startsWith('#') || line.trim().startsWith('- ')) continue;
    const indent = line.length - line.trimStart().length;
    const m = line.trim().match(/^([^:]+):\s*(.*)$/);
    if (!m) continue;
    while (stack.length > 1 && stack[stack.length - 1].indent >= indent) stack.pop();
    const parent = stack[stack.length - 1].obj;
    let val = m[2];
    if (val === '') { const obj = {}; parent[m[1]] = obj; stack.push({ indent, obj }); continue; }
    const quote = val[0] === "'" || val[0] === '"' ? val[0] : null;
    if (quote) {
      while (!closed(val, quote) && i + 1 < lines.length) val += ' ' + lines[++i].trim();
      val = val.slice(1, -1);
      val = quote === "'" ? val.replace(/''/g, "'") : val.replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    parent[m[1]] = val;
  }
  return root;
}

function closed(val, quote) {
  if (val.length < 2 || !val.endsWith(quote)) return false;
  if (quote === "'") { let n = 0; for (let j = val.length - 1; j > 0 && val[j] === "'"; j--) n++; return n % 2 === 1; }
  return val[val.length - 2] !== '\\';
}

export function signatureTable(label, json) {
  let cols;
  try { cols = JSON.parse(json); } catch { return h('pre', { class: 'code' }, json); }
  if (!Array.isArray(cols)) return h('pre', { class: 'code' }, JSON.stringify(cols, null, 2));
  return h('div', null, h('h4', null, label), h('table', { class: 'table sig' }, h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Type'), h('th', null, 'Required'))),
    h('tbody', null, cols.map((c) => h('tr', null, h('td', null, c.name ?? '(unnamed)'), h('td', null, c.type === 'tensor' ? `tensor ${c['tensor-spec'] ? `${c['tensor-spec'].dtype} ${JSON.stringify(c['tensor-spec'].shape)}` : ''}` : c.type || ''), h('td', null, c.required === false ? 'no' : 'yes'))))));
}

export function mlmodelView(text, path, runId) {
  const y = parseSimpleYaml(text);
  const dir = path.split('/').slice(0, -1).join('/');
  const uri = runId ? `runs:/${runId}/${dir}` : path;
  const flavors = Object.keys(y.flavors || {});
  const sig = y.signature || {};
  return h('div', { class: 'mlmodel' },
    h('p', null, h('strong', null, 'Flavors: '), flavors.join(', ') || 'none'),
    y.model_uuid ? h('p', null, h('strong', null, 'Model UUID: '), h('code', null, y.model_uuid)) : null,
    h('h3', null, 'Signature'),
    sig.inputs ? signatureTable('Inputs', sig.inputs) : h('p', { class: 'muted' }, 'No signature recorded.'),
    sig.outputs ? signatureTable('Outputs', sig.outputs) : null,
    h('h3', null, 'Load this model'),
    h('pre', { class: 'code snippet' }, `import bakehouse.pyfunc\n\nmodel = bakehouse.pyfunc.load_model("${uri}")\npredictions = model.predict(data)\n\n# or with the mlflow client against this server:\nimport mlflow\nmodel = mlflow.pyfunc.load_model("${uri}")`),
    h('details', null, h('summary', null, 'Raw MLmodel'), h('pre', { class: 'code' }, text)));
}
