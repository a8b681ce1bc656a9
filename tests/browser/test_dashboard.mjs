// test_dashboard.mjs: the dashboard in a real browser (Debian's chromium, headless, driven by
// playwright-core from web/node_modules) against a real `factdb serve`. Checks the chart against numbers
// fetched from the API, the SQL editor, live KPI updates after inserts through the API, errors, the token
// prompt, phone width, and that no request leaves the server's origin. Every test fails on any console
// error, Content-Security-Policy violation, page error or 4xx/5xx answer it does not expect. A page of a
// second origin (another local port) attacks the API and must neither read nor change anything.
// Screenshots go to tests/out/ (and to docs/ with FACTDB_SCREENSHOTS_TO_DOCS=1).
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(ROOT, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const BUILD = resolve(ROOT, process.env.FACTDB_BUILD || 'build');
const FACTDB = join(BUILD, 'factdb');
const OUT = join(ROOT, 'tests', 'out');
mkdirSync(OUT, { recursive: true });
const ENV = Object.assign({}, process.env, { ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1' });

let failures = 0;
// Problems seen in the watched pages: console errors (CSP violations are logged as errors, and reported
// as such by the init script below), page errors and 4xx/5xx answers. A test fails on any it does not
// list in `expected` (regular expressions).
let problems = [];
function watch(p) {
  p.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
  p.on('pageerror', (e) => problems.push('page error: ' + String(e)));
  p.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
}
const REPORT_CSP = `document.addEventListener('securitypolicyviolation', (e) =>
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline code')));`;

async function test(name, fn, expected = []) {
  problems = [];
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 100));  /* late console messages */
    const bad = problems.filter((p) => !expected.some((re) => re.test(p)));
    assert(bad.length === 0, 'unexpected console errors, CSP violations or HTTP errors:\n  ' + bad.join('\n  '));
    console.log('ok   ' + name + SUFFIX);
  } catch (e) {
    failures++;
    console.log('FAIL ' + name + SUFFIX + ': ' + (e && e.stack ? e.stack : e));
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}

// The demo database of `make run` (build/factdb-demo): 1,000,000 sales over 2024-2025.
function makeDb(dir) {
  const db = join(dir, 'demo.factdb');
  const p = spawnSync(join(BUILD, 'factdb-demo'), ['create', db], { env: ENV });
  assert(p.status === 0, 'factdb-demo: ' + p.stderr);
  return db;
}

function serve(db, ...opts) {
  return new Promise((res, rej) => {
    const p = spawn(FACTDB, ['serve', '--port', '0', ...opts, db], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stderr.on('data', () => {});
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/([0-9.]+):(\d+)\//);
      if (m) res({ p, url: `http://${m[1]}:${m[2]}` });
    });
    p.on('exit', (code) => rej(new Error('server exited ' + code)));
  });
}

async function stop(srv) {
  const done = new Promise((r) => srv.p.on('exit', (code) => r(code)));
  srv.p.kill('SIGTERM');
  const code = await done;
  assert(code === 0, 'server exit status ' + code);
}

async function apiSql(url, sql, params = [], token) {
  const h = { 'Content-Type': 'application/json' };
  if (token) h.Authorization = 'Bearer ' + token;
  const r = await fetch(url + '/v1/sql', { method: 'POST', headers: h, body: JSON.stringify({ sql, params }) });
  return r.json();
}

// A page on a second origin (another local port) that attacks the API at `api` in every way a web page
// can: CORS reads, simple cross-origin writes (text/plain, form-encoded), no-cors writes, HTML forms
// submitted into an iframe, and a <script src> include. window.results gets what each attempt could see.
function attackPage(api) {
  const sqlBody = (t) => JSON.stringify({ sql: 'CREATE TABLE ' + t + ' (x bigint)' });
  return `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>
<iframe name="sink"></iframe>
<form id="f1" method="POST" action="${api}/v1/sql" enctype="text/plain" target="sink"><input name="CREATE TABLE pwned_form_text (x bigint); --" value=""></form>
<form id="f2" method="POST" action="${api}/v1/sql" target="sink"><input name="sql" value="CREATE TABLE pwned_form_urlenc (x bigint)"></form>
<form id="f3" method="POST" action="${api}/v1/tables/sales/rows" enctype="text/plain" target="sink"><input name='[{"store":"x","a":"' value='"}]'></form>
<script>
const A = ${JSON.stringify(api)};
window.results = {};
async function attempt(name, fn) {
  try { window.results[name] = await fn(); } catch (e) { window.results[name] = 'blocked: ' + e.message; }
}
const post = (body, type, extra) => fetch(A + '/v1/sql', Object.assign({ method: 'POST', headers: { 'Content-Type': type }, body }, extra || {}));
function submitInto(id) {
  return new Promise((res) => {
    const f = document.querySelector('iframe');
    f.addEventListener('load', () => res('submitted'), { once: true });
    setTimeout(() => res('timeout'), 3000);
    document.getElementById(id).submit();
  });
}
(async () => {
  await attempt('read_tables', async () => { const r = await fetch(A + '/v1/tables'); return 'read ' + r.status + ' ' + await r.text(); });
  await attempt('read_sql', async () => { const r = await post(JSON.stringify({ sql: 'SELECT count(*) FROM sales' }), 'application/json'); return 'read ' + await r.text(); });
  await attempt('write_json', async () => { const r = await post(${JSON.stringify(sqlBody('pwned_json'))}, 'application/json'); return 'read ' + await r.text(); });
  await attempt('write_text', async () => { const r = await post('CREATE TABLE pwned_text (x bigint)', 'text/plain'); return 'read ' + await r.text(); });
  await attempt('write_text_charset', async () => { const r = await post('CREATE TABLE pwned_text2 (x bigint)', 'text/plain;charset=UTF-8'); return 'read ' + await r.text(); });
  await attempt('write_urlenc', async () => { const r = await post(${JSON.stringify(sqlBody('pwned_urlenc'))}, 'application/x-www-form-urlencoded'); return 'read ' + await r.text(); });
  await attempt('write_nocors_text', async () => { const r = await post('CREATE TABLE pwned_nocors (x bigint)', 'text/plain', { mode: 'no-cors' }); return r.type; });
  await attempt('write_nocors_urlenc', async () => { const r = await post(${JSON.stringify(sqlBody('pwned_nocors_urlenc'))}, 'application/x-www-form-urlencoded', { mode: 'no-cors' }); return r.type; });
  await attempt('insert_nocors', async () => { const r = await fetch(A + '/v1/tables/sales/rows', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: '[{"store":"pwned"}]' }); return r.type; });
  await attempt('script', () => new Promise((res) => {
    const s = document.createElement('script');
    s.src = A + '/v1/tables';
    s.onload = () => res('loaded');
    s.onerror = () => res('error');
    document.head.appendChild(s);
  }));
  for (const id of ['f1', 'f2', 'f3']) await attempt(id, () => submitInto(id));
  window.results.done = true;
})();
</script></body></html>`;
}

// Serves attackPage(api) (or an empty page when api is null) on another local port.
function serveAttackPage(api) {
  return new Promise((res) => {
    const h = createServer((req, rsp) => {
      rsp.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      rsp.end(api ? attackPage(api) : '<!doctype html><title>app</title><link rel="icon" href="data:,">');
    });
    h.listen(0, '127.0.0.1', () => res({ h, url: 'http://127.0.0.1:' + h.address().port }));
  });
}

// A GET with a chosen Host header (fetch() cannot set Host): the DNS rebinding case.
async function rawGet(url, path, host) {
  const net = await import('node:net');
  const u = new URL(url);
  return new Promise((res, rej) => {
    const sock = net.connect(Number(u.port), u.hostname, () =>
      sock.end(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    let out = '';
    sock.on('data', (d) => { out += d; });
    sock.on('end', () => res(out));
    sock.on('error', rej);
  });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--no-first-run'],
});
const dir = mkdtempSync(join(tmpdir(), 'factdb-browser-'));
// FACTDB_DASHBOARD_TARGET: serve a PostgreSQL database holding the same demo rows instead (issue 14: the
// dashboard works unchanged on both backends; tests/browser/test_dashboard_pg.py sets it up)
const TARGET = process.env.FACTDB_DASHBOARD_TARGET;
const SUFFIX = TARGET ? ' [postgresql]' : '';
const db = TARGET || makeDb(dir);
const srv = await serve(db);
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.addInitScript(REPORT_CSP);
watch(page);
const foreign = [];
page.on('request', (r) => { if (!r.url().startsWith(srv.url)) foreign.push(r.url()); });

await test('page loads with the header and the tables', async () => {
  await page.goto(srv.url + '/');
  await page.waitForFunction(() => window.__factdb && window.__factdb.ready && window.__factdb.chart);
  assert((await page.textContent('#dbname')) === (TARGET ? 'demo' : 'demo.factdb'), 'database name');
  assert((await page.textContent('#total-rows')) === '1,000,000', 'total rows: ' + (await page.textContent('#total-rows')));
  assert(/^\d+$/.test(await page.textContent('#data-version')), 'data_version');
  assert((await page.textContent('#tables')).includes('sales'), 'tables list');
  assert((await page.textContent('#kpi-rows')) === '1,000,000', 'KPI rows');
  const sum = await apiSql(srv.url, 'SELECT sum(quantity) FROM sales');
  assert((await page.textContent('#kpi-measure')) === sum.rows[0][0].toLocaleString('en-US'), 'KPI sum');
  await page.waitForFunction(() => document.querySelector('#live').textContent === 'on');
});

await test('a bar chart by region matches the API', async () => {
  await page.selectOption('#measure', 'amount');
  await page.selectOption('#aggregate', 'sum');
  await page.selectOption('#dimension', 'region');
  await page.selectOption('#chart-type', 'bar');
  await page.waitForFunction(() => window.__factdb.chart.data.labels.length === 14 && window.__factdb.chart.config.type === 'bar');
  const data = await page.evaluate(() => ({ labels: window.__factdb.chart.data.labels, values: window.__factdb.chart.data.datasets[0].data }));
  const api = await apiSql(srv.url, 'SELECT region, sum(amount) FROM sales GROUP BY region');
  const want = new Map(api.rows.map((r) => [r[0], r[1]]));
  assert(data.labels.length === want.size, 'bar count');
  data.labels.forEach((l, i) => assert(Math.abs(data.values[i] - want.get(l)) < 1e-6, `bar ${l}: ${data.values[i]} vs ${want.get(l)}`));
  for (let i = 1; i < data.values.length; i++) assert(data.values[i - 1] >= data.values[i], 'bars sorted by value');
  const sqlText = await page.textContent('#chart-sql');
  assert(sqlText.includes('sum("amount")') && sqlText.includes('GROUP BY 1'), 'SQL shown: ' + sqlText);
  assert(await page.isHidden('#bucket-label'), 'no bucket for a text dimension');
});

await test('a monthly area chart stacked by channel, with a filter bound as a parameter', async () => {
  await page.selectOption('#dimension', 'sold_at');
  await page.selectOption('#bucket', 'month');
  await page.selectOption('#chart-type', 'area');
  await page.selectOption('#stack', 'channel');
  await page.click('#add-filter');
  const f = page.locator('.filter').first();
  await f.locator('select').first().selectOption('region');
  await f.locator('input').fill("Lombardia' OR '1'='1");
  await f.locator('input').dispatchEvent('change');
  await page.waitForFunction(() => document.querySelector('#chart-sql').textContent.includes('$1'));
  // the injection attempt is a value: no region has that name, so the chart is empty
  await page.waitForFunction(() => window.__factdb.chart.data.labels.length === 0);
  await f.locator('input').fill('Lombardia');
  await f.locator('input').dispatchEvent('change');
  await page.waitForFunction(() => window.__factdb.chart.data.labels.length === 24 && window.__factdb.chart.data.datasets.length === 4);
  const got = await page.evaluate(() => window.__factdb.chart.data.datasets.map((d) => ({ label: d.label, data: d.data })));
  const api = await apiSql(srv.url, "SELECT date_trunc('month', sold_at), channel, sum(amount) FROM sales WHERE region = $1 GROUP BY 1, 2 ORDER BY 1, 2", ['Lombardia']);
  for (const ds of got) {
    const rows = api.rows.filter((r) => r[1] === ds.label);
    assert(rows.length === 24, 'months for ' + ds.label);
    rows.forEach((r, i) => assert(Math.abs(r[2] - ds.data[i]) < 1e-6, `${ds.label} month ${i}: ${ds.data[i]} vs ${r[2]}`));
  }
  assert((await page.textContent('#chart-sql')).includes('params: ["Lombardia"]'), 'params shown');
  await page.evaluate(() => { document.querySelector('#table-view details').open = false; });
  await page.locator('#table-view').screenshot({ path: join(OUT, 'dashboard-chart.png') });
});

await test('Enter in a filter field applies the filter without reloading the page', async () => {
  const url = page.url();
  await page.evaluate(() => { window.__sameDocument = true; });
  let navigations = 0;
  const count = (f) => { if (f === page.mainFrame()) navigations++; };
  page.on('framenavigated', count);
  const f = page.locator('.filter').first();
  await f.locator('input').fill('Sicilia');
  await f.locator('input').press('Enter');
  await page.waitForFunction(() => document.querySelector('#chart-sql').textContent.includes('params: ["Sicilia"]'));
  /* the chart shows the filtered answer once it arrived (the SQL is shown as soon as it is asked for) */
  await page.waitForFunction(() => JSON.stringify(window.__factdb.chartDrawn?.params) === '["Sicilia"]');
  await page.waitForFunction(() => window.__factdb.chart.data.labels.length === 24);
  await page.waitForTimeout(300);
  page.off('framenavigated', count);
  assert(navigations === 0 && page.url() === url, `the page navigated (${navigations}) to ${page.url()}`);
  assert(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
  const got = await page.evaluate(() => window.__factdb.chart.data.datasets.map((d) => ({ label: d.label, data: d.data })));
  const api = await apiSql(srv.url, "SELECT date_trunc('month', sold_at), channel, sum(amount) FROM sales WHERE region = $1 GROUP BY 1, 2 ORDER BY 1, 2", ['Sicilia']);
  for (const ds of got) {
    const rows = api.rows.filter((r) => r[1] === ds.label);
    rows.forEach((r, i) => assert(Math.abs(r[2] - ds.data[i]) < 1e-6, `${ds.label} month ${i}: ${ds.data[i]} vs ${r[2]}`));
  }
  await f.locator('input').fill('Lombardia');
  await f.locator('input').press('Enter');
  await page.waitForFunction(() => document.querySelector('#chart-sql').textContent.includes('params: ["Lombardia"]'));
});

await test('the SQL editor shows a paged table and errors', async () => {
  await page.fill('#sql', 'SELECT region, count(*) AS n, sum(quantity) AS q, avg(amount) AS avg_amount FROM sales GROUP BY 1 ORDER BY 2 DESC');
  await page.click('#run-sql');
  await page.waitForFunction(() => document.querySelectorAll('#sql-result tbody tr').length === 14);
  const first = await page.$$eval('#sql-result tbody tr:first-child td', (tds) => tds.map((t) => t.textContent));
  const api = await apiSql(srv.url, 'SELECT region, count(*) AS n, sum(quantity) AS q, avg(amount) AS avg_amount FROM sales GROUP BY 1 ORDER BY 2 DESC');
  assert(JSON.stringify(first) === JSON.stringify(api.rows[0].map(String)), 'first row ' + first + ' vs ' + api.rows[0]);
  await page.locator('#sql-view').screenshot({ path: join(OUT, 'dashboard-sql.png') });
  await page.fill('#sql', 'SELECT sold_at, amount FROM sales ORDER BY sold_at, amount LIMIT 120');
  await page.click('#run-sql');
  await page.waitForFunction(() => document.querySelector('#page-info').textContent === 'page 1 of 3');
  await page.click('#next-page');
  await page.waitForFunction(() => document.querySelector('#page-info').textContent === 'page 2 of 3');
  assert((await page.$$('#sql-result tbody tr')).length === 50, 'page size');
  const dl = page.waitForEvent('download');
  await page.click('#download-csv');
  const file = await (await dl).path();
  const csv = (await import('node:fs')).readFileSync(file, 'utf8');
  assert(csv.startsWith('sold_at,amount\n') && csv.trim().split('\n').length === 121, 'CSV download');
  await page.fill('#sql', 'SELEC 1');
  await page.click('#run-sql');
  await page.waitForSelector('#sql-error:not([hidden])');
  assert((await page.textContent('#sql-error')).includes('syntax error'), 'error shown: ' + (await page.textContent('#sql-error')));
}, [/^HTTP 400 POST .*\/v1\/sql$/, /^console error: Failed to load resource: .* 400/]);

await test('rows inserted through the API update the KPIs live, without a reload', async () => {
  const before = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  const rows = Array.from({ length: 25 }, (_, i) => ({ sold_at: '2025-12-31 23:00:00', store: 'Forlì', region: 'Emilia-Romagna',
    product: 'Sangiovese', category: 'Wine', channel: 'web', quantity: 1, unit_price: 10 + i, amount: 10 + i }));
  const r = await fetch(srv.url + '/v1/tables/sales/rows', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(rows) });
  assert(r.status === 200, 'insert ' + r.status);
  await page.waitForFunction(() => document.querySelector('#kpi-rows').textContent === '1,000,025', null, { timeout: 5000 });
  const after = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  assert(before === after, 'no reload');
  assert((await page.textContent('#total-rows')) === '1,000,025', 'header total');
  assert((await page.textContent('#last-change')).endsWith('s ago'), 'last change');
});

await test('phone width: no horizontal scrolling, chart visible', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(w <= 392, 'page width ' + w);
  const box = await page.locator('#chart').boundingBox();
  assert(box && box.width > 300, 'chart width');
  await page.screenshot({ path: join(OUT, 'dashboard-phone.png'), fullPage: true });
});

await test('a page of another origin can neither read nor change anything', async () => {
  const attacker = await serveAttackPage(srv.url);
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  await p.goto(attacker.url + '/');
  await p.waitForFunction(() => window.results && window.results.done, null, { timeout: 20000 });
  const results = await p.evaluate(() => window.results);
  await ctx.close();
  attacker.h.close();
  for (const [k, v] of Object.entries(results)) {
    if (k === 'done') continue;
    assert(!/"rows"|"tables"|sales|1,?000,?025/.test(String(v)), `attack ${k} read data: ${v}`);
  }
  assert(results.script === 'error', 'a <script src> of the API loaded: ' + results.script);
  const tables = (await (await fetch(srv.url + '/v1/tables')).json()).tables.map((t) => t.name).join();
  assert(tables === 'sales', 'tables now: ' + tables);
  // a rebound name (attacker.example resolving to 127.0.0.1) is refused by the Host check
  const rebound = await rawGet(srv.url, '/v1/tables', 'attacker.example');
  assert(rebound.startsWith('HTTP/1.1 403') && rebound.includes('--allow-host'), rebound.slice(0, 200));
});

await test('a page of an origin listed with --cors-origin can use the API (preflight with a token)', async () => {
  const app = await serveAttackPage(null);
  const s3 = await serve(db, '--cors-origin', app.url, '--token', 'write-token-123', '--read-token', 'read-token-123');
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  await p.goto(app.url + '/');
  const got = await p.evaluate(async (api) => {
    const r = await fetch(api + '/v1/sql', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer read-token-123' },
      body: JSON.stringify({ sql: 'SELECT count(*) FROM sales' }) });
    return [r.status, await r.json()];
  }, s3.url);
  await ctx.close();
  app.h.close();
  await stop(s3);
  assert(got[0] === 200 && got[1].rows[0][0] === 1000025, 'listed origin: ' + JSON.stringify(got));
});

await test('a stopped server shows a readable error, not a blank page', async () => {
  await stop(srv);
  await page.fill('#sql', 'SELECT 1');
  await page.click('#run-sql');
  await page.waitForSelector('#sql-error:not([hidden])');
  assert((await page.textContent('#sql-error')).includes('cannot be reached'), await page.textContent('#sql-error'));
  await page.close();  /* it would go on trying to reach the stopped server */
}, [/^console error: Failed to load resource: net::ERR_CONNECTION_REFUSED/, /^console error: .*ERR_CONNECTION_REFUSED/]);

await test('with --read-token the page asks for the token once per browser session', async () => {
  const s2 = await serve(db, '--token', 'write-token-123', '--read-token', 'read-token-123');
  const ctx = await browser.newContext();
  const p2 = await ctx.newPage();
  await p2.addInitScript(REPORT_CSP);
  watch(p2);
  await p2.goto(s2.url + '/');
  await p2.waitForSelector('#token-dialog[open]');
  await p2.fill('#token-input', 'read-token-123');
  await p2.click('#token-dialog button');
  await p2.waitForFunction(() => window.__factdb && window.__factdb.ready && window.__factdb.chart);
  assert((await p2.textContent('#kpi-rows')) === '1,000,025', 'KPI after token');
  await p2.reload();
  await p2.waitForFunction(() => window.__factdb && window.__factdb.ready && window.__factdb.chart);
  assert(!(await p2.$('#token-dialog[open]')), 'asked only once');
  await ctx.close();
  await stop(s2);
}, [/^HTTP 401 GET .*\/v1\/tables$/, /^console error: Failed to load resource: .* 401/]);

await test('no request left the server origin', async () => {
  assert(foreign.length === 0, 'foreign requests: ' + foreign.join(', '));
});

await browser.close();
if (process.env.FACTDB_SCREENSHOTS_TO_DOCS) {
  for (const f of ['dashboard-chart.png', 'dashboard-sql.png'])
    writeFileSync(join(ROOT, 'docs', f), (await import('node:fs')).readFileSync(join(OUT, f)));
}
rmSync(dir, { recursive: true, force: true });
console.log(failures ? failures + ' test(s) failed' : 'all passed');
process.exit(failures ? 1 : 0);
