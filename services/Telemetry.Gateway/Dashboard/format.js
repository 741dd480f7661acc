// How metrics are named and shown. Units follow DCGM's field definitions (utilisation in %, temperatures in
// °C, power in W, framebuffer memory in MiB, clocks in MHz).
export const METRICS = {
  DCGM_FI_DEV_GPU_UTIL: { label: 'Utilisation', unit: '%', digits: 0 },
  DCGM_FI_DEV_GPU_TEMP: { label: 'Temperature', unit: '°C', digits: 0 },
  DCGM_FI_DEV_POWER_USAGE: { label: 'Power', unit: 'W', digits: 1 },
  DCGM_FI_DEV_FB_USED: { label: 'Memory used', unit: 'MiB', digits: 0 },
  DCGM_FI_DEV_FB_FREE: { label: 'Memory free', unit: 'MiB', digits: 0 },
  DCGM_FI_DEV_MEM_COPY_UTIL: { label: 'Memory copy utilisation', unit: '%', digits: 0 },
  DCGM_FI_DEV_SM_CLOCK: { label: 'SM clock', unit: 'MHz', digits: 0 },
  DCGM_FI_DEV_MEM_CLOCK: { label: 'Memory clock', unit: 'MHz', digits: 0 },
  DCGM_FI_DEV_ENC_UTIL: { label: 'Encoder utilisation', unit: '%', digits: 0 },
  DCGM_FI_DEV_DEC_UTIL: { label: 'Decoder utilisation', unit: '%', digits: 0 },
  DCGM_FI_DEV_MEMORY_TEMP: { label: 'Memory temperature', unit: '°C', digits: 0 },
};

/** The four readings the fleet page shows for every GPU, in this order. */
export const FLEET_METRICS = ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_FB_USED'];

/** Hot: at or above this temperature (°C). Idle: utilisation at or below this (%). */
export const HOT_CELSIUS = 80;
export const IDLE_PERCENT = 5;

export const metricInfo = (name) => METRICS[name] ?? { label: name, unit: '', digits: 2 };

/** Metrics in display order: the known ones as listed above, then the others by name. */
export function orderMetrics(names) {
  const known = Object.keys(METRICS);
  return [...names].sort((a, b) => {
    const ia = known.indexOf(a), ib = known.indexOf(b);
    if (ia !== ib) return (ia < 0 ? known.length : ia) - (ib < 0 ? known.length : ib);
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

export function formatValue(metric, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  const { unit, digits } = metricInfo(metric);
  const text = Number(value).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${text} ${unit}` : text;
}

/** GPU state from its latest readings: 'hot', 'idle' or ''. */
export function gpuState(latest) {
  const temperature = latest?.DCGM_FI_DEV_GPU_TEMP?.value;
  const utilisation = latest?.DCGM_FI_DEV_GPU_UTIL?.value;
  if (temperature !== undefined && temperature >= HOT_CELSIUS) return 'hot';
  if (utilisation !== undefined && utilisation <= IDLE_PERCENT) return 'idle';
  return '';
}

export const formatNumber = (value, digits = 0) =>
  Number(value).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString('en-GB', { hour12: false });
}

export function formatAge(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Every value from the API goes through this before it becomes HTML. */
export const escapeHtml = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
