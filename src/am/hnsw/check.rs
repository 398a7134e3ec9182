//! `ruvec.index_check(regclass)`: verify a ruhnsw index against its format and its table.
//!
//! Read-only; takes AccessShareLock on the index and its table. Checks, one row each:
//! - `meta`: magic number, format version, sane parameters;
//! - `pages`: every block after the meta page is an initialised ruhnsw data page, and the page
//!   chain from the meta page's head visits each of them once;
//! - `links`: every element's neighbour pointer leads to a neighbour tuple of its level, and
//!   every neighbour slot points at an element tuple (never a freed or missing one);
//! - `reachable`: every live element can be reached from the entry point;
//! - `upgrades` (`storage = 'auto'`): every element's upgrade pointer leads to an upgrade tuple
//!   of its rung and size that points back at it, and every upgrade tuple has such an owner;
//! - `heap_rows_indexed`: every live heap row with an indexable value has its TID in an element
//!   (heap scanned with a fresh MVCC snapshot, values computed exactly as the build does).

use std::collections::{HashMap, HashSet, VecDeque};

use pgrx::pg_sys;

use super::auto::Rung;
use super::codec::{tier_of, Storage};
use super::format::*;
use super::store::read_tids;
use super::value::storage_bytes;
use super::visit::upgrade_pointer;
use crate::storage::{Locked, Mode};

pub struct CheckRow {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

struct Element {
    level: u8,
    deleted: bool,
    free: bool,
    tids: Vec<Tid>,
    neighbor: Tid,
}

/// # Safety
/// `index_oid` must name a ruhnsw index (checked by the caller).
pub unsafe fn check(index_oid: pg_sys::Oid) -> Vec<CheckRow> {
    let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
    // SAFETY: opening by OID with a lock; closed below.
    let (heap, index) = unsafe {
        let heap_oid = pg_sys::IndexGetRelation(index_oid, false);
        let heap = pg_sys::table_open(heap_oid, lock);
        (heap, pg_sys::index_open(index_oid, lock))
    };
    let mut rows = Vec::new();
    // SAFETY: index is open; every block below nblocks exists.
    let meta = unsafe { super::store::read_meta_tuple(index) };
    let (Some(kind), Some(metric)) = (
        ElemKind::from_u8(meta.elem_kind),
        Metric::from_u8(meta.metric),
    ) else {
        rows.push(CheckRow {
            name: "meta",
            ok: false,
            detail: "unknown element type or metric".into(),
        });
        return rows;
    };
    let storage = Storage::from_u8(meta.storage);
    let meta_ok = meta.m >= 2 && meta.dims >= 1 && storage.is_some();
    rows.push(CheckRow {
        name: "meta",
        ok: meta_ok,
        detail: format!(
            "format v{}, {:?} x {} dims, {:?}, m = {}, ef_construction = {}, storage {}",
            meta.version,
            kind,
            meta.dims,
            metric,
            meta.m,
            meta.ef_construction,
            storage.map_or("unknown", Storage::name)
        ),
    });
    if !meta_ok {
        return rows;
    }
    // SAFETY: the index is open; a damaged codebook raises XX001 with a REINDEX hint.
    let tier = unsafe { tier_of(index, &meta) };
    rows.push(CheckRow {
        name: "codebook",
        ok: true,
        detail: if tier.storage.trained() {
            format!(
                "{} codebook of {} bytes in pages from block {}; codes of {} bytes",
                tier.storage.name(),
                meta.codebook_len,
                meta.codebook_blk,
                tier.code_bytes()
            )
        } else {
            "none (full-precision storage)".into()
        },
    });
    let mut wrong_tier = 0usize;

    // Pages and tuples.
    // SAFETY: the index is open.
    let nblocks =
        unsafe { pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM) };
    let mut bad_pages = Vec::new();
    // All-zero pages: a crash between extending the relation and the WAL record that
    // initialises the page leaves one (relation extension itself is not WAL-logged). Harmless:
    // nothing points into it, and the next insert that extends the index reuses a trailing one.
    let mut new_pages = 0usize;
    let mut next_of: HashMap<u32, u32> = HashMap::new();
    let mut elements: HashMap<u64, Element> = HashMap::new();
    let mut neighbor_tuples: HashMap<u64, (u8, Vec<Tid>)> = HashMap::new();
    // auto: element -> its upgrade pointer; upgrade tuple -> (owner, rung, length)
    let mut pointers: HashMap<u64, (Tid, Rung, bool)> = HashMap::new();
    let mut upgrades: HashMap<u64, (Tid, u8, usize)> = HashMap::new();
    for blk in (META_BLKNO + 1)..nblocks {
        pgrx::check_for_interrupts!();
        // SAFETY: blk < nblocks.
        let buf = unsafe { Locked::read(index, blk, Mode::Share) };
        let page = buf.page();
        if page.is_new() {
            new_pages += 1;
            continue;
        }
        match page.special::<PageOpaque>() {
            Some(o) if o.page_id == PAGE_ID && o.page_type == PAGE_DATA => {
                next_of.insert(blk, o.next);
            }
            // Verified as a whole below, by parsing the codebook.
            Some(o) if o.page_id == PAGE_ID && o.page_type == PAGE_CODEBOOK => continue,
            _ => {
                bad_pages.push(blk);
                continue;
            }
        }
        for off in 1..=page.max_offset() {
            let Some(bytes) = page.item(off) else {
                continue;
            };
            let id = Tid::new(blk, off).to_id();
            match bytes.first() {
                Some(&KIND_ELEMENT) | Some(&KIND_FREE) => {
                    if let Some(h) = read_struct::<ElementHeader>(bytes) {
                        if h.tier == Storage::Auto as u8 {
                            if let Some((t, r)) = upgrade_pointer(bytes) {
                                pointers.insert(id, (t, r, h.kind == KIND_FREE));
                            }
                        }
                        if h.kind == KIND_ELEMENT
                            && (h.tier != meta.storage
                                || bytes.len() != element_tuple_size(tier.code_bytes()))
                        {
                            wrong_tier += 1;
                        }
                        elements.insert(
                            id,
                            Element {
                                level: h.level,
                                deleted: h.deleted != 0,
                                free: h.kind == KIND_FREE,
                                tids: h.live_tids().to_vec(),
                                neighbor: h.neighbor_tid(),
                            },
                        );
                    }
                }
                Some(&KIND_UPGRADE) => match read_struct::<UpgradeHeader>(bytes) {
                    Some(h) => {
                        upgrades.insert(id, (h.element(), h.rung, bytes.len()));
                    }
                    None => bad_pages.push(blk),
                },
                Some(&KIND_NEIGHBORS) => {
                    if let Some(h) = read_struct::<NeighborHeader>(bytes) {
                        let slots = read_tids(
                            &bytes[NEIGHBOR_HEADER..],
                            0,
                            neighbor_slots(h.level, meta.m),
                        );
                        neighbor_tuples.insert(id, (h.level, slots));
                    }
                }
                _ => bad_pages.push(blk),
            }
        }
    }
    let mut chain_len = 0usize;
    let mut seen = HashSet::new();
    let mut at = meta.first_data_blk;
    while at != pg_sys::InvalidBlockNumber && seen.insert(at) {
        chain_len += 1;
        at = next_of
            .get(&at)
            .copied()
            .unwrap_or(pg_sys::InvalidBlockNumber);
    }
    let data_pages = next_of.len();
    rows.push(CheckRow {
        name: "pages",
        ok: bad_pages.is_empty() && chain_len == data_pages && wrong_tier == 0,
        detail: format!(
            "{} data pages, {} on the page chain, {} unused all-zero pages, {} elements not stored at the index's tier, {} not ruhnsw data pages{}",
            data_pages,
            chain_len,
            new_pages,
            wrong_tier,
            bad_pages.len(),
            if bad_pages.is_empty() { String::new() } else { format!(" (first: block {})", bad_pages[0]) }
        ),
    });

    // Links.
    let mut bad_links = 0usize;
    let (mut live, mut deleted, mut free) = (0usize, 0usize, 0usize);
    for e in elements.values() {
        match (e.free, e.deleted) {
            (true, _) => free += 1,
            (false, true) => deleted += 1,
            _ => live += 1,
        }
        if e.free {
            continue;
        }
        match neighbor_tuples.get(&e.neighbor.to_id()) {
            // A reused slot keeps the capacity of its first owner's level: >= the element's.
            Some((lvl, slots)) if *lvl >= e.level => {
                bad_links += slots
                    .iter()
                    .filter(|t| elements.get(&t.to_id()).is_none_or(|n| n.free))
                    .count();
            }
            _ => bad_links += 1,
        }
    }
    rows.push(CheckRow {
        name: "links",
        ok: bad_links == 0,
        detail: format!(
            "{} elements ({} live, {} deleted, {} free), {} bad neighbour pointers",
            elements.len(),
            live,
            deleted,
            free,
            bad_links
        ),
    });

    // Reachability over all levels from the entry point.
    let mut reached: HashSet<u64> = HashSet::new();
    if meta.entry_blk != pg_sys::InvalidBlockNumber {
        let start = Tid::new(meta.entry_blk, meta.entry_off).to_id();
        let mut queue = VecDeque::from([start]);
        reached.insert(start);
        while let Some(id) = queue.pop_front() {
            let Some(e) = elements.get(&id) else { continue };
            if let Some((_, slots)) = neighbor_tuples.get(&e.neighbor.to_id()) {
                for t in slots {
                    if reached.insert(t.to_id()) {
                        queue.push_back(t.to_id());
                    }
                }
            }
        }
    }
    let unreachable = elements
        .iter()
        .filter(|(id, e)| !e.free && !e.deleted && !reached.contains(id))
        .count();
    rows.push(CheckRow {
        name: "reachable",
        ok: unreachable == 0,
        detail: format!(
            "{} of {} live elements reachable from the entry point",
            live - unreachable,
            live
        ),
    });

    // Upgrade tuples and their owners (auto).
    let upgrade_len = |r: Rung| {
        tier.auto().map_or(0, |a| {
            a.upgrade_bytes(r, kind.vector_bytes(meta.dims as usize))
        })
    };
    let mut bad_pointers = 0usize;
    let mut per_rung = [0usize; 4];
    for (id, (t, r, free)) in &pointers {
        per_rung[*r as usize] += 1;
        let ok = !free
            && upgrades.get(&t.to_id()).is_some_and(|(owner, rung, len)| {
                owner.to_id() == *id
                    && *rung == *r as u8
                    && *len == UPGRADE_HEADER + upgrade_len(*r)
            });
        if !ok {
            bad_pointers += 1;
        }
    }
    let orphans = upgrades
        .iter()
        .filter(|(uid, (owner, _, _))| {
            pointers
                .get(&owner.to_id())
                .is_none_or(|(t, _, _)| t.to_id() != **uid)
        })
        .count();
    rows.push(CheckRow {
        name: "upgrades",
        ok: bad_pointers == 0 && orphans == 0,
        detail: if tier.auto().is_some() || !upgrades.is_empty() {
            format!(
                "{} upgrade tuples (hot {}, warm {}, cold {}), {} bad upgrade pointers, {} without an owner",
                upgrades.len(),
                per_rung[Rung::Hot as usize],
                per_rung[Rung::Warm as usize],
                per_rung[Rung::Cold as usize],
                bad_pointers,
                orphans
            )
        } else {
            "none (fixed storage tier)".into()
        },
    });

    // Heap rows: every live row with an indexable value must be in some live element.
    let indexed: HashSet<u64> = elements
        .values()
        .filter(|e| !e.free && !e.deleted)
        .flat_map(|e| e.tids.iter().map(|t| t.to_id()))
        .collect();
    let mut st = HeapCheck {
        kind,
        metric,
        dims: meta.dims as usize,
        indexed: &indexed,
        rows: 0,
        missing: 0,
        first_missing: None,
    };
    // SAFETY: an MVCC heap scan computing index values as CREATE INDEX CONCURRENTLY's
    // validation does (ii_Concurrent with our own registered snapshot).
    unsafe {
        let info = pg_sys::BuildIndexInfo(index);
        (*info).ii_Concurrent = true;
        let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetTransactionSnapshot());
        let scan =
            pg_sys::table_beginscan_strat(heap, snapshot, 0, core::ptr::null_mut(), true, false);
        pg_sys::table_index_build_scan(
            heap,
            index,
            info,
            true,
            false,
            Some(heap_callback),
            &mut st as *mut HeapCheck as *mut core::ffi::c_void,
            scan,
        );
        pg_sys::UnregisterSnapshot(snapshot);
    }
    rows.push(CheckRow {
        name: "heap_rows_indexed",
        ok: st.missing == 0,
        detail: match st.first_missing {
            None => format!(
                "all {} live heap rows with an indexable value are in the index",
                st.rows
            ),
            Some(t) => format!(
                "{} of {} live heap rows missing, e.g. ({},{})",
                st.missing,
                st.rows,
                t.block(),
                t.off
            ),
        },
    });

    // SAFETY: close what we opened, keeping the locks to transaction end.
    unsafe {
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        pg_sys::table_close(heap, pg_sys::NoLock as pg_sys::LOCKMODE);
    }
    rows
}

struct HeapCheck<'a> {
    kind: ElemKind,
    metric: Metric,
    dims: usize,
    indexed: &'a HashSet<u64>,
    rows: u64,
    missing: u64,
    first_missing: Option<Tid>,
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn heap_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    alive: bool,
    state: *mut core::ffi::c_void,
) {
    // SAFETY: state is our HeapCheck; one column.
    unsafe {
        let st = &mut *(state as *mut HeapCheck);
        if !alive || *isnull || storage_bytes(st.kind, st.metric, st.dims, *values).is_none() {
            return;
        }
        st.rows += 1;
        let t = Tid::from_item_pointer(&*tid);
        if !st.indexed.contains(&t.to_id()) {
            st.missing += 1;
            st.first_missing.get_or_insert(t);
        }
    }
}
