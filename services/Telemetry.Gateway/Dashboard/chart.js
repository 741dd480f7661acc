// Time-series charts drawn with uPlot (vendor/, from npm; loaded as the global `uPlot`).
import { formatValue, metricInfo } from './format.js';

const PALETTE = ['#4e9af1', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];
export const colour = (i) => PALETTE[i % PALETTE.length];

/** Columns uPlot draws from one metric's buckets: x in seconds, then avg, min, max. */
export function columns(points) {
  const x = new Float64Array(points.length), avg = new Float64Array(points.length);
  const min = new Float64Array(points.length), max = new Float64Array(points.length);
  points.forEach((p, i) => {
    x[i] = Date.parse(p.timestamp) / 1000;
    avg[i] = p.avg;
    min[i] = p.min;
    max[i] = p.max;
  });
  return [x, avg, min, max];
}

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

const axes = (metric) => [
  { stroke: '#9aa4b2', grid: { stroke: '#2a3140' }, ticks: { stroke: '#2a3140' } },
  { stroke: '#9aa4b2', grid: { stroke: '#2a3140' }, ticks: { stroke: '#2a3140' }, size: 72,
    values: (u, values) => values.map((v) => `${compact.format(v)} ${metricInfo(metric).unit}`.trim()) },
];

const timeScale = { time: true };

/** Points are marked when there are few of them (a lone value has no line to show it). */
const points = { show: (u) => u.data[0].length < 64 };

/**
 * Sets a chart's data. Data within a few seconds (one pass of a file, one instant) would be stretched over years
 * by the time axis's own padding for a single x: such a range is shown as the minute around it instead, with
 * every point marked (a line needs two).
 */
export function setChartData(chart, data) {
  const xs = data[0];
  chart.setData(data, xs.length === 0 || xs[xs.length - 1] - xs[0] >= 60);
  if (xs.length > 0 && xs[xs.length - 1] - xs[0] < 60) {
    const middle = (xs[0] + xs[xs.length - 1]) / 2;
    chart.setScale('x', { min: middle - 30, max: middle + 30 });
  }
}

/**
 * One metric's chart: average line, min–max band, values under the cursor in the legend. Dragging across it
 * selects a time range and calls onZoom(fromSeconds, toSeconds); the caller fetches that range anew, so the
 * zoomed chart shows finer buckets rather than stretched coarse ones.
 */
export function metricChart(element, metric, width, syncKey, onZoom) {
  const info = metricInfo(metric);
  const value = (u, v) => formatValue(metric, v);
  const options = {
    width,
    height: 200,
    title: info.unit ? `${info.label} (${info.unit})` : info.label,
    cursor: { sync: { key: syncKey }, drag: { x: true, y: false, setScale: false } },
    scales: { x: timeScale },
    axes: axes(metric),
    series: [
      {},
      { label: 'avg', stroke: '#4e9af1', width: 1.5, value, points },
      { label: 'min', stroke: '#4e9af155', width: 1, value },
      { label: 'max', stroke: '#4e9af155', width: 1, value },
    ],
    bands: [{ series: [3, 2], fill: '#4e9af122' }],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 4) return;
        const from = u.posToVal(u.select.left, 'x');
        const to = u.posToVal(u.select.left + u.select.width, 'x');
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        onZoom(from, to);
      }],
    },
  };
  return new uPlot(options, [[], [], [], []], element);
}

/** Several GPUs' values of one metric on one chart (the host page): one line per GPU. */
export function comparisonChart(element, metric, width, labels) {
  const info = metricInfo(metric);
  const value = (u, v) => formatValue(metric, v);
  return new uPlot({
    width,
    height: 200,
    title: info.unit ? `${info.label} (${info.unit})` : info.label,
    cursor: { sync: { key: 'host' } },
    scales: { x: timeScale },
    axes: axes(metric),
    series: [{}, ...labels.map((label, i) => ({ label, stroke: colour(i), width: 1.5, value, spanGaps: true, points }))],
  }, [[], ...labels.map(() => [])], element);
}
