// Model registry: models list (search), model page (description, tags, aliases, versions with stages),
// version page (source run, signature, tags, aliases, stage, alias/stage history).
import * as api from '../api.js';
import { h, clear, errorBox, fmtTime, spinner, toast, ask, empty, readOnly } from '../dom.js';
import { markdown } from '../markdown.js';
import { setQuery } from '../app.js';
import { mlmodelView, parseSimpleYaml } from './artifacts.js';

const STAGES = ['None', 'Staging', 'Production', 'Archived'];
const sq = (s) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");

export async function render(main, args, query) {
  const [name, version] = args;
  if (name && version) return versionPage(main, name, version);
  if (name) return modelPage(main, name);
  return listPage(main, query);
}

function crumbs(...parts) {
  return h('nav', { class: 'crumbs' }, h('a', { href: '#/models' }, 'Models'), parts.map((p) => [' / ', p]));
}

async function listPage(main, query) {
  document.title = 'Models · Bakehouse';
  let q = query.get('q') || '';
  const search = h('input', { type: 'search', class: 'search', value: q, placeholder: 'Search models by name', 'aria-label': 'Search models' });
  const list = h('div');
  main.append(h('div', { class: 'page-head' }, h('h1', null, 'Registered models')),
    h('div', { class: 'toolbar' }, h('form', { class: 'searchform', onsubmit: (e) => { e.preventDefault(); q = search.value.trim(); const p = new URLSearchParams(); if (q) p.set('q', q); setQuery(p); load(); } }, search, h('button', { type: 'submit', class: 'primary' }, 'Search'))),
    list);
  async function load() {
    clear(list).append(spinner());
    try {
      const models = []; let token = null;
      do {
        // prompts (MLflow's prompt registry) are registered models too, but not models: hidden, as MLflow's UI does
        const filter = [q ? `name ILIKE '%${sq(q)}%'` : null, "tags.`mlflow.prompt.is_prompt` != 'true'"].filter(Boolean).join(' AND ');
        const out = await api.get('registered-models/search', { filter, max_results: 1000, page_token: token, order_by: 'name ASC' });
        models.push(...(out.registered_models || [])); token = out.next_page_token;
      } while (token && models.length < 10000);
      clear(list);
      if (!models.length) { list.append(empty(q ? 'No model matches this search.' : 'No registered models yet.', h('p', { class: 'muted' }, 'Register one with register_model() or from a run’s model.'))); return; }
      list.append(h('table', { class: 'table models' }, h('thead', null, h('tr', null, ['Name', 'Latest version', 'Aliases', 'Tags', 'Last modified'].map((t) => h('th', null, t)))),
        h('tbody', null, models.map((m) => {
          const latest = (m.latest_versions || []).reduce((a, v) => (!a || Number(v.version) > Number(a.version) ? v : a), null);
          return h('tr', null, h('td', null, h('a', { href: `#/models/${encodeURIComponent(m.name)}` }, m.name)),
            h('td', null, latest ? h('a', { href: `#/models/${encodeURIComponent(m.name)}/versions/${latest.version}` }, `Version ${latest.version}`) : ''),
            h('td', null, (m.aliases || []).map((a) => h('span', { class: 'tag alias' }, `@${a.alias} → v${a.version}`))),
            h('td', null, (m.tags || []).map((t) => h('span', { class: 'tag' }, `${t.key}: ${t.value}`))),
            h('td', null, fmtTime(m.last_updated_timestamp)));
        }))));
    } catch (e) { clear(list).append(errorBox(e)); }
  }
  load();
}

function editableDescription(text, onSave, editable = true) {
  const view = h('div', { class: 'desc' });
  const show = () => clear(view).append(text ? markdown(text) : h('p', { class: 'muted' }, 'No description.'));
  show();
  const edit = () => {
    const ta = h('textarea', { rows: 6, value: text, 'aria-label': 'Description (Markdown)' });
    clear(view).append(ta, h('div', { class: 'row' }, h('button', { class: 'primary', onclick: async () => { try { await onSave(ta.value); text = ta.value; show(); toast('Saved'); } catch (e) { toast(e.message, 'error'); } } }, 'Save'), h('button', { onclick: show }, 'Cancel')));
    ta.focus();
  };
  return h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Description'), editable ? h('button', { class: 'small', onclick: edit }, 'Edit') : null), view);
}

function tagsCard(tags, setTag, delTag, reload, editable = true) {
  return h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Tags'), !editable ? null : h('button', { class: 'small', onclick: async () => {
    const v = await ask('Add tag', [{ name: 'key', label: 'Key' }, { name: 'value', label: 'Value' }]);
    if (v && v.key.trim()) { try { await setTag(v.key.trim(), v.value); reload(); } catch (e) { toast(e.message, 'error'); } }
  } }, 'Add tag')),
  tags.length ? h('table', { class: 'table kvt' }, h('tbody', null, tags.map((t) => h('tr', null, h('td', null, t.key), h('td', { class: 'val' }, t.value),
    editable ? h('td', { class: 'actions' }, h('button', { class: 'small danger', 'aria-label': `Delete tag ${t.key}`, onclick: async () => { try { await delTag(t.key); reload(); } catch (e) { toast(e.message, 'error'); } } }, '✕')) : null)))) : h('p', { class: 'muted' }, 'No tags.'));
}

async function modelPage(main, name) {
  document.title = `${name} · Bakehouse`;
  main.append(spinner());
  let model; let versions;
  try {
    [model] = await Promise.all([api.get('registered-models/get', { name }).then((r) => r.registered_model), api.loadPermissions()]);
    versions = (await api.get('model-versions/search', { filter: `name='${sq(name)}'`, max_results: 10000, order_by: 'version_number DESC' })).model_versions || [];
  } catch (e) { clear(main).append(errorBox(e)); return; }
  versions.sort((a, b) => Number(b.version) - Number(a.version));
  const aliasesOf = {};
  for (const a of model.aliases || []) (aliasesOf[a.version] = aliasesOf[a.version] || []).push(a.alias);
  const reload = () => { clear(main); modelPage(main, name); };
  // with --auth, changing a model needs EDIT on it: no buttons the server refuses
  const edit = api.can('registered_model', name, 'update');
  clear(main).append(
    h('div', { class: 'page-head' }, crumbs(), h('h1', null, model.name), edit ? null : readOnly(api.permissionOf('registered_model', name))),
    h('p', { class: 'muted' }, `Created ${fmtTime(model.creation_timestamp)} · last modified ${fmtTime(model.last_updated_timestamp)}`),
    editableDescription(model.description || '', (d) => api.send('PATCH', 'registered-models/update', { name, description: d }), edit),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Aliases'), !edit ? null : h('button', { class: 'small', onclick: async () => {
      const v = await ask('Set alias', [{ name: 'alias', label: 'Alias (e.g. champion)' }, { name: 'version', label: 'Version', value: versions[0] ? versions[0].version : '' }]);
      if (v && v.alias.trim()) { try { await api.post('registered-models/alias', { name, alias: v.alias.trim(), version: v.version.trim() }); reload(); } catch (e) { toast(e.message, 'error'); } }
    } }, 'Set alias')),
    (model.aliases || []).length ? h('ul', { class: 'plain' }, model.aliases.map((a) => h('li', null, h('span', { class: 'tag alias' }, `@${a.alias}`), ' → ', h('a', { href: `#/models/${encodeURIComponent(name)}/versions/${a.version}` }, `Version ${a.version}`), ' ',
      !edit ? null : h('button', { class: 'small danger', 'aria-label': `Remove alias ${a.alias}`, onclick: async () => { try { await api.send('DELETE', 'registered-models/alias', { name, alias: a.alias }); reload(); } catch (e) { toast(e.message, 'error'); } } }, '✕')))) : h('p', { class: 'muted' }, 'No aliases.')),
    tagsCard(model.tags || [], (key, value) => api.post('registered-models/set-tag', { name, key, value }), (key) => api.send('DELETE', 'registered-models/delete-tag', { name, key }), reload, edit),
    h('section', { class: 'card' }, h('h2', null, `Versions (${versions.length})`), versions.length ? h('table', { class: 'table versions' },
      h('thead', null, h('tr', null, ['Version', 'Stage', 'Aliases', 'Created', 'Source run', 'Status'].map((t) => h('th', null, t)))),
      h('tbody', null, versions.map((v) => h('tr', null,
        h('td', null, h('a', { href: `#/models/${encodeURIComponent(name)}/versions/${v.version}` }, `Version ${v.version}`)),
        h('td', null, h('span', { class: `badge stage-${String(v.current_stage || 'None').toLowerCase()}` }, v.current_stage || 'None')),
        h('td', null, (aliasesOf[v.version] || []).map((a) => h('span', { class: 'tag alias' }, `@${a}`))),
        h('td', null, fmtTime(v.creation_timestamp)),
        h('td', null, v.run_id ? h('a', { href: `#/runs/${encodeURIComponent(v.run_id)}` }, v.run_id.slice(0, 12)) : ''),
        h('td', null, v.status || ''))))) : h('p', { class: 'muted' }, 'No versions yet.')));
}

async function versionPage(main, name, version) {
  document.title = `${name} v${version} · Bakehouse`;
  main.append(spinner());
  let v;
  try { [v] = await Promise.all([api.get('model-versions/get', { name, version }).then((r) => r.model_version), api.loadPermissions()]); } catch (e) { clear(main).append(errorBox(e)); return; }
  const reload = () => { clear(main); versionPage(main, name, version); };
  const edit = api.can('registered_model', name, 'update');
  const stageSel = h('select', { 'aria-label': 'Stage', disabled: !edit, title: edit ? undefined : 'Your permission on this model does not allow changes.' }, STAGES.map((s) => h('option', { value: s, selected: s === (v.current_stage || 'None') }, s)));
  stageSel.addEventListener('change', async () => {
    try { await api.post('model-versions/transition-stage', { name, version, stage: stageSel.value, archive_existing_versions: false }); toast(`Moved to ${stageSel.value}`); reload(); } catch (e) { toast(e.message, 'error'); }
  });
  const kv = (k, val) => h('tr', null, h('th', null, k), h('td', null, val));
  const sigBox = h('div', null, spinner());
  const histBox = h('div', null, spinner());
  clear(main).append(
    h('div', { class: 'page-head' }, crumbs(h('a', { href: `#/models/${encodeURIComponent(name)}` }, name)), h('h1', null, `${name} · version ${v.version}`), edit ? null : readOnly(api.permissionOf('registered_model', name))),
    h('section', { class: 'card' }, h('table', { class: 'kv' }, h('tbody', null,
      kv('Source run', v.run_id ? h('a', { href: `#/runs/${encodeURIComponent(v.run_id)}` }, v.run_id) : '—'),
      kv('Source', h('code', null, v.source || '')),
      kv('Stage', stageSel),
      kv('Aliases', (v.aliases || []).length ? v.aliases.map((a) => h('span', { class: 'tag alias' }, `@${a}`)) : '—'),
      kv('Status', v.status || ''),
      kv('Created', fmtTime(v.creation_timestamp)),
      kv('Last modified', fmtTime(v.last_updated_timestamp)),
      kv('Created by', v.user_id || '')))),
    editableDescription(v.description || '', (d) => api.send('PATCH', 'model-versions/update', { name, version, description: d }), edit),
    tagsCard(v.tags || [], (key, value) => api.post('model-versions/set-tag', { name, version, key, value }), (key) => api.send('DELETE', 'model-versions/delete-tag', { name, version, key }), reload, edit),
    h('section', { class: 'card' }, h('h2', null, 'Model (MLmodel)'), sigBox),
    h('section', { class: 'card' }, h('h2', null, 'Alias and stage history'), histBox));

  (async () => {
    const tryText = async (url) => { const r = await fetch(url); return r.ok ? r.text() : null; };
    let text = await tryText(api.modelVersionArtifactUrl(name, version, 'MLmodel')).catch(() => null);
    let path = 'MLmodel'; let runId = null;
    const m = (v.source || '').match(/^runs:\/([^/]+)\/(.+)$/);
    if ((!text || !/flavors/.test(text)) && v.run_id) {
      const sub = m ? m[2] : (v.source || '').split('/artifacts/').pop();
      text = await tryText(api.artifactUrl(v.run_id, `${sub}/MLmodel`)).catch(() => null);
      path = `${sub}/MLmodel`; runId = v.run_id;
    }
    if (text && /flavors/.test(text)) {
      parseSimpleYaml(text);
      const view = mlmodelView(text, path, runId);
      view.querySelector('.snippet').textContent = `import bakehouse.pyfunc\n\nmodel = bakehouse.pyfunc.load_model("models:/${name}/${version}")\npredictions = model.predict(data)`;
      clear(sigBox).append(view);
    } else clear(sigBox).append(h('p', { class: 'muted' }, 'The MLmodel file of this version could not be read.'));
  })();

  (async () => {
    try {
      const r = await fetch(`ajax-api/2.0/bakehouse/registry/history?name=${encodeURIComponent(name)}`);
      if (!r.ok) { clear(histBox).append(h('p', { class: 'muted' }, 'This server keeps no alias/stage history.')); return; }
      const body = await r.json();
      const events = (body.events || body.history || []).filter((e) => e.version == null || String(e.version) === String(version) || e.alias);
      if (!events.length) { clear(histBox).append(h('p', { class: 'muted' }, 'No alias or stage changes recorded yet.')); return; }
      clear(histBox).append(h('table', { class: 'table history' }, h('thead', null, h('tr', null, ['When', 'What', 'Alias', 'Version', 'From', 'To', 'By'].map((t) => h('th', null, t)))),
        h('tbody', null, events.map((e) => h('tr', { class: String(e.version) === String(version) ? 'this-version' : '' }, h('td', null, fmtTime(e.timestamp)), h('td', null, e.kind || e.event || ''), h('td', null, e.alias || ''), h('td', null, e.version ?? ''), h('td', null, e.from_value ?? ''), h('td', null, e.to_value ?? ''), h('td', null, e.user_id || ''))))));
    } catch (e) { clear(histBox).append(errorBox(e)); }
  })();
}
