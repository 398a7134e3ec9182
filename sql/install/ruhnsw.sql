-- ruhnsw: HNSW graph index stored in Postgres pages (src/am/hnsw).
-- Operator classes keep pgvector's names, so ORM index helpers only change USING.
-- FUNCTION 1 is the distance (documentation and amvalidate; the index calls its own SIMD
-- kernels), FUNCTION 2 a constant telling the index its element type and metric.

CREATE FUNCTION ruhnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME', 'ruhnsw_handler_wrapper' LANGUAGE C;
CREATE ACCESS METHOD ruhnsw TYPE INDEX HANDLER ruhnsw_handler;
COMMENT ON ACCESS METHOD ruhnsw IS 'ruvec HNSW index: approximate nearest neighbours, exact distances';

CREATE FUNCTION ruhnsw_vector_l2_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_vector_l2_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ruhnsw_vector_ip_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_vector_ip_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ruhnsw_vector_cosine_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_vector_cosine_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ruhnsw_vector_l1_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_vector_l1_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ruhnsw_halfvec_l2_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_halfvec_l2_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ruhnsw_halfvec_ip_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_halfvec_ip_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ruhnsw_halfvec_cosine_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_halfvec_cosine_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ruhnsw_halfvec_l1_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_halfvec_l1_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ruhnsw_bit_hamming_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_bit_hamming_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ruhnsw_bit_jaccard_support(internal) RETURNS int4
	AS 'MODULE_PATHNAME', 'ruhnsw_bit_jaccard_support_wrapper' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE OPERATOR CLASS vector_l2_ops
	FOR TYPE vector USING ruhnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector),
	FUNCTION 2 ruhnsw_vector_l2_support(internal);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING ruhnsw AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector),
	FUNCTION 2 ruhnsw_vector_ip_support(internal);

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING ruhnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 cosine_distance(vector, vector),
	FUNCTION 2 ruhnsw_vector_cosine_support(internal);

CREATE OPERATOR CLASS vector_l1_ops
	FOR TYPE vector USING ruhnsw AS
	OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(vector, vector),
	FUNCTION 2 ruhnsw_vector_l1_support(internal);

CREATE OPERATOR CLASS halfvec_l2_ops
	FOR TYPE halfvec USING ruhnsw AS
	OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 halfvec_l2_squared_distance(halfvec, halfvec),
	FUNCTION 2 ruhnsw_halfvec_l2_support(internal);

CREATE OPERATOR CLASS halfvec_ip_ops
	FOR TYPE halfvec USING ruhnsw AS
	OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec),
	FUNCTION 2 ruhnsw_halfvec_ip_support(internal);

CREATE OPERATOR CLASS halfvec_cosine_ops
	FOR TYPE halfvec USING ruhnsw AS
	OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 cosine_distance(halfvec, halfvec),
	FUNCTION 2 ruhnsw_halfvec_cosine_support(internal);

CREATE OPERATOR CLASS halfvec_l1_ops
	FOR TYPE halfvec USING ruhnsw AS
	OPERATOR 1 <+> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(halfvec, halfvec),
	FUNCTION 2 ruhnsw_halfvec_l1_support(internal);

CREATE OPERATOR CLASS bit_hamming_ops
	FOR TYPE bit USING ruhnsw AS
	OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 hamming_distance(bit, bit),
	FUNCTION 2 ruhnsw_bit_hamming_support(internal);

CREATE OPERATOR CLASS bit_jaccard_ops
	FOR TYPE bit USING ruhnsw AS
	OPERATOR 1 <%> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 jaccard_distance(bit, bit),
	FUNCTION 2 ruhnsw_bit_jaccard_support(internal);
