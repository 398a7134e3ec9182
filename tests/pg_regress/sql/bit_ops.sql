-- Hamming (<~>) and Jaccard (<%>) distance on PostgreSQL's bit type
SELECT B'111' <~> B'001' AS hamming, hamming_distance(B'1010', B'0101'), B'0' <~> B'0' AS zero;
SELECT B'1111' <%> B'0011' AS jaccard, jaccard_distance(B'1100', B'1100'), B'0000' <%> B'0000' AS both_empty;
SELECT binary_quantize('[1,-1,1,1,-1,-1,1,1,1,-1]'::vector) <~> binary_quantize('[1,1,1,1,1,1,1,1,1,1]'::vector) AS after_quantize;
SELECT err($$SELECT B'111' <~> B'00'$$);
SELECT err($$SELECT B'111' <%> B'00'$$);
CREATE TABLE t_bits (id int, b bit(8));
INSERT INTO t_bits VALUES (1, B'11110000'), (2, B'11111111'), (3, B'00001111');
SELECT id, b <~> B'11110001' AS d FROM t_bits ORDER BY b <~> B'11110001', id;
SELECT id FROM t_bits ORDER BY b <%> B'00000011', id;
DROP TABLE t_bits;
