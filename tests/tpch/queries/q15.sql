-- TPC-H Q15, top supplier (clause 2.4.15); DATE = 1996-01-01. The specification creates a view revenue0,
-- queries it and drops it; here the view is a CTE (WITH revenue0 AS ...) with the view's text, so the
-- query is one statement that leaves nothing behind.
with revenue0 (supplier_no, total_revenue) as (
	select
		l_suppkey,
		sum(l_extendedprice * (1 - l_discount))
	from
		lineitem
	where
		l_shipdate >= date '1996-01-01'
		and l_shipdate < date '1996-01-01' + interval '3' month
	group by
		l_suppkey
)
select
	s_suppkey,
	s_name,
	s_address,
	s_phone,
	total_revenue
from
	supplier,
	revenue0
where
	s_suppkey = supplier_no
	and total_revenue = (
		select
			max(total_revenue)
		from
			revenue0
	)
order by
	s_suppkey;
