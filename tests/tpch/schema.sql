-- tests/tpch/schema.sql: the 8 TPC-H tables with the specification's column types (clause 1.4), as
-- factdb, PostgreSQL and DuckDB all accept them: identifier and integer -> integer, decimal -> decimal(15,2),
-- fixed and variable text -> text, date -> date. No PRIMARY KEY or FOREIGN KEY clauses (factdb refuses
-- them today). Read by tests/tpch/test_tpch.py and bench/tpch22.py; one statement per paragraph.
create table region (
	r_regionkey integer,
	r_name text,
	r_comment text
);

create table nation (
	n_nationkey integer,
	n_name text,
	n_regionkey integer,
	n_comment text
);

create table supplier (
	s_suppkey integer,
	s_name text,
	s_address text,
	s_nationkey integer,
	s_phone text,
	s_acctbal decimal(15,2),
	s_comment text
);

create table part (
	p_partkey integer,
	p_name text,
	p_mfgr text,
	p_brand text,
	p_type text,
	p_size integer,
	p_container text,
	p_retailprice decimal(15,2),
	p_comment text
);

create table partsupp (
	ps_partkey integer,
	ps_suppkey integer,
	ps_availqty integer,
	ps_supplycost decimal(15,2),
	ps_comment text
);

create table customer (
	c_custkey integer,
	c_name text,
	c_address text,
	c_nationkey integer,
	c_phone text,
	c_acctbal decimal(15,2),
	c_mktsegment text,
	c_comment text
);

create table orders (
	o_orderkey integer,
	o_custkey integer,
	o_orderstatus text,
	o_totalprice decimal(15,2),
	o_orderdate date,
	o_orderpriority text,
	o_clerk text,
	o_shippriority integer,
	o_comment text
);

create table lineitem (
	l_orderkey integer,
	l_partkey integer,
	l_suppkey integer,
	l_linenumber integer,
	l_quantity decimal(15,2),
	l_extendedprice decimal(15,2),
	l_discount decimal(15,2),
	l_tax decimal(15,2),
	l_returnflag text,
	l_linestatus text,
	l_shipdate date,
	l_commitdate date,
	l_receiptdate date,
	l_shipinstruct text,
	l_shipmode text,
	l_comment text
);
