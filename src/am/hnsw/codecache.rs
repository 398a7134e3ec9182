//! Backend-local copies of element codes: a search measures a neighbour without visiting its
//! page.
//!
//! A search visits several hundred elements per query, and in profiles most of a visit is the
//! buffer manager (buffer-table lookup, pin, content lock) and the cache miss on the element's
//! page, not the distance. But what a visit needs of an element — its stored code and its
//! level — never changes while the element exists: tuples are overwritten in place only to set
//! the deleted flag, to add or drop heap TIDs, and by VACUUM freeing a slot that a later
//! insert reuses for another vector. So a backend keeps a private copy of `(level, code)` of
//! each live element it read, keyed by element id, and trusts it for one *epoch*:
//!
//! - VACUUM bumps `MetaTuple::epoch` after it marked elements deleted and before it frees any
//!   (WAL-logged, so a standby's backends see it when they replay it). Every scan reads the
//!   epoch at its start (`amrescan`) and drops the copies of an older one. So a copy made in
//!   the current epoch is of an element that VACUUM will not free before the next bump, and a
//!   scan never starts with a copy of a slot that was reused.
//! - Only live elements are copied (a deleted one is read from its page each time). One that is
//!   marked deleted later keeps its copy until the bump; a search then treats it as live, and
//!   the scan's re-read of every candidate before returning it (`scan::next_candidate`: kind,
//!   deleted flag and distance) skips it — the same check that covers a slot freed and reused
//!   while a scan runs, which a cache cannot make worse: that scan read the epoch before.
//! - Neighbour lists, heap TIDs and deleted flags are always read from pages. A copy also
//!   keeps where its element's neighbour tuple is (fixed for the element's life), so a search
//!   reads an element's list without reading the element first, and remembers the buffer and
//!   page position it found the tuple at last time, to pin that buffer without a
//!   buffer-mapping lookup and to prefetch the list before it is needed (both only hints,
//!   checked on use).
//! - `storage = 'auto'`: only elements at the archive rung are copied (their element holds
//!   the whole code; an upgraded one is read from its pages, where its upgrade tuple may
//!   move at any time). A retier that promoted elements bumps the epoch too, so a copy never
//!   hides a promotion from a scan that starts after it; until then the copy's archive code is
//!   still a valid, coarser code of the same vector.
//!
//! DESIGN.md §3 rules out per-backend state that outlives a statement, so that the pages stay
//! the only truth and crash recovery, standbys, base backups and PITR just work. This cache
//! keeps that property, which is why it is allowed here (like PostgreSQL's own relcache and
//! this crate's parsed-codebook cache, `codec::tier_of`): it holds only copies of bytes that
//! are immutable for the lifetime of the element they belong to, it is never written back,
//! it is invalidated through a WAL-logged field of the meta page (so a standby invalidates on
//! replay, and a restarted server starts with no copies at all), and scans re-check on the
//! page everything they return. Dropping every copy at any moment changes speed only.
//!
//! Memory: all copies of a backend together stay within `ruvec.code_cache_mem`; when it is
//! reached, the cache used longest ago is dropped, and if that is the one being filled, it
//! stops growing (visits of uncached elements read their pages as before).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use ruvec_distance::AlignedBytes;
use ruvec_hnsw::FxBuildHasher;

use super::format::Tid;
use crate::gucs;

/// Copies are kept in chunks of about this many bytes, allocated whole and never moved (a
/// growing Vec would copy everything it holds on every doubling, and hold twice the memory
/// while it does). Chunks start on a cache line (`AlignedBytes`), so every copy whose size is a
/// multiple of 64 bytes (an f32 code of a multiple of 16 dimensions: every common embedding
/// size) does too: malloc aligns large blocks to 16 bytes only, and a 1,024-d code 16 bytes
/// past a line makes every 64-byte load of the AVX-512 kernels straddle two lines.
const CHUNK_BYTES: usize = 256 * 1024;
/// Hash-table bytes per entry of capacity (an id, a copy number, a control byte, padding).
const SLOT_BYTES: usize = 14;

/// What a copy keeps besides the code.
#[derive(Clone, Copy, Debug)]
pub struct CopyInfo {
    pub level: u8,
    /// The element's neighbour tuple: fixed while the element exists (an insert that reuses
    /// a freed slot writes its pointer, nothing else changes it), so as trustworthy as the
    /// code for the copy's epoch. The tuple's contents are always read from its page.
    pub neighbors: Tid,
    /// Where that page was the last time this backend read it: its shared buffer (0: not
    /// read yet) and the tuple's byte offset in it. Only hints, for
    /// [`Locked::read_recent`](crate::storage::Locked::read_recent) and prefetching; both
    /// check what they find.
    pub buffer: i32,
    pub at: u16,
    /// The shared buffer the element's own page was in when it was copied (0: unknown); the
    /// scan's re-check of a candidate pins it through this hint.
    pub element_buffer: i32,
}

/// One index's cached elements: copy `n` has `info[n]` and its code at entry
/// `n % per_chunk` of chunk `n / per_chunk` (`per_chunk` = `1 << shift`, so both are a mask
/// and a shift on the search's hot path; codes lie back to back, so an f32 code stays as
/// aligned as in the chunk and spans no more cache lines than it must); `slots` maps element
/// ids to copy numbers.
pub struct CodeCache {
    code_bytes: usize,
    per_chunk: usize,
    shift: u32,
    slots: HashMap<u64, u32, FxBuildHasher>,
    chunks: Vec<AlignedBytes>,
    info: Vec<CopyInfo>,
    len: usize,
    /// Bytes charged to the backend's budget (`USED`): what the chunks and the table take.
    charged: usize,
}

thread_local! {
    /// Bytes charged by every live CodeCache of this backend.
    static USED: Cell<usize> = const { Cell::new(0) };
    /// Caches by index, with the epoch they hold and when they were last used.
    static CACHES: RefCell<HashMap<CacheKey, Entry>> = RefCell::new(HashMap::new());
    static TICK: Cell<u64> = const { Cell::new(0) };
}

struct Entry {
    epoch: u64,
    last_used: u64,
    cache: Rc<RefCell<CodeCache>>,
}

fn budget() -> usize {
    gucs::CODE_CACHE_MEM.get().max(0) as usize * 1024
}

impl CodeCache {
    fn new(code_bytes: usize) -> Self {
        // the largest power of two of copies that fits CHUNK_BYTES (at least one)
        let shift = (CHUNK_BYTES / code_bytes.max(1)).max(1).ilog2();
        CodeCache {
            code_bytes,
            per_chunk: 1 << shift,
            shift,
            slots: HashMap::default(),
            chunks: Vec::new(),
            info: Vec::new(),
            len: 0,
            charged: 0,
        }
    }

    /// Level and code of element `id`, if copied.
    #[inline]
    pub fn get(&self, id: u64) -> Option<(u8, &[u8])> {
        self.copy_of(id).map(|n| self.copy(n))
    }

    /// The number of element `id`'s copy, if it has one (for [`Self::copy`]).
    #[inline]
    pub fn copy_of(&self, id: u64) -> Option<usize> {
        self.slots.get(&id).map(|&n| n as usize)
    }

    /// Level and code of copy `n` (a number from [`Self::copy_of`]).
    #[inline]
    pub fn copy(&self, n: usize) -> (u8, &[u8]) {
        let at = (n & (self.per_chunk - 1)) * self.code_bytes;
        let code = &self.chunks[n >> self.shift][at..at + self.code_bytes];
        debug_assert!(
            !self.code_bytes.is_multiple_of(64) || (code.as_ptr() as usize).is_multiple_of(64)
        );
        (self.info[n].level, code)
    }

    /// What copy `n` knows besides its code.
    #[inline]
    pub fn info(&self, n: usize) -> CopyInfo {
        self.info[n]
    }

    /// Remember where copy `n`'s neighbour tuple was just read.
    #[inline]
    pub fn seen_at(&mut self, n: usize, buffer: i32, at: u16) {
        let i = &mut self.info[n];
        i.buffer = buffer;
        i.at = at;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Copy a live element's level, neighbour-tuple pointer and code (nothing when the budget
    /// does not allow the memory it would take: a new chunk, or a larger hash table).
    pub fn insert(&mut self, id: u64, level: u8, neighbors: Tid, element_buffer: i32, code: &[u8]) {
        debug_assert_eq!(code.len(), self.code_bytes);
        if self.slots.contains_key(&id) {
            return;
        }
        // what the chunk's whole lines take
        let chunk = (self.per_chunk * self.code_bytes).next_multiple_of(64);
        let new_chunk = self.len == self.chunks.len() * self.per_chunk;
        let mut grow = if new_chunk { chunk } else { 0 };
        if self.slots.len() == self.slots.capacity() {
            grow += self.slots.capacity().max(4) * SLOT_BYTES; // it doubles
        }
        if self.info.len() == self.info.capacity() {
            grow += self.info.capacity().max(4) * size_of::<CopyInfo>(); // it doubles
        }
        if USED.get() + grow > budget() {
            return;
        }
        if new_chunk {
            self.chunks.push(AlignedBytes::zeroed(chunk));
        }
        let n = self.len;
        let at = (n & (self.per_chunk - 1)) * self.code_bytes;
        self.chunks[n >> self.shift][at..at + self.code_bytes].copy_from_slice(code);
        self.info.push(CopyInfo {
            level,
            neighbors,
            buffer: 0,
            at: 0,
            element_buffer,
        });
        self.slots.insert(id, n as u32);
        self.len += 1;
        let now = self.chunks.len() * chunk
            + self.slots.capacity() * SLOT_BYTES
            + self.info.capacity() * size_of::<CopyInfo>();
        USED.set(USED.get() - self.charged + now);
        self.charged = now;
    }
}

impl Drop for CodeCache {
    fn drop(&mut self) {
        USED.set(USED.get().saturating_sub(self.charged));
    }
}

/// Which build of which index a cache belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CacheKey {
    pub index_oid: u32,
    pub build_stamp: u64,
}

/// The cache of an index at `epoch`: the one this backend holds if it is of that epoch, else a
/// new empty one (replacing it). None when `ruvec.code_cache_mem` is 0.
pub fn for_index(key: CacheKey, epoch: u64, code_bytes: usize) -> Option<Rc<RefCell<CodeCache>>> {
    if budget() == 0 {
        CACHES.with(|c| c.borrow_mut().clear());
        return None;
    }
    let now = TICK.get() + 1;
    TICK.set(now);
    CACHES.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(e) = c.get_mut(&key) {
            if e.epoch == epoch && e.cache.borrow().code_bytes == code_bytes {
                e.last_used = now;
                return Some(e.cache.clone());
            }
        }
        // A new build of this index makes its older caches useless.
        c.retain(|k, _| k.index_oid != key.index_oid);
        // Over budget: free the caches used longest ago (those of dropped indexes end here).
        while USED.get() >= budget() && !c.is_empty() {
            let oldest = *c
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k)
                .expect("not empty");
            c.remove(&oldest);
        }
        let cache = Rc::new(RefCell::new(CodeCache::new(code_bytes)));
        c.insert(
            key,
            Entry {
                epoch,
                last_used: now,
                cache: cache.clone(),
            },
        );
        Some(cache)
    })
}

/// (elements, bytes) this backend holds in code caches.
pub fn usage() -> (usize, usize) {
    let elements = CACHES.with(|c| c.borrow().values().map(|e| e.cache.borrow().len()).sum());
    (elements, USED.get())
}
