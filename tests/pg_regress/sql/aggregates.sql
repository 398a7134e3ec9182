-- avg and sum over vector and halfvec (parallel-safe with combine functions)
CREATE TABLE t_agg (g int, v vector(3), h halfvec(3));
INSERT INTO t_agg VALUES (1, '[1,2,3]', '[1,2,3]'), (1, '[3,4,5]', '[3,4,5]'), (2, '[1,1,1]', '[1,1,1]'), (2, NULL, NULL);
SELECT avg(v), sum(v), avg(h), sum(h) FROM t_agg;
SELECT g, avg(v), sum(v), avg(h), sum(h) FROM t_agg GROUP BY g ORDER BY g;
SELECT avg(v), sum(v) FROM t_agg WHERE false;
SELECT err($$SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$);
SELECT err($$SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$);
SELECT err($$SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v)$$);
SELECT err($$SELECT avg(h) FROM (VALUES ('[1,2]'::halfvec), ('[1]')) t(h)$$);
-- a parallel plan gives the same answer through vector_combine
CREATE TABLE t_par AS SELECT i, ARRAY[i % 7, i % 11, 1]::vector(3) AS v FROM generate_series(1, 200000) i;
ANALYZE t_par;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM t_par;
SELECT avg(v), sum(v) FROM t_par;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE t_par;
DROP TABLE t_agg;
