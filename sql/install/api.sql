-- The ruvec SQL API lives in schema "ruvec" (DESIGN.md §1); types and operators stay in the
-- schema the extension is installed into, where pgvector clients expect them.
CREATE SCHEMA IF NOT EXISTS ruvec;

CREATE FUNCTION ruvec.version() RETURNS text
	AS 'MODULE_PATHNAME', 'ruvec_version_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ruvec.version() IS 'version of the loaded ruvec library';

CREATE FUNCTION ruvec.simd_backend() RETURNS text
	AS 'MODULE_PATHNAME', 'ruvec_simd_backend_wrapper' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ruvec.simd_backend() IS 'SIMD instruction sets the distance kernels dispatch to on this CPU';

CREATE FUNCTION ruvec.index_check(index regclass)
	RETURNS TABLE (check_name text, ok boolean, detail text)
	AS 'MODULE_PATHNAME', 'ruvec_index_check_wrapper' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION ruvec.index_check(regclass) IS 'verify a ruhnsw index: format, links, reachability, every live heap row indexed';

CREATE FUNCTION ruvec.index_stats(index regclass)
	RETURNS TABLE (stat text, value float8)
	AS 'MODULE_PATHNAME', 'ruvec_index_stats_wrapper' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION ruvec.index_stats(regclass) IS 'what a ruhnsw index holds: storage tier, elements and bytes per tier, codebook size, degree per layer, deleted and free elements, pages';

CREATE FUNCTION ruvec.retier(index regclass)
	RETURNS TABLE (promoted bigint, demoted bigint, hot bigint, warm bigint, cold bigint, archive bigint)
	AS 'MODULE_PATHNAME', 'ruvec_retier_wrapper' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION ruvec.retier(regclass) IS 'storage = ''auto'' ruhnsw index: move each vector to the tier its decayed access count calls for (VACUUM does the same); returns the moves and the live vectors per tier';

CREATE FUNCTION ruvec.scan_stats()
	RETURNS TABLE (scans bigint, navigated bigint, reranked bigint, page_reads bigint,
	               cache_reads bigint, cache_elements bigint, cache_bytes bigint)
	AS 'MODULE_PATHNAME', 'ruvec_scan_stats_wrapper' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION ruvec.scan_stats() IS 'this session''s ruhnsw index scans: scans started, graph candidates taken (approximate distances), heap rows re-scored exactly (rerank), elements measured from index pages and from this backend''s code cache; the code cache''s elements and bytes now';

CREATE FUNCTION ruvec.scan_stats_reset() RETURNS void
	AS 'MODULE_PATHNAME', 'ruvec_scan_stats_reset_wrapper' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION ruvec.scan_stats_reset() IS 'zero this session''s ruvec.scan_stats() counters';
