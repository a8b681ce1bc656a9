-- tests/ssb/schema.sql: the Star Schema Benchmark's 5 tables (O'Neil, O'Neil, Chen, "Star Schema
-- Benchmark", revision 3) with the paper's column types as factdb, PostgreSQL and DuckDB all accept them:
-- numeric and identifier -> integer (lo_extendedprice, lo_revenue and the other amounts are integer cents
-- in bench/ssb_gen.c), text -> text, the 1-bit flags -> integer 0/1. The date table keeps the paper's name
-- `date`. No PRIMARY KEY clauses (factdb refuses them today). Read by tests/ssb/test_ssb.py and
-- bench/tpch22.py; one statement per paragraph.
create table lineorder (
	lo_orderkey integer,
	lo_linenumber integer,
	lo_custkey integer,
	lo_partkey integer,
	lo_suppkey integer,
	lo_orderdate integer,
	lo_orderpriority text,
	lo_shippriority integer,
	lo_quantity integer,
	lo_extendedprice integer,
	lo_ordtotalprice integer,
	lo_discount integer,
	lo_revenue integer,
	lo_supplycost integer,
	lo_tax integer,
	lo_commitdate integer,
	lo_shipmode text
);

create table date (
	d_datekey integer,
	d_date text,
	d_dayofweek text,
	d_month text,
	d_year integer,
	d_yearmonthnum integer,
	d_yearmonth text,
	d_daynuminweek integer,
	d_daynuminmonth integer,
	d_daynuminyear integer,
	d_monthnuminyear integer,
	d_weeknuminyear integer,
	d_sellingseason text,
	d_lastdayinweekfl integer,
	d_lastdayinmonthfl integer,
	d_holidayfl integer,
	d_weekdayfl integer
);

create table customer (
	c_custkey integer,
	c_name text,
	c_address text,
	c_city text,
	c_nation text,
	c_region text,
	c_phone text,
	c_mktsegment text
);

create table supplier (
	s_suppkey integer,
	s_name text,
	s_address text,
	s_city text,
	s_nation text,
	s_region text,
	s_phone text
);

create table part (
	p_partkey integer,
	p_name text,
	p_mfgr text,
	p_category text,
	p_brand1 text,
	p_color text,
	p_type text,
	p_size integer,
	p_container text
);
