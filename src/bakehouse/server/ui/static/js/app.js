// Hash router: every view state lives in the URL (#/path?query), so any view can be shared as a link.
import { ApiError, login, logout, session } from './api.js';
import { clear, errorBox, h, toast } from './dom.js';

const routes = [
  [/^\/?$/, () => import('./views/experiments.js'), 'experiments'],
  [/^\/experiments\/?$/, () => import('./views/experiments.js'), 'experiments'],
  [/^\/experiments\/([^/]+)\/runs\/([^/]+)$/, () => import('./views/run.js'), 'experiments'],
  [/^\/experiments\/([^/]+)\/traces\/([^/]+)$/, () => import('./views/trace.js'), 'experiments'],
  [/^\/experiments\/([^/]+)\/traces\/?$/, () => import('./views/traces.js'), 'experiments'],
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

// ------------------------------------------------------------------------------ sign-in (servers with --auth)

let showingLogin = false;

function showLogin(message) {
  if (showingLogin) return;
  showingLogin = true;
  const main = document.getElementById('main');
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, 'aria-label': 'User name' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'aria-label': 'Password' });
  const error = h('p', { class: 'error', role: 'alert' }, message || '');
  const form = h('form', { class: 'card login', onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = '';
    try {
      const who = await login(user.value, pass.value);
      showingLogin = false;
      showUser(who.user);
      render();
    } catch (err) { error.textContent = err.message; pass.value = ''; pass.focus(); }
  } },
  h('h1', null, 'Sign in'),
  h('label', null, 'User name', user), h('label', null, 'Password', pass), error,
  h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  clear(main).appendChild(form);
  user.focus();
}

function showUser(user) {
  const bar = document.querySelector('.topbar');
  bar.querySelector('.who')?.remove();
  if (!user) return;
  const out = h('button', { class: 'link', onclick: async () => { await logout(); showUser(null); showLogin(); } }, 'Sign out');
  bar.appendChild(h('span', { class: 'who' }, `${user.username}${user.is_admin ? ' (admin)' : ''} · `, out));
}

window.addEventListener('bakehouse:login-required', () => showLogin('Please sign in.'));
// a write that fails inside an event handler is never silent: show the server's message (e.g. a 403)
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason instanceof ApiError) { toast(e.reason.message, 'error'); e.preventDefault(); }
});
window.addEventListener('hashchange', () => { if (!showingLogin) render(); });

(async () => {
  let who = null;
  try { who = await session(); } catch { who = null; }
  if (who === 'login') { showLogin(); return; }
  if (who && who.user) showUser(who.user);
  render();
})();
