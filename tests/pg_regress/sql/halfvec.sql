-- halfvec: f16 storage with vector's surface
SELECT '[1,2,3]'::halfvec, '[1.5,-0.25,65504]'::halfvec, '[0.1]'::halfvec AS rounded_to_f16;
SELECT ' [ 1 , 2 ] '::halfvec(2), vector_dims('[1,2,3]'::halfvec);
SELECT halfvec_send('[1,-2]'::halfvec);
SELECT '[0,0]'::halfvec <-> '[3,4]' AS l2, '[1,2,3]'::halfvec <#> '[4,5,6]' AS neg_ip,
       '[1,2]'::halfvec <=> '[2,4]' AS cos, '[1,2,3]'::halfvec <+> '[3,2,1]' AS l1;
SELECT l2_distance('[0,0]'::halfvec, '[3,4]'), inner_product('[1,2]'::halfvec, '[3,4]'),
       cosine_distance('[1,0]'::halfvec, '[0,1]'), l1_distance('[1,2]'::halfvec, '[3,4]');
SELECT halfvec_l2_squared_distance('[0,0]', '[3,4]'), halfvec_negative_inner_product('[1,2]', '[3,4]');
SELECT l2_norm('[3,4]'::halfvec), vector_norm('[3,4]'::halfvec), l2_normalize('[3,4]'::halfvec);
SELECT binary_quantize('[1,-2,0,3]'::halfvec), subvector('[1,2,3,4,5]'::halfvec, 2, 3);
SELECT '[1,2,3]'::halfvec + '[4,5,6]' AS add, '[1,2,3]'::halfvec - '[4,5,6]' AS sub,
       '[1,2,3]'::halfvec * '[4,5,6]' AS mul, '[1,2]'::halfvec || '[3]' AS concat;
SELECT '[1,2]'::halfvec < '[1,3]' AS lt, '[1,2]'::halfvec = '[1,2]' AS eq, halfvec_cmp('[2]', '[1,1]');
SELECT v FROM (VALUES ('[2,1]'::halfvec), ('[1,2]'), ('[1]')) t(v) ORDER BY v;
-- errors
SELECT err($$SELECT '[65520]'::halfvec$$);
SELECT err($$SELECT '[1e39]'::halfvec$$);
SELECT err($$SELECT '[NaN]'::halfvec$$);
SELECT err($$SELECT '[1,2'::halfvec$$);
SELECT err($$SELECT '[]'::halfvec$$);
SELECT err($$SELECT '[1,2]'::halfvec(3)$$);
SELECT err($$SELECT '[1]'::halfvec(16001)$$);
SELECT err($$SELECT '[1,2]'::halfvec <-> '[1]'$$);
SELECT err($$SELECT '[60000]'::halfvec + '[60000]'$$);
SELECT err($$SELECT '[300]'::halfvec * '[300]'$$);
SELECT err($$SELECT array_fill(1::real, ARRAY[16001])::halfvec$$);
