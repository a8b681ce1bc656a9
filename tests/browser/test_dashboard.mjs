// test_dashboard.mjs: the dashboard in a real browser (Debian's chromium, headless, driven by
// playwright-core from web/node_modules) against a real `factdb serve`. Checks the chart against numbers
// fetched from the API, the SQL editor, live KPI updates after inserts through the API, errors, the token
// prompt, phone width, and that no request leaves the server's origin. Screenshots go to tests/out/
// (and to docs/ with FACTDB_SCREENSHOTS_TO_DOCS=1).
import { spawn, spawnSync } from 'node:child_process';
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
async function test(name, fn) {
  try {
    await fn();
    console.log('ok   ' + name);
  } catch (e) {
    failures++;
    console.log('FAIL ' + name + ': ' + (e && e.stack ? e.stack : e));
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

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--no-first-run'],
});
const dir = mkdtempSync(join(tmpdir(), 'factdb-browser-'));
const db = makeDb(dir);
const srv = await serve(db);
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const foreign = [];
page.on('request', (r) => { if (!r.url().startsWith(srv.url)) foreign.push(r.url()); });
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));

await test('page loads with the header and the tables', async () => {
  await page.goto(srv.url + '/');
  await page.waitForFunction(() => window.__factdb && window.__factdb.ready && window.__factdb.chart);
  assert((await page.textContent('#dbname')) === 'demo.factdb', 'database name');
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
});

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

await test('a stopped server shows a readable error, not a blank page', async () => {
  await stop(srv);
  await page.fill('#sql', 'SELECT 1');
  await page.click('#run-sql');
  await page.waitForSelector('#sql-error:not([hidden])');
  assert((await page.textContent('#sql-error')).includes('cannot be reached'), await page.textContent('#sql-error'));
});

await test('with --read-token the page asks for the token once per browser session', async () => {
  const s2 = await serve(db, '--token', 'write-token-123', '--read-token', 'read-token-123');
  const ctx = await browser.newContext();
  const p2 = await ctx.newPage();
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
});

await test('no request left the server origin and no script error', async () => {
  assert(foreign.length === 0, 'foreign requests: ' + foreign.join(', '));
  assert(consoleErrors.length === 0, 'page errors: ' + consoleErrors.join('; '));
});

await browser.close();
if (process.env.FACTDB_SCREENSHOTS_TO_DOCS) {
  for (const f of ['dashboard-chart.png', 'dashboard-sql.png'])
    writeFileSync(join(ROOT, 'docs', f), (await import('node:fs')).readFileSync(join(OUT, f)));
}
rmSync(dir, { recursive: true, force: true });
console.log(failures ? failures + ' test(s) failed' : 'all passed');
process.exit(failures ? 1 : 0);
