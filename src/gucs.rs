//! Run-time settings. Every GUC is `ruvec.*` and the prefix is reserved (PostgreSQL 15+), so a
//! typo like `SET ruvec.ef_serach = 100` is an error instead of a silently ignored placeholder.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

/// `ruvec.ef_search`: size of the dynamic candidate list of an HNSW search; the number of
/// results a scan returns before (optional) iterative continuation.
pub static EF_SEARCH: GucSetting<i32> = GucSetting::<i32>::new(40);

/// `ruvec.iterative_scan`: whether an index scan keeps searching the graph after the first
/// ef_search candidates are exhausted (e.g. when a WHERE clause filtered them out). The default
/// is `strict_order`: a filtered `ORDER BY ... LIMIT k` gets its k rows, still in exact distance
/// order (`relaxed_order` trades that order for a little recall; `off` stops at ef_search).
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum IterativeScan {
    #[name = c"off"]
    Off,
    #[name = c"relaxed_order"]
    RelaxedOrder,
    #[name = c"strict_order"]
    StrictOrder,
}

pub static ITERATIVE_SCAN: GucSetting<IterativeScan> =
    GucSetting::<IterativeScan>::new(IterativeScan::StrictOrder);

/// `ruvec.max_scan_tuples`: upper bound on elements an iterative scan visits before it stops.
pub static MAX_SCAN_TUPLES: GucSetting<i32> = GucSetting::<i32>::new(20_000);

/// `ruvec.rerank`: candidates a scan of a quantized ruhnsw index re-scores with exact distances
/// from the heap rows. -1 (default): the index's `rerank` option, else the storage tier's
/// default; 0: no rerank (rows come back in the codes' approximate order).
pub static RERANK: GucSetting<i32> = GucSetting::<i32>::new(-1);

/// `ruvec.access_half_life`: half-life of the access heat that places the vectors of a
/// `storage = 'auto'` ruhnsw index on their tiers (seconds; accepts units, e.g. '7d').
pub static ACCESS_HALF_LIFE: GucSetting<i32> = GucSetting::<i32>::new(7 * 24 * 3600);

/// `ruvec.code_cache_mem`: memory (kB) a backend may use for its copies of ruhnsw element codes
/// (see am/hnsw/codecache.rs); 0 turns the copies off.
pub static CODE_CACHE_MEM: GucSetting<i32> = GucSetting::<i32>::new(64 * 1024);

pub fn init() {
    GucRegistry::define_int_guc(
        c"ruvec.ef_search",
        c"Size of the dynamic candidate list for HNSW index scans.",
        c"Higher values give better recall at the cost of speed. Range 1-1000.",
        &EF_SEARCH,
        1,
        1000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"ruvec.iterative_scan",
        c"Continue HNSW index scans past ef_search results when rows are filtered out.",
        c"off returns at most ef_search rows; relaxed_order keeps searching and may return rows slightly out of distance order; strict_order keeps searching and returns rows in exact distance order.",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"ruvec.max_scan_tuples",
        c"Maximum number of graph elements an iterative HNSW scan visits.",
        c"Bounds the work of a filtered query that keeps searching for matching rows.",
        &MAX_SCAN_TUPLES,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"ruvec.rerank",
        c"Candidates a quantized ruhnsw index scan re-scores with exact distances.",
        c"-1 uses the index's rerank option or its storage tier's default; 0 returns rows in the approximate order of the codes.",
        &RERANK,
        -1,
        1000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"ruvec.access_half_life",
        c"Half-life of the access counts that choose storage tiers in storage = 'auto' ruhnsw indexes.",
        c"An access counts half as much after one half-life. Used when VACUUM or ruvec.retier() moves vectors between tiers.",
        &ACCESS_HALF_LIFE,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"ruvec.code_cache_mem",
        c"Memory each backend may use for copies of ruhnsw element codes.",
        c"Index scans measure cached elements without visiting their pages. Per backend, for all indexes together; 0 turns the copies off.",
        &CODE_CACHE_MEM,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_KB,
    );
    // SAFETY: called once from _PG_init with a static C string.
    #[cfg(not(any(feature = "pg13", feature = "pg14")))]
    unsafe {
        pgrx::pg_sys::MarkGUCPrefixReserved(c"ruvec".as_ptr());
    }
}
