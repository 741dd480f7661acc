// `/imports`: upload a CSV (file picker or drag and drop), watch its progress, cancel it.
import { ApiError, api, authHeaders, problemOf, query } from './api.js';
import { escapeHtml, formatNumber, formatTime } from './format.js';
import { markReady, showError } from './page.js';
import { poll } from './poll.js';

const REFRESH_MS = 1000;

export function mountImports(root) {
  document.title = 'Imports · GPU Telemetry';
  root.innerHTML = `<section data-page="imports">
    <h1>CSV imports</h1>
    <p class="muted">A DCGM exporter dump or an nvidia-smi <code>--query-gpu</code> log, imported as a durable job.</p>
    <div id="disabled" class="notice" hidden></div>
    <form id="upload" class="upload">
      <label class="drop" id="drop">
        <input type="file" name="file" accept=".csv,text/csv">
        <span>Drop a CSV file here, or click to choose one.</span>
      </label>
      <label>Timestamps <select name="mode">
        <option value="replay">replay: keep each row's own time</option>
        <option value="stream">stream: stamp the time of import</option></select></label>
      <label>Host of an nvidia-smi log <input name="hostname" placeholder="optional"></label>
      <button type="submit">Upload</button>
      <progress id="upload-progress" max="1" value="0" hidden></progress>
      <span id="upload-message" role="status"></span>
    </form>
    <h2>Recent imports</h2>
    <div id="list"><p class="muted">Loading…</p></div>
  </section>`;
  const form = root.querySelector('#upload');
  const drop = root.querySelector('#drop');
  const message = root.querySelector('#upload-message');
  const progress = root.querySelector('#upload-progress');
  let disabled = false;

  const refresh = async () => {
    let page;
    try {
      page = await api(`/api/v1/imports${query({ limit: 20 })}`);
    } catch (error) {
      // 403 or 404: this gateway does not take imports (IMPORTS_ENABLED unset and no API_KEY).
      if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
        showDisabled(root, error);
        disabled = true;
        return;
      }
      throw error;
    }
    disabled = false;
    root.querySelector('#disabled').hidden = true;
    form.hidden = false;
    root.querySelector('#list').innerHTML = importTable(page.imports ?? []);
  };

  const upload = (file) => {
    if (!file || disabled) return;
    const data = new FormData();
    // Fields before the file: the server reads the options as the multipart body streams in.
    data.append('mode', form.mode.value);
    if (form.hostname.value.trim()) data.append('hostname', form.hostname.value.trim());
    data.append('file', file, file.name);
    // XMLHttpRequest rather than fetch: only it reports upload progress.
    const request = new XMLHttpRequest();
    request.open('POST', '/api/v1/imports');
    for (const [name, value] of Object.entries(authHeaders({ Accept: 'application/json' }))) request.setRequestHeader(name, value);
    progress.hidden = false;
    progress.value = 0;
    message.textContent = `Uploading ${file.name}…`;
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) progress.value = event.loaded / event.total;
    });
    request.addEventListener('load', async () => {
      progress.hidden = true;
      if (request.status === 202) {
        const record = JSON.parse(request.responseText);
        message.textContent = `Accepted as import ${record.id}.`;
        form.reset();
        await refresh().catch(showError);
        return;
      }
      const error = await problemOf(new Response(request.responseText, { status: request.status }));
      message.textContent = `Upload refused (HTTP ${request.status}): ${error.message}`;
      if (request.status === 403 || request.status === 404) showDisabled(root, error);
    });
    request.addEventListener('error', () => {
      progress.hidden = true;
      message.textContent = 'Upload failed: the gateway did not answer.';
    });
    request.send(data);
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!form.file.files[0]) message.textContent = 'Choose a CSV file first.';
    upload(form.file.files[0]);
  });
  for (const name of ['dragenter', 'dragover']) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add('over');
    });
  }
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    upload(event.dataTransfer.files[0]);
  });
  root.querySelector('#list').addEventListener('click', async (event) => {
    const button = event.target.closest('button[data-cancel]');
    if (!button) return;
    button.disabled = true;
    try {
      await api(`/api/v1/imports/${encodeURIComponent(button.dataset.cancel)}`, { method: 'DELETE' });
    } catch (error) {
      message.textContent = `Cancel refused: ${error.message}`;
    }
    await refresh().catch(showError);
  });

  refresh().then(() => markReady('imports'), showError);
  return poll(REFRESH_MS, refresh);
}

function showDisabled(root, error) {
  const notice = root.querySelector('#disabled');
  notice.hidden = false;
  notice.innerHTML = `<strong>Imports are disabled on this gateway.</strong> ${escapeHtml(error.message)}
    <br>An operator turns them on with <code>IMPORTS_ENABLED=true</code>, or with <code>API_KEY</code> (then enter the key under "API key").`;
  root.querySelector('#upload').hidden = true;
  root.querySelector('#list').innerHTML = '';
}

function importTable(imports) {
  if (imports.length === 0) return '<p class="muted">No import yet.</p>';
  const rows = imports.map((i) => {
    const done = i.chunks ? i.chunks_done / i.chunks : 0;
    const final = ['completed', 'failed', 'cancelled'].includes(i.status);
    return `<tr data-import="${escapeHtml(i.id)}" data-status="${escapeHtml(i.status)}">
      <td>${escapeHtml(i.file_name)}</td><td><span class="badge ${escapeHtml(i.status)}">${escapeHtml(i.status)}</span></td>
      <td><progress max="1" value="${final && i.status === 'completed' ? 1 : done}"></progress> ${i.chunks_done}/${i.chunks} chunks</td>
      <td class="num">${formatNumber(i.rows_read)}</td><td class="num">${formatNumber(i.samples_published)}</td>
      <td class="num">${formatNumber(i.rows_rejected)}</td><td>${escapeHtml(formatTime(i.created_at))}</td>
      <td>${final ? escapeHtml(i.error ?? '') : `<button type="button" data-cancel="${escapeHtml(i.id)}">Cancel</button>`}</td></tr>`;
  }).join('');
  return `<div class="table-scroll"><table class="imports"><thead><tr><th>File</th><th>Status</th><th>Progress</th>
    <th class="num">Rows read</th><th class="num">Samples</th><th class="num">Rows rejected</th><th>Created</th><th></th></tr></thead>
    <tbody>${rows}</tbody></table></div>`;
}
