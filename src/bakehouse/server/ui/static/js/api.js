// Thin client for the MLflow REST API (/ajax-api/2.0/mlflow/...) plus Bakehouse's UI helpers.
// All URLs are relative, so the UI works under any --static-prefix.

const BASE = 'ajax-api/2.0/mlflow/';
const HELPERS = 'ajax-api/2.0/bakehouse/';

export class ApiError extends Error {
  constructor(message, code, status) { super(message); this.code = code; this.status = status; }
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x)); else u.append(k, v);
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

// ------------------------------------------------------------------------------------- sign-in (servers with --auth)

const AUTH = 'bakehouse/auth/';
let csrfToken = '';
let authOn = false;

/** The signed-in user ({user, csrf_token}), null when the server has no authentication, or 'login' when a
 * sign-in is needed. The CSRF token is kept in memory only and sent on every state-changing request.
 * The page says whether the server has sign-in at all (<html data-auth>): without it, nothing is asked. */
export async function session() {
  if (document.documentElement.dataset.auth === 'off') { authOn = false; return null; }
  const resp = await fetch(`${AUTH}session`, { headers: { Accept: 'application/json' } });
  authOn = resp.status === 401 || resp.ok;
  if (resp.status === 401) return 'login';
  if (!resp.ok) return null;
  const body = await resp.json();
  csrfToken = body.csrf_token || '';
  return body;
}

export async function login(username, password) {
  const resp = await fetch(`${AUTH}login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(body.message || `HTTP ${resp.status}`, body.error_code, resp.status);
  csrfToken = body.csrf_token || '';
  authOn = true;
  forgetPermissions();
  return body;
}

export async function logout() {
  await fetch(`${AUTH}logout`, { method: 'POST', headers: { 'X-CSRF-Token': csrfToken } });
  csrfToken = '';
  forgetPermissions();
}

// ------------------------------------------------------------------------------------- permissions (servers with --auth)

// MLflow's levels; each includes the ones before it. An endpoint needs read, use, update, delete or manage.
const LEVELS = { NO_PERMISSIONS: 0, READ: 1, USE: 2, EDIT: 3, MANAGE: 4 };
const NEEDS = { read: 1, use: 2, update: 3, delete: 4, manage: 4 };
const PERMISSIONS_TTL_MS = 30000;
let perms = null;
let permsLoad = null;
let permsAt = 0;

function forgetPermissions() { perms = null; permsLoad = null; permsAt = 0; }

/**
 * What the signed-in user may do ({is_admin, default_permission, experiments: {id: level},
 * registered_models: {name: level}}), or null when the server has no authentication or will not say.
 * Bakehouse answers with ajax-api/2.0/bakehouse/permissions/mine (grants plus the server's default);
 * other servers with MLflow's users/current (grants only: the default is unknown, so unknown means "try").
 * Cached for 30 s; views await it before drawing their buttons.
 */
export function loadPermissions() {
  if (!authOn) return Promise.resolve(null);
  if (permsLoad && Date.now() - permsAt < PERMISSIONS_TTL_MS) return permsLoad;
  permsAt = Date.now();
  permsLoad = (async () => {
    try {
      const mine = await helper('permissions/mine');
      if (mine) return mine.auth ? mine : null;
      const user = (await get('users/current')).user || {};
      return {
        is_admin: !!user.is_admin, default_permission: null,
        experiments: Object.fromEntries((user.experiment_permissions || []).map((p) => [String(p.experiment_id), p.permission])),
        registered_models: Object.fromEntries((user.registered_model_permissions || []).map((p) => [String(p.name), p.permission])),
      };
    } catch { return null; }
  })().then((p) => { perms = p; return p; });
  return permsLoad;
}

/**
 * Whether the signed-in user may do `level` ('update', 'delete', ...) on an experiment or a registered
 * model (kind 'experiment' | 'registered_model'), as far as the UI knows: true without authentication or
 * when the permission is unknown (the server decides, and a refusal is shown as a message).
 */
export function can(kind, id, level) {
  if (!perms || perms.is_admin) return true;
  const grants = (kind === 'experiment' ? perms.experiments : perms.registered_models) || {};
  const p = Object.prototype.hasOwnProperty.call(grants, String(id)) ? grants[String(id)] : perms.default_permission;
  if (!p || !(p in LEVELS)) return true;
  return LEVELS[p] >= (NEEDS[level] || 4);
}

/** The user's level on a resource for a hint like "read-only (READ)"; '' when unknown. */
export function permissionOf(kind, id) {
  if (!perms) return '';
  if (perms.is_admin) return 'MANAGE';
  const grants = (kind === 'experiment' ? perms.experiments : perms.registered_models) || {};
  return grants[String(id)] || perms.default_permission || '';
}

async function handle(resp) {
  if (resp.status === 401) window.dispatchEvent(new CustomEvent('bakehouse:login-required'));
  if (resp.ok) {
    try { return await resp.json(); } catch { throw new ApiError('The server sent a response that is not JSON.', 'BAD_RESPONSE', resp.status); }
  }
  const text = await resp.text();
  let body = null;
  try { body = JSON.parse(text); } catch { body = null; }
  let msg = body && body.message ? body.message : `HTTP ${resp.status}: ${text.slice(0, 200)}`;
  if (resp.status === 403) {
    // refused by the server: say so plainly, and re-read the permissions (they may have changed)
    forgetPermissions();
    if (/csrf/i.test(msg)) msg += ' Reload the page and try again.';
    else {
      if (!/^permission denied/i.test(msg)) msg = `Permission denied: ${msg}`;
      msg += ' Ask an administrator or a user with MANAGE permission on it for access.';
    }
  }
  throw new ApiError(msg, body && body.error_code, resp.status);
}

export async function get(path, params, base = BASE) {
  return handle(await fetch(base + path + qs(params), { headers: { Accept: 'application/json' } }));
}

export async function send(method, path, body, base = BASE) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  return handle(await fetch(base + path, { method, headers, body: JSON.stringify(body || {}) }));
}

export const post = (path, body) => send('POST', path, body);

export function artifactUrl(runId, path) {
  return `get-artifact${qs({ path, run_uuid: runId })}`;
}

export function modelVersionArtifactUrl(name, version, path) {
  return `model-versions/get-artifact${qs({ path, name, version })}`;
}

// ------------------------------------------------------------------------------------- helpers (optional)

const missingHelpers = new Set();

/** A Bakehouse helper endpoint; null when the server does not have it (then callers fall back). */
export async function helper(path, params) {
  if (missingHelpers.has(path)) return null;
  try {
    return await get(path, params, HELPERS);
  } catch (e) {
    const absent = e.status === 405 || e.status === 501 || (e.status === 404 && e.code !== 'RESOURCE_DOES_NOT_EXIST');
    if (absent) { missingHelpers.add(path); return null; }
    throw e;
  }
}

// ------------------------------------------------------------------------------------- runs

/** A flat, fast-to-sort row built from a runs/search entry. */
export function toRow(run) {
  const info = run.info || {};
  const data = run.data || {};
  const params = {}; const metrics = {}; const tags = {};
  for (const p of data.params || []) params[p.key] = p.value;
  for (const m of data.metrics || []) metrics[m.key] = typeof m.value === 'number' ? m.value : Number(m.value);
  for (const t of data.tags || []) tags[t.key] = t.value;
  const start = info.start_time != null ? Number(info.start_time) : null;
  const end = info.end_time != null ? Number(info.end_time) : null;
  return {
    id: info.run_id || info.run_uuid,
    name: info.run_name || tags['mlflow.runName'] || '',
    exp: info.experiment_id,
    status: info.status,
    start, end,
    duration: start != null && end != null ? end - start : null,
    user: info.user_id || tags['mlflow.user'] || '',
    life: info.lifecycle_stage,
    artifactUri: info.artifact_uri,
    parent: tags['mlflow.parentRunId'] || null,
    params, metrics, tags,
  };
}

/** The offset inside an MLflow-style page token (base64 of {"offset": N}); null for any other format. */
export function tokenOffset(token) {
  try {
    const v = JSON.parse(atob(token));
    return Number.isInteger(v.offset) && Object.keys(v).length === 1 ? v.offset : null;
  } catch { return null; }
}

/**
 * The params / metrics / tags objects of one page of rows. Keys every run has come from a template made
 * by JSON.parse and copied with {...template}: V8 then keeps one compact shared shape for all rows, where
 * adding 20+ keys one by one (obj[key] = v) turns each object into a hash table three times the size.
 */
function keyedObjects(cols, n, conv) {
  const dense = {};
  const sparse = [];
  for (const key in cols) { if (Array.isArray(cols[key])) dense[key] = conv ? 0.5 : null; else sparse.push(key); }
  const template = JSON.parse(JSON.stringify(dense));
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { ...template };
  for (const key in cols) {
    const col = cols[key];
    if (Array.isArray(col)) { for (let i = 0; i < n; i++) out[i][key] = conv ? conv(col[i]) : col[i]; }
  }
  for (const key of sparse) {
    const idx = cols[key].i; const vals = cols[key].v;
    for (let j = 0; j < idx.length; j++) out[idx[j]][key] = conv ? conv(vals[j]) : vals[j];
  }
  return out;
}

const toNumber = (v) => (typeof v === 'number' ? v : Number(v)); // "NaN", "Infinity", "-Infinity"

/**
 * Rows (the same shape as toRow's) from one page of the columnar helper runs/table: every key is sent
 * once with its values in run order, as a list (every run has it) or {i: [run indexes], v: [values]}.
 */
export function rowsFromColumns(page) {
  const n = page.count || 0;
  const none = new Array(n).fill(null); // a run column the page was asked without (run_fields)
  const c = { ...page.runs };
  for (const f of ['run_name', 'experiment_id', 'user_id', 'status', 'start_time', 'end_time', 'lifecycle_stage']) c[f] = c[f] || none;
  const params = keyedObjects(page.params || {}, n);
  const metrics = keyedObjects(page.metrics || {}, n, toNumber);
  const tags = keyedObjects(page.tags || {}, n); // absent when the page was asked without them
  const rows = new Array(n);
  for (let i = 0; i < n; i++) {
    const start = c.start_time[i]; const end = c.end_time[i]; const t = tags[i];
    rows[i] = {
      id: c.run_id[i], name: c.run_name[i] || t['mlflow.runName'] || '', exp: c.experiment_id[i], status: c.status[i],
      start, end, duration: start != null && end != null ? end - start : null,
      user: c.user_id[i] || t['mlflow.user'] || '', life: c.lifecycle_stage[i],
      parent: t['mlflow.parentRunId'] || null,
      params: params[i], metrics: metrics[i], tags: t,
    };
  }
  return rows;
}

const offsetToken = (n) => btoa(`{"offset": ${n}}`);
const PARALLEL = 4;

/**
 * One page of a run search as rows: through the columnar helper when the server has it, else runs/search.
 * `include` names the key groups the view needs ('params,metrics'); `withTotal` asks the helper for the
 * number of matching runs (total: null through runs/search, which does not say).
 */
async function searchPage(base, size, token, include, withTotal) {
  if (!missingHelpers.has('runs/table')) {
    const out = await helper('runs/table', {
      experiment_ids: base.experiment_ids.join(','), filter: base.filter, run_view_type: base.run_view_type,
      order_by: base.order_by, max_results: size, page_token: token || undefined, include,
      total: withTotal ? 'true' : undefined,
    });
    if (out) return { rows: rowsFromColumns(out), token: out.next_page_token || null, total: out.total ?? null };
  }
  const out = await post('runs/search', token ? { ...base, max_results: size, page_token: token } : { ...base, max_results: size });
  return { rows: (out.runs || []).map(toRow), token: out.next_page_token || null, total: null };
}

/** How many runs a search matches (runs/table's total), or null when the server does not say. */
async function countRuns(base) {
  if (missingHelpers.has('runs/table')) return null;
  try {
    const out = await helper('runs/table', {
      experiment_ids: base.experiment_ids.join(','), filter: base.filter, run_view_type: base.run_view_type,
      max_results: 1, include: 'metrics', run_fields: 'run_id', total: 'true',
    });
    return out ? out.total ?? null : null;
  } catch { return null; } // a bad filter: the first page's request reports it
}

/**
 * Fetch every run matching a search: first a small page (fast first rows), then the rest in the
 * background. When the server's page tokens are plain offsets (MLflow's format, and ours) the remaining
 * pages are fetched PARALLEL at a time; otherwise one after the other by following next_page_token.
 * Bakehouse servers answer in columns (ajax-api/2.0/bakehouse/runs/table: a fifth of runs/search's
 * bytes) and say (in a count request sent alongside the first page) how many runs match, so exactly the pages that exist are asked for;
 * others answer through runs/search, where a wave may ask past the end. `include` ('params,metrics')
 * leaves out the key groups a view does not show (Bakehouse servers only).
 * onPage(rows, done) is called in order after each page; returns {cancel()}.
 */
export function loadAllRuns({ experimentIds, filter, viewType, orderBy, include, firstPage = 200, pageSize = 1000, maxRuns = Infinity }, onPage, onError) {
  let cancelled = false;
  const base = { experiment_ids: experimentIds, filter: filter || '', run_view_type: viewType || 'ACTIVE_ONLY' };
  if (orderBy && orderBy.length) base.order_by = orderBy;
  const page = (size, token, withTotal = false) => searchPage(base, size, token, include, withTotal);
  (async () => {
    try {
      // the count in a request of its own, alongside the first page: counting a filtered search of
      // 100,000 runs takes longer than finding its first 200, and the first rows need not wait for it
      const counting = countRuns(base);
      const first = await page(Math.min(firstPage, maxRuns), null);
      if (cancelled) return;
      let count = first.rows.length;
      let token = first.token;
      onPage(first.rows, !token || count >= maxRuns);
      const total = token && count < maxRuns ? await counting : null;
      if (cancelled) return;
      // runs still to fetch: known exactly when the server said how many match
      const end = total != null ? Math.min(total, maxRuns) : maxRuns;
      let offset = token ? tokenOffset(token) : null;
      while (token && !cancelled && count < maxRuns) {
        if (offset === null) {
          const out = await page(Math.min(pageSize, maxRuns - count), token);
          if (cancelled) return;
          count += out.rows.length;
          token = out.token;
          onPage(out.rows, !token || count >= maxRuns);
          continue;
        }
        // a wave of PARALLEL consecutive pages; results are delivered in order
        const offsets = Array.from({ length: PARALLEL }, (_, i) => offset + i * pageSize).filter((o) => o < offset + (end - count));
        // all the counted runs are here, yet the server has more (runs created since): follow its tokens
        if (!offsets.length) { offset = null; continue; }
        const outs = await Promise.all(offsets.map((o) => page(Math.min(pageSize, end - count - (o - offset)), offsetToken(o))));
        if (cancelled) return;
        for (let i = 0; i < outs.length; i++) {
          count += outs[i].rows.length;
          token = outs[i].token;
          const done = !token || count >= maxRuns;
          onPage(outs[i].rows, done);
          if (done) { token = null; break; }
        }
        offset += offsets.length * pageSize;
      }
    } catch (e) { if (!cancelled) onError(e); }
  })();
  return { cancel() { cancelled = true; } };
}

// ------------------------------------------------------------------------------------- some keys of every run

/** At most this many exact keys per runs/table request (the server's limit), and this many characters in all. */
const MAX_KEYS = 64;
const MAX_KEY_CHARS = 4000;

/** One page of a run search as columns, with all params and metrics (whole groups) and the match count;
 * `columnar` is false when the server has no runs/table (then the rows came from runs/search, complete). */
export async function firstRuns({ experimentIds, filter, viewType }, size) {
  const base = { experiment_ids: experimentIds, filter: filter || '', run_view_type: viewType || 'ACTIVE_ONLY' };
  const out = await searchPage(base, size, null, 'params,metrics', true);
  return { ...out, columnar: out.total != null };
}

/**
 * Only the given params / metrics ({params: [...], metrics: [...]}) of the runs of a search from `offset`
 * up to `total`, in parallel pages of `pageSize`, through runs/table's param_keys / metric_keys (the
 * server reads no other key) and of the run columns only its id and name (enough to name a line).
 * Bakehouse servers only: call it after firstRuns said `columnar`.
 * More keys than a request may name are fetched as whole groups. Resolves to the rows, in order.
 */
export async function runsWithKeys({ experimentIds, filter, viewType }, { keys, offset = 0, total, pageSize = 5000 }) {
  const wanted = { params: [...new Set(keys.params || [])], metrics: [...new Set(keys.metrics || [])] };
  const all = [...wanted.params, ...wanted.metrics];
  const exact = all.length > 0 && all.length <= MAX_KEYS && all.join('').length <= MAX_KEY_CHARS;
  const select = exact
    ? { param_keys: wanted.params, metric_keys: wanted.metrics }
    : { include: 'params,metrics' };
  const offsets = [];
  for (let o = offset; o < total; o += pageSize) offsets.push(o);
  const pages = await Promise.all(offsets.map((o) => helper('runs/table', {
    experiment_ids: experimentIds.join(','), filter: filter || '', run_view_type: viewType || 'ACTIVE_ONLY',
    max_results: Math.min(pageSize, total - o), page_token: o ? offsetToken(o) : undefined, run_fields: 'run_name', ...select,
  })));
  let rows = [];
  for (const page of pages) {
    if (!page) throw new ApiError('The server stopped answering runs/table.', 'BAD_RESPONSE', 0);
    rows = rows.concat(rowsFromColumns(page));
  }
  return rows;
}

// Complete result sets of recent searches, so the compare view can reuse what the runs table just loaded.
const recent = new Map();
export function rememberRuns(key, rows) { recent.clear(); recent.set(key, { rows, at: Date.now() }); }
export function recentRuns(key, maxAgeMs = 60000) {
  const hit = recent.get(key);
  return hit && Date.now() - hit.at < maxAgeMs ? hit.rows : null;
}
export const searchKey = (experimentIds, filter, viewType) => JSON.stringify([experimentIds, filter || '', viewType || 'ACTIVE_ONLY']);

export async function getRun(runId) {
  return (await get('runs/get', { run_id: runId })).run;
}

/** Distinct metric/param/tag keys of some experiments; null if the helper is unavailable. */
export function experimentKeys(experimentIds, viewType) {
  return helper('experiments/keys', { experiment_ids: experimentIds, view_type: viewType });
}

/**
 * Metric history of several runs, downsampled on the server (min/max kept) when the helper exists,
 * else the full history through the standard API. Returns [{run_id, steps, timestamps, values, mins, maxs, total, downsampled}].
 */
export async function metricSeries(runIds, key, maxPoints = 2000, xAxis = 'step') {
  const out = [];
  const viaHelper = await helper('metrics/history-downsampled', { run_ids: runIds.slice(0, 100), metric_key: key, max_points: maxPoints, x_axis: xAxis });
  if (viaHelper) return viaHelper.series;
  for (const runId of runIds) {
    const pts = [];
    let token = null;
    do {
      const r = await get('metrics/get-history', { run_id: runId, metric_key: key, max_results: 25000, page_token: token });
      pts.push(...(r.metrics || []));
      token = r.next_page_token || null;
    } while (token);
    pts.sort((a, b) => (Number(a.step) - Number(b.step)) || (Number(a.timestamp) - Number(b.timestamp)));
    const vals = pts.map((p) => (typeof p.value === 'number' ? p.value : Number(p.value)));
    out.push({ run_id: runId, key, total: pts.length, downsampled: false, steps: pts.map((p) => Number(p.step || 0)), timestamps: pts.map((p) => Number(p.timestamp)), values: vals, mins: vals, maxs: vals });
  }
  return out;
}

export async function listArtifacts(runId, path) {
  const out = await get('artifacts/list', { run_id: runId, path });
  return out.files || [];
}

// ------------------------------------------------------------------------------------- traces (MLflow 3's v3 API)

const TRACES = 'ajax-api/3.0/mlflow/traces';

/** One page of trace infos of some experiments ({traces, next_page_token}), newest first by default. */
export function searchTraces(experimentIds, filter, pageToken, maxResults = 200, orderBy) {
  return send('POST', '/search', {
    locations: experimentIds.map((id) => ({ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: String(id) } })),
    filter: filter || undefined, max_results: maxResults, page_token: pageToken || undefined, order_by: orderBy,
  }, TRACES);
}

/** A whole trace: {trace_info, spans} with spans decoded (hex ids, plain attribute values). */
export async function getTrace(traceId) {
  const { trace } = await get('/get', { trace_id: traceId, allow_partial: 'true' }, TRACES);
  return { info: trace.trace_info, spans: (trace.spans || []).map(decodeSpan) };
}

function b64hex(b64) {
  if (!b64) return null;
  const bin = atob(b64);
  let out = '';
  for (let i = 0; i < bin.length; i++) out += bin.charCodeAt(i).toString(16).padStart(2, '0');
  return out;
}

/** An OpenTelemetry AnyValue (protobuf JSON) as a plain value. */
export function anyValue(v) {
  if (!v || typeof v !== 'object') return null;
  if ('string_value' in v) return v.string_value;
  if ('int_value' in v) return Number(v.int_value);
  if ('double_value' in v) return Number(v.double_value);
  if ('bool_value' in v) return v.bool_value;
  if ('array_value' in v) return (v.array_value.values || []).map(anyValue);
  if ('kvlist_value' in v) return Object.fromEntries((v.kvlist_value.values || []).map((kv) => [kv.key, anyValue(kv.value)]));
  if ('bytes_value' in v) return v.bytes_value;
  return null;
}

function attrs(list) { return Object.fromEntries((list || []).map((kv) => [kv.key, anyValue(kv.value)])); }

function decodeSpan(s) {
  const start = Number(s.start_time_unix_nano || 0);
  const end = s.end_time_unix_nano ? Number(s.end_time_unix_nano) : null;
  const attributes = attrs(s.attributes);
  const code = ((s.status || {}).code || 'STATUS_CODE_UNSET').replace('STATUS_CODE_', '');
  return {
    id: b64hex(s.span_id), parent: b64hex(s.parent_span_id), name: s.name || '',
    start, end, status: code, statusMessage: (s.status || {}).message || '',
    type: attributes['mlflow.spanType'] || 'UNKNOWN', attributes,
    events: (s.events || []).map((e) => ({ name: e.name, time: Number(e.time_unix_nano || 0), attributes: attrs(e.attributes) })),
  };
}

export function sendTraces(method, path, body) { return send(method, path, body, TRACES); }

/** Milliseconds from a protobuf JSON duration ("1.500s"). */
export function durationMs(d) { return d ? Math.round(parseFloat(d) * 1000) : null; }
