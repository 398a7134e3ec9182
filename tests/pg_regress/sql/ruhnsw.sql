-- ruhnsw: the index access method's SQL surface, options, errors and planner behaviour
SET enable_seqscan = off;
CREATE TABLE h (id int PRIMARY KEY, v vector(3), hv halfvec(3), b bit(4), cat int);
INSERT INTO h SELECT i, ARRAY[i, i % 5, i % 3]::vector, ARRAY[i % 11, i % 5, 1]::halfvec,
       (i % 16)::bit(4), i % 10 FROM generate_series(1, 300) i;
INSERT INTO h VALUES (1001, NULL, NULL, NULL, 0), (1002, '[0,0,0]', '[0,0,0]', B'0000', 0);
-- every operator class builds and answers with the exact order of a sequential scan
CREATE INDEX h_l2 ON h USING ruhnsw (v vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM h ORDER BY v <-> '[100,2,1]' LIMIT 3;
SELECT id, v <-> '[100,2,1]' AS d FROM h ORDER BY v <-> '[100,2,1]' LIMIT 3;
DROP INDEX h_l2;
CREATE INDEX h_ip ON h USING ruhnsw (v vector_ip_ops);
SELECT id FROM h ORDER BY v <#> '[1,0,0]', id LIMIT 3;
DROP INDEX h_ip;
CREATE INDEX h_cos ON h USING ruhnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
SELECT id, round((v <=> '[3,0,0]')::numeric, 6) AS d FROM h ORDER BY v <=> '[3,0,0]', id LIMIT 3;
-- the zero vector is not indexed for cosine (its distance is NaN), NULLs never are
SELECT count(*) FROM (SELECT id FROM h ORDER BY v <=> '[1,1,1]' LIMIT 1000) s;
DROP INDEX h_cos;
CREATE INDEX h_l1 ON h USING ruhnsw (v vector_l1_ops);
SELECT id, v <+> '[50,0,0]' AS d FROM h ORDER BY v <+> '[50,0,0]', id LIMIT 3;
DROP INDEX h_l1;
CREATE INDEX h_half ON h USING ruhnsw (hv halfvec_l2_ops);
SELECT id, hv <-> '[10,4,1]' AS d FROM h ORDER BY hv <-> '[10,4,1]', id LIMIT 3;
DROP INDEX h_half;
CREATE INDEX h_ham ON h USING ruhnsw (b bit_hamming_ops);
SELECT b <~> B'1010' AS d, count(*) FROM (SELECT b FROM h ORDER BY b <~> B'1010' LIMIT 30) s GROUP BY 1 ORDER BY 1;
DROP INDEX h_ham;
CREATE INDEX h_jac ON h USING ruhnsw (b bit_jaccard_ops);
SELECT b FROM h ORDER BY b <%> B'1100', id LIMIT 3;
DROP INDEX h_jac;
-- operator classes validate
SELECT opcname, amvalidate(c.oid) FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
 WHERE a.amname = 'ruhnsw' ORDER BY opcname;
-- iterative scan: a selective filter still gets its 10 rows
CREATE INDEX h_l2 ON h USING ruhnsw (v vector_l2_ops);
SET ruvec.ef_search = 10;
SET ruvec.iterative_scan = strict_order;
SELECT count(*) FROM (SELECT id FROM h WHERE cat = 3 ORDER BY v <-> '[150,0,0]' LIMIT 10) s;
SET ruvec.iterative_scan = off;
SELECT count(*) <= 10 AS at_most_ef FROM (SELECT id FROM h WHERE cat = 3 ORDER BY v <-> '[150,0,0]' LIMIT 10) s;
RESET ruvec.iterative_scan;
RESET ruvec.ef_search;
-- inserts, deletes, VACUUM keep answers exact
INSERT INTO h SELECT i, ARRAY[i, 0, 0]::vector, NULL, NULL, 0 FROM generate_series(301, 400) i;
DELETE FROM h WHERE id BETWEEN 140 AND 160;
VACUUM h;
SELECT id FROM h ORDER BY v <-> '[150.3,0,0]' LIMIT 3;
SELECT id FROM h ORDER BY v <-> '[380.2,0,0]' LIMIT 3;
SELECT check_name, ok FROM ruvec.index_check('h_l2');
-- space freed by VACUUM is reused: delete everything, vacuum, reinsert: the index does not grow
CREATE TABLE g (v vector(4));
INSERT INTO g SELECT ARRAY[i % 17, i % 13, i % 11, i]::vector FROM generate_series(1, 3000) i;
CREATE INDEX g_idx ON g USING ruhnsw (v vector_l2_ops);
SELECT pg_relation_size('g_idx') AS built \gset
DELETE FROM g;
VACUUM g;
INSERT INTO g SELECT ARRAY[i % 17, i % 13, i % 11, i]::vector FROM generate_series(1, 3000) i;
VACUUM g;
SELECT pg_relation_size('g_idx') = :built AS same_size;
SELECT check_name, ok FROM ruvec.index_check('g_idx');
DROP TABLE g;
-- a NULL query vector reaching the index (generic plan) returns no rows
SET plan_cache_mode = force_generic_plan;
PREPARE nn(vector) AS SELECT id FROM h ORDER BY v <-> $1 LIMIT 5;
EXPLAIN (COSTS OFF) EXECUTE nn(NULL);
EXECUTE nn(NULL);
EXECUTE nn('[150.3,0,0]');
DEALLOCATE nn;
RESET plan_cache_mode;
-- errors
SELECT err($$SELECT id FROM h ORDER BY v <-> '[1,2]' LIMIT 1$$);
SELECT err($$CREATE INDEX ON h USING ruhnsw (v vector_l2_ops) WITH (m = 1)$$);
SELECT err($$CREATE INDEX ON h USING ruhnsw (v vector_l2_ops) WITH (m = 101)$$);
SELECT err($$CREATE INDEX ON h USING ruhnsw (v vector_l2_ops) WITH (ef_construction = 3)$$);
SELECT err($$CREATE INDEX ON h USING ruhnsw (v vector_l2_ops) WITH (colour = 'red')$$);
SELECT err($$CREATE INDEX ON h USING ruhnsw (v vector_l2_ops) WITH (m = 48, ef_construction = 64)$$);
SELECT err($$SELECT * FROM ruvec.index_check('h')$$);
SELECT err($$SET ruvec.ef_search = 0$$);
SELECT err($$SET ruvec.iterative_scan = 'sideways'$$);
SELECT err($$SET ruvec.ef_serach = 100$$);
CREATE TABLE nodims (v vector);
SELECT err($$CREATE INDEX ON nodims USING ruhnsw (v vector_l2_ops)$$);
CREATE TABLE wide (v vector(2100), hv halfvec(4100));
SELECT err($$CREATE INDEX ON wide USING ruhnsw (v vector_l2_ops)$$);
SELECT err($$CREATE INDEX ON wide USING ruhnsw (hv halfvec_l2_ops)$$);
SELECT err($$CREATE INDEX ON wide USING ruhnsw ((v::halfvec(2100)) halfvec_l2_ops)$$);
DROP TABLE nodims, wide;
-- the planner prefers a btree when a filter is selective
CREATE INDEX h_cat ON h (cat);
CREATE TABLE big AS SELECT i AS id, ARRAY[i % 97, i % 89, i % 83]::vector(3) AS v, i AS k FROM generate_series(1, 20000) i;
CREATE INDEX ON big USING ruhnsw (v vector_l2_ops);
CREATE INDEX ON big (k);
ANALYZE big;
RESET enable_seqscan;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY v <-> '[1,2,3]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE k BETWEEN 100 AND 110 ORDER BY v <-> '[1,2,3]' LIMIT 10;
DROP TABLE big;
-- UNLOGGED tables get an init fork
CREATE UNLOGGED TABLE u (v vector(2));
CREATE INDEX ON u USING ruhnsw (v vector_l2_ops);
INSERT INTO u VALUES ('[1,1]'), ('[2,2]');
SET enable_seqscan = off;
SELECT v FROM u ORDER BY v <-> '[0,0]' LIMIT 1;
DROP TABLE u;
DROP TABLE h;
