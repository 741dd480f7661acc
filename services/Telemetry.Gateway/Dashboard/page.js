// What every page shares: the element pages render into, the ready mark, the not-found page.
import { escapeHtml } from './format.js';

export const root = document.getElementById('app');

// What the page shows, for tests and benchmarks that drive it in a browser.
window.dashboard = { page: null, ready: false };

/** Called by a page once its data is on screen; the marks' times are what `make bench` reports. */
export function markReady(page) {
  window.dashboard.page = page;
  window.dashboard.ready = true;
  document.body.dataset.ready = page;
  performance.mark(`${page}-rendered`);
  // Two frames on, the frame that shows the content has been painted.
  requestAnimationFrame(() => requestAnimationFrame(() => performance.mark(`${page}-painted`)));
}

export function markUnready() {
  window.dashboard.ready = false;
  delete document.body.dataset.ready;
}

export function notFound(title, detail) {
  document.title = 'Not found · GPU Telemetry';
  root.innerHTML = `<section class="not-found" data-page="not-found">
    <h1>${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p><p><a href="/">Back to the fleet overview</a></p></section>`;
  markReady('not-found');
}

/** An error the page cannot get past (the API is down, the key was refused): said plainly, not a blank page. */
export function showError(error) {
  root.innerHTML = `<section class="error" data-page="error"><h1>Cannot load this page</h1>
    <p>${escapeHtml(error.message)}</p><p>${error.status ? `HTTP ${error.status}` : 'The gateway did not answer.'}</p></section>`;
  markReady('error');
}
