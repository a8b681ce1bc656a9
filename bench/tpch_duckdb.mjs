// tpch_duckdb.mjs: DuckDB side of the lineitem benchmark (bench/tpch.py) and of the 22-query TPC-H and SSB
// benchmark (bench/tpch22.py), pinned @duckdb/node-api.
//   node tpch_duckdb.mjs load CSV DBFILE THREADS    creates lineitem with the TPC-H types, fills it from
//                                                   the CSV, checkpoints; prints "load_ms file_bytes"
//   node tpch_duckdb.mjs tables DIR DBFILE THREADS SCHEMA
//                                                   runs SCHEMA's CREATE TABLE statements (a file, one
//                                                   statement per `;`, `--` comment lines), fills each
//                                                   table from DIR/<table>.csv (COPY, header), checkpoints;
//                                                   prints "load_ms file_bytes"
//   node tpch_duckdb.mjs query DBFILE THREADS RUNS SQL
//                                                   THREADS: counts like 1,2; a warm-up run per count,
//                                                   then RUNS rounds running each count in turn; prints
//                                                   the best ms per count on one line, then each count's
//                                                   last result, one row a line, tab-separated (\N NULL),
//                                                   each ended by a line "--"
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, statSync } from 'node:fs';

const [mode, ...args] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e6;
if (mode === 'load') {
  const [csv, dbfile, threads] = args;
  const inst = await DuckDBInstance.create(dbfile, { threads: String(threads) });
  const con = await inst.connect();
  const t0 = now();
  await con.run(`CREATE TABLE lineitem (l_orderkey bigint, l_partkey bigint, l_suppkey bigint,
    l_linenumber integer, l_quantity decimal(15,2), l_extendedprice decimal(15,2), l_discount decimal(15,2),
    l_tax decimal(15,2), l_returnflag text, l_linestatus text, l_shipdate date, l_commitdate date,
    l_receiptdate date, l_shipinstruct text, l_shipmode text, l_comment text)`);
  await con.run(`INSERT INTO lineitem SELECT * FROM read_csv('${csv}', header=true)`);
  await con.run('CHECKPOINT');
  const ms = now() - t0;
  con.closeSync();
  inst.closeSync();
  console.log(`${ms.toFixed(1)} ${statSync(dbfile).size}`);
} else if (mode === 'tables') {
  const [dir, dbfile, threads, schema] = args;
  const text = readFileSync(schema, 'utf8').split('\n').filter((l) => !l.trim().startsWith('--')).join('\n');
  const inst = await DuckDBInstance.create(dbfile, { threads: String(threads) });
  const con = await inst.connect();
  const t0 = now();
  for (const stmt of text.split(';').map((x) => x.trim()).filter((x) => x)) {
    const table = /create table (\w+)/i.exec(stmt)[1];
    await con.run(stmt);
    await con.run(`COPY ${table} FROM '${dir}/${table}.csv' (HEADER)`);
  }
  await con.run('CHECKPOINT');
  const ms = now() - t0;
  con.closeSync();
  inst.closeSync();
  console.log(`${ms.toFixed(1)} ${statSync(dbfile).size}`);
} else if (mode === 'query') {
  // THREADS: counts like "1,2", run in turn each round (SET threads) so load bursts hit every count alike
  const [dbfile, threadList, runs, sql] = args;
  const counts = threadList.split(',').map(Number);
  const inst = await DuckDBInstance.create(dbfile, { threads: String(counts[0]), access_mode: 'READ_ONLY' });
  const con = await inst.connect();
  const best = counts.map(() => Infinity), rows = counts.map(() => []);
  for (let i = -1; i < Number(runs); i++) {
    for (let k = 0; k < counts.length; k++) {
      await con.run(`SET threads = ${counts[k]}`);
      const t0 = now();
      const r = await con.runAndReadAll(sql);
      const t = now() - t0;
      if (i >= 0 && t < best[k]) best[k] = t;
      rows[k] = r.getRows();
    }
  }
  console.log(best.map((b) => b.toFixed(3)).join(' '));
  for (const rs of rows) {
    for (const row of rs) console.log(row.map((v) => (v === null ? '\\N' : String(v))).join('\t'));
    console.log('--');
  }
  con.closeSync();
  inst.closeSync();
} else {
  console.error('usage: node tpch_duckdb.mjs load CSV DBFILE THREADS | tables DIR DBFILE THREADS SCHEMA | '
    + 'query DBFILE THREAD,COUNTS RUNS SQL');
  process.exit(2);
}
