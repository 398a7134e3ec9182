//! The `ruvec.*` SQL API (declared in sql/install/api.sql).

use pgrx::prelude::*;

#[pg_extern(sql = false)]
fn ruvec_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pg_extern(sql = false)]
fn ruvec_simd_backend() -> &'static str {
    ruvec_distance::simd_backend()
}

/// `ruvec.index_check(regclass)`: see `am::hnsw::check`.
#[pg_extern(sql = false)]
fn ruvec_index_check(
    index: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(check_name, String),
        name!(ok, bool),
        name!(detail, String),
    ),
> {
    require_ruhnsw(index);
    // SAFETY: a ruhnsw index, checked above.
    let rows = unsafe { crate::am::hnsw::check::check(index) };
    TableIterator::new(
        rows.into_iter()
            .map(|r| (r.name.to_string(), r.ok, r.detail)),
    )
}

/// `ruvec.index_stats(regclass)`: see `am::hnsw::stats`.
#[pg_extern(sql = false)]
fn ruvec_index_stats(
    index: pg_sys::Oid,
) -> TableIterator<'static, (name!(stat, String), name!(value, f64))> {
    require_ruhnsw(index);
    // SAFETY: a ruhnsw index, checked above.
    TableIterator::new(unsafe { crate::am::hnsw::stats::stats(index) })
}

/// `ruvec.retier(regclass)`: move the vectors of a `storage = 'auto'` index to the tiers their
/// access heat calls for now (see `am::hnsw::retier`).
#[pg_extern(sql = false)]
fn ruvec_retier(
    index: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(promoted, i64),
        name!(demoted, i64),
        name!(hot, i64),
        name!(warm, i64),
        name!(cold, i64),
        name!(archive, i64),
    ),
> {
    require_ruhnsw(index);
    // SAFETY: a ruhnsw index (checked above), opened with RowExclusiveLock as writers do (it
    // conflicts with REINDEX and DROP), its table with AccessShareLock; closed below keeping
    // the locks to the end of the transaction.
    let s = unsafe {
        use crate::am::hnsw::{retier, store::PageGraph};
        let lock = pg_sys::RowExclusiveLock as pg_sys::LOCKMODE;
        let rel = pg_sys::index_open(index, lock);
        let heap_oid = pg_sys::IndexGetRelation(index, false);
        let heap = pg_sys::table_open(heap_oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let name = pgrx::name_data_to_str(&(*(*rel).rd_rel).relname).to_string();
        retier::require_auto(&PageGraph::open(rel), &name);
        let s = retier::retier(rel, heap, true).expect("waits for the lock");
        pg_sys::table_close(heap, pg_sys::NoLock as pg_sys::LOCKMODE);
        pg_sys::index_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        s
    };
    let r = |i: usize| s.rungs[i] as i64;
    TableIterator::once((s.promoted as i64, s.demoted as i64, r(3), r(2), r(1), r(0)))
}

/// ERROR 42809 unless `index` is a ruhnsw index.
fn require_ruhnsw(index: pg_sys::Oid) {
    let am = read_only_text(&format!(
        "SELECT a.amname::text FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = {}",
        index.to_u32()
    ));
    if am.as_deref() != Some("ruhnsw") {
        let name = read_only_text(&format!("SELECT {}::regclass::text", index.to_u32()))
            .unwrap_or_default();
        crate::error::raise_with(
            pgrx::PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("\"{name}\" is not a ruhnsw index"),
            None,
            None,
        );
    }
}

/// `ruvec.scan_stats()`: this session's ruhnsw scan counters (see `am::hnsw::rerank`).
#[pg_extern(sql = false)]
fn ruvec_scan_stats() -> TableIterator<
    'static,
    (
        name!(scans, i64),
        name!(navigated, i64),
        name!(reranked, i64),
        name!(page_reads, i64),
        name!(cache_reads, i64),
        name!(cache_elements, i64),
        name!(cache_bytes, i64),
    ),
> {
    let s = crate::am::hnsw::rerank::stats();
    let (elements, bytes) = crate::am::hnsw::codecache::usage();
    TableIterator::once((
        s.scans as i64,
        s.navigated as i64,
        s.reranked as i64,
        s.page_reads as i64,
        s.cache_reads as i64,
        elements as i64,
        bytes as i64,
    ))
}

/// `ruvec.scan_stats_reset()`.
#[pg_extern(sql = false)]
fn ruvec_scan_stats_reset() {
    crate::am::hnsw::rerank::reset_stats();
}

/// First column of the first row of a read-only query (works on a hot standby, unlike
/// `Spi::get_one`, which runs as a read-write statement and needs a transaction id).
fn read_only_text(sql: &str) -> Option<String> {
    Spi::connect(|client| {
        client
            .select(sql, Some(1), &[])
            .ok()?
            .first()
            .get_one::<String>()
            .ok()
            .flatten()
    })
}
