// The dashboard's entry point: a router over the History API. The gateway serves this same shell for every
// page path, so a deep link pasted into a new tab lands here and is routed in the browser.
import { apiKey, setApiKey } from './api.js';
import { mountFleet } from './fleet.js';
import { mountGpu } from './gpu.js';
import { mountHost } from './host.js';
import { mountImports } from './imports.js';
import { markUnready, notFound, root } from './page.js';

const routes = [
  [/^\/$/, () => mountFleet],
  [/^\/gpus\/([^/]+)$/, () => mountGpu],
  [/^\/hosts\/([^/]+)$/, () => mountHost],
  [/^\/imports$/, () => mountImports],
];

performance.mark('app-start'); // modules loaded: what follows is data and drawing
let unmount = null;

function route() {
  unmount?.();
  unmount = null;
  markUnready();
  const path = location.pathname.replace(/\/+$/, '') || '/';
  for (const [pattern, page] of routes) {
    const match = pattern.exec(path);
    if (match) {
      unmount = page()(root, ...match.slice(1).map(decodeURIComponent)) ?? null;
      return;
    }
  }
  notFound('Page not found', `There is no page at ${location.pathname}. The fleet overview lists every GPU.`);
}

export function navigate(href) {
  history.pushState(null, '', href);
  route();
  window.scrollTo(0, 0);
}

// Same-origin links are routed here unless they leave the app (API reference) or open elsewhere.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  if (link.target || link.hasAttribute('data-external') || link.origin !== location.origin) return;
  event.preventDefault();
  navigate(link.pathname + link.search);
});
window.addEventListener('popstate', route);

// API key: asked for when the API answers 401, kept for the tab's lifetime.
const keyForm = document.getElementById('api-key');
const banner = document.getElementById('banner');
document.getElementById('api-key-toggle').addEventListener('click', () => {
  keyForm.hidden = !keyForm.hidden;
  if (!keyForm.hidden) keyForm.key.focus();
});
keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  setApiKey(keyForm.key.value.trim());
  keyForm.key.value = '';
  keyForm.hidden = true;
  banner.hidden = true;
  route();
});
keyForm.forget.addEventListener('click', () => {
  setApiKey('');
  keyForm.hidden = true;
  route();
});
window.addEventListener('api-key-needed', (event) => {
  banner.textContent = `${apiKey() ? 'The API key was refused' : 'This gateway needs an API key'}: ${event.detail ?? ''} Enter it under "API key".`;
  banner.hidden = false;
  keyForm.hidden = false;
});

route();
