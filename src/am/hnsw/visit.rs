//! How a search measures elements: from their pages (pinned and prefetched in small batches),
//! from this backend's copies of their codes ([`super::codecache`]), and for `storage = 'auto'`
//! from their upgrade tuples.

use super::auto::Rung;
use super::codec::Query;
use super::codecache::{self, CacheKey, CodeCache};
use super::format::*;
use super::store::{corrupted, read_meta_tuple, PageGraph};
use crate::storage::{Locked, Mode, PageRef, Pinned};

/// Where an auto element's better code is, as seen under its page's lock.
enum Upgrade {
    None,
    /// On the element's own page: its distance, and whether it is exact.
    Here(f32, bool),
    /// On another page, read after the element's page is released.
    Elsewhere(Tid, Rung),
}

/// An auto element's upgrade pointer (None at the archive rung or for other storage).
pub fn upgrade_pointer(element: &[u8]) -> Option<(Tid, Rung)> {
    let p: AutoPrefix = read_struct(element.get(ELEMENT_HEADER..)?)?;
    let rung = Rung::from_u8(p.rung).filter(|r| *r != Rung::Archive)?;
    (p.upgrade_off != 0).then(|| (p.upgrade_tid(), rung))
}

/// The code in `bytes` if they are `element`'s upgrade tuple at `rung` with a code of `len`
/// bytes; None for anything else (a stale pointer: see format.rs).
pub fn upgrade_code(bytes: &[u8], element: Tid, rung: Rung, len: usize) -> Option<&[u8]> {
    let h: UpgradeHeader = read_struct(bytes)?;
    (h.kind == KIND_UPGRADE
        && h.rung == rung as u8
        && h.element() == element
        && bytes.len() == UPGRADE_HEADER + len)
        .then(|| &bytes[UPGRADE_HEADER..])
}

impl PageGraph {
    /// Measure elements on this backend's copies of their codes (see codecache.rs), those of
    /// the epoch the meta page shows now. Scans `count` their element reads in
    /// `ruvec.scan_stats()`.
    pub fn use_code_cache(&mut self, count: bool) {
        self.counting = count;
        // An older epoch's copies go first.
        self.codes = None;
        // SAFETY: rel is open.
        let (t, oid) = unsafe { (read_meta_tuple(self.rel), (*self.rel).rd_id.to_u32()) };
        let key = CacheKey {
            index_oid: oid,
            build_stamp: t.build_stamp,
        };
        self.codes = codecache::for_index(key, t.epoch, self.meta.vector_bytes());
    }

    /// Whether an element read from its page may be copied: a live element, and in an auto
    /// index one at the archive rung (see codecache.rs).
    fn copyable(&self, h: &ElementHeader, bytes: &[u8]) -> bool {
        h.kind == KIND_ELEMENT
            && h.deleted == 0
            && (self.tier.auto().is_none() || upgrade_pointer(bytes).is_none())
    }

    /// Start a new code-cache epoch: every backend drops its copies of this index's element
    /// codes when its next search starts (codecache.rs). One WAL record on the meta page.
    pub fn bump_epoch(&self) {
        self.rewrite_item(Tid::new(META_BLKNO, 1), |old| {
            let mut t: MetaTuple = read_struct(old)?;
            t.epoch = t.epoch.wrapping_add(1);
            Some(struct_bytes(&t).to_vec())
        });
    }

    /// Code bytes of an upgrade tuple at `rung` (0 unless auto).
    pub fn upgrade_len(&self, rung: Rung) -> usize {
        self.tier.auto().map_or(0, |a| {
            a.upgrade_bytes(rung, self.meta.kind.vector_bytes(self.meta.dims))
        })
    }

    /// The upgrade of auto element `id` (tuple bytes `bytes`, read from `page` under its lock).
    fn upgrade_on_page(&self, query: &Query, page: PageRef<'_>, id: u64, bytes: &[u8]) -> Upgrade {
        if self.tier.auto().is_none() {
            return Upgrade::None;
        }
        let Some((tid, rung)) = upgrade_pointer(bytes) else {
            return Upgrade::None;
        };
        let element = Tid::from_id(id);
        if tid.block() != element.block() {
            return Upgrade::Elsewhere(tid, rung);
        }
        match page
            .item(tid.off)
            .and_then(|b| upgrade_code(b, element, rung, self.upgrade_len(rung)))
        {
            Some(code) => Upgrade::Here(
                self.tier.upgrade_distance(query, rung, code),
                rung == Rung::Hot,
            ),
            None => Upgrade::None,
        }
    }

    /// Distance to an upgrade tuple on another page; None if it is no longer `id`'s.
    fn far_upgrade(&self, query: &Query, id: u64, tid: Tid, rung: Rung) -> Option<(f32, bool)> {
        // SAFETY: a block number taken from an element of this index; an upgrade pointer
        // always names an existing block (blocks are never truncated away).
        let buf = unsafe { Locked::read(self.rel, tid.block(), Mode::Share) };
        let page = buf.page();
        let code = upgrade_code(
            page.item(tid.off)?,
            Tid::from_id(id),
            rung,
            self.upgrade_len(rung),
        )?;
        Some((
            self.tier.upgrade_distance(query, rung, code),
            rung == Rung::Hot,
        ))
    }

    /// The navigation distance of element `id` given its archive distance `base` and what its
    /// page said about an upgrade; remembers upgraded elements in `upgraded`.
    fn settle(&mut self, query: &Query, id: u64, base: f32, up: Upgrade) -> f32 {
        let found = match up {
            Upgrade::None => None,
            Upgrade::Here(d, exact) => Some((d, exact)),
            Upgrade::Elsewhere(tid, rung) => self.far_upgrade(query, id, tid, rung),
        };
        match found {
            Some((d, exact)) => {
                self.upgraded.insert(id, (base, exact));
                d
            }
            None => base,
        }
    }

    /// Element `id` as a graph visit: level, deleted flag and navigation distance (from its
    /// copy, or its page and its upgrade tuple when it has one).
    pub(super) fn visit_one(&mut self, query: &Query, id: u64) -> ruvec_hnsw::Visit {
        let mut out = Vec::with_capacity(1);
        self.visit_batch(query, &[id], &mut out);
        out[0]
    }

    /// One batch of [`GraphRead::visit_many`]: pin all pages and prefetch each element's line
    /// pointer, then (those have arrived by now) prefetch the element tuples, then read them
    /// under share locks one by one. Pins are released when `pinned` drops, also when an
    /// ERROR unwinds through here.
    fn visit_chunk(
        &mut self,
        query: &Query,
        len: usize,
        tids: &[Tid],
        out: &mut Vec<ruvec_hnsw::Visit>,
        mut keep: Option<&mut CodeCache>,
    ) {
        let pinned: Vec<Pinned> = tids
            .iter()
            .map(|t| {
                // SAFETY: ids come from this index's tuples (see with_item).
                let p = unsafe { Pinned::read(self.rel, t.block()) };
                p.prefetch_line_pointer(t.off);
                p
            })
            .collect();
        for (p, t) in pinned.iter().zip(tids) {
            p.prefetch_item(t.off, len);
        }
        let first = out.len();
        let mut ups: Vec<(usize, u64, Upgrade)> = Vec::new();
        for (p, t) in pinned.iter().zip(tids) {
            let locked = p.share();
            let page = locked.page();
            let Some(bytes) = page.item(t.off) else {
                corrupted("dangling element pointer")
            };
            let Some(h) = read_struct::<ElementHeader>(bytes) else {
                corrupted("short element tuple")
            };
            if bytes.len() < len {
                corrupted("short element tuple");
            }
            out.push(ruvec_hnsw::Visit {
                distance: self.tier.distance(query, &bytes[ELEMENT_HEADER..len]),
                level: h.level,
                deleted: h.deleted != 0 || h.kind != KIND_ELEMENT,
            });
            if let Some(c) = keep.as_deref_mut() {
                if self.copyable(&h, bytes) {
                    c.insert(
                        t.to_id(),
                        h.level,
                        h.neighbor_tid(),
                        p.buffer(),
                        &bytes[ELEMENT_HEADER..len],
                    );
                }
            }
            if h.kind == KIND_ELEMENT {
                let id = t.to_id();
                match self.upgrade_on_page(query, page, id, bytes) {
                    Upgrade::None => {}
                    up => ups.push((out.len() - 1, id, up)),
                }
            }
        }
        // Upgrades on other pages are read only now, with no page locked.
        drop(pinned);
        for (i, id, up) in ups {
            debug_assert!(i >= first);
            out[i].distance = self.settle(query, id, out[i].distance, up);
        }
    }

    /// [`GraphRead::visit_many`](ruvec_hnsw::GraphRead::visit_many): elements this backend
    /// has copies of are measured on them; the others are read from their pages, in batches
    /// that pin every page and prefetch the tuples before reading any of them (the elements a
    /// search reaches are scattered over the index, so reading them one by one stalls on a
    /// cache miss per element; issuing all the prefetches first lets the misses overlap), and
    /// copied.
    pub(super) fn visit_batch(
        &mut self,
        query: &Query,
        ids: &[u64],
        out: &mut Vec<ruvec_hnsw::Visit>,
    ) {
        let len = ELEMENT_HEADER + self.meta.vector_bytes();
        // Batches of at most PINS: a backend tracks its first 8 pins in a small array and
        // any more in a hash table, which costs more than the prefetching saves.
        const PINS: usize = 6;
        // Cached elements are measured on their copies; the others are read from their pages
        // (and copied), their results put in place afterwards.
        let codes = self.codes.clone();
        let first = out.len();
        let mut missing: Vec<usize> = Vec::new();
        {
            let c = codes.as_ref().map(|c| c.borrow());
            // Look every id up first (starting each copy's first lines on the way, so the
            // batch's loads overlap), then measure the copies, each one's whole code prefetched
            // while the one before it is measured: the copies lie scattered over megabytes
            // that are not in the CPU's caches, and measuring one straight after looking it
            // up stalls on its loads (perf: most of the kernel's time in the loads of the
            // stored operand).
            let mut hits = std::mem::take(&mut self.copies);
            hits.clear();
            for (i, &id) in ids.iter().enumerate() {
                out.push(ruvec_hnsw::Visit {
                    distance: 0.0,
                    level: 0,
                    deleted: true,
                });
                match c.as_ref().and_then(|c| Some((c, c.copy_of(id)?))) {
                    Some((c, n)) => {
                        let code = c.copy(n).1;
                        ruvec_distance::prefetch_bytes(code.as_ptr(), code.len().min(128));
                        hits.push((first + i, n));
                    }
                    None => missing.push(i),
                }
            }
            if let Some(c) = c.as_ref() {
                if let Some(&(_, n)) = hits.first() {
                    ruvec_distance::prefetch_slice(c.copy(n).1);
                }
                for (k, &(at, n)) in hits.iter().enumerate() {
                    if let Some(&(_, next)) = hits.get(k + 1) {
                        ruvec_distance::prefetch_slice(c.copy(next).1);
                    }
                    let (level, code) = c.copy(n);
                    out[at] = ruvec_hnsw::Visit {
                        distance: self.tier.distance(query, code),
                        level,
                        deleted: false,
                    };
                }
            }
            self.copies = hits;
        }
        let mut got = Vec::new(); // (allocates only when some element has no copy)
        for chunk in missing.chunks(PINS) {
            let tids: [Tid; PINS] = core::array::from_fn(|i| {
                chunk.get(i).map_or(Tid::INVALID, |&j| Tid::from_id(ids[j]))
            });
            got.clear();
            let mut keep = codes.as_ref().map(|c| c.borrow_mut());
            self.visit_chunk(
                query,
                len,
                &tids[..chunk.len()],
                &mut got,
                keep.as_deref_mut(),
            );
            for (&j, v) in chunk.iter().zip(got.drain(..)) {
                out[first + j] = v;
            }
        }
        if self.counting {
            super::rerank::count(|s| {
                s.page_reads += missing.len() as u64;
                s.cache_reads += (ids.len() - missing.len()) as u64;
            });
        }
    }
}
