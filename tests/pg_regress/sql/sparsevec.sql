-- sparsevec: {index:value,...}/dim with 1-based indices in text, 0-based on the wire
SELECT '{1:1.5,3:2}/5'::sparsevec, '{}/3'::sparsevec, ' { 3 : 2 , 1 : 1.5 } / 5 '::sparsevec AS sorted;
SELECT '{1:0,2:1}/2'::sparsevec AS zero_dropped, '{1:1}/1000000000'::sparsevec AS max_dim;
SELECT '{1:1,3:2}/3'::sparsevec(3);
SELECT sparsevec_send('{2:1.5}/3'::sparsevec);
SELECT '{1:3}/2'::sparsevec <-> '{2:4}/2' AS l2, '{1:1,2:2}/2'::sparsevec <#> '{1:3,2:4}/2' AS neg_ip,
       '{1:1}/2'::sparsevec <=> '{2:1}/2' AS cos, '{1:1,2:2}/3'::sparsevec <+> '{2:-2,3:1}/3' AS l1;
SELECT l2_distance('{1:3}/2'::sparsevec, '{2:4}/2'), inner_product('{1:2}/2'::sparsevec, '{1:3}/2'),
       cosine_distance('{1:1}/2'::sparsevec, '{1:2}/2'), l1_distance('{1:1}/2'::sparsevec, '{}/2');
SELECT '{}/2'::sparsevec <=> '{1:1}/2' AS cos_zero_is_nan;
SELECT sparsevec_l2_squared_distance('{1:3}/2', '{2:4}/2'), sparsevec_negative_inner_product('{1:2}/2', '{1:3}/2');
SELECT l2_norm('{1:3,5:4}/5'::sparsevec), l2_normalize('{1:3,5:4}/5'::sparsevec), l2_normalize('{}/5'::sparsevec);
SELECT '{1:1}/2'::sparsevec < '{1:2}/2' AS lt, '{1:1}/2'::sparsevec = '{1:1}/2' AS eq,
       sparsevec_cmp('{1:1}/2', '{2:1}/2'), sparsevec_cmp('{1:1}/2', '{1:1}/3');
SELECT v FROM (VALUES ('{1:2}/2'::sparsevec), ('{2:1}/2'), ('{}/2'), ('{1:1}/2'), ('{1:-1}/2')) t(v) ORDER BY v;
-- errors
SELECT err($$SELECT '{1:1,1:2}/2'::sparsevec$$);
SELECT err($$SELECT '{0:1}/2'::sparsevec$$);
SELECT err($$SELECT '{3:1}/2'::sparsevec$$);
SELECT err($$SELECT '{1:1}/0'::sparsevec$$);
SELECT err($$SELECT '{1:1}/1000000001'::sparsevec$$);
SELECT err($$SELECT '{1:1}'::sparsevec$$);
SELECT err($$SELECT '{1:1/2'::sparsevec$$);
SELECT err($$SELECT '{a:1}/2'::sparsevec$$);
SELECT err($$SELECT '{1:NaN}/2'::sparsevec$$);
SELECT err($$SELECT '{1:1}/2'::sparsevec(3)$$);
SELECT err($$SELECT '{1:1}/2'::sparsevec <-> '{1:1}/3'$$);
SELECT err($$SELECT array_fill(1::real, ARRAY[16001])::sparsevec$$);
