// `/gpus/{uuid}`: one GPU's identity, latest readings and a chart per metric over a chosen range, live.
import { ApiError, api, query } from './api.js';
import { columns, metricChart, setChartData } from './chart.js';
import { escapeHtml, formatNumber, formatTime, formatValue, gpuState, metricInfo, orderMetrics } from './format.js';
import { markReady, notFound, showError } from './page.js';
import { poll } from './poll.js';

/** A sample stored while the page is open must show within 2 s: the GPU (one manifest read) is polled every
 * second, and the series fetched again when its last_seen moves. */
const LIVE_MS = 1000;

const RANGES = { '5m': 5 * 60_000, '1h': 60 * 60_000, all: null };

export function mountGpu(root, uuid) {
  document.title = `${uuid} · GPU Telemetry`;
  root.innerHTML = `<section data-page="gpu">
    <h1 class="gpu-title">GPU <span class="mono">${escapeHtml(uuid)}</span></h1>
    <div id="identity" class="identity"><p class="muted">Loading…</p></div>
    <div id="latest" class="latest"></div>
    <form class="range" id="range">
      <span>Range</span>
      <label><input type="radio" name="kind" value="5m"> Last 5 min</label>
      <label><input type="radio" name="kind" value="1h"> Last hour</label>
      <label><input type="radio" name="kind" value="all" checked> Whole window</label>
      <label><input type="radio" name="kind" value="custom"> Custom</label>
      <label>from <input type="datetime-local" step="1" name="start"></label>
      <label>to <input type="datetime-local" step="1" name="end"></label>
      <button type="submit">Apply</button>
      <span class="muted">Both ends inclusive. Drag across a chart to zoom in.</span>
    </form>
    <p class="muted" id="range-note"></p>
    <div id="charts" class="charts"></div>
  </section>`;
  const form = root.querySelector('#range');
  const chartsElement = root.querySelector('#charts');
  const charts = new Map();
  const base = `/api/v1/gpus/${encodeURIComponent(uuid)}`;
  let lastSeen = null;
  let stopped = false;

  const bounds = () => {
    const kind = form.kind.value;
    if (kind === 'custom') {
      const start = form.start.value ? new Date(form.start.value).toISOString() : undefined;
      // The inputs stop at whole seconds: the end takes in its whole second, so the range stays inclusive.
      const end = form.end.value ? new Date(new Date(form.end.value).getTime() + 999).toISOString() : undefined;
      return { start, end, relative: false };
    }
    const span = RANGES[kind];
    return { start: span ? new Date(Date.now() - span).toISOString() : undefined, end: undefined, relative: true };
  };

  const chartWidth = () => Math.max(320, Math.floor((chartsElement.clientWidth || 900) / (chartsElement.clientWidth > 1100 ? 2 : 1)) - 16);

  const loadSeries = async () => {
    const { start, end } = bounds();
    const width = chartWidth();
    // One bucket per two pixels: finer than a line can show, and half the bytes of one per pixel.
    const url = `${base}/series${query({ points: Math.min(10_000, Math.ceil(width / 2)), start_time: start, end_time: end })}`;
    const data = await api(url);
    if (stopped) return;
    performance.mark('series-fetched');
    window.dashboard.series = { url, data };
    window.dashboard.charts = {};
    const seen = new Set();
    for (const metric of orderMetrics(data.series.map((s) => s.metric_name))) {
      const series = data.series.find((s) => s.metric_name === metric);
      seen.add(metric);
      let chart = charts.get(metric);
      if (!chart) {
        const holder = document.createElement('div');
        holder.className = 'chart';
        holder.dataset.metric = metric;
        chartsElement.append(holder);
        chart = metricChart(holder, metric, width, `gpu-${uuid}`, zoomTo);
        charts.set(metric, chart);
      }
      setChartData(chart, columns(series.points));
      window.dashboard.charts[metric] = chart.data.map((column) => Array.from(column));
    }
    for (const [metric, chart] of charts) {
      if (seen.has(metric)) continue;
      chart.root.parentElement.remove();
      chart.destroy();
      charts.delete(metric);
    }
    performance.mark('charts-drawn');
    const samples = data.series.reduce((sum, s) => sum + s.points.reduce((n, p) => n + p.count, 0), 0);
    root.querySelector('#range-note').textContent = data.series.length === 0
      ? 'No samples in this range.'
      : `${formatNumber(samples)} samples from ${formatTime(data.start_time)} to ${formatTime(data.end_time)}, `
        + `in buckets of ${bucketText(data.bucket_seconds)} (line: average; band: min to max).`;
  };

  function zoomTo(fromSeconds, toSeconds) {
    form.kind.value = 'custom';
    form.start.value = localInput(new Date(fromSeconds * 1000));
    form.end.value = localInput(new Date(toSeconds * 1000));
    loadSeries().catch(showError);
  }

  const showGpu = (gpu) => {
    root.querySelector('#identity').innerHTML = identity(gpu);
    root.querySelector('#latest').innerHTML = latest(gpu);
  };

  form.addEventListener('change', (event) => {
    if (event.target.name === 'kind' && event.target.value !== 'custom') loadSeries().catch(showError);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    form.kind.value = 'custom';
    loadSeries().catch(showError);
  });
  const onResize = () => {
    const width = chartWidth();
    for (const chart of charts.values()) chart.setSize({ width, height: 200 });
  };
  window.addEventListener('resize', onResize);

  (async () => {
    let gpu;
    // The GPU and its series at once: the series request does not depend on the answer.
    const series = loadSeries();
    series.catch(() => {}); // judged below, once the GPU is known to exist
    try {
      gpu = await api(base);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        notFound('GPU not found', `No GPU with uuid "${uuid}" has telemetry here. The fleet overview lists every GPU with data.`);
        return false;
      }
      throw error;
    }
    lastSeen = gpu.last_seen;
    showGpu(gpu);
    await series;
    return true;
  })().then((found) => found && markReady('gpu'), showError);

  const stopPolling = poll(LIVE_MS, async () => {
    if (lastSeen === null) return;
    const gpu = await api(base);
    showGpu(gpu);
    if (gpu.last_seen === lastSeen) return;
    lastSeen = gpu.last_seen;
    const { relative, end } = bounds();
    // A fixed range that ends in the past cannot gain samples stored now.
    if (relative || !end || Date.parse(end) >= Date.parse(gpu.last_seen)) await loadSeries();
  });

  return () => {
    stopped = true;
    stopPolling();
    window.removeEventListener('resize', onResize);
    for (const chart of charts.values()) chart.destroy();
  };
}

function identity(gpu) {
  const state = gpuState(gpu.latest);
  const row = (label, value) => `<div><dt>${label}</dt><dd>${value}</dd></div>`;
  return `<dl>
    ${row('Host', `<a href="/hosts/${encodeURIComponent(gpu.hostname)}">${escapeHtml(gpu.hostname)}</a>`)}
    ${row('Model', escapeHtml(gpu.model))}
    ${row('Index', `${gpu.gpu_index} <span class="muted">(${escapeHtml(gpu.device)})</span>`)}
    ${row('UUID', `<span class="mono">${escapeHtml(gpu.uuid)}</span>`)}
    ${row('First seen', escapeHtml(formatTime(gpu.first_seen)))}
    ${row('Last seen', `<span id="last-seen">${escapeHtml(formatTime(gpu.last_seen))}</span>`)}
    ${row('Samples in window', formatNumber(gpu.samples))}
    ${state ? row('State', `<span class="badge ${state}">${state}</span>`) : ''}
  </dl>`;
}

function latest(gpu) {
  const metrics = orderMetrics(Object.keys(gpu.latest ?? {}));
  if (metrics.length === 0) return '';
  return `<h2>Latest readings</h2><div class="latest-grid">${metrics.map((metric) => `<div class="reading" data-metric="${metric}">
    <span class="label">${escapeHtml(metricInfo(metric).label)}</span>
    <span class="value">${escapeHtml(formatValue(metric, gpu.latest[metric].value))}</span></div>`).join('')}</div>`;
}

/** A date as a datetime-local input's value (local time, to the second). */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function bucketText(seconds) {
  if (seconds >= 60) return `${formatNumber(seconds / 60, 1)} min`;
  if (seconds >= 1) return `${formatNumber(seconds, 1)} s`;
  return `${formatNumber(seconds * 1000, 1)} ms`;
}
