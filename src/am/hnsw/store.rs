//! `PageGraph`: the graph traits of `crates/hnsw` implemented over the index's pages.
//!
//! Reads take a share lock on one page, compute or copy what they need, and unlock before
//! returning (never holding a lock across calls, as the traits require). Writes are one Generic
//! WAL record each. Errors are raised as Postgres ERRORs on the spot (corrupted tuples: XX001
//! with a REINDEX hint), so the trait's error type is uninhabited.

use core::convert::Infallible;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use pgrx::{pg_sys, PgSqlErrorCode};
use ruvec_hnsw::{EntryPoint, FxBuildHasher, GraphRead, GraphWrite, HashVisited, Level, Merge};
use std::collections::HashMap;

use super::auto::Rung;
use super::codec::{tier_of, Query, Tier};
use super::codecache::CodeCache;
use super::format::*;
pub use super::place::{encode_element, encode_neighbors, read_tids, tids, write_layer};
use super::visit::upgrade_pointer;
use crate::error::raise_with;
use crate::storage::{prefetch_in_buffer, Locked, Mode, PageRef, WalRecord};

/// What an insert stores: the element bytes (the vector at the index's tier), the column
/// value's own bytes (the insert's graph search uses them at full precision), the heap row.
pub struct InsertValue {
    pub vector: Vec<u8>,
    pub native: Vec<u8>,
    pub heaptid: Tid,
}

/// The index-wide facts from the meta page.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub dims: usize,
    pub m: u16,
    pub ef_construction: u16,
    pub kind: ElemKind,
    pub metric: Metric,
    /// Bytes of an element's stored vector (at the index's tier).
    pub code_bytes: usize,
}

impl Meta {
    pub fn params(&self) -> ruvec_hnsw::HnswParams {
        let mut p = ruvec_hnsw::HnswParams::new(self.m as usize, self.ef_construction as usize);
        p.max_level = max_level(self.m);
        p
    }

    pub fn vector_bytes(&self) -> usize {
        self.code_bytes
    }
}

pub fn corrupted(what: &str) -> ! {
    raise_with(
        PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        format!("ruhnsw index is corrupted: {what}"),
        None,
        Some("REINDEX the index.".into()),
    )
}

/// Read and check the meta tuple.
///
/// # Safety
/// `rel` must be an open ruhnsw index.
pub unsafe fn read_meta_tuple(rel: pg_sys::Relation) -> MetaTuple {
    // SAFETY: block 0 always exists in a built index.
    let buf = unsafe { Locked::read(rel, META_BLKNO, Mode::Share) };
    let Some(t) = buf.page().item(1).and_then(read_struct::<MetaTuple>) else {
        corrupted("missing meta tuple")
    };
    if t.magic != MAGIC {
        corrupted("bad magic number on the meta page");
    }
    if t.version != FORMAT_VERSION {
        raise_with(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!(
                "ruhnsw index has on-disk format version {}, this ruvec reads version {}",
                t.version, FORMAT_VERSION
            ),
            None,
            Some("REINDEX the index to rebuild it in the current format.".into()),
        );
    }
    t
}

/// Hand every data page of the index to `visit`, locked in `mode`, one page at a time (the
/// visitor owns the lock and releases it by dropping or registering the buffer; none is held
/// between pages, where interrupts are checked).
///
/// # Safety
/// `rel` must be an open ruhnsw index.
pub unsafe fn for_each_data_page(
    rel: pg_sys::Relation,
    mode: Mode,
    mut visit: impl FnMut(pg_sys::BlockNumber, Locked),
) {
    // SAFETY: rel is the open index; blocks below nblocks exist.
    unsafe {
        let nblocks =
            pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM);
        for blk in (META_BLKNO + 1)..nblocks {
            pgrx::check_for_interrupts!(); // no buffer lock held here
            let buf = Locked::read(rel, blk, mode);
            if buf.page().special::<PageOpaque>().map(|o| o.page_type) == Some(PAGE_DATA) {
                visit(blk, buf);
            }
        }
    }
}

/// [`for_each_data_page`] under share locks, for readers.
///
/// # Safety
/// `rel` must be an open ruhnsw index.
pub unsafe fn walk_data_pages(
    rel: pg_sys::Relation,
    mut visit: impl FnMut(pg_sys::BlockNumber, PageRef<'_>),
) {
    // SAFETY: forwarded.
    unsafe { for_each_data_page(rel, Mode::Share, |blk, buf| visit(blk, buf.page())) }
}

/// A FREE element slot and the capacity (level) of its neighbour tuple.
#[derive(Clone, Copy, Debug)]
pub struct FreeSlot {
    pub element: Tid,
    pub neighbors: Tid,
    pub capacity: Level,
}

pub struct PageGraph {
    pub(super) rel: pg_sys::Relation,
    /// Slot picked by the next insert before its graph search (its level may be lowered to fit).
    pub reserved: Option<FreeSlot>,
    pub meta: Meta,
    /// Storage tier: element bytes and navigation distances.
    pub tier: Arc<Tier>,
    ticks: u32,
    /// The last `distance_between` left-hand element as a query (calls come in runs).
    cache: Option<(u64, Query)>,
    /// While an insert runs (see [`PageGraph::cache_elements`]): every element read for the
    /// neighbour heuristic, read once.
    elements: Option<HashMap<u64, CachedElement, FxBuildHasher>>,
    /// `storage = 'auto'`: elements whose navigation distance came from their upgrade tuple,
    /// with their archive code's distance (what a scan re-checks the element against, since a
    /// concurrent retier may move it to another rung) and whether the distance was exact (hot).
    pub upgraded: HashMap<u64, (f32, bool), FxBuildHasher>,
    /// Searches (scans, inserts): this backend's copies of element
    /// codes (see codecache.rs); None reads every element from its page.
    pub codes: Option<Rc<RefCell<CodeCache>>>,
    /// Scratch of `visit_batch`: (position in the output, copy number) of the batch's ids
    /// that have copies, kept to reuse its allocation.
    pub(super) copies: Vec<(usize, usize)>,
    /// Scans count their element reads in `ruvec.scan_stats()`.
    pub(super) counting: bool,
}

/// An element as the insert heuristics need it.
struct CachedElement {
    query: Query,
    level: Level,
    deleted: bool,
}

/// Elements cached per insert at most (an insert with m = 16 touches a few thousand).
const ELEMENT_CACHE_MAX: usize = 16_384;

impl PageGraph {
    /// # Safety
    /// `rel` must be an open ruhnsw index, kept open while the graph is used.
    pub unsafe fn open(rel: pg_sys::Relation) -> Self {
        // SAFETY: forwarded.
        let t = unsafe { read_meta_tuple(rel) };
        let (Some(kind), Some(metric)) =
            (ElemKind::from_u8(t.elem_kind), Metric::from_u8(t.metric))
        else {
            corrupted("unknown element type or metric in the meta page")
        };
        // SAFETY: forwarded.
        let tier = unsafe { tier_of(rel, &t) };
        let meta = Meta {
            dims: t.dims as usize,
            m: t.m,
            ef_construction: t.ef_construction,
            kind,
            metric,
            code_bytes: tier.code_bytes(),
        };
        PageGraph {
            rel,
            reserved: None,
            meta,
            tier,
            ticks: 0,
            cache: None,
            elements: None,
            upgraded: HashMap::default(),
            codes: None,
            copies: Vec::new(),
            counting: false,
        }
    }

    pub fn rel(&self) -> pg_sys::Relation {
        self.rel
    }

    /// Turn the per-insert element cache on (empty) or off.
    ///
    /// An insert's neighbour heuristic computes distances among the candidates and among each
    /// new neighbour's current neighbours: without the cache every one of those reads two
    /// element tuples (tens of thousands of page reads per insert at m = 16); with it each
    /// element is read once. Sound only while the caller holds the index's update lock (any
    /// mode): an element's vector and level never change while it exists, and elements are
    /// freed (their slots reused) only by VACUUM under the update lock in Exclusive mode. The
    /// `deleted` flag may be set meanwhile; a stale copy only means the heuristic treats a
    /// just-deleted element as live, as it could without the cache.
    pub fn cache_elements(&mut self, on: bool) {
        self.elements = on.then(HashMap::default);
    }

    /// The cached copy of element `id`, read on first use (None when caching is off).
    fn cached(&mut self, id: u64) -> Option<&CachedElement> {
        let map = self.elements.as_ref()?;
        if !map.contains_key(&id) {
            // From this backend's copy of the code when it has one (a copy is of a live
            // element; one deleted since is treated as live, as without either cache).
            let copy = self.codes.as_ref().and_then(|c| {
                let c = c.borrow();
                c.get(id).map(|(level, code)| CachedElement {
                    query: self.query_from_bytes(code),
                    level,
                    deleted: false,
                })
            });
            let e = copy.unwrap_or_else(|| {
                self.with_element(id, |h, v| CachedElement {
                    query: self.query_from_bytes(v),
                    level: h.level,
                    deleted: h.deleted != 0 || h.kind != KIND_ELEMENT,
                })
            });
            let map = self.elements.as_mut().expect("cache on");
            if map.len() >= ELEMENT_CACHE_MAX {
                map.clear();
            }
            map.insert(id, e);
        }
        self.elements.as_ref().and_then(|m| m.get(&id))
    }

    /// Run `f` on the bytes of item `tid` under a share lock.
    pub(super) fn with_item<R>(&self, tid: Tid, f: impl FnOnce(&[u8]) -> R) -> R {
        self.with_item_in(tid, 0, f)
    }

    /// [`Self::with_item`], trying shared buffer `recent` first (0: none; see
    /// [`Locked::read_recent`]).
    fn with_item_in<R>(&self, tid: Tid, recent: i32, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: ids come from this index's tuples; Locked::read raises an ERROR for a block
        // past the end, which here means corruption. `recent` comes from an earlier read of
        // this index (codecache.rs).
        let buf = unsafe { Locked::read_recent(self.rel, tid.block(), Mode::Share, recent) };
        match buf.page().item(tid.off) {
            Some(bytes) => f(bytes),
            None => corrupted("dangling element or neighbour pointer"),
        }
    }

    /// Run `f` on an element's header and vector bytes under a share lock.
    pub fn with_element<R>(&self, id: u64, f: impl FnOnce(&ElementHeader, &[u8]) -> R) -> R {
        self.with_element_in(id, 0, f)
    }

    /// [`Self::with_element`] for an element a search just reached: when this backend has a
    /// copy of it, through the buffer its page was in when it was copied (codecache.rs).
    pub fn with_found_element<R>(&self, id: u64, f: impl FnOnce(&ElementHeader, &[u8]) -> R) -> R {
        let recent = self.codes.as_ref().map_or(0, |codes| {
            let c = codes.borrow();
            c.copy_of(id).map_or(0, |n| c.info(n).element_buffer)
        });
        self.with_element_in(id, recent, f)
    }

    fn with_element_in<R>(
        &self,
        id: u64,
        recent: i32,
        f: impl FnOnce(&ElementHeader, &[u8]) -> R,
    ) -> R {
        let vb = self.meta.vector_bytes();
        self.with_item_in(Tid::from_id(id), recent, |bytes| {
            let Some(h) = read_struct::<ElementHeader>(bytes) else {
                corrupted("short element tuple")
            };
            if bytes.len() < ELEMENT_HEADER + vb {
                corrupted("short element tuple");
            }
            f(&h, &bytes[ELEMENT_HEADER..ELEMENT_HEADER + vb])
        })
    }

    /// A stored vector as a query (for distances between two elements).
    fn query_from_bytes(&self, v: &[u8]) -> Query {
        self.tier.element_query(v)
    }

    /// One WAL-logged in-place rewrite of an item; `edit` gets the current bytes and returns
    /// the new ones (same length), or None to leave the page untouched.
    pub fn rewrite_item(&self, tid: Tid, edit: impl FnOnce(&[u8]) -> Option<Vec<u8>>) -> bool {
        // SAFETY: as in with_item; the page is exclusively locked inside the record.
        unsafe {
            let mut rec = WalRecord::start(self.rel);
            let i = rec.register(Locked::read(self.rel, tid.block(), Mode::Exclusive), false);
            let mut page = rec.page(i);
            let Some(old) = page.as_ref().item(tid.off) else {
                corrupted("dangling element or neighbour pointer")
            };
            match edit(old) {
                Some(new) => {
                    if !page.overwrite_item(tid.off, &new) {
                        corrupted("tuple size changed");
                    }
                    rec.finish();
                    true
                }
                None => false, // dropping `rec` aborts: nothing changes
            }
        }
    }

    /// Appends the ids of `id`'s neighbours at `level` to `out` (nothing above its level).
    fn neighbor_ids_into(&self, id: u64, level: Level, out: &mut Vec<u64>) {
        let (start, n) = layer_slots(level, self.meta.m);
        let mut slots_of = |bytes: &[u8]| {
            let Some(h) = read_struct::<NeighborHeader>(bytes) else {
                corrupted("short neighbour tuple")
            };
            if h.kind != KIND_NEIGHBORS || h.level < level {
                corrupted("neighbour tuple does not match its element");
            }
            out.extend(tids(&bytes[NEIGHBOR_HEADER..], start, n).map(Tid::to_id));
        };
        if self.copied_neighbor_ids_into(id, level, &mut slots_of) {
            return;
        }
        let tid = Tid::from_id(id);
        // Element and neighbour tuple usually share a page (they are placed together): read
        // both under one buffer lock then, and only go to a second page when they do not.
        // SAFETY: ids come from this index's tuples (see with_item).
        let buf = unsafe { Locked::read(self.rel, tid.block(), Mode::Share) };
        let page = buf.page();
        let Some(h) = page.item(tid.off).and_then(read_struct::<ElementHeader>) else {
            corrupted("dangling element pointer")
        };
        if level > h.level {
            return;
        }
        let ntid = h.neighbor_tid();
        if ntid.block() == tid.block() {
            let Some(bytes) = page.item(ntid.off) else {
                corrupted("dangling neighbour pointer")
            };
            return slots_of(bytes);
        }
        drop(buf);
        self.with_item(ntid, slots_of)
    }

    /// [`Self::neighbor_ids_into`] for an element this backend has a copy of: its level and
    /// neighbour-tuple pointer come from the copy (codecache.rs), so only the neighbour
    /// tuple's page is read, through the buffer it was in last time when it still is. False
    /// (nothing read) for an element without a copy.
    fn copied_neighbor_ids_into(
        &self,
        id: u64,
        level: Level,
        slots_of: &mut impl FnMut(&[u8]),
    ) -> bool {
        let Some(codes) = self.codes.as_ref() else {
            return false;
        };
        let mut c = codes.borrow_mut();
        let Some(n) = c.copy_of(id) else {
            return false;
        };
        let info = c.info(n);
        if level > info.level {
            return true; // no list on that level
        }
        let ntid = info.neighbors;
        // SAFETY: the pointer of a live element of this index (the copy's epoch), so an
        // existing block; `info.buffer` is 0 or a buffer this code read the block from.
        let buf = unsafe { Locked::read_recent(self.rel, ntid.block(), Mode::Share, info.buffer) };
        let page = buf.page();
        let Some(bytes) = page.item(ntid.off) else {
            corrupted("dangling neighbour pointer")
        };
        c.seen_at(n, buf.buffer(), page.offset_of(bytes) as u16);
        drop(c);
        slots_of(bytes);
        true
    }
}

impl GraphRead for PageGraph {
    type Id = u64;
    type Query = Query;
    type Error = Infallible;
    type Visited = HashVisited<u64>;

    fn entry_point(&mut self) -> Result<Option<EntryPoint<u64>>, Infallible> {
        // SAFETY: rel is open.
        let t = unsafe { read_meta_tuple(self.rel) };
        Ok(
            (t.entry_blk != pg_sys::InvalidBlockNumber && t.entry_off != 0).then(|| EntryPoint {
                id: Tid::new(t.entry_blk, t.entry_off).to_id(),
                level: t.entry_level,
            }),
        )
    }

    fn level(&mut self, id: u64) -> Result<Level, Infallible> {
        if let Some(e) = self.cached(id) {
            return Ok(e.level);
        }
        Ok(self.with_element(id, |h, _| h.level))
    }

    fn is_deleted(&mut self, id: u64) -> Result<bool, Infallible> {
        if let Some(e) = self.cached(id) {
            return Ok(e.deleted);
        }
        Ok(self.with_element(id, |h, _| h.deleted != 0 || h.kind != KIND_ELEMENT))
    }

    fn neighbors(&mut self, id: u64, level: Level, out: &mut Vec<u64>) -> Result<(), Infallible> {
        out.clear();
        self.neighbor_ids_into(id, level, out);
        Ok(())
    }

    /// Prefetches the neighbour list of an element this backend has a copy of from where its
    /// page was last seen (see codecache.rs); nothing for other elements.
    fn prefetch_neighbors(&mut self, id: u64, level: Level) {
        let Some(codes) = self.codes.as_ref() else {
            return;
        };
        let c = codes.borrow();
        let Some(info) = c.copy_of(id).map(|n| c.info(n)) else {
            return;
        };
        if level > info.level {
            return;
        }
        // the tuple up to the end of the level's slots (6 bytes each)
        let (start, n) = layer_slots(level, self.meta.m);
        let len = NEIGHBOR_HEADER + (start + n) * 6;
        prefetch_in_buffer(info.buffer, info.neighbors.off, info.at, len);
    }

    fn distance(&mut self, query: &Query, id: u64) -> Result<f32, Infallible> {
        Ok(self.visit_one(query, id).distance)
    }

    fn distance_between(&mut self, a: u64, b: u64) -> Result<f32, Infallible> {
        if self.elements.is_some() {
            self.cached(a);
            self.cached(b);
            let map = self.elements.as_ref().expect("cache on");
            if let (Some(x), Some(y)) = (map.get(&a), map.get(&b)) {
                return Ok(self.tier.pair_distance(&x.query, &y.query));
            }
            // (only if the cache was just cleared for size between the two reads)
        }
        if self.cache.as_ref().map(|(id, _)| *id) != Some(a) {
            let q = self.with_element(a, |_, v| self.query_from_bytes(v));
            self.cache = Some((a, q));
        }
        let y = self.with_element(b, |_, v| self.query_from_bytes(v));
        let (_, x) = self.cache.as_ref().expect("cached");
        Ok(self.tier.pair_distance(x, &y))
    }

    fn visit(&mut self, query: &Query, id: u64) -> Result<ruvec_hnsw::Visit, Infallible> {
        Ok(self.visit_one(query, id))
    }

    /// From copies of the codes where this backend has them, else from pages, batched and
    /// prefetched (see visit.rs).
    fn visit_many(
        &mut self,
        query: &Query,
        ids: &[u64],
        out: &mut Vec<ruvec_hnsw::Visit>,
    ) -> Result<(), Infallible> {
        self.visit_batch(query, ids, out);
        Ok(())
    }

    fn new_visited(&self) -> HashVisited<u64> {
        // A level-0 search at the default ef_search visits several hundred elements; start
        // big enough that the common case never rehashes.
        HashVisited::with_capacity(1024)
    }

    fn check_interrupts(&mut self) -> Result<(), Infallible> {
        self.ticks = self.ticks.wrapping_add(1);
        pgrx::check_for_interrupts!();
        Ok(())
    }
}

impl GraphWrite for PageGraph {
    type Value = InsertValue;

    /// The new row's own value, at full precision: its neighbours are chosen by the best
    /// distances available (the stored codes of the others, the exact new vector).
    fn query_for_value(&mut self, value: &InsertValue) -> Result<Query, Infallible> {
        let exact = self.tier.element_query_native(&value.native);
        Ok(self.tier.query(&exact))
    }

    fn add_element(
        &mut self,
        value: &InsertValue,
        level: Level,
        neighbors: &[Vec<u64>],
    ) -> Result<u64, Infallible> {
        // A slot chosen before the search (see insert_value), else any fitting one.
        let slot = self.reserved.take().or_else(|| self.find_free_slot(level));
        if let Some(slot) = slot.filter(|s| s.capacity >= level) {
            // SAFETY: the slot's tuples exist; claim re-checks under lock that it is still FREE.
            if unsafe {
                self.claim(
                    slot.element,
                    slot.neighbors,
                    slot.capacity,
                    value,
                    level,
                    neighbors,
                )
            } {
                return Ok(slot.element.to_id());
            }
        }
        let mut element = encode_element(level, self.tier.storage, &value.vector, &[value.heaptid]);
        let ntuple = encode_neighbors(level, self.meta.m, neighbors);
        Ok(self.place(&mut element, &ntuple).to_id())
    }

    fn set_neighbors(
        &mut self,
        id: u64,
        level: Level,
        neighbors: &[u64],
    ) -> Result<(), Infallible> {
        let m = self.meta.m;
        let ntid = self.with_element(id, |h, _| h.neighbor_tid());
        self.rewrite_item(ntid, |old| {
            let mut new = old.to_vec();
            write_layer(&mut new, level, m, neighbors);
            Some(new)
        });
        Ok(())
    }

    fn update_neighbors(
        &mut self,
        id: u64,
        level: Level,
        expected: &[u64],
        new: &[u64],
    ) -> Result<bool, Infallible> {
        let m = self.meta.m;
        let ntid = self.with_element(id, |h, _| h.neighbor_tid());
        let (start, n) = layer_slots(level, m);
        // Compare and set under the neighbour page's exclusive lock, in one WAL record.
        Ok(self.rewrite_item(ntid, |old| {
            let current: Vec<u64> = read_tids(&old[NEIGHBOR_HEADER..], start, n)
                .into_iter()
                .map(Tid::to_id)
                .collect();
            if current != expected {
                return None;
            }
            let mut out = old.to_vec();
            write_layer(&mut out, level, m, new);
            Some(out)
        }))
    }

    fn set_entry_point(&mut self, entry: Option<EntryPoint<u64>>) -> Result<(), Infallible> {
        self.rewrite_item(Tid::new(META_BLKNO, 1), |old| {
            let mut t: MetaTuple = read_struct(old)?;
            match entry {
                Some(e) => {
                    let tid = Tid::from_id(e.id);
                    t.entry_blk = tid.block();
                    t.entry_off = tid.off;
                    t.entry_level = e.level;
                }
                None => {
                    t.entry_blk = pg_sys::InvalidBlockNumber;
                    t.entry_off = 0;
                    t.entry_level = 0;
                }
            }
            Some(struct_bytes(&t).to_vec())
        });
        Ok(())
    }

    fn mark_deleted(&mut self, id: u64) -> Result<(), Infallible> {
        self.rewrite_item(Tid::from_id(id), |old| {
            let mut h: ElementHeader = read_struct(old)?;
            if h.deleted != 0 {
                return None;
            }
            h.deleted = 1;
            let mut out = old.to_vec();
            out[..ELEMENT_HEADER].copy_from_slice(struct_bytes(&h));
            Some(out)
        });
        Ok(())
    }

    fn merge_duplicate(&mut self, existing: u64, value: &InsertValue) -> Result<Merge, Infallible> {
        let vb = self.meta.vector_bytes();
        let tier = self.tier.clone();
        let same = self.with_element(existing, |_, v| {
            tier.code_part(v) == tier.code_part(&value.vector)
        });
        if !same {
            return Ok(Merge::NotDuplicate);
        }
        let merged = self.rewrite_item(Tid::from_id(existing), |old| {
            let mut h: ElementHeader = read_struct(old)?;
            if h.kind != KIND_ELEMENT || h.deleted != 0 || h.ntids as usize >= HEAPTIDS {
                return None;
            }
            if old.len() < ELEMENT_HEADER + vb
                || tier.code_part(&old[ELEMENT_HEADER..ELEMENT_HEADER + vb])
                    != tier.code_part(&value.vector)
            {
                return None;
            }
            // A hot upgrade holds one row's value and serves as that row's exact distance:
            // such an element takes no second row (retier keeps multi-row elements below hot).
            if upgrade_pointer(old).is_some_and(|(_, r)| r == Rung::Hot) {
                return None;
            }
            h.heaptids[h.ntids as usize] = value.heaptid;
            h.ntids += 1;
            let mut out = old.to_vec();
            out[..ELEMENT_HEADER].copy_from_slice(struct_bytes(&h));
            Some(out)
        });
        Ok(if merged { Merge::Merged } else { Merge::Full })
    }
}
