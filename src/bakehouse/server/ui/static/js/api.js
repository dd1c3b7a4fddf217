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

/** The signed-in user ({user, csrf_token}), null when the server has no authentication, or 'login' when a
 * sign-in is needed. The CSRF token is kept in memory only and sent on every state-changing request. */
export async function session() {
  const resp = await fetch(`${AUTH}session`, { headers: { Accept: 'application/json' } });
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
  return body;
}

export async function logout() {
  await fetch(`${AUTH}logout`, { method: 'POST', headers: { 'X-CSRF-Token': csrfToken } });
  csrfToken = '';
}

async function handle(resp) {
  if (resp.status === 401) window.dispatchEvent(new CustomEvent('bakehouse:login-required'));
  if (resp.ok) {
    try { return await resp.json(); } catch { throw new ApiError('The server sent a response that is not JSON.', 'BAD_RESPONSE', resp.status); }
  }
  const text = await resp.text();
  let body = null;
  try { body = JSON.parse(text); } catch { body = null; }
  const msg = body && body.message ? body.message : `HTTP ${resp.status}: ${text.slice(0, 200)}`;
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

let helpersOk = null;

/** The Bakehouse helper endpoints; null when the server does not have them (then callers fall back). */
export async function helper(path, params) {
  if (helpersOk === false) return null;
  try {
    const out = await get(path, params, HELPERS);
    helpersOk = true;
    return out;
  } catch (e) {
    if (e.status === 404 || e.status === 501 || e.status === 405) { helpersOk = false; return null; }
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

const offsetToken = (n) => btoa(`{"offset": ${n}}`);
const PARALLEL = 4;

/**
 * Fetch every run matching a search: first a small page (fast first rows), then the rest in the
 * background. When the server's page tokens are plain offsets (MLflow's format, and ours) the remaining
 * pages are fetched PARALLEL at a time; otherwise one after the other by following next_page_token.
 * onPage(rows, done) is called in order after each page; returns {cancel()}.
 */
export function loadAllRuns({ experimentIds, filter, viewType, orderBy, firstPage = 200, pageSize = 1000, maxRuns = Infinity }, onPage, onError) {
  let cancelled = false;
  const base = { experiment_ids: experimentIds, filter: filter || '', run_view_type: viewType || 'ACTIVE_ONLY' };
  if (orderBy && orderBy.length) base.order_by = orderBy;
  const page = (size, token) => post('runs/search', token ? { ...base, max_results: size, page_token: token } : { ...base, max_results: size });
  (async () => {
    try {
      const first = await page(Math.min(firstPage, maxRuns));
      if (cancelled) return;
      let count = (first.runs || []).length;
      let token = first.next_page_token || null;
      onPage((first.runs || []).map(toRow), !token || count >= maxRuns);
      let offset = token ? tokenOffset(token) : null;
      while (token && !cancelled && count < maxRuns) {
        if (offset === null) {
          const out = await page(Math.min(pageSize, maxRuns - count), token);
          if (cancelled) return;
          count += (out.runs || []).length;
          token = out.next_page_token || null;
          onPage((out.runs || []).map(toRow), !token || count >= maxRuns);
          continue;
        }
        // a wave of PARALLEL consecutive pages; results are delivered in order
        const offsets = Array.from({ length: PARALLEL }, (_, i) => offset + i * pageSize).filter((o) => o < offset + (maxRuns - count));
        const outs = await Promise.all(offsets.map((o) => page(pageSize, offsetToken(o))));
        if (cancelled) return;
        for (let i = 0; i < outs.length; i++) {
          const runs = outs[i].runs || [];
          count += runs.length;
          token = outs[i].next_page_token || null;
          const done = !token || count >= maxRuns;
          onPage(runs.map(toRow), done);
          if (done) { token = null; break; }
        }
        offset += offsets.length * pageSize;
      }
    } catch (e) { if (!cancelled) onError(e); }
  })();
  return { cancel() { cancelled = true; } };
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
