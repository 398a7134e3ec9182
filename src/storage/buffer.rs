//! Pinned, locked buffers and the Generic WAL record that owns them.
//!
//! Rules every caller gets for free:
//! - a `Locked` buffer is unlocked and unpinned when dropped, including while unwinding from a
//!   Postgres ERROR (pgrx turns the longjmp into a Rust panic, so Drop runs before the error is
//!   re-thrown; the resource owner then finds nothing left to release);
//! - a `WalRecord` either `finish()`es (one Generic WAL record covering up to 4 pages, applied
//!   atomically on replay and on standbys) or, when dropped unfinished, aborts and leaves the
//!   pages untouched (modifications go to Generic WAL's private copies until finish);
//! - during `ambuild` nothing is WAL-logged page by page: `BuildWriter` writes pages directly and
//!   `finish()` emits `log_newpage_range` once, as core index AMs do.
//!
//! Lock ordering is the caller's contract (documented by each access method); this module never
//! takes more than the locks it is asked for.

use pgrx::pg_sys;

use super::page::{PageMut, PageRef};

/// Lock strength on a buffer's content.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Share,
    Exclusive,
}

/// A pinned and content-locked buffer.
pub struct Locked {
    buf: pg_sys::Buffer,
    mode: Mode,
}

impl Locked {
    /// Pin and lock block `blk` of the main fork.
    ///
    /// # Safety
    /// `rel` must be an open relation and `blk` < its number of blocks.
    pub unsafe fn read(rel: pg_sys::Relation, blk: pg_sys::BlockNumber, mode: Mode) -> Self {
        // SAFETY: forwarded; ReadBufferExtended raises an ERROR for a block past the end.
        unsafe {
            let buf = pg_sys::ReadBufferExtended(
                rel,
                pg_sys::ForkNumber::MAIN_FORKNUM,
                blk,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                core::ptr::null_mut(),
            );
            pg_sys::LockBuffer(buf, lock_code(mode));
            Locked { buf, mode }
        }
    }

    /// [`Self::read`], trying buffer `recent` first: the shared buffer this block was seen in
    /// before (0: none). When the block is still there, `ReadRecentBuffer` pins it after
    /// checking the buffer's tag, skipping the buffer-mapping lookup (a hash of the tag, a
    /// partition lock and a hash-table probe) that `ReadBufferExtended` does; otherwise this
    /// is `ReadBufferExtended`.
    ///
    /// # Safety
    /// As [`Self::read`]; `recent` is 0 or a buffer number this backend got from
    /// [`Locked::buffer`] or [`Pinned::buffer`] (any block of any relation: the tag check
    /// catches a buffer that holds another page by now; local buffers, of temporary
    /// relations, are negative and not tried).
    pub unsafe fn read_recent(
        rel: pg_sys::Relation,
        blk: pg_sys::BlockNumber,
        mode: Mode,
        recent: pg_sys::Buffer,
    ) -> Self {
        // SAFETY: forwarded.
        if recent > 0 && unsafe { pin_recent(rel, blk, recent) } {
            // SAFETY: pinned just now.
            unsafe { pg_sys::LockBuffer(recent, lock_code(mode)) };
            return Locked { buf: recent, mode };
        }
        // SAFETY: forwarded.
        unsafe { Self::read(rel, blk, mode) }
    }

    /// The buffer number (for [`Self::read_recent`] and [`prefetch_in_buffer`]).
    pub fn buffer(&self) -> pg_sys::Buffer {
        self.buf
    }

    /// Add a new zeroed block at the end of `fork` and lock it exclusively.
    ///
    /// The relation extension lock serialises concurrent extenders (required through PG15;
    /// harmless after). `P_NEW` still works on PG16/17, where it maps to ExtendBufferedRel.
    ///
    /// # Safety
    /// `rel` must be an open relation the caller may write.
    pub unsafe fn extend(rel: pg_sys::Relation, fork: pg_sys::ForkNumber::Type) -> Self {
        // SAFETY: standard extension protocol; the new page is all zeros until initialised.
        unsafe {
            pg_sys::LockRelationForExtension(rel, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
            let buf = pg_sys::ReadBufferExtended(
                rel,
                fork,
                P_NEW,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                core::ptr::null_mut(),
            );
            pg_sys::LockBuffer(buf, lock_code(Mode::Exclusive));
            pg_sys::UnlockRelationForExtension(rel, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
            Locked {
                buf,
                mode: Mode::Exclusive,
            }
        }
    }

    pub fn block(&self) -> pg_sys::BlockNumber {
        // SAFETY: a pinned buffer.
        unsafe { pg_sys::BufferGetBlockNumber(self.buf) }
    }

    pub fn page(&self) -> PageRef<'_> {
        // SAFETY: pinned and locked for as long as &self lives.
        unsafe { PageRef::new(pg_sys::BufferGetPage(self.buf)) }
    }

    /// Overwrite `bytes.len()` bytes at offset `at` of item `off` without WAL, under any lock
    /// mode, and mark the buffer dirty as a hint (`MarkBufferDirtyHint`, which WAL-logs a full
    /// page image first only when checksums or wal_log_hints require it, and does nothing on a
    /// standby then). Only for hint fields: values for which every old, new or lost write is
    /// valid, each naturally aligned and at most 8 bytes so a torn page write cannot split one.
    /// False (nothing written) when the item is missing or too short.
    pub fn set_hint(&self, off: u16, at: usize, bytes: &[u8]) -> bool {
        let page = self.page();
        let Some(item) = page.item(off) else {
            return false;
        };
        if at + bytes.len() > item.len() || bytes.len() > 8 {
            return false;
        }
        // SAFETY: the range lies inside the item, inside this pinned and locked page; writes
        // of hint bytes under a share lock are what PostgreSQL itself does for hint bits
        // (readers tolerate either value, see the doc comment).
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (item.as_ptr() as *mut u8).add(at),
                bytes.len(),
            );
            pg_sys::MarkBufferDirtyHint(self.buf, true);
        }
        true
    }

    /// Direct write access with no WAL: only for `BuildWriter` and init forks.
    fn page_mut_unlogged(&mut self) -> PageMut<'_> {
        assert_eq!(self.mode, Mode::Exclusive);
        // SAFETY: exclusively locked for as long as &mut self lives.
        unsafe { PageMut::new(pg_sys::BufferGetPage(self.buf)) }
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: we hold exactly one pin and one content lock on `buf`.
        unsafe { pg_sys::UnlockReleaseBuffer(self.buf) };
    }
}

/// A pinned buffer without a content lock: lets a reader pin several pages first, prefetch the
/// tuples it is about to read (overlapping the cache misses), and only then lock each page for
/// the actual read. The pin keeps the page in its buffer (so its address is stable) but not its
/// contents: anything read from it must be read again under [`Pinned::share`].
pub struct Pinned {
    buf: pg_sys::Buffer,
}

impl Pinned {
    /// Pin block `blk` of the main fork.
    ///
    /// # Safety
    /// `rel` must be an open relation and `blk` < its number of blocks.
    pub unsafe fn read(rel: pg_sys::Relation, blk: pg_sys::BlockNumber) -> Self {
        // SAFETY: forwarded; ReadBufferExtended raises an ERROR for a block past the end.
        let buf = unsafe {
            pg_sys::ReadBufferExtended(
                rel,
                pg_sys::ForkNumber::MAIN_FORKNUM,
                blk,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                core::ptr::null_mut(),
            )
        };
        Pinned { buf }
    }

    /// The buffer number (a hint for [`Locked::read_recent`]).
    pub fn buffer(&self) -> pg_sys::Buffer {
        self.buf
    }

    /// Hint the CPU to fetch the line pointer of item `off` and, once that has arrived, the
    /// first `len` bytes of the item. Reads the line pointer without a content lock, which is
    /// fine for a hint: a concurrently changing or garbage value only makes the prefetch
    /// useless (prefetches never fault), and nothing else uses it.
    pub fn prefetch_line_pointer(&self, off: u16) {
        // SAFETY: pinned, so the page address is valid; the line pointer array starts after
        // the page header, and prefetch of any address is harmless.
        unsafe {
            let page = pg_sys::BufferGetPage(self.buf) as *const u8;
            ruvec_distance::prefetch_line(
                page.add(PAGE_HEADER + 4 * (off as usize).saturating_sub(1)),
            );
        }
    }

    /// Second stage of [`Self::prefetch_line_pointer`]: prefetch `len` bytes of item `off`.
    pub fn prefetch_item(&self, off: u16, len: usize) {
        if off == 0 {
            return;
        }
        // SAFETY: the line pointer lies within the pinned page (off <= MaxOffsetNumber is
        // checked against the page size below); it is read with a volatile load because other
        // backends may write it concurrently (we hold no content lock), and it is used only as
        // a prefetch hint, clamped to the page.
        unsafe {
            let page = pg_sys::BufferGetPage(self.buf) as *const u8;
            let lp_at = PAGE_HEADER + 4 * (off as usize - 1);
            if lp_at + 4 > pg_sys::BLCKSZ as usize {
                return;
            }
            let lp = core::ptr::read_volatile(page.add(lp_at) as *const u32);
            let start = (lp & 0x7fff) as usize; // lp_off: low 15 bits
            let end = (start + len).min(pg_sys::BLCKSZ as usize);
            ruvec_distance::prefetch_bytes(page.wrapping_add(start), end.saturating_sub(start));
        }
    }

    /// Take a share lock on the page for the duration of the returned guard.
    pub fn share(&self) -> SharedPage<'_> {
        // SAFETY: a pinned buffer we own.
        unsafe { pg_sys::LockBuffer(self.buf, lock_code(Mode::Share)) };
        SharedPage { pinned: self }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: we hold exactly one pin (and no content lock: SharedPage borrows us and
        // unlocks first).
        unsafe { pg_sys::ReleaseBuffer(self.buf) };
    }
}

/// A share-locked view of a [`Pinned`] page; unlocks when dropped.
pub struct SharedPage<'a> {
    pinned: &'a Pinned,
}

impl SharedPage<'_> {
    pub fn page(&self) -> PageRef<'_> {
        // SAFETY: pinned and share-locked for as long as &self lives.
        unsafe { PageRef::new(pg_sys::BufferGetPage(self.pinned.buf)) }
    }
}

impl Drop for SharedPage<'_> {
    fn drop(&mut self) {
        // SAFETY: we took this share lock in Pinned::share.
        unsafe { pg_sys::LockBuffer(self.pinned.buf, pg_sys::BUFFER_LOCK_UNLOCK as i32) };
    }
}

/// Pin block `blk` of `rel`'s main fork if shared buffer `recent` still holds it, counting
/// the read in the relation's statistics as `ReadBufferExtended` would (a fetch and a hit;
/// `ReadRecentBuffer` itself only counts the backend's buffer usage).
///
/// # Safety
/// `rel` is open; `recent` is a valid shared buffer number (1..=NBuffers).
unsafe fn pin_recent(
    rel: pg_sys::Relation,
    blk: pg_sys::BlockNumber,
    recent: pg_sys::Buffer,
) -> bool {
    #[cfg(feature = "pg13")]
    {
        let _ = (rel, blk, recent);
        false // no ReadRecentBuffer before PostgreSQL 14
    }
    #[cfg(not(feature = "pg13"))]
    // SAFETY: forwarded; ReadRecentBuffer checks the buffer's tag under its header lock
    // before pinning, so any valid buffer number is safe to pass.
    unsafe {
        #[cfg(any(feature = "pg14", feature = "pg15"))]
        let locator = (*rel).rd_node;
        #[cfg(not(any(feature = "pg14", feature = "pg15")))]
        let locator = (*rel).rd_locator;
        if !pg_sys::ReadRecentBuffer(locator, pg_sys::ForkNumber::MAIN_FORKNUM, blk, recent) {
            return false;
        }
        // pgstat_count_buffer_read + pgstat_count_buffer_hit (the relation's counters are
        // attached by its first ReadBufferExtended, which the reader of `recent` did)
        let stats = (*rel).pgstat_info;
        if !stats.is_null() {
            #[cfg(any(feature = "pg14", feature = "pg15"))]
            {
                (*stats).t_counts.t_blocks_fetched += 1;
                (*stats).t_counts.t_blocks_hit += 1;
            }
            #[cfg(not(any(feature = "pg14", feature = "pg15")))]
            {
                (*stats).counts.blocks_fetched += 1;
                (*stats).counts.blocks_hit += 1;
            }
        }
        true
    }
}

/// Hint the CPU to load, from shared buffer `buffer` (neither pinned nor locked), the line
/// pointer of item `off` and the `len` bytes at byte `at` of the page: where an item was the
/// last time this backend read the page. Whatever the buffer holds now, this only reads
/// shared memory that is always mapped, and a prefetch never faults; a stale guess just
/// loads lines nobody uses.
pub fn prefetch_in_buffer(buffer: pg_sys::Buffer, off: u16, at: u16, len: usize) {
    if buffer <= 0 || off == 0 {
        return; // local buffers (temporary relations) are not worth it
    }
    // SAFETY: BufferGetPage of a shared buffer number is address arithmetic on the buffer
    // pool (no pin needed to compute it); the prefetched ranges lie within that block.
    unsafe {
        let page = pg_sys::BufferGetPage(buffer) as *const u8;
        ruvec_distance::prefetch_line(page.add(PAGE_HEADER + 4 * (off as usize - 1)));
        let at = at as usize;
        if at > 0 && at < pg_sys::BLCKSZ as usize {
            let len = len.min(pg_sys::BLCKSZ as usize - at);
            ruvec_distance::prefetch_bytes(page.add(at), len);
        }
    }
}

/// `SizeOfPageHeaderData`: where the line pointer array starts.
const PAGE_HEADER: usize = core::mem::offset_of!(pg_sys::PageHeaderData, pd_linp);

/// `P_NEW` (InvalidBlockNumber): ask ReadBufferExtended for a new block. Not exported by pgrx.
const P_NEW: pg_sys::BlockNumber = pg_sys::InvalidBlockNumber;
/// `InvalidSubTransactionId`.
const INVALID_SUBXACT: pg_sys::SubTransactionId = 0;

fn lock_code(mode: Mode) -> i32 {
    match mode {
        Mode::Share => pg_sys::BUFFER_LOCK_SHARE as i32,
        Mode::Exclusive => pg_sys::BUFFER_LOCK_EXCLUSIVE as i32,
    }
}

/// Generic WAL allows at most this many pages in one record.
pub const MAX_RECORD_PAGES: usize = 4;

/// One atomic, WAL-logged change to up to four exclusively locked pages.
pub struct WalRecord {
    state: *mut pg_sys::GenericXLogState,
    // Declared after `state`, but `Drop` aborts the record explicitly before fields drop, so
    // the working copies are discarded before the buffers are unlocked.
    bufs: Vec<(Locked, pg_sys::Page)>,
}

impl WalRecord {
    /// # Safety
    /// `rel` must be an open relation; its buffers registered later must belong to it.
    pub unsafe fn start(rel: pg_sys::Relation) -> Self {
        // SAFETY: forwarded.
        let state = unsafe { pg_sys::GenericXLogStart(rel) };
        WalRecord {
            state,
            bufs: Vec::with_capacity(MAX_RECORD_PAGES),
        }
    }

    /// Register an exclusively locked buffer; `full_image` for freshly initialised pages (logs
    /// the whole page instead of a delta). Returns the index to pass to [`Self::page`].
    pub fn register(&mut self, buf: Locked, full_image: bool) -> usize {
        assert_eq!(
            buf.mode,
            Mode::Exclusive,
            "WAL-logged changes need an exclusive lock"
        );
        assert!(
            self.bufs.len() < MAX_RECORD_PAGES,
            "a Generic WAL record holds at most 4 pages"
        );
        let flags = if full_image {
            pg_sys::GENERIC_XLOG_FULL_IMAGE as i32
        } else {
            0
        };
        // SAFETY: state is live; the buffer is pinned and exclusively locked.
        let page = unsafe { pg_sys::GenericXLogRegisterBuffer(self.state, buf.buf, flags) };
        self.bufs.push((buf, page));
        self.bufs.len() - 1
    }

    /// The working copy of registered page `i`: changes become visible at `finish()`.
    pub fn page(&mut self, i: usize) -> PageMut<'_> {
        // SAFETY: the working copy lives until finish/abort, which need &mut self/self.
        unsafe { PageMut::new(self.bufs[i].1) }
    }

    pub fn block(&self, i: usize) -> pg_sys::BlockNumber {
        self.bufs[i].0.block()
    }

    /// Apply the changes to the shared buffers, mark them dirty and write the WAL record.
    pub fn finish(mut self) {
        // SAFETY: state is live; GenericXLogFinish copies the working pages into the locked
        // buffers inside a critical section and frees the state.
        unsafe { pg_sys::GenericXLogFinish(self.state) };
        self.state = core::ptr::null_mut();
        // buffers unlock and unpin as `self` drops
    }
}

impl Drop for WalRecord {
    fn drop(&mut self) {
        if !self.state.is_null() {
            // SAFETY: an unfinished record: discard the working copies (no shared page changed).
            unsafe { pg_sys::GenericXLogAbort(self.state) };
            self.state = core::ptr::null_mut();
        }
    }
}

/// Writes pages during `ambuild` without per-page WAL; `finish` logs them all at once.
pub struct BuildWriter {
    rel: pg_sys::Relation,
    first_block: Option<pg_sys::BlockNumber>,
    next_block: pg_sys::BlockNumber,
}

impl BuildWriter {
    /// # Safety
    /// `rel` must be the index being built (exclusively locked by CREATE INDEX).
    pub unsafe fn new(rel: pg_sys::Relation) -> Self {
        BuildWriter {
            rel,
            first_block: None,
            next_block: 0,
        }
    }

    /// Block number the next `append` gets (the index is empty before the build, so pages
    /// are appended in order from block 0).
    pub fn next_block(&self) -> pg_sys::BlockNumber {
        self.next_block
    }

    /// Append a page, let `fill` initialise it, mark it dirty. Returns its block number.
    pub fn append(&mut self, fill: impl FnOnce(&mut PageMut<'_>)) -> pg_sys::BlockNumber {
        // SAFETY: rel is the index under construction (see `new`).
        let mut buf = unsafe { Locked::extend(self.rel, pg_sys::ForkNumber::MAIN_FORKNUM) };
        let blk = buf.block();
        fill(&mut buf.page_mut_unlogged());
        // SAFETY: exclusively locked buffer that we just modified.
        unsafe { pg_sys::MarkBufferDirty(buf.buf) };
        self.first_block.get_or_insert(blk);
        self.next_block = blk + 1;
        blk
    }

    /// Rewrite an already appended page (e.g. the meta page once the entry point is known).
    pub fn rewrite(&mut self, blk: pg_sys::BlockNumber, fill: impl FnOnce(&mut PageMut<'_>)) {
        // SAFETY: blk was appended by this writer.
        let mut buf = unsafe { Locked::read(self.rel, blk, Mode::Exclusive) };
        fill(&mut buf.page_mut_unlogged());
        // SAFETY: exclusively locked buffer that we just modified.
        unsafe { pg_sys::MarkBufferDirty(buf.buf) };
    }

    /// WAL-log every written page (full images) if the relation needs WAL.
    pub fn finish(self) {
        if let Some(first) = self.first_block {
            // SAFETY: rel is open; the block range was written by this writer.
            unsafe {
                if relation_needs_wal(self.rel) {
                    pg_sys::log_newpage_range(
                        self.rel,
                        pg_sys::ForkNumber::MAIN_FORKNUM,
                        first,
                        self.next_block,
                        true,
                    );
                }
            }
        }
    }
}

/// PostgreSQL's `RelationNeedsWAL()` macro: permanent relations need WAL unless wal_level is
/// minimal and the relfilenode was created in this transaction (then it is fsync'd at commit).
///
/// # Safety
/// `rel` must be an open relation.
pub unsafe fn relation_needs_wal(rel: pg_sys::Relation) -> bool {
    // SAFETY: reading fields of an open relation's relcache entry.
    unsafe {
        let permanent = (*(*rel).rd_rel).relpersistence
            == pg_sys::RELPERSISTENCE_PERMANENT as core::ffi::c_char;
        let wal_needed = pg_sys::wal_level >= pg_sys::WalLevel::WAL_LEVEL_REPLICA as i32;
        permanent
            && (wal_needed
                || ((*rel).rd_createSubid == INVALID_SUBXACT
                    && (*rel).rd_firstRelfilenodeSubid == INVALID_SUBXACT))
    }
}

/// Write the one page of an init fork (`ambuildempty` for UNLOGGED indexes): always WAL-logged,
/// since the init fork is what crash recovery copies over the main fork.
///
/// # Safety
/// `rel` must be an unlogged index whose init fork is empty.
pub unsafe fn write_init_fork_page(rel: pg_sys::Relation, fill: impl FnOnce(&mut PageMut<'_>)) {
    // SAFETY: forwarded. The page is filled before the critical section (a fill that fails
    // must not PANIC); only dirtying and WAL-logging happen inside it, as core AMs do.
    unsafe {
        let mut buf = Locked::extend(rel, pg_sys::ForkNumber::INIT_FORKNUM);
        fill(&mut buf.page_mut_unlogged());
        pg_sys::CritSectionCount += 1;
        pg_sys::MarkBufferDirty(buf.buf);
        pg_sys::log_newpage_buffer(buf.buf, true);
        pg_sys::CritSectionCount -= 1;
    }
}
