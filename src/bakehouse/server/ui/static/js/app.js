// Hash router: every view state lives in the URL (#/path?query), so any view can be shared as a link.
import { clear, errorBox, h } from './dom.js';

const routes = [
  [/^\/?$/, () => import('./views/experiments.js'), 'experiments'],
  [/^\/experiments\/?$/, () => import('./views/experiments.js'), 'experiments'],
  [/^\/experiments\/([^/]+)\/runs\/([^/]+)$/, () => import('./views/run.js'), 'experiments'],
  [/^\/experiments\/([^/]+)(?:\/runs)?\/?$/, () => import('./views/runs.js'), 'experiments'],
  [/^\/runs\/([^/]+)$/, () => import('./views/run.js'), 'experiments'],
  [/^\/compare$/, () => import('./views/compare.js'), 'experiments'],
  [/^\/charts$/, () => import('./views/charts.js'), 'experiments'],
  [/^\/models\/?$/, () => import('./views/registry.js'), 'models'],
  [/^\/models\/([^/]+)\/?$/, () => import('./views/registry.js'), 'models'],
  [/^\/models\/([^/]+)\/versions\/([^/]+)$/, () => import('./views/registry.js'), 'models'],
];

let cleanup = null;
let renderSeq = 0;

export function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query) };
}

/** Replace the query part of the current hash without re-rendering (view state → URL). */
export function setQuery(query) {
  const { path } = parseHash();
  const q = query.toString();
  history.replaceState(null, '', `#${path}${q ? `?${q}` : ''}`);
}

export function navigate(hash) { location.hash = hash; }

async function render() {
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  const { path, query } = parseHash();
  for (const [re, load, nav] of routes) {
    const m = path.match(re);
    if (!m) continue;
    document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === nav));
    try {
      const mod = await load();
      if (seq !== renderSeq) return;
      clear(main);
      const args = m.slice(1).map((s) => (s === undefined ? s : decodeURIComponent(s)));
      cleanup = (await mod.render(main, args, query, path)) || null;
    } catch (e) {
      if (seq !== renderSeq) return;
      clear(main).appendChild(errorBox(e));
    }
    return;
  }
  clear(main).appendChild(h('div', { class: 'empty' }, h('h2', null, 'Page not found'), h('p', null, h('a', { href: '#/' }, 'Back to experiments'))));
}

window.addEventListener('hashchange', render);
render();
