//! `amcostestimate`: what an HNSW scan costs, so the planner picks it for `ORDER BY ... LIMIT`
//! and prefers a btree (plus a sort) when a WHERE clause is selective enough.
//!
//! Model: before the first row, a scan descends the upper layers (about m elements per layer)
//! and expands ef_search candidates on layer 0, each touching up to 2m neighbours; a visited
//! set catches roughly half of those. Each touched element is one distance computation (priced
//! like the sequential scan's, see below) and, worst case, one random page read, discounted
//! when the table's vectors are TOASTed (the planner leaves TOAST out of a seq scan's cost).
//! Rows after the first ef_search come from iterative continuation at a similar per-row price.

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
        let m = meta_m((*info).indexoid);
        let ef = gucs::EF_SEARCH.get().max(1) as f64;
        let layers = (tuples.ln() / (m as f64).ln()).max(1.0);
        let touched = (layers * m as f64 + ef * 2.0 * m as f64 * 0.5).min(tuples);
        // A distance costs what the planner charges a sequential scan for one: the operator's
        // function at cpu_operator_cost (both sides compute the same kind of distance, so the
        // dimension cancels out of the comparison).
        let per_distance = pg_sys::cpu_operator_cost + pg_sys::cpu_index_tuple_cost;
        // I/O: up to one random page per touched element. The planner prices a sequential
        // scan by the heap's main fork only; vectors over ~2 kB live in TOAST, which it leaves
        // out, so a seq scan of 768-d rows looks ~50x cheaper than it is. Scale our page costs
        // by the same ratio (heap main pages / index pages, both hold every vector once) so
        // the comparison stays fair; for untoasted rows the ratio is about 1.
        let index_pages = ((*info).pages as f64).max(1.0);
        let heap_pages = ((*(*info).rel).pages as f64).max(1.0);
        let toast_scale = (heap_pages / index_pages).clamp(0.01, 1.0);
        let pages_per_touch = (index_pages / tuples).min(1.0);
        let per_touch = per_distance + pages_per_touch * pg_sys::random_page_cost * toast_scale;
        let search = touched * per_touch;

        // Most of the work happens before the first row (the first batch). Rows beyond it come
        // from iterative continuation, about one expanded node (m new neighbours) per row; an
        // ORDER BY without LIMIT therefore costs far more than a seq scan + sort, which is
        // right: a full scan is also cut off at ruvec.max_scan_tuples.
        *startup = costs.indexStartupCost + search;
        *total = *startup + (tuples - ef).max(0.0) * m as f64 * per_touch;
        *selectivity = costs.indexSelectivity;
        *correlation = 0.0;
        *pages = costs.numIndexPages;
    }
}

/// m from the meta page (the default if the index is unreadable or empty).
fn meta_m(index_oid: pg_sys::Oid) -> u16 {
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
            Some(t) => t.m.max(2),
            None => 16,
        }
    }
}
