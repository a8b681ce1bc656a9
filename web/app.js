// app.js: the factdb dashboard. It talks only to the HTTP API of the server that served it (/v1/...),
// sends every user-provided value as a bound SQL parameter ($1, $2, ...), and refreshes the open chart and
// KPIs from the change events at most once a second. State for the browser tests is exposed on
// window.__factdb.

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem('factdb-token') || '',
  tables: [],
  table: null,
  chart: null,
  chartSql: null,
  sqlRows: null,
  sqlColumns: null,
  page: 0,
  pageSize: 50,
  dataVersion: null,
  lastChange: null,
  refreshTimer: null,
  lastRefresh: 0,
};
window.__factdb = state;

// ---- API ----
class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : { code: 'HTTP_' + status, message: String(body || status) };
    super(e.message);
    this.status = status;
    this.code = e.code;
    this.position = e.position;
  }
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h['Authorization'] = 'Bearer ' + state.token;
  return h;
}

async function askToken() {
  const dlg = $('token-dialog');
  $('token-input').value = '';
  dlg.showModal();
  await new Promise((resolve) => dlg.addEventListener('close', resolve, { once: true }));
  state.token = $('token-input').value.trim();
  sessionStorage.setItem('factdb-token', state.token);
}

async function api(path, options = {}, retry = true) {
  let res;
  try {
    res = await fetch(path, Object.assign({}, options, { headers: headers(options.headers) }));
  } catch (e) {
    throw new ApiError(0, { error: { code: 'NETWORK', message: 'the server cannot be reached (' + e.message + ')' } });
  }
  if (res.status === 401 && retry) {
    await askToken();
    return api(path, options, false);
  }
  const type = res.headers.get('Content-Type') || '';
  const body = type.startsWith('application/json') ? await res.json() : await res.text();
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function sql(text, params = []) {
  return api('/v1/sql', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ sql: text, params }) });
}

// ---- helpers ----
const quoteIdent = (name) => '"' + name.replace(/"/g, '""') + '"';
const isNumericType = (t) => /^(integer|bigint|double precision|numeric|real|smallint)/.test(t);
const isTimeType = (t) => t === 'date' || t.startsWith('timestamp');
const fmt = (v) => (v === null || v === undefined) ? 'NULL' : (typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : String(v));

function showError(el, err) {
  if (!err) { el.hidden = true; el.textContent = ''; return; }
  el.hidden = false;
  el.textContent = (err.code ? err.code + ': ' : '') + err.message;
}

function fillTable(el, columns, rows) {
  el.replaceChildren();
  const head = el.createTHead().insertRow();
  for (const c of columns) {
    const th = document.createElement('th');
    th.textContent = c.name;
    head.appendChild(th);
  }
  const body = el.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    r.forEach((v) => {
      const td = tr.insertCell();
      td.textContent = v === null ? 'NULL' : String(v);
      if (v === null) td.className = 'null';
      else if (typeof v === 'number') td.className = 'num';
    });
  }
}

// ---- header, tables ----
async function loadTables() {
  const [health, t] = await Promise.all([api('/v1/health'), api('/v1/tables')]);
  $('dbname').textContent = health.database || '';
  document.title = 'factdb ' + (health.database || '');
  state.tables = t.tables;
  setVersion(t.data_version);
  // On PostgreSQL a large table's row_count is the server's estimate (row_count_estimated): shown with ≈.
  const approx = (estimated) => (estimated ? '≈' : '');
  $('total-rows').textContent = approx(t.tables.some((x) => x.row_count_estimated)) +
    t.tables.reduce((s, x) => s + x.row_count, 0).toLocaleString('en-US');
  const ul = $('tables');
  ul.replaceChildren();
  for (const tab of t.tables) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.table = tab.name;
    b.innerHTML = '<span class="name"></span><span class="count"></span>';
    b.querySelector('.name').textContent = tab.name;
    b.querySelector('.count').textContent = approx(tab.row_count_estimated) + tab.row_count.toLocaleString('en-US');
    if (tab.row_count_estimated) b.querySelector('.count').title = 'estimated by PostgreSQL';
    b.setAttribute('aria-current', state.table && state.table.name === tab.name ? 'true' : 'false');
    b.addEventListener('click', () => openTable(tab.name));
    li.appendChild(b);
    ul.appendChild(li);
  }
  if (state.table) state.table = t.tables.find((x) => x.name === state.table.name) || null;
}

function showLastChange() {
  $('last-change').textContent = state.lastChange ? Math.round((Date.now() - state.lastChange) / 1000) + ' s ago' : '–';
}

function setVersion(v) {
  if (v === undefined || v === null) return;
  if (state.dataVersion !== null && v !== state.dataVersion) state.lastChange = Date.now();
  state.dataVersion = v;
  $('data-version').textContent = String(v);
  showLastChange();
}

setInterval(showLastChange, 1000);

function option(sel, value, label) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label === undefined ? value : label;
  sel.appendChild(o);
}

async function openTable(name) {
  state.table = state.tables.find((t) => t.name === name);
  if (!state.table) return;
  for (const b of document.querySelectorAll('#tables button')) b.setAttribute('aria-current', b.dataset.table === name ? 'true' : 'false');
  $('table-view').hidden = false;
  $('table-title').textContent = name;
  fillTable($('columns'), [{ name: 'column' }, { name: 'type' }, { name: 'nullable' }],
    state.table.columns.map((c) => [c.name, c.type, c.nullable ? 'yes' : 'no']));
  const cols = state.table.columns;
  const measure = $('measure'), dim = $('dimension'), stack = $('stack');
  measure.replaceChildren(); dim.replaceChildren(); stack.replaceChildren();
  option(measure, '*', 'count(*)');
  for (const c of cols) if (isNumericType(c.type)) option(measure, c.name);
  for (const c of cols) if (c.type === 'text' || isTimeType(c.type)) option(dim, c.name);
  option(stack, '', '(none)');
  for (const c of cols) if (c.type === 'text') option(stack, c.name);
  const firstNum = cols.find((c) => isNumericType(c.type));
  if (firstNum) measure.value = firstNum.name;
  const firstTime = cols.find((c) => isTimeType(c.type));
  if (firstTime) dim.value = firstTime.name;
  $('filters').replaceChildren();
  $('sql').value = 'SELECT * FROM ' + quoteIdent(name) + ' LIMIT 100';
  updateBucketVisibility();
  await Promise.all([refreshKpis(), refreshSample(), drawChart()]);
}

let kpiSeq = 0;

async function refreshKpis() {
  const t = state.table;
  if (!t) return;
  const seq = ++kpiSeq;
  const m = t.columns.find((c) => isNumericType(c.type));
  const q = 'SELECT count(*)' + (m ? ', sum(' + quoteIdent(m.name) + ')' : '') + ' FROM ' + quoteIdent(t.name);
  try {
    const r = await sql(q);
    if (seq !== kpiSeq) return;
    $('kpi-rows').textContent = fmt(r.rows[0][0]);
    $('kpi-measure-label').textContent = m ? 'sum of ' + m.name : 'no numeric column';
    $('kpi-measure').textContent = m ? fmt(r.rows[0][1]) : '–';
    setVersion(r.data_version);
    showError($('banner'), null);
  } catch (e) {
    showError($('banner'), e);
  }
}

async function refreshSample() {
  const t = state.table;
  try {
    const r = await sql('SELECT * FROM ' + quoteIdent(t.name) + ' LIMIT 10');
    fillTable($('sample'), r.columns, r.rows);
  } catch (e) {
    showError($('banner'), e);
  }
}

// ---- chart builder ----
function updateBucketVisibility() {
  const c = state.table && state.table.columns.find((x) => x.name === $('dimension').value);
  $('bucket-label').hidden = !(c && isTimeType(c.type));
}

function addFilter() {
  const t = state.table;
  if (!t) return;
  const div = document.createElement('div');
  div.className = 'filter';
  const col = document.createElement('select');
  for (const c of t.columns) option(col, c.name);
  const op = document.createElement('select');
  for (const o of ['=', '<>', '<', '<=', '>', '>=', 'LIKE']) option(op, o);
  const val = document.createElement('input');
  val.placeholder = 'value';
  const rm = document.createElement('button');
  rm.type = 'button';
  rm.textContent = '×';
  rm.title = 'remove this filter';
  rm.addEventListener('click', () => { div.remove(); drawChart(); });
  for (const el of [col, op]) el.addEventListener('change', drawChart);
  val.addEventListener('change', drawChart);
  div.append(col, op, val, rm);
  $('filters').appendChild(div);
  return div;
}

// Builds the chart's SQL; every value the user typed becomes a parameter.
function chartQuery() {
  const t = state.table;
  const measure = $('measure').value, agg = $('aggregate').value, dimName = $('dimension').value, stackName = $('stack').value;
  const dim = t.columns.find((c) => c.name === dimName);
  if (!dim) return null;
  const value = measure === '*' || agg === 'count' ? (measure === '*' ? 'count(*)' : 'count(' + quoteIdent(measure) + ')')
    : agg + '(' + quoteIdent(measure) + ')';
  const time = isTimeType(dim.type);
  const key = time ? "date_trunc('" + $('bucket').value + "', " + quoteIdent(dim.name) + ')' : quoteIdent(dim.name);
  const params = [];
  const where = [];
  for (const f of $('filters').children) {
    const [col, op, val] = f.querySelectorAll('select, input');
    if (val.value === '') continue;
    params.push(val.value);
    where.push(quoteIdent(col.value) + ' ' + op.value + ' $' + params.length);
  }
  const stack = stackName && stackName !== dimName ? quoteIdent(stackName) : null;
  let q = 'SELECT ' + key + ' AS bucket' + (stack ? ', ' + stack + ' AS series' : '') + ', ' + value + ' AS value\nFROM ' + quoteIdent(t.name);
  if (where.length) q += '\nWHERE ' + where.join(' AND ');
  q += '\nGROUP BY 1' + (stack ? ', 2' : '');
  q += time ? '\nORDER BY 1' + (stack ? ', 2' : '') : '\nORDER BY ' + (stack ? '1, 2' : 'value DESC NULLS LAST, 1') + '\nLIMIT ' + (stack ? 2000 : 50);
  return { sql: q, params, time, stacked: !!stack };
}

const PALETTE = ['#2f6fde', '#f79009', '#12b76a', '#d92d20', '#7a5af8', '#0ba5ec', '#ee46bc', '#667085', '#a15c07', '#15b79e'];

function chartData(q, r) {
  const labelOf = (v) => (v === null ? 'NULL' : String(q.time && typeof v === 'string' ? v.replace(/ 00:00:00$/, '') : v));
  if (!q.stacked) {
    return { labels: r.rows.map((x) => labelOf(x[0])), datasets: [{ label: $('aggregate').value + ' of ' + $('measure').selectedOptions[0].textContent, data: r.rows.map((x) => x[1]) }] };
  }
  const labels = [], li = new Map(), totals = new Map();
  for (const [b, s, v] of r.rows) {
    const l = labelOf(b);
    if (!li.has(l)) { li.set(l, labels.length); labels.push(l); }
    totals.set(s, (totals.get(s) || 0) + (v || 0));
  }
  const series = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map((x) => x[0]);
  const datasets = series.map((s) => ({ label: s === null ? 'NULL' : String(s), data: new Array(labels.length).fill(null) }));
  for (const [b, s, v] of r.rows) {
    const k = series.indexOf(s);
    if (k >= 0) datasets[k].data[li.get(labelOf(b))] = v;
  }
  return { labels, datasets };
}

let chartSeq = 0;

async function drawChart() {
  if (!state.table) return;
  const q = chartQuery();
  if (!q) return;
  $('chart-sql').textContent = q.sql + (q.params.length ? '\n-- params: ' + JSON.stringify(q.params) : '');
  state.chartSql = q;
  const seq = ++chartSeq;  /* answers can arrive out of order: only the newest request may draw */
  let r;
  try {
    r = await sql(q.sql, q.params);
    if (seq !== chartSeq) return;
    showError($('chart-error'), null);
  } catch (e) {
    if (seq === chartSeq) showError($('chart-error'), e);
    return;
  }
  setVersion(r.data_version);
  const data = chartData(q, r);
  const kind = $('chart-type').value;
  data.datasets.forEach((d, i) => {
    d.backgroundColor = PALETTE[i % PALETTE.length] + (kind === 'area' ? '55' : 'cc');
    d.borderColor = PALETTE[i % PALETTE.length];
    d.fill = kind === 'area' ? (q.stacked ? (i ? '-1' : 'origin') : 'origin') : false;
    d.pointRadius = kind === 'bar' ? 0 : 2;
  });
  const type = kind === 'bar' ? 'bar' : 'line';
  const stacked = q.stacked;
  if (state.chart && state.chart.config.type === type && state.chart.$stacked === stacked) {
    // update in place: no flicker on live refresh
    state.chart.data.labels = data.labels;
    state.chart.data.datasets.forEach((d, i) => { if (data.datasets[i]) Object.assign(d, data.datasets[i]); });
    if (state.chart.data.datasets.length !== data.datasets.length) state.chart.data.datasets = data.datasets;
    state.chart.update('none');
  } else {
    if (state.chart) state.chart.destroy();
    state.chart = new Chart($('chart'), {
      type,
      data,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { display: true, position: 'bottom' }, tooltip: { enabled: true } },
        scales: { x: { stacked }, y: { stacked, beginAtZero: true } },
      },
    });
    state.chart.$stacked = stacked;
  }
  state.chartDrawn = q;  /* what the chart shows now (state.chartSql: what was last asked for) */
}

// ---- SQL editor ----
async function runSql() {
  const text = $('sql').value;
  $('sql-info').textContent = 'running…';
  try {
    const r = await sql(text);
    showError($('sql-error'), null);
    state.sqlColumns = r.columns;
    state.sqlRows = r.rows;
    state.page = 0;
    $('sql-info').textContent = r.row_count + ' rows in ' + r.elapsed_ms.toFixed(1) + ' ms' + (r.command ? ' (' + r.command + ')' : '');
    setVersion(r.data_version);
    showPage();
  } catch (e) {
    $('sql-info').textContent = '';
    showError($('sql-error'), e);
    state.sqlRows = null;
    $('sql-result').replaceChildren();
    $('page-info').textContent = '';
  }
}

function showPage() {
  if (!state.sqlRows) return;
  const n = state.sqlRows.length, pages = Math.max(1, Math.ceil(n / state.pageSize));
  state.page = Math.min(Math.max(0, state.page), pages - 1);
  const from = state.page * state.pageSize;
  fillTable($('sql-result'), state.sqlColumns, state.sqlRows.slice(from, from + state.pageSize));
  $('page-info').textContent = 'page ' + (state.page + 1) + ' of ' + pages;
  $('prev-page').disabled = state.page === 0;
  $('next-page').disabled = state.page >= pages - 1;
}

async function downloadCsv() {
  try {
    const res = await fetch('/v1/sql?format=csv', { method: 'POST', headers: headers({ 'Content-Type': 'application/json' }), body: JSON.stringify({ sql: $('sql').value }) });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      throw new ApiError(res.status, body);
    }
    const blob = await res.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'result.csv';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    showError($('sql-error'), null);
  } catch (e) {
    showError($('sql-error'), e);
  }
}

// ---- live updates ----
function scheduleRefresh() {
  if (state.refreshTimer) return;
  const wait = Math.max(0, 1000 - (Date.now() - state.lastRefresh));
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = null;
    state.lastRefresh = Date.now();
    try {
      await loadTables();
      if (state.table) await Promise.all([refreshKpis(), drawChart()]);
    } catch (e) {
      showError($('banner'), e);
    }
  }, wait);
}

// The event stream is read with fetch (EventSource cannot send the Authorization header).
async function listen() {
  for (;;) {
    try {
      const res = await fetch('/v1/events', { headers: headers() });
      if (res.status === 401) { await askToken(); continue; }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      $('live').textContent = 'on';
      $('live').className = 'on';
      showError($('banner'), null);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const m = ev.match(/^data: (.*)$/m);
          if (!m) continue;
          const v = JSON.parse(m[1]).data_version;
          if (v !== state.dataVersion) { setVersion(v); scheduleRefresh(); }
        }
      }
      throw new Error('the event stream ended');
    } catch (e) {
      $('live').textContent = 'off';
      $('live').className = 'off';
      showError($('banner'), { code: 'NETWORK', message: 'live updates interrupted (' + e.message + '); retrying' });
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

// ---- wiring ----
for (const id of ['measure', 'aggregate', 'bucket', 'stack', 'chart-type']) $(id).addEventListener('change', drawChart);
$('dimension').addEventListener('change', () => { updateBucketVisibility(); drawChart(); });
$('add-filter').addEventListener('click', () => addFilter());
// Enter in a filter field submits the builder form: apply the filters instead of reloading the page. (A
// listener, because the Content-Security-Policy blocks inline handlers such as onsubmit="...".)
$('builder').addEventListener('submit', (e) => { e.preventDefault(); drawChart(); });
$('copy-sql').addEventListener('click', async () => {
  try { await navigator.clipboard.writeText($('chart-sql').textContent); $('copy-sql').textContent = 'copied'; }
  catch { const r = document.createRange(); r.selectNodeContents($('chart-sql')); getSelection().removeAllRanges(); getSelection().addRange(r); }
  setTimeout(() => { $('copy-sql').textContent = 'copy SQL'; }, 1500);
});
$('run-sql').addEventListener('click', runSql);
$('sql').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) runSql(); });
$('download-csv').addEventListener('click', downloadCsv);
$('prev-page').addEventListener('click', () => { state.page--; showPage(); });
$('next-page').addEventListener('click', () => { state.page++; showPage(); });
window.__factdb.addFilter = addFilter;
window.__factdb.drawChart = drawChart;

(async () => {
  try {
    await loadTables();
    if (state.tables.length) await openTable(state.tables[0].name);
    state.ready = true;
  } catch (e) {
    showError($('banner'), e);
    state.ready = true;
  }
  listen();
})();
