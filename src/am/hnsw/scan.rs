//! Index scans: `ORDER BY col <op> $1 [LIMIT k]` returns heap TIDs in ascending distance.
//!
//! The graph search is crates/hnsw's resumable `Scan`: the first batch holds ef_search
//! candidates; with `ruvec.iterative_scan` on, the executor can keep pulling (e.g. when a WHERE
//! clause rejects rows) and the search continues until `ruvec.max_scan_tuples` elements were
//! visited. Distances come from the stored full-precision vectors with the same kernels as the
//! SQL operators, so the order is exact and the executor need not re-check it.

use core::ffi::c_void;

use pgrx::pg_sys;
use pgrx::PgMemoryContexts;
use ruvec_hnsw::{Scan, ScanMode, ScanParams};

use super::format::{Tid, KIND_ELEMENT};
use super::store::{distance_bytes, PageGraph};
use super::value;
use crate::gucs::{self, IterativeScan};

struct Active {
    graph: PageGraph,
    scan: Option<Scan<PageGraph>>,
    /// Heap TIDs of the element being returned (an element holds up to 10 identical rows).
    pending: Vec<Tid>,
}

/// Lives in scan->opaque; dropped with the scan's memory context, emptied by amendscan.
struct ScanState {
    active: Option<Active>,
}

fn state<'a>(scan: pg_sys::IndexScanDesc) -> &'a mut ScanState {
    // SAFETY: opaque was set by ambeginscan to a ScanState that lives as long as the scan.
    unsafe { &mut *((*scan).opaque as *mut ScanState) }
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambeginscan(
    index: pg_sys::Relation,
    nkeys: i32,
    norderbys: i32,
) -> pg_sys::IndexScanDesc {
    // SAFETY: standard scan descriptor setup; the state is owned by the current memory
    // context (the executor's), which frees it even if the query errors out.
    unsafe {
        let scan = pg_sys::RelationGetIndexScan(index, nkeys, norderbys);
        let st = ScanState {
            active: Some(Active {
                graph: PageGraph::open(index),
                scan: None,
                pending: Vec::new(),
            }),
        };
        (*scan).opaque =
            PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(st) as *mut c_void;
        scan
    }
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amrescan(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    // SAFETY: keys/orderbys have nkeys/norderbys entries (the executor's contract), and the
    // descriptor has room for them (RelationGetIndexScan allocated it with those counts).
    unsafe {
        if !keys.is_null() && nkeys > 0 {
            core::ptr::copy(keys, (*scan).keyData, nkeys as usize);
        }
        if !orderbys.is_null() && norderbys > 0 {
            core::ptr::copy(orderbys, (*scan).orderByData, norderbys as usize);
        }
        let Some(active) = state(scan).active.as_mut() else {
            return;
        };
        active.pending.clear();
        active.scan = None;
        if (*scan).numberOfOrderBys == 0 {
            return;
        }
        let key = &*(*scan).orderByData;
        if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
            return; // ORDER BY col <-> NULL: every distance is NULL; return nothing
        }
        let meta = active.graph.meta;
        let query = value::query(meta.kind, meta.dims, key.sk_argument);
        let mode = match gucs::ITERATIVE_SCAN.get() {
            IterativeScan::Off => ScanMode::Off,
            IterativeScan::RelaxedOrder => ScanMode::Relaxed,
            IterativeScan::StrictOrder => ScanMode::Strict,
        };
        let params = ScanParams {
            ef_search: gucs::EF_SEARCH.get().max(1) as usize,
            max_scan_tuples: gucs::MAX_SCAN_TUPLES.get().max(1) as u64,
            mode,
        };
        active.scan = Some(Scan::new(query, params));
    }
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(
    scan: pg_sys::IndexScanDesc,
    dir: pg_sys::ScanDirection::Type,
) -> bool {
    if dir != pg_sys::ScanDirection::ForwardScanDirection {
        pgrx::ereport!(
            ERROR,
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "ruhnsw index scans only go forward"
        );
    }
    let Some(active) = state(scan).active.as_mut() else {
        return false;
    };
    loop {
        if let Some(tid) = active.pending.pop() {
            // SAFETY: the scan descriptor is ours to fill for the executor.
            unsafe {
                (*scan).xs_heaptid = tid.to_item_pointer();
                (*scan).xs_recheck = false;
                (*scan).xs_recheckorderby = false;
            }
            return true;
        }
        let Some(s) = active.scan.as_mut() else {
            return false;
        };
        // The store raises errors itself; its error type is uninhabited.
        let Ok(next) = s.next(&mut active.graph);
        let Some(c) = next else {
            active.scan = None;
            return false;
        };
        // Re-read the element: VACUUM may have removed rows since the search saw it, or freed
        // the slot and an insert reused it for another vector (then its distance differs from
        // the one the search ordered by, and it is skipped rather than returned out of order).
        let metric = active.graph.meta.metric;
        let query = s.query();
        let tids = active.graph.with_element(c.id, |h, v| {
            if h.kind != KIND_ELEMENT
                || h.deleted != 0
                || distance_bytes(metric, query, v) != c.distance
            {
                Vec::new()
            } else {
                h.live_tids().to_vec()
            }
        });
        active.pending.extend(tids.into_iter().rev());
    }
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    // Free the graph state now; the shell goes with the memory context.
    state(scan).active = None;
}
