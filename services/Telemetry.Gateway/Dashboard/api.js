// Calls to the gateway's REST API. The API key (when the gateway has API_KEY set) is kept in sessionStorage:
// it lasts as long as the tab and is sent only to this origin, in the header the API checks (X-API-Key).
const KEY = 'telemetry.apiKey';

export const apiKey = () => sessionStorage.getItem(KEY) ?? '';

export function setApiKey(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

/** An error answer of the API: its status and the problem+json detail, which says what was wrong. */
export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
  }
}

export function authHeaders(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, 'X-API-Key': key } : headers;
}

export async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: authHeaders({ Accept: 'application/json', ...options.headers }) });
  if (!response.ok) throw await problemOf(response);
  return response.status === 204 ? null : response.json();
}

export async function problemOf(response) {
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent('api-key-needed', { detail: problem.detail }));
  return new ApiError(response.status, problem.title ?? response.statusText, problem.detail);
}

/** Query string from an object; arrays repeat the name, null and undefined are left out. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of [].concat(value ?? [])) search.append(name, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
