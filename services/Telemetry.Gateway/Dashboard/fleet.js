// `/`: every GPU grouped by host with its latest readings, summary tiles, the pipeline status panel.
import { api, query } from './api.js';
import { FLEET_METRICS, escapeHtml, formatAge, formatNumber, formatTime, formatValue, gpuState, metricInfo } from './format.js';
import { markReady, showError } from './page.js';
import { poll } from './poll.js';

/** GPUs one page shows at most; the API lists up to 1,000 per request. */
const MAX_GPUS = 1000;
const REFRESH_MS = 2000;

export function mountFleet(root) {
  document.title = 'Fleet · GPU Telemetry';
  root.innerHTML = `<section data-page="fleet">
    <div class="tiles" id="tiles"></div>
    <section class="panel" aria-labelledby="status-title">
      <h2 id="status-title">Pipeline status</h2>
      <div id="status"><p class="muted">Loading…</p></div>
    </section>
    <form class="filters" id="filters" role="search">
      <label>Host <select name="host"><option value="">All hosts</option></select></label>
      <label>Model <select name="model"><option value="">All models</option></select></label>
      <label class="grow">Search <input type="search" name="text" placeholder="uuid, host, model, device" autocomplete="off"></label>
      <span class="legend"><span class="badge hot">hot</span> ≥ 80 °C <span class="badge idle">idle</span> ≤ 5 % utilisation</span>
    </form>
    <p class="muted" id="shown"></p>
    <div id="hosts"><p class="muted">Loading GPUs…</p></div>
  </section>`;
  const filters = root.querySelector('#filters');
  const state = { gpus: [], total: 0, status: null };

  const render = () => renderFleet(root, state, filters);
  filters.addEventListener('input', render);
  filters.addEventListener('submit', (event) => event.preventDefault());

  const load = async () => {
    const [gpus, status] = await Promise.all([loadGpus(), api('/api/v1/status').catch((error) => ({ error }))]);
    Object.assign(state, gpus, { status });
    fillOptions(filters.host, state.gpus.map((gpu) => gpu.hostname));
    fillOptions(filters.model, state.gpus.map((gpu) => gpu.model));
    render();
  };
  load().then(() => markReady('fleet'), showError);
  return poll(REFRESH_MS, load);
}

async function loadGpus() {
  const gpus = [];
  let total = 0;
  for (let offset = 0; gpus.length < MAX_GPUS; ) {
    const page = await api(`/api/v1/gpus${query({ limit: MAX_GPUS - gpus.length, offset })}`);
    gpus.push(...page.gpus);
    total = page.total;
    if (!page.pagination.has_next || page.gpus.length === 0) break;
    offset += page.gpus.length;
  }
  return { gpus, total };
}

function fillOptions(select, values) {
  const wanted = [...new Set(values)].sort();
  const current = [...select.options].slice(1).map((option) => option.value);
  if (wanted.join('\n') === current.join('\n')) return;
  const chosen = select.value;
  select.length = 1;
  for (const value of wanted) select.add(new Option(value, value));
  select.value = wanted.includes(chosen) ? chosen : '';
}

function matches(gpu, host, model, text) {
  if (host && gpu.hostname !== host) return false;
  if (model && gpu.model !== model) return false;
  if (!text) return true;
  return [gpu.uuid, gpu.hostname, gpu.model, gpu.device].some((field) => field?.toLowerCase().includes(text));
}

function renderFleet(root, state, filters) {
  const host = filters.host.value;
  const model = filters.model.value;
  const text = filters.text.value.trim().toLowerCase();
  const shown = state.gpus.filter((gpu) => matches(gpu, host, model, text));

  root.querySelector('#tiles').innerHTML = tiles(state);
  root.querySelector('#status').innerHTML = statusTable(state.status);
  const capped = state.total > state.gpus.length ? ` (the first ${formatNumber(state.gpus.length)} of ${formatNumber(state.total)})` : '';
  root.querySelector('#shown').textContent = `Showing ${formatNumber(shown.length)} of ${formatNumber(state.gpus.length)} GPUs${capped}.`;

  // Grouped by host, in the API's order (hostname, then GPU index).
  const groups = new Map();
  for (const gpu of shown) {
    if (!groups.has(gpu.hostname)) groups.set(gpu.hostname, []);
    groups.get(gpu.hostname).push(gpu);
  }
  const html = [];
  for (const [hostname, gpus] of groups) {
    html.push(`<section class="host" data-host="${escapeHtml(hostname)}"><h3><a href="/hosts/${encodeURIComponent(hostname)}">${escapeHtml(hostname)}</a>
      <span class="muted">${gpus.length} GPU${gpus.length === 1 ? '' : 's'}</span></h3><div class="gpu-grid">`);
    for (const gpu of gpus) html.push(gpuCard(gpu));
    html.push('</div></section>');
  }
  root.querySelector('#hosts').innerHTML = html.length ? html.join('') : '<p class="muted">No GPU matches the filter.</p>';
}

export function gpuCard(gpu) {
  const state = gpuState(gpu.latest);
  const readings = FLEET_METRICS.map((metric) => `<span class="reading" data-metric="${metric}" title="${escapeHtml(metricInfo(metric).label)}">
      <span class="label">${escapeHtml(shortLabel(metric))}</span><span class="value">${escapeHtml(formatValue(metric, gpu.latest?.[metric]?.value))}</span></span>`).join('');
  return `<a class="gpu-card ${state}" href="/gpus/${encodeURIComponent(gpu.uuid)}" data-uuid="${escapeHtml(gpu.uuid)}">
    <span class="gpu-head"><strong>GPU ${gpu.gpu_index}</strong> <span class="muted">${escapeHtml(gpu.device)}</span>${state ? ` <span class="badge ${state}">${state}</span>` : ''}</span>
    <span class="gpu-model muted">${escapeHtml(gpu.model)}</span>
    <span class="readings">${readings}</span></a>`;
}

const SHORT = { DCGM_FI_DEV_GPU_UTIL: 'util', DCGM_FI_DEV_GPU_TEMP: 'temp', DCGM_FI_DEV_POWER_USAGE: 'power', DCGM_FI_DEV_FB_USED: 'mem' };
const shortLabel = (metric) => SHORT[metric] ?? metricInfo(metric).label;

function tiles(state) {
  const hosts = new Set(state.gpus.map((gpu) => gpu.hostname)).size;
  const samples = state.gpus.reduce((sum, gpu) => sum + gpu.samples, 0);
  // Ingest is what is stored: the embedded process or the collectors, live instances only.
  const instances = state.status?.instances ?? [];
  const rate = instances.filter((i) => i.state === 'live' && (i.service === 'embedded' || i.service === 'collector'))
    .reduce((sum, i) => sum + i.samples_per_second, 0);
  const tile = (id, label, value) => `<div class="tile" id="tile-${id}"><span class="tile-value">${value}</span><span class="tile-label">${label}</span></div>`;
  return tile('gpus', 'GPUs', formatNumber(state.total))
    + tile('hosts', 'Hosts', formatNumber(hosts))
    + tile('samples', 'Samples stored', formatNumber(samples))
    + tile('rate', 'Ingest rate', state.status?.error ? '—' : `${formatNumber(rate, 1)} /s`);
}

function statusTable(status) {
  if (!status) return '<p class="muted">Loading…</p>';
  if (status.error) return `<p class="error-text">Status unavailable: ${escapeHtml(status.error.message)}</p>`;
  const rows = status.instances.map((i) => `<tr class="${i.state}" data-service="${escapeHtml(i.service)}">
      <td>${escapeHtml(i.service)}</td><td class="mono">${escapeHtml(i.instance)}</td>
      <td><span class="badge ${i.state}">${i.state}</span> ${escapeHtml(formatAge(i.age_seconds))}</td>
      <td class="num">${formatNumber(i.samples_per_second, 1)}</td><td class="num">${formatNumber(i.samples_total)}</td>
      <td class="num">${formatNumber(i.rows_rejected)}</td><td class="num">${formatNumber(i.samples_rejected)}</td>
      <td class="num">${formatNumber(i.messages_dead_lettered)}</td>
      <td>${i.store_healthy ? '<span class="badge live">healthy</span>' : '<span class="badge hot">unreachable</span>'}</td></tr>`).join('');
  return `<p class="muted">Mode: ${escapeHtml(status.mode)} · heartbeat every ${status.heartbeat_seconds} s · as of ${escapeHtml(formatTime(status.generated_at))}</p>
    <div class="table-scroll"><table class="status"><thead><tr><th>Service</th><th>Instance</th><th>Last heartbeat</th>
    <th class="num">Samples/s</th><th class="num">Samples</th><th class="num">Rows rejected</th><th class="num">Samples rejected</th>
    <th class="num">Dead-lettered</th><th>Store</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}
