-- vector: text input/output, typmod, limits and malformed literals
SELECT '[1,2,3]'::vector;
SELECT '[-1,2.5,3e-05]'::vector;
SELECT ' [ 1 , 2 , 3 ] '::vector;
SELECT '[1.5e3,+2,-.5,0.1]'::vector;
SELECT '[3.4028235e38,-3.4028235e38,1e-45,1.17549435e-38]'::vector;
SELECT '[1234567,123456,0.0001,0.00001,1e7]'::vector;
SELECT '[0,-0]'::vector;
SELECT '[1,2,3]'::vector(3);
SELECT vector_dims('[1,2,3]'::vector);
SELECT array_fill(1.5::real, ARRAY[16000])::vector IS NOT NULL AS max_dims_ok;
-- errors (SQLSTATE: message)
SELECT err($$SELECT '[1,2,3]'::vector(2)$$);
SELECT err($$SELECT '[1,2'::vector$$);
SELECT err($$SELECT '1,2,3]'::vector$$);
SELECT err($$SELECT '[1,2,3] x'::vector$$);
SELECT err($$SELECT '[1,,3]'::vector$$);
SELECT err($$SELECT '[1,a]'::vector$$);
SELECT err($$SELECT '[]'::vector$$);
SELECT err($$SELECT ''::vector$$);
SELECT err($$SELECT '[NaN]'::vector$$);
SELECT err($$SELECT '[Infinity]'::vector$$);
SELECT err($$SELECT '[-inf]'::vector$$);
SELECT err($$SELECT '[1e39]'::vector$$);
SELECT err($$SELECT '[1e-50]'::vector$$);
SELECT err($$SELECT array_fill(1::real, ARRAY[16001])::vector$$);
SELECT err($$SELECT '[1]'::vector(0)$$);
SELECT err($$SELECT '[1]'::vector(16001)$$);
SELECT err($$SELECT '[1]'::vector(2,3)$$);
SELECT err($$SELECT '[1]'::vector('a')$$);
-- the detail a user sees
SELECT '[1,2'::vector;
-- typmod enforced on insert and update
CREATE TABLE t_vec (v vector(3));
INSERT INTO t_vec VALUES ('[1,2,3]');
SELECT err($$INSERT INTO t_vec VALUES ('[1,2]')$$);
SELECT err($$UPDATE t_vec SET v = '[1,2,3,4]'$$);
SELECT * FROM t_vec;
\d t_vec
DROP TABLE t_vec;
-- binary send/recv are pgvector's bytes: int16 dim, int16 0, big-endian float4s
SELECT vector_send('[1,-2]'::vector);
SELECT vector_send('[1.5]'::vector) = '\x000100003fc00000'::bytea AS send_matches_pgvector;
