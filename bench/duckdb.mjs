// duckdb.mjs: DuckDB side of the benchmark (pinned @duckdb/node-api). Loads the CSV with COPY into a
// fresh database file and runs the same scans with the same thread count. Prints "name ms result" lines.
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync } from 'node:fs';

const [csv, dbfile, threads, runs] = process.argv.slice(2);
const inst = await DuckDBInstance.create(dbfile, { threads: String(threads) });
const con = await inst.connect();
const now = () => Number(process.hrtime.bigint()) / 1e6;
let t0 = now();
await con.run(`CREATE TABLE sales AS SELECT * FROM read_csv('${csv}', header=true)`);
await con.run('CHECKPOINT');
console.log(`load_ms ${(now() - t0).toFixed(1)} 0`);
const queries = [
  ['count_star', 'SELECT count(*) FROM sales'],
  ['sum_double_amount', 'SELECT sum(amount) FROM sales'],
  ['sum_bigint_customer_id', 'SELECT sum(customer_id) FROM sales'],
];
for (const [name, sql] of queries) {
  await con.runAndReadAll(sql);
  const ts = [];
  let res;
  for (let i = 0; i < Number(runs); i++) {
    t0 = now();
    const r = await con.runAndReadAll(sql);
    ts.push(now() - t0);
    res = r.getRows()[0][0];
  }
  ts.sort((a, b) => a - b);
  console.log(`${name} ${ts[Math.floor(ts.length / 2)].toFixed(3)} ${res}`);
}
con.closeSync();
inst.closeSync();
console.log(`file_bytes ${statSync(dbfile).size} 0`);
