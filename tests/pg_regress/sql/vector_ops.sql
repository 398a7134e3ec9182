-- vector: distances, norms, arithmetic, helpers, comparison
SELECT '[0,0]'::vector <-> '[3,4]' AS l2, l2_distance('[0,0]'::vector, '[3,4]');
SELECT '[1,2,3]'::vector <#> '[4,5,6]' AS neg_ip, inner_product('[1,2,3]'::vector, '[4,5,6]');
SELECT '[1,2]'::vector <=> '[2,4]' AS cos_same, '[1,0]'::vector <=> '[0,1]' AS cos_orth,
       '[1,1]'::vector <=> '[-1,-1]' AS cos_opposite, cosine_distance('[1,2]'::vector, '[-2,1]');
SELECT '[0,0]'::vector <=> '[1,1]' AS cos_zero_is_nan;
SELECT '[1,2,3]'::vector <+> '[3,2,1]' AS l1, l1_distance('[1,-2]'::vector, '[-1,2]');
SELECT vector_l2_squared_distance('[0,0]'::vector, '[3,4]'), vector_negative_inner_product('[1,2]'::vector, '[3,4]');
SELECT round(vector_spherical_distance('[1,0]'::vector, '[0,1]')::numeric, 6) AS quarter;
SELECT vector_norm('[3,4]'::vector), l2_norm('[3,4]'::vector), vector_norm('[0,0]'::vector);
SELECT l2_normalize('[3,4]'::vector), l2_normalize('[0,0]'::vector), l2_normalize('[-5]'::vector);
SELECT binary_quantize('[1,-2,0,3,0.1,-0.1,5,6,7]'::vector);
SELECT subvector('[1,2,3,4,5]'::vector, 2, 3), subvector('[1,2,3,4,5]'::vector, 4, 10), subvector('[1,2,3]'::vector, -1, 3);
SELECT '[1,2,3]'::vector + '[4,5,6]' AS add, '[1,2,3]'::vector - '[4,5,6]' AS sub, '[1,2,3]'::vector * '[4,5,6]' AS mul;
SELECT '[1,2]'::vector || '[3]' AS concat;
SELECT '[1,2,3]'::vector < '[1,2,4]' AS lt, '[1,2,3]'::vector <= '[1,2,3]' AS le, '[1,2,3]'::vector = '[1,2,3]' AS eq,
       '[1,2,3]'::vector <> '[1,2,3]' AS ne, '[1,2]'::vector < '[1,2,3]' AS shorter_first, '[2]'::vector > '[1,9]' AS gt,
       vector_cmp('[1,2]', '[1,3]'), vector_cmp('[1,2]', '[1,2]'), vector_cmp('[9]', '[1,2]');
-- errors
SELECT err($$SELECT '[1,2]'::vector <-> '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector <#> '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector <=> '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector <+> '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector + '[1,2,3]'$$);
SELECT err($$SELECT '[3e38]'::vector + '[3e38]'$$);
SELECT err($$SELECT '[-3e38]'::vector - '[3e38]'$$);
SELECT err($$SELECT '[1e30]'::vector * '[1e30]'$$);
SELECT err($$SELECT '[1e-30]'::vector * '[1e-30]'$$);
SELECT err($$SELECT subvector('[1,2,3]'::vector, 4, 1)$$);
SELECT err($$SELECT subvector('[1,2,3]'::vector, 1, 0)$$);
SELECT err($$SELECT subvector('[1,2,3]'::vector, 2147483647, 2147483647)$$);
SELECT err($$SELECT array_fill(1::real, ARRAY[8000])::vector || array_fill(1::real, ARRAY[8001])::vector$$);
-- btree: ORDER BY, DISTINCT, GROUP BY, UNIQUE
CREATE TABLE t_ord (v vector);
INSERT INTO t_ord VALUES ('[1,2,3]'), ('[1,2]'), ('[0,5]'), ('[1,2,3]'), ('[-1]'), (NULL);
SELECT v FROM t_ord ORDER BY v;
SELECT DISTINCT v FROM t_ord ORDER BY v;
SELECT v, count(*) FROM t_ord GROUP BY v ORDER BY v;
CREATE UNIQUE INDEX ON t_ord (v);
DELETE FROM t_ord WHERE ctid NOT IN (SELECT min(ctid) FROM t_ord GROUP BY v);
CREATE UNIQUE INDEX t_ord_v_key ON t_ord (v);
SELECT err($$INSERT INTO t_ord VALUES ('[1,2]')$$);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT v FROM t_ord WHERE v = '[1,2]';
SELECT v FROM t_ord WHERE v = '[1,2]';
RESET enable_seqscan;
DROP TABLE t_ord;
-- nearest neighbours by every operator (exact scan)
CREATE TABLE t_nn (id int, v vector(2));
INSERT INTO t_nn VALUES (1, '[1,1]'), (2, '[2,2]'), (3, '[-1,3]'), (4, '[0,0.5]');
SELECT id FROM t_nn ORDER BY v <-> '[1.1,1]' LIMIT 3;
SELECT id FROM t_nn ORDER BY v <#> '[1,1]', id LIMIT 3;
SELECT id FROM t_nn ORDER BY v <=> '[1,1.01]', id LIMIT 3;
SELECT id FROM t_nn ORDER BY v <+> '[0,0]' LIMIT 3;
DROP TABLE t_nn;
