//! `aminsert`: one heap row into the on-disk graph.

use pgrx::pg_sys;
use ruvec_hnsw::{random_level, HnswParams, SplitMix64};

use super::format::Tid;
use super::store::{InsertValue, PageGraph};
use super::value::storage_bytes;
use super::UPDATE_LOCK;

/// Insert under the index's update lock: Share normally (inserts run concurrently, each
/// neighbour-list change is a compare-and-set under a page lock), Exclusive when the new
/// element's level is above the entry point's, so two inserts never both move the entry point
/// and VACUUM's repair (which holds it Exclusive) never races a back-link.
pub fn insert_value(graph: &mut PageGraph, value: InsertValue, params: &HnswParams) {
    let mut rng = SplitMix64::new(seed(&value.heaptid));
    let mut level = random_level(&mut rng, params.ml(), params.max_level);
    // Reuse space VACUUM freed before appending: pick the slot first, and if its neighbour
    // tuple is smaller than the drawn level, build the element at the slot's level instead.
    graph.reserved = graph.find_free_slot(level);
    if let Some(slot) = graph.reserved {
        level = level.min(slot.capacity);
    }
    let rel = graph.rel();
    // SAFETY: heavyweight page locks on the open index; released below, or by transaction
    // abort if an ERROR escapes.
    unsafe {
        pg_sys::LockPage(rel, UPDATE_LOCK, pg_sys::ShareLock as pg_sys::LOCKMODE);
        let mut mode = pg_sys::ShareLock;
        let above = match ruvec_hnsw::GraphRead::entry_point(graph) {
            Ok(Some(ep)) => level > ep.level,
            _ => true,
        };
        if above {
            pg_sys::UnlockPage(rel, UPDATE_LOCK, pg_sys::ShareLock as pg_sys::LOCKMODE);
            pg_sys::LockPage(rel, UPDATE_LOCK, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
            mode = pg_sys::ExclusiveLock;
        }
        // The store raises errors itself; its error type is uninhabited. Element reads are
        // cached only while the update lock is held (see cache_elements).
        graph.cache_elements(true);
        let _ = ruvec_hnsw::insert(graph, &value, level, params);
        graph.cache_elements(false);
        pg_sys::UnlockPage(rel, UPDATE_LOCK, mode as pg_sys::LOCKMODE);
    }
}

/// Level draws must differ between rows and backends but need no cryptographic quality.
fn seed(tid: &Tid) -> u64 {
    // SAFETY: reads of process-global, always-initialised variables.
    let (pid, now) = unsafe {
        (
            pg_sys::MyProcPid as u64,
            pg_sys::GetCurrentTimestamp() as u64,
        )
    };
    tid.to_id() ^ (pid << 48) ^ now.rotate_left(17)
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    #[cfg(not(feature = "pg13"))] _index_unchanged: bool,
    _index_info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: single-column index: one value; heap_tid is the new row's TID.
    unsafe {
        if *isnull {
            return false;
        }
        let mut graph = PageGraph::open(index);
        // The insert's search measures elements on this backend's copies too: sound for the
        // same reasons as a scan's (codecache.rs); an element VACUUM marked deleted but this
        // copy shows live may become a neighbour, which VACUUM's repair then replaces (it
        // collects lists only after inserts that ran since its marking pass are done).
        graph.use_code_cache(false);
        let meta = graph.meta;
        let Some(bytes) = storage_bytes(meta.kind, meta.metric, meta.dims, *values) else {
            return false;
        };
        let value = InsertValue {
            vector: graph.tier.encode(&bytes),
            native: bytes,
            heaptid: Tid::from_item_pointer(&*heap_tid),
        };
        insert_value(&mut graph, value, &meta.params());
    }
    false
}
