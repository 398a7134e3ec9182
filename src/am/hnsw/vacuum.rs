//! VACUUM: `ambulkdelete` removes dead heap TIDs and repairs the graph; `amvacuumcleanup`
//! reports statistics.
//!
//! Three passes:
//! 1. every data page, one WAL record per changed page: drop heap TIDs the callback says are
//!    dead; an element left without TIDs is marked deleted (still a waypoint for searches);
//! 2. under the update lock (Exclusive, so no insert adds back-links meanwhile): every element
//!    (collected under the lock, so also those inserted since pass 1) whose lists mention a
//!    deleted element is re-linked (crates/hnsw `repair_graph`), and the entry point moves off
//!    a deleted element;
//! 3. a new epoch in the meta page (backends drop their cached element codes, see
//!    codecache.rs), then deleted elements are freed (kind FREE, neighbour lists cleared):
//!    nothing links to them any more. Scans that still hold such an id read a FREE element and skip it. In an auto
//!    index their upgrade tuples are removed first (one record per element, like a retier).
//!
//! `amvacuumcleanup` relinks unreachable elements and, for `storage = 'auto'`, moves vectors
//! between tiers by their access heat ([`super::retier`]) unless a retier is already running.

use pgrx::pg_sys;
use ruvec_hnsw::GraphRead;

use super::format::*;
use super::store::{for_each_data_page, read_tids, walk_data_pages, PageGraph};
use super::UPDATE_LOCK;
use crate::storage::{Mode, WalRecord};

/// Visit every data page with an exclusive lock, letting `edit` rewrite element tuples.
/// `edit(id, header, bytes) -> Option<new bytes>`; one WAL record per changed page.
unsafe fn for_each_element(
    rel: pg_sys::Relation,
    mut edit: impl FnMut(u64, &ElementHeader, &[u8]) -> Option<Vec<u8>>,
) {
    // SAFETY: forwarded; the buffer goes into this page's WAL record.
    unsafe {
        for_each_data_page(rel, Mode::Exclusive, |blk, buf| {
            let mut changes: Vec<(u16, Vec<u8>)> = Vec::new();
            {
                let page = buf.page();
                for off in 1..=page.max_offset() {
                    let Some(bytes) = page.item(off) else {
                        continue;
                    };
                    let Some(h) = read_struct::<ElementHeader>(bytes) else {
                        continue;
                    };
                    if h.kind != KIND_ELEMENT {
                        continue;
                    }
                    if let Some(new) = edit(Tid::new(blk, off).to_id(), &h, bytes) {
                        changes.push((off, new));
                    }
                }
            }
            if changes.is_empty() {
                return;
            }
            let mut rec = WalRecord::start(rel);
            let i = rec.register(buf, false);
            let mut page = rec.page(i);
            for (off, new) in &changes {
                page.overwrite_item(*off, new);
            }
            rec.finish();
        })
    }
}

/// Read-only walk over every element header, one share-locked page at a time (statistics and
/// id collection must not block concurrent inserts the way `for_each_element`'s exclusive
/// locks do).
unsafe fn visit_elements(rel: pg_sys::Relation, mut visit: impl FnMut(u64, &ElementHeader)) {
    // SAFETY: forwarded.
    unsafe {
        walk_data_pages(rel, |blk, page| {
            for off in 1..=page.max_offset() {
                if let Some(h) = page.item(off).and_then(read_struct::<ElementHeader>) {
                    if h.kind == KIND_ELEMENT {
                        visit(Tid::new(blk, off).to_id(), &h);
                    }
                }
            }
        })
    }
}

fn with_header(bytes: &[u8], h: &ElementHeader) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[..ELEMENT_HEADER].copy_from_slice(struct_bytes(h));
    out
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut core::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: VACUUM's contract: info->index is open and locked; callback decides deadness.
    unsafe {
        let stats = if stats.is_null() {
            pgrx::PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg()
        } else {
            stats
        };
        let rel = (*info).index;
        let Some(cb) = callback else { return stats };

        // Pass 1: drop dead heap TIDs; count the deleted elements.
        let mut deleted = 0u64;
        let mut live = 0f64;
        let mut removed = 0f64;
        for_each_element(rel, |_, h, bytes| {
            if h.deleted != 0 {
                deleted += 1;
                return None;
            }
            let mut nh = *h;
            let mut kept = 0usize;
            for t in h.live_tids() {
                let mut ip = t.to_item_pointer();
                if cb(&mut ip, callback_state) {
                    removed += 1.0;
                } else {
                    nh.heaptids[kept] = *t;
                    kept += 1;
                }
            }
            live += kept as f64;
            if kept == h.live_tids().len() {
                return None;
            }
            for slot in nh.heaptids.iter_mut().skip(kept) {
                *slot = Tid::INVALID;
            }
            nh.ntids = kept as u16;
            if kept == 0 {
                nh.deleted = 1;
                deleted += 1;
            }
            Some(with_header(bytes, &nh))
        });
        (*stats).tuples_removed += removed;
        (*stats).num_index_tuples = live;

        if deleted > 0 {
            // Pass 2: repair the graph around deleted elements.
            pg_sys::LockPage(rel, UPDATE_LOCK, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
            // The elements to check are collected only now, under the lock: an insert that
            // ran between pass 1 and here may have added an element (or reused a free slot)
            // whose lists point at an element pass 1 deleted; missing it would leave a link
            // to a slot pass 3 frees. Inserts hold the lock in Share mode for their whole
            // run, so the set is complete and stable until we release it.
            let mut all: Vec<u64> = Vec::new();
            visit_elements(rel, |id, _| all.push(id));
            let mut graph = PageGraph::open(rel);
            let params = graph.meta.params();
            let _ = ruvec_hnsw::repair_graph(&mut graph, &all, &|_| false, &params);

            // Pass 3: free the deleted elements; nothing links to them any more. First a new
            // epoch: backends drop their copies of element codes (codecache.rs), the copies of
            // elements about to be freed among them. Every element pass 3 frees is marked
            // deleted by now, and deleted elements are never copied, so no copy made after
            // this record can be of a slot that is freed and reused.
            graph.bump_epoch();
            if graph.tier.auto().is_some() {
                super::retier::drop_deleted_upgrades(&mut graph);
            }
            let m = graph.meta.m;
            let mut freed: Vec<(u64, Tid)> = Vec::new();
            for_each_element(rel, |id, h, bytes| {
                if h.deleted == 0 {
                    return None;
                }
                freed.push((id, h.neighbor_tid()));
                let mut nh = *h;
                nh.kind = KIND_FREE;
                nh.ntids = 0;
                nh.heaptids = [Tid::INVALID; HEAPTIDS];
                Some(with_header(bytes, &nh))
            });
            for (_, ntid) in &freed {
                graph.rewrite_item(*ntid, |old| {
                    let h: NeighborHeader = read_struct(old)?;
                    let slots = neighbor_slots(h.level, m);
                    if read_tids(&old[NEIGHBOR_HEADER..], 0, slots).is_empty() {
                        return None;
                    }
                    let mut out = old.to_vec();
                    out[NEIGHBOR_HEADER..].fill(0);
                    Some(out)
                });
            }
            // Tell inserts where freed slots start.
            if let Some(lowest) = freed.iter().map(|(id, _)| Tid::from_id(*id).block()).min() {
                graph.rewrite_item(Tid::new(META_BLKNO, 1), |old| {
                    let mut t: MetaTuple = read_struct(old)?;
                    if t.free_hint_blk != pg_sys::InvalidBlockNumber && t.free_hint_blk <= lowest {
                        return None;
                    }
                    t.free_hint_blk = lowest;
                    Some(struct_bytes(&t).to_vec())
                });
            }
            // The entry point was moved by repair_graph if it was deleted; make sure.
            if let Ok(Some(ep)) = graph.entry_point() {
                if freed.iter().any(|(id, _)| *id == ep.id) {
                    let _ = ruvec_hnsw::GraphWrite::set_entry_point(&mut graph, None);
                }
            }
            pg_sys::UnlockPage(rel, UPDATE_LOCK, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
        }
        stats
    }
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: as in ambulkdelete.
    unsafe {
        if (*info).analyze_only {
            return stats;
        }
        let rel = (*info).index;
        let counted = !stats.is_null();
        let stats = if counted {
            stats
        } else {
            pgrx::PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg()
        };
        // Pruning by concurrent inserts (and by repair) can leave a live element with no
        // in-link, where no search would find it: link every such element again. Under the
        // exclusive update lock, like repair, with the elements collected under it too.
        pg_sys::LockPage(rel, UPDATE_LOCK, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
        let mut ids: Vec<u64> = Vec::new();
        let mut live = 0f64;
        visit_elements(rel, |id, h| {
            if h.deleted == 0 {
                ids.push(id);
                live += h.live_tids().len() as f64;
            }
        });
        if !counted {
            (*stats).num_index_tuples = live;
        }
        if !ids.is_empty() {
            let mut graph = PageGraph::open(rel);
            let params = graph.meta.params();
            let _ = ruvec_hnsw::reconnect_unreachable(&mut graph, &ids, &params, 4);
        }
        pg_sys::UnlockPage(rel, UPDATE_LOCK, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
        if PageGraph::open(rel).tier.auto().is_some() {
            let heap_oid = pg_sys::IndexGetRelation((*rel).rd_id, false);
            let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
            let heap = pg_sys::table_open(heap_oid, lock);
            let _ = super::retier::retier(rel, heap, false);
            pg_sys::table_close(heap, lock);
        }
        (*stats).num_pages =
            pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM);
        stats
    }
}
