-- arrays <-> vector types, and between vector types (pgvector's cast matrix)
SELECT ARRAY[1,2,3]::vector, ARRAY[1.5,2.5]::real[]::vector, ARRAY[1.25,2]::double precision[]::vector,
       ARRAY[1.5,2.25]::numeric[]::vector;
SELECT '[1,2,3]'::vector::real[], '[1.5,2]'::halfvec::real[];
SELECT ARRAY[1,2,3]::halfvec, ARRAY[0,1.5,0,2]::sparsevec, ARRAY[0,0]::real[]::sparsevec;
SELECT ARRAY[1,2,3]::vector(3);
SELECT '[1,2,3]'::vector::halfvec, '[1.5,2]'::halfvec::vector, '[0,1.5,0]'::vector::sparsevec,
       '{2:1.5}/3'::sparsevec::vector, '[0,1,0]'::halfvec::sparsevec, '{2:1.5}/3'::sparsevec::halfvec;
SELECT '[1,2,3]'::vector::vector(3), '[1,2]'::halfvec::halfvec(2), '{1:1}/2'::sparsevec::sparsevec(2);
-- assignment casts on insert
CREATE TABLE t_cast (v vector(2), h halfvec(2), s sparsevec(2));
INSERT INTO t_cast VALUES (ARRAY[1,2], ARRAY[3,4], ARRAY[0,5]);
INSERT INTO t_cast VALUES ('[1,2]'::vector, '[1,2]'::vector, '[1,2]'::vector);
SELECT * FROM t_cast;
DROP TABLE t_cast;
-- errors
SELECT err($$SELECT ARRAY[[1,2],[3,4]]::vector$$);
SELECT err($$SELECT ARRAY[1,NULL]::vector$$);
SELECT err($$SELECT '{}'::real[]::vector$$);
SELECT err($$SELECT ARRAY['NaN']::real[]::vector$$);
SELECT err($$SELECT ARRAY['Infinity']::double precision[]::vector$$);
SELECT err($$SELECT ARRAY[1e39]::double precision[]::vector$$);
SELECT err($$SELECT ARRAY[1e39]::numeric[]::vector$$);
SELECT err($$SELECT ARRAY[1,2]::vector(3)$$);
SELECT err($$SELECT '[1e5]'::vector::halfvec$$);
SELECT err($$SELECT '{1:1}/16001'::sparsevec::vector$$);
SELECT err($$SELECT '[1,2]'::vector::vector(3)$$);
SELECT err($$SELECT ARRAY[1,NULL]::sparsevec$$);
SELECT err($$SELECT ARRAY[100000]::halfvec$$);
