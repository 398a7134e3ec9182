//! `amcostestimate`: what an HNSW scan costs, so the planner picks it for `ORDER BY ... LIMIT`
//! and prefers a btree (plus a sort) when a WHERE clause is selective enough.
//!
//! Model: before the first row, a scan descends the upper layers (about m elements per layer)
//! and expands ef_search candidates on layer 0, each touching up to 2m neighbours; a visited
//! set catches roughly half of those. Each touched element is one distance computation (whose
//! CPU cost grows with the dimension) and, worst case, one random page read. Rows after the
//! first ef_search come from iterative continuation at a similar per-row price.

use pgrx::pg_sys;

use super::format::{MetaTuple, META_BLKNO};
use crate::gucs;
use crate::storage::{Locked, Mode};

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amcostestimate(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup: *mut pg_sys::Cost,
    total: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: the planner passes valid pointers; we only read planner structs and write outputs.
    unsafe {
        if (*path).indexorderbys.is_null() {
            // Without ORDER BY <distance operator> the index can answer nothing.
            *startup = pg_sys::get_float8_infinity();
            *total = pg_sys::get_float8_infinity();
            *selectivity = 0.0;
            *correlation = 0.0;
            *pages = 0.0;
            return;
        }
        let mut costs: pg_sys::GenericCosts = core::mem::zeroed();
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);

        let info = (*path).indexinfo;
        let tuples = (*info).tuples.max(1.0);
        let (m, dims) = meta_m_dims((*info).indexoid);
        let ef = gucs::EF_SEARCH.get().max(1) as f64;
        let layers = (tuples.ln() / (m as f64).ln()).max(1.0);
        let touched = (layers * m as f64 + ef * 2.0 * m as f64 * 0.5).min(tuples);
        let per_distance = pg_sys::cpu_operator_cost * (1.0 + dims as f64 / 64.0);
        let pages_per_touch = ((*info).pages as f64 / tuples).min(1.0);
        let search = touched * (per_distance + pages_per_touch * pg_sys::random_page_cost);

        *startup = costs.indexStartupCost + search;
        *total = (*startup).max(costs.indexTotalCost + search);
        *selectivity = costs.indexSelectivity;
        *correlation = 0.0;
        *pages = costs.numIndexPages;
    }
}

/// m and dimensions from the meta page (defaults if the index is unreadable or empty).
fn meta_m_dims(index_oid: pg_sys::Oid) -> (u16, u32) {
    // SAFETY: the planner holds a lock on the index; we read the meta page under a share lock.
    unsafe {
        let rel = pg_sys::index_open(index_oid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let meta = {
            let buf = Locked::read(rel, META_BLKNO, Mode::Share);
            buf.page()
                .item(1)
                .and_then(super::format::read_struct::<MetaTuple>)
        };
        pg_sys::index_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        match meta {
            Some(t) => (t.m.max(2), t.dims.max(1)),
            None => (16, 128),
        }
    }
}
