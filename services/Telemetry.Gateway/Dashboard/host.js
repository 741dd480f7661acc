// `/hosts/{hostname}`: the host's GPUs side by side, and one chart per key metric with a line per GPU.
import { ApiError, api, query } from './api.js';
import { comparisonChart, setChartData } from './chart.js';
import { FLEET_METRICS, escapeHtml } from './format.js';
import { gpuCard } from './fleet.js';
import { markReady, notFound, showError } from './page.js';
import { poll } from './poll.js';

const REFRESH_MS = 2000;
const POINTS = 300;

export function mountHost(root, hostname) {
  document.title = `${hostname} · GPU Telemetry`;
  root.innerHTML = `<section data-page="host">
    <h1>Host <span class="mono">${escapeHtml(hostname)}</span></h1>
    <div id="gpus" class="gpu-grid wide"><p class="muted">Loading…</p></div>
    <h2>Whole window, one line per GPU</h2>
    <div id="charts" class="charts"></div>
  </section>`;
  const chartsElement = root.querySelector('#charts');
  const charts = new Map();
  let signature = null;
  let stopped = false;

  const load = async () => {
    let page;
    try {
      page = await api(`/api/v1/hosts/${encodeURIComponent(hostname)}/gpus${query({ limit: 1000 })}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        notFound('Host not found', `No GPU has reported from a host named "${hostname}". The fleet overview lists every host.`);
        return false;
      }
      throw error;
    }
    if (stopped) return false;
    root.querySelector('#gpus').innerHTML = page.gpus.map(gpuCard).join('');
    // Charts are fetched again only when some GPU has a new sample.
    const now = page.gpus.map((gpu) => gpu.last_seen).join();
    if (now !== signature) {
      signature = now;
      await drawCharts(page.gpus);
    }
    return true;
  };

  const drawCharts = async (gpus) => {
    const answers = await Promise.all(gpus.map((gpu) =>
      api(`/api/v1/gpus/${encodeURIComponent(gpu.uuid)}/series${query({ metric: FLEET_METRICS, points: POINTS })}`)));
    if (stopped) return;
    const width = Math.max(320, Math.floor((chartsElement.clientWidth || 900) / (chartsElement.clientWidth > 1100 ? 2 : 1)) - 16);
    const labels = gpus.map((gpu) => `GPU ${gpu.gpu_index}`);
    for (const metric of FLEET_METRICS) {
      // One x axis for all GPUs: the union of their bucket times; a GPU without a bucket there has a gap.
      const perGpu = answers.map((answer) => new Map((answer.series.find((s) => s.metric_name === metric)?.points ?? [])
        .map((p) => [Date.parse(p.timestamp) / 1000, p.avg])));
      const xs = [...new Set(perGpu.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
      const data = [xs, ...perGpu.map((m) => xs.map((x) => m.get(x) ?? null))];
      let chart = charts.get(metric);
      if (chart && chart.series.length !== labels.length + 1) {
        chart.destroy();
        chart.root.parentElement.remove();
        chart = null;
      }
      if (!chart) {
        const holder = document.createElement('div');
        holder.className = 'chart';
        holder.dataset.metric = metric;
        chartsElement.append(holder);
        chart = comparisonChart(holder, metric, width, labels);
        charts.set(metric, chart);
      }
      setChartData(chart, data);
    }
  };

  load().then((found) => found && markReady('host'), showError);
  const stopPolling = poll(REFRESH_MS, load);
  return () => {
    stopped = true;
    stopPolling();
    for (const chart of charts.values()) chart.destroy();
  };
}
