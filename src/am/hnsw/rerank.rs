//! Exact rerank: the distances a quantized index navigated on are estimates; before a scan
//! returns rows it re-scores its best candidates with exact distances computed from the heap
//! rows themselves (so the index need not keep full-precision vectors at all).
//!
//! A window of candidates is fetched through the table AM (`index_fetch_tuple`, the scan's own
//! snapshot: rows it cannot see are dropped here exactly as the executor would drop them), the
//! indexed value is taken from the row (or computed with `FormIndexDatum` for an expression
//! index), and its distance to the query computed with the SQL operator's kernel. All of it
//! runs in a short-lived memory context, and the table fetch, slot and executor state are
//! released when the window is done — also when an ERROR unwinds through here, before the
//! transaction's abort releases buffer pins.

use std::cell::Cell;

use pgrx::pg_sys;

use super::format::{ElemKind, Metric, Tid};
use super::value::with_storage_bytes;

/// Session counters of ruhnsw scans (`ruvec.scan_stats()`): the work the rerank budget bounds.
#[derive(Clone, Copy, Default, Debug)]
pub struct ScanStats {
    pub scans: u64,
    /// Graph candidates taken from the search (approximate distances).
    pub navigated: u64,
    /// Heap rows re-scored with exact distances.
    pub reranked: u64,
    /// Elements the searches measured by reading their index page.
    pub page_reads: u64,
    /// Elements the searches measured on this backend's copy of their code (codecache.rs).
    pub cache_reads: u64,
}

thread_local! {
    static STATS: Cell<ScanStats> = const {
        Cell::new(ScanStats { scans: 0, navigated: 0, reranked: 0, page_reads: 0, cache_reads: 0 })
    };
}

pub fn stats() -> ScanStats {
    STATS.with(|s| s.get())
}

pub fn reset_stats() {
    STATS.with(|s| s.set(ScanStats::default()));
}

pub fn count(f: impl FnOnce(&mut ScanStats)) {
    STATS.with(|s| {
        let mut v = s.get();
        f(&mut v);
        s.set(v);
    });
}

/// What the rerank needs to know about the column.
#[derive(Clone, Copy)]
pub struct Column {
    pub kind: ElemKind,
    pub metric: Metric,
    pub dims: usize,
}

/// Resources of one window; released on drop (normal end or unwinding).
struct Fetch {
    heap: pg_sys::Relation,
    fetch: *mut pg_sys::IndexFetchTableData,
    slot: *mut pg_sys::TupleTableSlot,
    estate: *mut pg_sys::EState,
    old_cxt: pg_sys::MemoryContext,
    cxt: pg_sys::MemoryContext,
}

impl Drop for Fetch {
    fn drop(&mut self) {
        // SAFETY: each resource was created in `fetch_values` and is released once, here,
        // while the transaction is still live (see the module comment).
        unsafe {
            if !self.fetch.is_null() {
                if let Some(end) = (*(*self.heap).rd_tableam).index_fetch_end {
                    end(self.fetch);
                }
            }
            if !self.slot.is_null() {
                pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            }
            if !self.estate.is_null() {
                pg_sys::FreeExecutorState(self.estate);
            }
            pg_sys::MemoryContextSwitchTo(self.old_cxt);
            pg_sys::MemoryContextDelete(self.cxt);
        }
    }
}

/// The indexed value (as `value::storage_bytes` gives it) of each row of `tids` that
/// `snapshot` sees: `found(i, bytes)` for `tids[i]`. Used by the scan's rerank (the scan's
/// snapshot) and by retiering (SnapshotAny: any version of a row has the indexed value its
/// index entry was made from, as HOT chains never change indexed columns).
///
/// # Safety
/// `heap` and `index` must be the open table and ruhnsw index, `snapshot` a valid snapshot.
pub unsafe fn fetch_values(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    snapshot: pg_sys::Snapshot,
    col: Column,
    tids: &[Tid],
    mut found: impl FnMut(usize, &[u8]),
) {
    // SAFETY: the relations are open; every PostgreSQL object created below is owned by `f`
    // and released by its Drop.
    unsafe {
        let am = (*heap).rd_tableam;
        let (Some(begin), Some(fetch_tuple)) = ((*am).index_fetch_begin, (*am).index_fetch_tuple)
        else {
            crate::error::raise_with(
                pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "the table's access method cannot fetch rows by TID, which a quantized ruhnsw index needs to re-score candidates".into(),
                None,
                None,
            );
        };
        let cxt = pg_sys::AllocSetContextCreateExtended(
            pg_sys::CurrentMemoryContext,
            c"ruhnsw rerank".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        let mut f = Fetch {
            heap,
            fetch: core::ptr::null_mut(),
            slot: core::ptr::null_mut(),
            estate: core::ptr::null_mut(),
            old_cxt: pg_sys::MemoryContextSwitchTo(cxt),
            cxt,
        };
        f.fetch = begin(heap);
        f.slot = pg_sys::table_slot_create(heap, core::ptr::null_mut());
        let attno = *(*(*index).rd_index)
            .indkey
            .values
            .as_slice(1)
            .first()
            .unwrap_or(&0) as i32;
        let expr = if attno == 0 {
            f.estate = pg_sys::CreateExecutorState();
            let econtext = pg_sys::MakePerTupleExprContext(f.estate);
            (*econtext).ecxt_scantuple = f.slot;
            Some(pg_sys::BuildIndexInfo(index))
        } else {
            None
        };
        let clear = (*(*f.slot).tts_ops).clear;
        for (i, &tid) in tids.iter().enumerate() {
            let mut ip = tid.to_item_pointer();
            let (mut call_again, mut all_dead) = (false, false);
            if !fetch_tuple(
                f.fetch,
                &mut ip,
                snapshot,
                f.slot,
                &mut call_again,
                &mut all_dead,
            ) {
                continue;
            }
            let (datum, isnull) = match expr {
                None => {
                    pg_sys::slot_getsomeattrs_int(f.slot, attno);
                    let i = (attno - 1) as usize;
                    (*(*f.slot).tts_values.add(i), *(*f.slot).tts_isnull.add(i))
                }
                Some(info) => {
                    let mut values = [pg_sys::Datum::from(0); pg_sys::INDEX_MAX_KEYS as usize];
                    let mut nulls = [true; pg_sys::INDEX_MAX_KEYS as usize];
                    pg_sys::FormIndexDatum(
                        info,
                        f.slot,
                        f.estate,
                        values.as_mut_ptr(),
                        nulls.as_mut_ptr(),
                    );
                    (values[0], nulls[0])
                }
            };
            if !isnull {
                with_storage_bytes(col.kind, col.metric, col.dims, datum, |v| found(i, v));
            }
            if let Some(clear) = clear {
                clear(f.slot);
            }
        }
        drop(f);
    }
}
