//! `ruhnsw`: an HNSW graph stored in Postgres pages (format in [`format`]).
//!
//! Callback groups, one module each: [`build`] (ambuild/ambuildempty), [`insert`] (aminsert),
//! [`scan`] (ambeginscan/amrescan/amgettuple/amendscan), [`vacuum`] (ambulkdelete/
//! amvacuumcleanup), [`cost`] (amcostestimate), [`validate`] (amvalidate), [`options`]
//! (amoptions). [`store`] implements the graph traits of `crates/hnsw` over pages ([`place`]:
//! where new tuples go; [`visit`]: how a search measures elements, [`codecache`]: this
//! backend's copies of element codes), [`parallel`] runs builds with parallel workers; every
//! page access goes through `crate::storage`. Storage tiers: [`codec`] (what an element stores, navigation
//! distances), [`tiering`] (checks, codebook training and pages at build), [`rerank`] (exact
//! re-scoring from the table at scan time), [`auto`] (`storage = 'auto'`: rungs and access
//! heat) and [`retier`] (moving auto vectors between rungs). SQL functions: [`check`]
//! (`ruvec.index_check`), [`stats`] (`ruvec.index_stats`).
//!
//! Locking protocol (heavyweight locks on pseudo page numbers of the index, like pgvector's):
//! - `UPDATE_LOCK`: inserts hold it in Share mode, so they run concurrently; an insert that will
//!   become the new entry point (higher level) upgrades by retrying in Exclusive mode; VACUUM's
//!   graph repair holds it in Exclusive mode, so it never races an insert's back-links. A
//!   retier ([`retier`]) holds it in Share mode, like an insert.
//! - `RETIER_LOCK`: one retier of an auto index at a time (taken before `UPDATE_LOCK`).
//! - buffer content locks are held only for one page read or one WAL record at a time, and a
//!   WAL record locks its pages in ascending block order (the meta page, block 0, first).

pub mod auto;
pub mod build;
pub mod check;
pub mod codec;
pub mod codecache;
pub mod cost;
pub mod duplicates;
pub mod format;
pub mod insert;
pub mod options;
pub mod parallel;
pub mod place;
pub mod rerank;
pub mod retier;
pub mod scan;
pub mod stats;
pub mod store;
pub mod tiering;
pub mod vacuum;
pub mod validate;
pub mod value;
pub mod visit;

use pgrx::pg_sys;
use pgrx::prelude::*;

/// Heavyweight lock tags (page numbers that are never data pages' buffer locks).
pub const UPDATE_LOCK: pg_sys::BlockNumber = 0;
/// Held Exclusive by a retier of a `storage = 'auto'` index (one at a time per index).
pub const RETIER_LOCK: pg_sys::BlockNumber = 1;

/// Support functions of a ruhnsw operator class: 1 is the distance function (for amvalidate
/// and readers of the catalog; the index calls its kernels directly), 2 the metric code.
pub const PROC_METRIC: u16 = 2;
pub const NUM_PROCS: u16 = 2;

/// `CREATE ACCESS METHOD ruhnsw TYPE INDEX HANDLER ruhnsw_handler`.
#[pg_extern(sql = false)]
fn ruhnsw_handler(_fcinfo: pg_sys::FunctionCallInfo) -> pgrx::datum::Internal {
    // SAFETY: makeNode-equivalent allocation in the current memory context; every field the
    // executor reads is set below, the rest stays zero/NULL as PostgreSQL expects.
    let mut am =
        unsafe { PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine) };
    am.amstrategies = 0;
    am.amsupport = NUM_PROCS;
    am.amoptsprocnum = 0;
    am.amcanorder = false;
    am.amcanorderbyop = true;
    am.amcanbackward = false;
    am.amcanunique = false;
    am.amcanmulticol = false;
    am.amoptionalkey = true;
    am.amsearcharray = false;
    am.amsearchnulls = false;
    am.amstorage = false;
    am.amclusterable = false;
    am.ampredlocks = false;
    am.amcanparallel = false;
    am.amcaninclude = false;
    am.amusemaintenanceworkmem = true;
    am.amparallelvacuumoptions = 0;
    am.amkeytype = pg_sys::InvalidOid;

    am.ambuild = Some(build::ambuild);
    am.ambuildempty = Some(build::ambuildempty);
    am.aminsert = Some(insert::aminsert);
    am.ambulkdelete = Some(vacuum::ambulkdelete);
    am.amvacuumcleanup = Some(vacuum::amvacuumcleanup);
    am.amcanreturn = None;
    am.amcostestimate = Some(cost::amcostestimate);
    am.amoptions = Some(options::amoptions);
    am.amproperty = None;
    am.ambuildphasename = Some(build::ambuildphasename);
    am.amvalidate = Some(validate::amvalidate);
    am.amadjustmembers = None;
    am.ambeginscan = Some(scan::ambeginscan);
    am.amrescan = Some(scan::amrescan);
    am.amgettuple = Some(scan::amgettuple);
    am.amgetbitmap = None;
    am.amendscan = Some(scan::amendscan);
    am.ammarkpos = None;
    am.amrestrpos = None;
    am.amestimateparallelscan = None;
    am.aminitparallelscan = None;
    am.amparallelrescan = None;

    pgrx::datum::Internal::from(Some(pg_sys::Datum::from(am.into_pg())))
}

/// Per-backend setup, from `_PG_init`.
pub fn init() {
    options::init();
}

/// Support function 2 of each ruhnsw operator class: a constant telling the index what it
/// stores and how it measures, `(element kind << 8) | metric` (see [`format`]). Called once per
/// index open through fmgr, never per distance: distances go straight to the SIMD kernels.
macro_rules! metric_support {
    ($($name:ident => $kind:ident, $metric:ident;)*) => {$(
        #[pg_extern(sql = false)]
        fn $name(_unused: pgrx::datum::Internal) -> i32 {
            ((format::ElemKind::$kind as i32) << 8) | format::Metric::$metric as i32
        }
    )*};
}

metric_support! {
    ruhnsw_vector_l2_support => F32, L2;
    ruhnsw_vector_ip_support => F32, InnerProduct;
    ruhnsw_vector_cosine_support => F32, Cosine;
    ruhnsw_vector_l1_support => F32, L1;
    ruhnsw_halfvec_l2_support => F16, L2;
    ruhnsw_halfvec_ip_support => F16, InnerProduct;
    ruhnsw_halfvec_cosine_support => F16, Cosine;
    ruhnsw_halfvec_l1_support => F16, L1;
    ruhnsw_bit_hamming_support => Bit, Hamming;
    ruhnsw_bit_jaccard_support => Bit, Jaccard;
}
