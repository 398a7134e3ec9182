//! Where new elements go, and how tuples are encoded: reusing slots VACUUM freed
//! (`find_free_slot` / `claim`), appending to the insert page or extending the index (`place`),
//! and the element / neighbour tuple encoders shared with the build.
//!
//! Locks: the meta page (block 0) before data pages, data pages in ascending block order, each
//! change one Generic WAL record.

use pgrx::pg_sys;
use ruvec_hnsw::Level;

use super::codec::Storage;
use super::format::*;
use super::store::{corrupted, read_meta_tuple, FreeSlot, InsertValue, PageGraph};
use crate::storage::{Locked, Mode, PageMut, WalRecord};

impl PageGraph {
    /// An exclusively locked empty page for the slow path of `place`: the relation's last block
    /// if a crash left it all zeros (extended but never initialised), else a new block.
    /// Called with the meta page exclusively locked, so no other backend extends meanwhile.
    unsafe fn new_page(&self, last_data: pg_sys::BlockNumber) -> Locked {
        // SAFETY: rel is open; nblocks - 1 exists when nblocks > 1.
        unsafe {
            let nblocks =
                pg_sys::RelationGetNumberOfBlocksInFork(self.rel, pg_sys::ForkNumber::MAIN_FORKNUM);
            let last = nblocks.saturating_sub(1);
            if last > META_BLKNO && last != last_data {
                let buf = Locked::read(self.rel, last, Mode::Exclusive);
                if buf.page().is_new() {
                    return buf;
                }
            }
            Locked::extend(self.rel, pg_sys::ForkNumber::MAIN_FORKNUM)
        }
    }
}

/// A data page being appended in a WAL record: the meta page and the old insert page are
/// registered (and locked, meta first) along with the new page, which is initialised.
struct Appending {
    rec: WalRecord,
    mi: usize,
    meta: MetaTuple,
    last: Option<usize>,
    ni: usize,
    nblk: pg_sys::BlockNumber,
}

impl PageGraph {
    /// Start a record that appends a data page (see [`Appending`]); finish with
    /// [`PageGraph::link_appended`].
    unsafe fn begin_append(&self) -> Appending {
        // SAFETY: rel is open; locks in the documented order (meta, then ascending data pages:
        // the new page is the highest block).
        unsafe {
            let mut rec = WalRecord::start(self.rel);
            let mi = rec.register(Locked::read(self.rel, META_BLKNO, Mode::Exclusive), false);
            let meta: MetaTuple = read_struct(rec.page(mi).as_ref().item(1).unwrap_or(&[]))
                .unwrap_or_else(|| corrupted("missing meta tuple"));
            let last = (meta.insert_blk != pg_sys::InvalidBlockNumber).then(|| {
                rec.register(
                    Locked::read(self.rel, meta.insert_blk, Mode::Exclusive),
                    false,
                )
            });
            let ni = rec.register(self.new_page(meta.insert_blk), true);
            let nblk = rec.block(ni);
            rec.page(ni).init(PageOpaque::new(PAGE_DATA));
            Appending {
                rec,
                mi,
                meta,
                last,
                ni,
                nblk,
            }
        }
    }

    /// Link the appended page after the old insert page, make `insert_blk` the insert page and
    /// finish the record.
    fn link_appended(a: Appending, insert_blk: pg_sys::BlockNumber) {
        let Appending {
            mut rec,
            mi,
            mut meta,
            last,
            nblk,
            ..
        } = a;
        if let Some(li) = last {
            let mut op = rec
                .page(li)
                .as_ref()
                .special::<PageOpaque>()
                .unwrap_or(PageOpaque::new(PAGE_DATA));
            op.next = nblk;
            rec.page(li).set_special(op);
        }
        meta.insert_blk = insert_blk;
        if meta.first_data_blk == pg_sys::InvalidBlockNumber {
            meta.first_data_blk = nblk;
        }
        rec.page(mi).overwrite_item(1, struct_bytes(&meta));
        rec.finish();
    }

    /// Append an empty data page to the chain and make it the insert page (one WAL record over
    /// the meta page, the old insert page and the new one); returns its block number, unlocked.
    pub(super) fn append_empty_page(&mut self) -> pg_sys::BlockNumber {
        // SAFETY: rel is open.
        let a = unsafe { self.begin_append() };
        let nblk = a.nblk;
        Self::link_appended(a, nblk);
        nblk
    }

    /// Add an element tuple and its neighbour tuple, extending the index when the last page is
    /// full. Locks: meta (block 0) before data pages, data pages in ascending order.
    pub(super) fn place(&mut self, element: &mut Vec<u8>, neighbors: &[u8]) -> Tid {
        let elen = element.len();
        let need_together = maxalign(elen) + maxalign(neighbors.len()) + 8;
        // Fast path: the current insert page has room for both.
        // SAFETY: rel is open; block numbers come from the meta page.
        unsafe {
            let insert_blk = read_meta_tuple(self.rel).insert_blk;
            if insert_blk != pg_sys::InvalidBlockNumber {
                let buf = Locked::read(self.rel, insert_blk, Mode::Exclusive);
                if buf.page().free_space() >= need_together {
                    let mut rec = WalRecord::start(self.rel);
                    let i = rec.register(buf, false);
                    let blk = rec.block(i);
                    let tid = add_pair(&mut rec.page(i), blk, element, neighbors, None);
                    rec.finish();
                    return tid;
                }
            }
            // Slow path: new page(s) at the end, linked from the last page, meta updated.
            let mut a = self.begin_append();
            let (rec, ni, nblk) = (&mut a.rec, a.ni, a.nblk);
            let together = need_together <= MAX_ITEM;
            let extra = if together {
                None
            } else {
                let xi = rec.register(
                    Locked::extend(self.rel, pg_sys::ForkNumber::MAIN_FORKNUM),
                    true,
                );
                // (a second new page is always a fresh extension: the first one took any
                // trailing all-zero page)
                let mut opaque = PageOpaque::new(PAGE_DATA);
                opaque.next = pg_sys::InvalidBlockNumber;
                rec.page(xi).init(opaque);
                let mut nop = PageOpaque::new(PAGE_DATA);
                nop.next = rec.block(xi);
                rec.page(ni).set_special(nop);
                Some(xi)
            };
            let tid = match extra {
                None => add_pair(&mut rec.page(ni), nblk, element, neighbors, None),
                Some(xi) => {
                    let xblk = rec.block(xi);
                    let noff = rec
                        .page(xi)
                        .add_item(neighbors)
                        .unwrap_or_else(|| corrupted("neighbour tuple too large"));
                    add_pair(
                        &mut rec.page(ni),
                        nblk,
                        element,
                        &[],
                        Some(Tid::new(xblk, noff)),
                    )
                }
            };
            let insert_blk = extra.map(|xi| rec.block(xi)).unwrap_or(nblk);
            Self::link_appended(a, insert_blk);
            tid
        }
    }
}

impl PageGraph {
    /// Find a slot VACUUM freed, at or after the meta page's free hint: one whose neighbour
    /// tuple has room for `level` if there is one within a few pages, else any (the caller then
    /// lowers the new element's level to the slot's capacity, so no insert has to append while
    /// freed space exists). Pages without FREE slots advance the hint, so each freed page is
    /// searched about once.
    pub fn find_free_slot(&mut self, level: Level) -> Option<FreeSlot> {
        // Freed slots keep their level's neighbour capacity; levels >= 1 are ~1/m of all
        // elements, so look a little further for a fitting one.
        const PAGES_PER_INSERT: u32 = 16;
        // SAFETY: rel is open; blocks come from the meta page and are < nblocks.
        unsafe {
            let start = read_meta_tuple(self.rel).free_hint_blk;
            if start == pg_sys::InvalidBlockNumber {
                return None;
            }
            let nblocks =
                pg_sys::RelationGetNumberOfBlocksInFork(self.rel, pg_sys::ForkNumber::MAIN_FORKNUM);
            let mut blk = start;
            let mut first_with_free: Option<pg_sys::BlockNumber> = None;
            let mut fallback: Option<FreeSlot> = None;
            while blk < nblocks && blk < start.saturating_add(PAGES_PER_INSERT) {
                let candidates: Vec<(u16, Tid)> = {
                    let buf = Locked::read(self.rel, blk, Mode::Share);
                    let page = buf.page();
                    (1..=page.max_offset())
                        .filter_map(|off| {
                            let h = read_struct::<ElementHeader>(page.item(off)?)?;
                            (h.kind == KIND_FREE).then_some((off, h.neighbor_tid()))
                        })
                        .collect()
                };
                if !candidates.is_empty() {
                    first_with_free.get_or_insert(blk);
                }
                for (off, ntid) in candidates {
                    let cap =
                        self.with_item(ntid, |b| read_struct::<NeighborHeader>(b).map(|h| h.level));
                    let Some(cap) = cap else { continue };
                    let slot = FreeSlot {
                        element: Tid::new(blk, off),
                        neighbors: ntid,
                        capacity: cap,
                    };
                    if cap >= level {
                        return Some(slot);
                    }
                    fallback.get_or_insert(slot);
                }
                blk += 1;
            }
            if fallback.is_some() {
                return fallback;
            }
            // No FREE slot in the scanned range: move the hint past it, or clear it at the end.
            let hint = match first_with_free {
                Some(b) => b,
                None if blk >= nblocks => pg_sys::InvalidBlockNumber,
                None => blk,
            };
            if hint != start {
                self.rewrite_item(Tid::new(META_BLKNO, 1), |old| {
                    let mut t: MetaTuple = read_struct(old)?;
                    if t.free_hint_blk != start {
                        return None; // someone else moved it
                    }
                    t.free_hint_blk = hint;
                    Some(struct_bytes(&t).to_vec())
                });
            }
            None
        }
    }

    /// Atomically turn FREE slot `el` (with neighbour tuple `ntid` of capacity `cap`) into the
    /// new element: one WAL record over the element page and, if different, the neighbour page
    /// (ascending block order). False when another backend claimed it first.
    pub(super) unsafe fn claim(
        &mut self,
        el: Tid,
        ntid: Tid,
        cap: Level,
        value: &InsertValue,
        level: Level,
        lists: &[Vec<u64>],
    ) -> bool {
        let mut element = encode_element(level, self.tier.storage, &value.vector, &[value.heaptid]);
        let mut h: ElementHeader = read_struct(&element).expect("element header");
        h.neighbor_blk = ntid.block();
        h.neighbor_off = ntid.off;
        element[..ELEMENT_HEADER].copy_from_slice(struct_bytes(&h));
        let neighbors = encode_neighbors(cap, self.meta.m, lists);
        // SAFETY: both blocks exist; locked in ascending order inside one record.
        unsafe {
            let mut rec = WalRecord::start(self.rel);
            let (first, second) = if el.block() <= ntid.block() {
                (el, ntid)
            } else {
                (ntid, el)
            };
            let i1 = rec.register(
                Locked::read(self.rel, first.block(), Mode::Exclusive),
                false,
            );
            let i2 = (second.block() != first.block()).then(|| {
                rec.register(
                    Locked::read(self.rel, second.block(), Mode::Exclusive),
                    false,
                )
            });
            let ei = if el.block() == first.block() {
                i1
            } else {
                i2.expect("second page")
            };
            let ni = if ntid.block() == first.block() {
                i1
            } else {
                i2.expect("second page")
            };
            let still_free = rec
                .page(ei)
                .as_ref()
                .item(el.off)
                .and_then(read_struct::<ElementHeader>)
                .is_some_and(|h| h.kind == KIND_FREE);
            if !still_free {
                return false; // dropping `rec` aborts
            }
            if !rec.page(ei).overwrite_item(el.off, &element)
                || !rec.page(ni).overwrite_item(ntid.off, &neighbors)
            {
                corrupted("freed slot changed size");
            }
            rec.finish();
            true
        }
    }
}

/// Put a neighbour tuple (unless `neighbor_at` says where it already is) and then the element
/// pointing at it on one page. Returns the element's TID.
fn add_pair(
    page: &mut PageMut<'_>,
    blk: pg_sys::BlockNumber,
    element: &mut [u8],
    neighbors: &[u8],
    neighbor_at: Option<Tid>,
) -> Tid {
    let ntid = match neighbor_at {
        Some(t) => t,
        None => Tid::new(
            blk,
            page.add_item(neighbors)
                .unwrap_or_else(|| corrupted("page full")),
        ),
    };
    let mut h: ElementHeader = read_struct(element).expect("element header");
    h.neighbor_blk = ntid.block();
    h.neighbor_off = ntid.off;
    element[..ELEMENT_HEADER].copy_from_slice(struct_bytes(&h));
    let off = page
        .add_item(element)
        .unwrap_or_else(|| corrupted("page full"));
    Tid::new(blk, off)
}

pub fn read_tids(slots: &[u8], start: usize, n: usize) -> Vec<Tid> {
    tids(slots, start, n).collect()
}

/// [`read_tids`] without collecting them.
pub fn tids(slots: &[u8], start: usize, n: usize) -> impl Iterator<Item = Tid> + '_ {
    (start..start + n)
        .filter_map(|i| read_struct::<Tid>(slots.get(i * 6..i * 6 + 6)?))
        .filter(|t| t.is_valid())
}

/// Encode a neighbour tuple for an element of `level` with the given lists per layer.
pub fn encode_neighbors(level: Level, m: u16, lists: &[Vec<u64>]) -> Vec<u8> {
    let mut out = vec![0u8; neighbor_tuple_size(level, m)];
    let h = NeighborHeader {
        kind: KIND_NEIGHBORS,
        level,
        _pad: 0,
    };
    out[..NEIGHBOR_HEADER].copy_from_slice(struct_bytes(&h));
    for (layer, list) in lists.iter().enumerate().take(level as usize + 1) {
        write_layer(&mut out, layer as Level, m, list);
    }
    out
}

/// Overwrite one layer's slots inside an encoded neighbour tuple (unused slots zeroed).
pub fn write_layer(tuple: &mut [u8], layer: Level, m: u16, ids: &[u64]) {
    let (start, n) = layer_slots(layer, m);
    for i in 0..n {
        let t = ids
            .get(i)
            .map(|&id| Tid::from_id(id))
            .unwrap_or(Tid::INVALID);
        let at = NEIGHBOR_HEADER + (start + i) * 6;
        tuple[at..at + 6].copy_from_slice(struct_bytes(&t));
    }
}

/// Encode an element tuple (neighbour pointer filled in when placed).
pub fn encode_element(level: Level, tier: Storage, vector: &[u8], heaptids: &[Tid]) -> Vec<u8> {
    let mut h = ElementHeader {
        kind: KIND_ELEMENT,
        level,
        deleted: 0,
        tier: tier as u8,
        neighbor_blk: pg_sys::InvalidBlockNumber,
        neighbor_off: 0,
        ntids: heaptids.len().min(HEAPTIDS) as u16,
        heaptids: [Tid::INVALID; HEAPTIDS],
    };
    for (slot, t) in h.heaptids.iter_mut().zip(heaptids) {
        *slot = *t;
    }
    let mut out = Vec::with_capacity(ELEMENT_HEADER + vector.len());
    out.extend_from_slice(struct_bytes(&h));
    out.extend_from_slice(vector);
    out
}
