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

async function handle(resp) {
  const text = await resp.text();
  let body = null;
  try { body = text ? JSON.parse(text) : {}; } catch { body = null; }
  if (!resp.ok) {
    const msg = body && body.message ? body.message : `HTTP ${resp.status}: ${text.slice(0, 200)}`;
    throw new ApiError(msg, body && body.error_code, resp.status);
  }
  if (body === null) throw new ApiError('The server sent a response that is not JSON.', 'BAD_RESPONSE', resp.status);
  return body;
}

export async function get(path, params, base = BASE) {
  return handle(await fetch(base + path + qs(params), { headers: { Accept: 'application/json' } }));
}

export async function send(method, path, body, base = BASE) {
  return handle(await fetch(base + path, { method, headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body || {}) }));
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

/**
 * Fetch every run matching a search, first a small page (fast first rows), then big pages in the
 * background. onPage(rows, done, nextToken) is called after each page; returns {cancel()}.
 */
export function loadAllRuns({ experimentIds, filter, viewType, orderBy, firstPage = 200, pageSize = 10000, maxRuns = Infinity }, onPage, onError) {
  let cancelled = false;
  (async () => {
    let token = null; let first = true; let count = 0;
    try {
      do {
        const size = first ? firstPage : Math.min(pageSize, maxRuns - count);
        const body = { experiment_ids: experimentIds, filter: filter || '', run_view_type: viewType || 'ACTIVE_ONLY', max_results: size };
        if (orderBy && orderBy.length) body.order_by = orderBy;
        if (token) body.page_token = token;
        const out = await post('runs/search', body);
        if (cancelled) return;
        const rows = (out.runs || []).map(toRow);
        count += rows.length;
        token = out.next_page_token || null;
        first = false;
        onPage(rows, !token || count >= maxRuns);
      } while (token && !cancelled && count < maxRuns);
    } catch (e) { if (!cancelled) onError(e); }
  })();
  return { cancel() { cancelled = true; } };
}

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
