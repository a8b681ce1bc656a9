// duckdb_sql.mjs: DuckDB side of the SQL benchmark: opens the database bench/run.sh loaded, runs each
// "name<TAB>sql" line of the queries file once to warm up and then RUNS times with THREADS threads, and
// prints "name median_ms last-value-of-the-first-row".
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';

const [dbfile, queries, threads, runs] = process.argv.slice(2);
const inst = await DuckDBInstance.create(dbfile, { threads: String(threads) });
const con = await inst.connect();
const now = () => Number(process.hrtime.bigint()) / 1e6;
for (const line of readFileSync(queries, 'utf8').split('\n')) {
  if (!line || line.startsWith('#')) continue;
  const [name, sql] = line.split('\t');
  let first = '';
  const ts = [];
  for (let i = -1; i < Number(runs); i++) {
    const t0 = now();
    const r = await con.runAndReadAll(sql);
    const t = now() - t0;
    if (i >= 0) ts.push(t);
    const rows = r.getRows();
    if (rows.length) first = String(rows[0][rows[0].length - 1]);
  }
  ts.sort((a, b) => a - b);
  console.log(`${name} ${ts[Math.floor(ts.length / 2)].toFixed(3)} ${first}`);
}
con.closeSync();
inst.closeSync();
