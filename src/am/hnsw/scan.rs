//! Index scans: `ORDER BY col <op> $1 [LIMIT k]` returns heap TIDs in ascending distance.
//!
//! The graph search is crates/hnsw's resumable `Scan`: the first batch holds ef_search
//! candidates; with `ruvec.iterative_scan` on, the executor can keep pulling (e.g. when a WHERE
//! clause rejects rows) and the search continues until `ruvec.max_scan_tuples` elements were
//! visited. With full-precision storage the distances are the SQL operators' own, so the order
//! is exact. With a quantized tier the search navigates on codes and the scan re-scores windows
//! of `rerank` candidates with exact distances from the heap rows ([`super::rerank`]) and
//! returns each window in exact order; with `LIMIT k <= rerank` the rows returned are exactly
//! the best k of the candidates, in exact order. Either way the executor need not re-check.
//!
//! `storage = 'auto'`: candidates measured on a hot upgrade tuple already have their exact
//! distance (the tuple holds the column value) and skip the table fetch; every element a scan
//! returns gets its access heat bumped ([`super::retier::touch`]).

use core::ffi::c_void;

use pgrx::pg_sys;
use pgrx::PgMemoryContexts;
use ruvec_hnsw::{Scan, ScanMode, ScanParams};

use super::codec::{plain_distance, Query};
use super::format::{Tid, KIND_ELEMENT};
use super::rerank::{self, Column};
use super::retier;
use super::store::PageGraph;
use super::{options, value};
use crate::gucs::{self, IterativeScan};

struct Active {
    graph: PageGraph,
    scan: Option<Scan<PageGraph>>,
    /// Heap TIDs to return next with their element, last first (an element holds up to 10
    /// rows; a rerank window holds the window's rows in exact order).
    pending: Vec<(Tid, u64)>,
    /// Quantized tiers: the query in the column's own type and the rerank window size.
    rerank: Option<(Query, usize)>,
    /// `storage = 'auto'` on a primary: (clock, half-life) for the access heat of returned
    /// elements, and the element bumped last (its rows come back one after another).
    heat: Option<(u32, u32)>,
    bumped: u64,
}

/// A search candidate as the scan returns it.
struct Candidate {
    id: u64,
    /// Live heap rows (empty when the element no longer qualifies).
    tids: Vec<Tid>,
    /// The exact distance, when navigation measured it on a hot upgrade (whose element holds
    /// exactly the row the upgrade was made from: see retier's `apply`).
    exact: Option<f32>,
}

/// Candidates to re-score exactly: `ruvec.rerank` when set (>= 0), else the index's `rerank`
/// option, else the tier's default; 0 when the tier's distances are exact.
///
/// # Safety
/// `index` must be an open ruhnsw index.
unsafe fn rerank_window(index: pg_sys::Relation, graph: &PageGraph) -> usize {
    if graph.tier.exact() {
        return 0;
    }
    let guc = gucs::RERANK.get();
    if guc >= 0 {
        return guc as usize;
    }
    // SAFETY: forwarded.
    let (o, _) = unsafe { options::get(index) };
    if o.rerank > 0 {
        o.rerank as usize
    } else {
        graph.tier.storage.default_rerank()
    }
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
                rerank: None,
                heat: None,
                bumped: u64::MAX,
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
        active.rerank = None;
        active.graph.upgraded.clear();
        active.heat =
            (active.graph.tier.auto().is_some() && !pg_sys::RecoveryInProgress()).then(|| {
                (
                    super::auto::now_secs(),
                    gucs::ACCESS_HALF_LIFE.get().max(1) as u32,
                )
            });
        if (*scan).numberOfOrderBys == 0 {
            return;
        }
        let key = &*(*scan).orderByData;
        if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
            return; // ORDER BY col <-> NULL: every distance is NULL; return nothing
        }
        active.graph.use_code_cache(true);
        let meta = active.graph.meta;
        let exact = value::query(meta.kind, meta.dims, key.sk_argument);
        let query = active.graph.tier.query(&exact);
        let window = rerank_window((*scan).indexRelation, &active.graph);
        if window > 0 && !(*scan).heapRelation.is_null() {
            active.rerank = Some((exact, window));
        }
        rerank::count(|s| s.scans += 1);
        let mode = match gucs::ITERATIVE_SCAN.get() {
            IterativeScan::Off => ScanMode::Off,
            IterativeScan::RelaxedOrder => ScanMode::Relaxed,
            IterativeScan::StrictOrder => ScanMode::Strict,
        };
        let params = ScanParams {
            // The first batch must hold the first rerank window.
            ef_search: (gucs::EF_SEARCH.get().max(1) as usize).max(window),
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
        if let Some((tid, id)) = active.pending.pop() {
            if let Some((now, half_life)) = active.heat {
                if id != active.bumped {
                    active.bumped = id;
                    // SAFETY: the scan's open index.
                    unsafe { retier::touch((*scan).indexRelation, id, now, half_life) };
                }
            }
            // SAFETY: the scan descriptor is ours to fill for the executor.
            unsafe {
                (*scan).xs_heaptid = tid.to_item_pointer();
                (*scan).xs_recheck = false;
                (*scan).xs_recheckorderby = false;
            }
            return true;
        }
        if active.scan.is_none() {
            return false;
        }
        if active.rerank.is_some() {
            // SAFETY: forwarded from amgettuple.
            if !unsafe { next_window(scan, active) } {
                active.scan = None;
                return false;
            }
            continue;
        }
        let Some(c) = next_candidate(active) else {
            active.scan = None;
            return false;
        };
        active
            .pending
            .extend(c.tids.into_iter().rev().map(|t| (t, c.id)));
    }
}

/// The search's next candidate, or None when the search is exhausted.
fn next_candidate(active: &mut Active) -> Option<Candidate> {
    let s = active.scan.as_mut()?;
    // The store raises errors itself; its error type is uninhabited.
    let Ok(next) = s.next(&mut active.graph);
    let c = next?;
    rerank::count(|st| st.navigated += 1);
    // Re-read the element: VACUUM may have removed rows since the search saw it, or freed
    // the slot and an insert reused it for another vector (then its distance differs from
    // the one the search ordered by, and it is skipped rather than returned out of order).
    // An auto element measured on its upgrade is re-checked on its archive code, which a
    // concurrent retier does not change.
    let query = s.query();
    let tier = &active.graph.tier;
    let (expect, exact) = match active.graph.upgraded.get(&c.id) {
        Some(&(base, exact)) => (base, exact),
        None => (c.distance, false),
    };
    Some(active.graph.with_found_element(c.id, |h, v| {
        let ok = h.kind == KIND_ELEMENT && h.deleted == 0 && tier.distance(query, v) == expect;
        let tids = if ok {
            h.live_tids().to_vec()
        } else {
            Vec::new()
        };
        Candidate {
            id: c.id,
            exact: (exact && tids.len() == 1).then_some(c.distance),
            tids,
        }
    }))
}

/// Take the next `window` candidates, re-score their rows exactly and queue them in exact
/// order. False when the search had no candidates left.
///
/// # Safety
/// `scan` is the active scan whose state is `active`.
unsafe fn next_window(scan: pg_sys::IndexScanDesc, active: &mut Active) -> bool {
    let window = active.rerank.as_ref().map_or(0, |(_, w)| *w);
    // rows to fetch with their elements, and rows whose exact distance the index had
    let (mut tids, mut ids) = (Vec::new(), Vec::new());
    let mut scored: Vec<(f32, Tid, u64)> = Vec::new();
    let mut taken = 0;
    while taken < window {
        let Some(c) = next_candidate(active) else {
            break;
        };
        match c.exact {
            Some(d) => scored.extend(c.tids.iter().map(|&t| (d, t, c.id))),
            None => {
                ids.extend(c.tids.iter().map(|_| c.id));
                tids.extend(c.tids);
            }
        }
        taken += 1;
    }
    if taken == 0 {
        return false;
    }
    let meta = active.graph.meta;
    let col = Column {
        kind: meta.kind,
        metric: meta.metric,
        dims: meta.dims,
    };
    let (exact, _) = active.rerank.as_ref().expect("rerank on");
    // SAFETY: forwarded: an active scan with its heap relation and snapshot.
    unsafe {
        rerank::fetch_values(
            (*scan).heapRelation,
            (*scan).indexRelation,
            (*scan).xs_snapshot,
            col,
            &tids,
            |i, v| scored.push((plain_distance(col.metric, exact, v), tids[i], ids[i])),
        )
    };
    rerank::count(|st| st.reranked += tids.len() as u64);
    // Farthest first: `pending` is popped from the end. Ties in TID order.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.to_id().cmp(&a.1.to_id())));
    active
        .pending
        .extend(scored.into_iter().map(|(_, t, id)| (t, id)));
    true
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    // Free the graph state now; the shell goes with the memory context.
    state(scan).active = None;
}
