//! On-disk format of a `ruhnsw` index (format version 3).
//!
//! ```text
//! block 0        meta page: one MetaTuple (item 1)
//! codebook pages (trained storage tiers only): one item each, the serialised quantizer cut
//!                into page-sized pieces, chained by PageOpaque.next from MetaTuple.codebook_blk
//! data pages     ElementTuples and NeighborTuples, chained by PageOpaque.next from
//!                MetaTuple.first_data_blk
//!
//! ElementTuple  (fixed size per index)
//!   u8 kind = ELEMENT | FREE     u8 level     u8 deleted     u8 tier (codec::Storage of the bytes)
//!   u32 neighbor block           u16 neighbor offset          u16 number of heap TIDs in use
//!   Tid heaptids[10]             -- rows with identical stored bytes share one element (up to 10)
//!   vector bytes                 -- per `tier`: f32[dims] | f16[dims] | bits | int8 / PQ /
//!                                   binary code (see codec.rs)
//!
//! NeighborTuple (fixed size per level)
//!   u8 kind = NEIGHBORS   u8 level   u16 0
//!   Tid slots[(level + 2) * m]   -- 2m slots for layer 0, then m per layer 1..=level;
//!                                   an unused slot has offset 0 (InvalidOffsetNumber)
//! ```
//!
//! Every element's id is the TID of its ElementTuple. Tuples never move and are overwritten in
//! place (same size), so ids stay valid until VACUUM frees an element; a freed slot is reused
//! by a later insert, which bumps nothing else: scans that still hold the old id simply read
//! the new element — a valid, if unhelpful, waypoint.
//!
//! `storage = 'auto'` elements put an AutoPrefix between the header and their code (the
//! archive tier's binary code), and may own one UpgradeTuple holding a more precise code of the
//! same vector:
//!
//! ```text
//! AutoPrefix    f32 heat   u32 stamp   u32 upgrade block   u16 upgrade offset   u8 rung   u8 0
//! UpgradeTuple  u8 kind = UPGRADE   u8 rung   u16 0   u32 element block   u16 element offset
//!               u16 0   u32 0   code bytes of the rung (see auto.rs)
//! ```
//!
//! Upgrade tuples are the only tuples ever removed from a page (when their element moves to
//! another rung): nothing but their element points at them, and the element's pointer is
//! changed in the same WAL record. A reader that followed a stale pointer finds an unused line
//! pointer or a tuple that does not point back at its element, and ignores it.
//!
//! Version 2 added the storage tier and the codebook chain to the meta tuple; version 3 a build
//! stamp for every index and the VACUUM epoch (see codecache.rs).
//!
//! All structs are `#[repr(C)]` with compile-time size checks; the meta page carries a magic
//! number and a format version, and an index written by an unknown version is refused with a
//! REINDEX hint.

use core::mem::size_of;

use pgrx::pg_sys;

pub const MAGIC: u32 = 0x5255_4857; // "RUHW"
pub const FORMAT_VERSION: u32 = 3;
/// Identifies ruhnsw pages in the last 2 bytes of the special area (like btree's BTP_ID).
pub const PAGE_ID: u16 = 0xFF97;
pub const META_BLKNO: pg_sys::BlockNumber = 0;
/// Heap rows with an identical vector share an element, up to this many.
pub const HEAPTIDS: usize = 10;
/// Graph layers are capped (the level distribution makes > 16 vanishingly rare); for large m
/// the cap is lower so a top-level NeighborTuple still fits a page (see [`max_level`]).
pub const MAX_LEVEL: u8 = 16;

pub const PAGE_META: u16 = 1;
pub const PAGE_DATA: u16 = 2;
pub const PAGE_CODEBOOK: u16 = 3;

pub const KIND_ELEMENT: u8 = 1;
pub const KIND_NEIGHBORS: u8 = 2;
pub const KIND_FREE: u8 = 3;
pub const KIND_UPGRADE: u8 = 4;

/// Special area of every page.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageOpaque {
    /// Next data page in the chain (InvalidBlockNumber at the end).
    pub next: pg_sys::BlockNumber,
    pub page_type: u16,
    pub page_id: u16,
}
const _: () = assert!(size_of::<PageOpaque>() == 8);

impl PageOpaque {
    pub fn new(page_type: u16) -> Self {
        PageOpaque {
            next: pg_sys::InvalidBlockNumber,
            page_type,
            page_id: PAGE_ID,
        }
    }
}

/// What the index stores per element (the opclass's input type).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemKind {
    F32 = 1,
    F16 = 2,
    Bit = 3,
}

impl ElemKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(ElemKind::F32),
            2 => Some(ElemKind::F16),
            3 => Some(ElemKind::Bit),
            _ => None,
        }
    }

    /// Bytes of one stored vector of `dims` dimensions.
    pub fn vector_bytes(self, dims: usize) -> usize {
        match self {
            ElemKind::F32 => 4 * dims,
            ElemKind::F16 => 2 * dims,
            ElemKind::Bit => dims.div_ceil(8),
        }
    }
}

/// Distance function of the index (from the opclass's support function 2).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    L2 = 1,
    InnerProduct = 2,
    Cosine = 3,
    L1 = 4,
    Hamming = 5,
    Jaccard = 6,
}

impl Metric {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Metric::L2,
            2 => Metric::InnerProduct,
            3 => Metric::Cosine,
            4 => Metric::L1,
            5 => Metric::Hamming,
            6 => Metric::Jaccard,
            _ => return None,
        })
    }
}

/// The meta page's single tuple.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaTuple {
    pub magic: u32,
    pub version: u32,
    pub dims: u32,
    pub m: u16,
    pub ef_construction: u16,
    pub elem_kind: u8,
    pub metric: u8,
    pub entry_level: u8,
    /// `codec::Storage` of every element.
    pub storage: u8,
    /// Entry point element (InvalidBlockNumber when the index is empty).
    pub entry_blk: pg_sys::BlockNumber,
    pub entry_off: u16,
    pub _pad2: u16,
    /// Last data page: inserts try it first before extending.
    pub insert_blk: pg_sys::BlockNumber,
    /// Data pages chain head (block 1 once anything was inserted).
    pub first_data_blk: pg_sys::BlockNumber,
    /// Lowest block that may hold FREE element slots (set by VACUUM, advanced by inserts that
    /// find none); InvalidBlockNumber when there are none.
    pub free_hint_blk: pg_sys::BlockNumber,
    /// First codebook page and the codebook's length in bytes (InvalidBlockNumber / 0 for
    /// tiers without one).
    pub codebook_blk: pg_sys::BlockNumber,
    pub codebook_len: u32,
    /// Distinguishes successive builds of an index (backends cache parsed codebooks and
    /// element codes by index OID and this stamp).
    pub build_stamp: u64,
    /// Bumped by VACUUM after it marks elements deleted and before it frees them: backends
    /// keep copies of element codes only for the epoch they read (see codecache.rs).
    pub epoch: u64,
}
const _: () = assert!(size_of::<MetaTuple>() == 64);

/// A stamp for a new build: the time and the building backend's pid, never 0.
pub fn new_build_stamp() -> u64 {
    // SAFETY: reads of process-global, always-initialised variables.
    unsafe { (pg_sys::GetCurrentTimestamp() as u64) ^ ((pg_sys::MyProcPid as u64) << 44) | 1 }
}

/// A heap or index TID as stored on disk: PostgreSQL's ItemPointerData layout (6 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tid {
    pub blk_hi: u16,
    pub blk_lo: u16,
    pub off: u16,
}
const _: () = assert!(size_of::<Tid>() == 6);

impl Tid {
    pub const INVALID: Tid = Tid {
        blk_hi: 0,
        blk_lo: 0,
        off: 0,
    };

    pub fn new(blk: pg_sys::BlockNumber, off: u16) -> Self {
        Tid {
            blk_hi: (blk >> 16) as u16,
            blk_lo: blk as u16,
            off,
        }
    }
    pub fn block(self) -> pg_sys::BlockNumber {
        ((self.blk_hi as u32) << 16) | self.blk_lo as u32
    }
    pub fn is_valid(self) -> bool {
        self.off != 0
    }
    /// Element ids handed to the graph code: block in the high bits, offset in the low 16.
    pub fn to_id(self) -> u64 {
        ((self.block() as u64) << 16) | self.off as u64
    }
    pub fn from_id(id: u64) -> Self {
        Tid::new((id >> 16) as u32, id as u16)
    }
    pub fn from_item_pointer(p: &pg_sys::ItemPointerData) -> Self {
        Tid {
            blk_hi: p.ip_blkid.bi_hi,
            blk_lo: p.ip_blkid.bi_lo,
            off: p.ip_posid,
        }
    }
    pub fn to_item_pointer(self) -> pg_sys::ItemPointerData {
        pg_sys::ItemPointerData {
            ip_blkid: pg_sys::BlockIdData {
                bi_hi: self.blk_hi,
                bi_lo: self.blk_lo,
            },
            ip_posid: self.off,
        }
    }
}

/// Fixed header of an ElementTuple; the vector bytes follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElementHeader {
    pub kind: u8,
    pub level: u8,
    pub deleted: u8,
    pub tier: u8,
    pub neighbor_blk: pg_sys::BlockNumber,
    pub neighbor_off: u16,
    pub ntids: u16,
    pub heaptids: [Tid; HEAPTIDS],
}
pub const ELEMENT_HEADER: usize = size_of::<ElementHeader>();
const _: () = assert!(ELEMENT_HEADER == 72);

impl ElementHeader {
    pub fn neighbor_tid(&self) -> Tid {
        Tid::new(self.neighbor_blk, self.neighbor_off)
    }
    pub fn live_tids(&self) -> &[Tid] {
        &self.heaptids[..(self.ntids as usize).min(HEAPTIDS)]
    }
}

/// `storage = 'auto'`: what follows an element's header, before its archive code.
///
/// `heat` and `stamp` are a hint, written by scans under a share lock without WAL (like heap
/// hint bits): any old or new value of them is valid, and each is a naturally aligned 4-byte
/// field, so a torn page write cannot split one.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct AutoPrefix {
    /// Exponentially decayed count of scans that returned the element, as of `stamp`.
    pub heat: f32,
    /// Seconds since 2000-01-01 (PostgreSQL's epoch) when `heat` was last brought up to date.
    pub stamp: u32,
    /// The element's upgrade tuple (offset 0: none, the element is at the archive rung).
    pub upgrade_blk: pg_sys::BlockNumber,
    pub upgrade_off: u16,
    /// Rung of the upgrade tuple (`auto::Rung`), 0 without one.
    pub rung: u8,
    pub _pad: u8,
}
pub const AUTO_PREFIX: usize = size_of::<AutoPrefix>();
const _: () = assert!(AUTO_PREFIX == 16);
/// Byte offsets of the hint fields inside an element tuple.
pub const HEAT_AT: usize = ELEMENT_HEADER;

impl AutoPrefix {
    pub fn upgrade_tid(&self) -> Tid {
        Tid::new(self.upgrade_blk, self.upgrade_off)
    }
}

/// Header of an upgrade tuple; the code bytes follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpgradeHeader {
    pub kind: u8,
    pub rung: u8,
    pub _pad: u16,
    pub element_blk: pg_sys::BlockNumber,
    pub element_off: u16,
    pub _pad2: u16,
    pub _pad3: u32,
}
pub const UPGRADE_HEADER: usize = size_of::<UpgradeHeader>();
const _: () = assert!(UPGRADE_HEADER == 16);

impl UpgradeHeader {
    pub fn new(rung: u8, element: Tid) -> Self {
        UpgradeHeader {
            kind: KIND_UPGRADE,
            rung,
            _pad: 0,
            element_blk: element.block(),
            element_off: element.off,
            _pad2: 0,
            _pad3: 0,
        }
    }
    pub fn element(&self) -> Tid {
        Tid::new(self.element_blk, self.element_off)
    }
}

/// Fixed header of a NeighborTuple; `(level + 2) * m` Tid slots follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighborHeader {
    pub kind: u8,
    pub level: u8,
    pub _pad: u16,
}
pub const NEIGHBOR_HEADER: usize = size_of::<NeighborHeader>();
const _: () = assert!(NEIGHBOR_HEADER == 4);

/// Slots of a NeighborTuple for an element of `level`: 2m on layer 0 plus m per upper layer.
pub fn neighbor_slots(level: u8, m: u16) -> usize {
    (level as usize + 2) * m as usize
}

/// First slot and slot count of `layer` inside a NeighborTuple.
pub fn layer_slots(layer: u8, m: u16) -> (usize, usize) {
    let m = m as usize;
    if layer == 0 {
        (0, 2 * m)
    } else {
        (2 * m + (layer as usize - 1) * m, m)
    }
}

/// Highest layer an element may get with this `m`: MAX_LEVEL, or less when the neighbour tuple
/// of such an element would not fit a page (m = 100 gives 11; P(level > 11) = 100^-12).
pub fn max_level(m: u16) -> u8 {
    let slots = (MAX_ITEM - NEIGHBOR_HEADER) / (size_of::<Tid>() * m.max(1) as usize);
    (slots.saturating_sub(2)).min(MAX_LEVEL as usize) as u8
}

pub fn element_tuple_size(code_bytes: usize) -> usize {
    ELEMENT_HEADER + code_bytes
}

pub fn neighbor_tuple_size(level: u8, m: u16) -> usize {
    NEIGHBOR_HEADER + size_of::<Tid>() * neighbor_slots(level, m)
}

/// Largest item that fits on an otherwise empty data page (PostgreSQL's page header, one line
/// pointer, our special area), rounded down to MAXALIGN: PageAddItem reserves the MAXALIGN'd
/// size, so an unaligned maximum would not fit.
pub const MAX_ITEM: usize = (pg_sys::BLCKSZ as usize
    - maxalign(size_of::<pg_sys::PageHeaderData>())
    - maxalign(size_of::<PageOpaque>())
    - size_of::<pg_sys::ItemIdData>())
    & !7;

pub const fn maxalign(n: usize) -> usize {
    (n + 7) & !7
}

/// Read a `#[repr(C)]` plain-data struct from the start of an item.
pub fn read_struct<T: Copy>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: length checked; T is plain old data (only integer fields) so any bytes are valid.
    Some(unsafe { (bytes.as_ptr() as *const T).read_unaligned() })
}

/// The bytes of a plain-data struct.
pub fn struct_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is a #[repr(C)] plain-data struct without padding holes that matter on disk
    // (all our structs are explicitly padded), viewed as bytes for its own size.
    unsafe { core::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tid_roundtrip() {
        for (b, o) in [
            (0u32, 1u16),
            (1, 291),
            (0x1234_5678, 7),
            (u32::MAX - 1, u16::MAX),
        ] {
            let t = Tid::new(b, o);
            assert_eq!(t.block(), b);
            assert_eq!(Tid::from_id(t.to_id()), t);
        }
    }

    #[test]
    fn layer_slots_cover_tuple() {
        let m = 16;
        let level = 3;
        let (s0, n0) = layer_slots(0, m);
        assert_eq!((s0, n0), (0, 32));
        let (s3, n3) = layer_slots(3, m);
        assert_eq!(s3 + n3, neighbor_slots(level, m));
    }

    #[test]
    fn page_capacity() {
        // 2000-d f32 element (8072 bytes) fits a page on its own; neighbours go elsewhere.
        assert!(element_tuple_size(ElemKind::F32.vector_bytes(2000)) <= MAX_ITEM);
        assert!(element_tuple_size(ElemKind::F16.vector_bytes(4000)) <= MAX_ITEM);
        assert!(element_tuple_size(ElemKind::F32.vector_bytes(2030)) > MAX_ITEM);
        for m in [2u16, 16, 48, 100] {
            assert!(neighbor_tuple_size(max_level(m), m) <= MAX_ITEM, "m={m}");
        }
        assert_eq!(max_level(16), MAX_LEVEL);
        // PageAddItem's own arithmetic: line pointer below pd_upper minus the aligned item.
        let upper = pg_sys::BLCKSZ as usize - maxalign(size_of::<PageOpaque>());
        let lower = size_of::<pg_sys::PageHeaderData>() + size_of::<pg_sys::ItemIdData>();
        assert!(lower <= upper - maxalign(MAX_ITEM));
        assert!(lower > upper - maxalign(MAX_ITEM + 1));
        assert_eq!(max_level(100), 11);
    }
}
