//! Typed views over one 8 KB Postgres page: line-pointer items plus a fixed-size special area.
//!
//! ```text
//! +-------------+------------------+ ... free ... +-----------------+-----------------+
//! | PageHeader  | ItemId[0..n]  -> |              | <- item data    | special (T)     |
//! +-------------+------------------+              +-----------------+-----------------+
//!  pd_lower points past the last ItemId, pd_upper at the first item byte, pd_special at T.
//! ```
//!
//! A `PageRef` only reads; a `PageMut` exists only while its buffer is exclusively locked and
//! (after build) registered in a Generic WAL record, so every byte it changes is WAL-logged.

use core::marker::PhantomData;
use core::mem::size_of;

use pgrx::pg_sys;

/// Offsets are 1-based like PostgreSQL's OffsetNumber.
pub type Offset = u16;

/// A read-only page.
#[derive(Clone, Copy)]
pub struct PageRef<'a> {
    page: pg_sys::Page,
    _p: PhantomData<&'a [u8]>,
}

/// A page being modified (buffer exclusively locked, registered for WAL when not building).
pub struct PageMut<'a> {
    page: pg_sys::Page,
    _p: PhantomData<&'a mut [u8]>,
}

fn header(page: pg_sys::Page) -> *mut pg_sys::PageHeaderData {
    page as *mut pg_sys::PageHeaderData
}

impl<'a> PageRef<'a> {
    /// # Safety
    /// `page` must point to a page of a pinned, at least share-locked buffer (or a Generic WAL
    /// working copy) that outlives `'a`.
    pub unsafe fn new(page: pg_sys::Page) -> Self {
        PageRef {
            page,
            _p: PhantomData,
        }
    }

    /// True for an all-zeros page (never initialised, e.g. after a crash during extension).
    pub fn is_new(&self) -> bool {
        // SAFETY: the page header is always readable.
        unsafe { (*header(self.page)).pd_upper == 0 }
    }

    pub fn max_offset(&self) -> Offset {
        if self.is_new() {
            return 0;
        }
        // SAFETY: initialised page; pd_lower bounds the ItemId array.
        unsafe { pg_sys::PageGetMaxOffsetNumber(self.page) }
    }

    /// The bytes of item `off`, or None for an offset past the end or an unused line pointer.
    pub fn item(&self, off: Offset) -> Option<&'a [u8]> {
        if off == 0 || off > self.max_offset() {
            return None;
        }
        // SAFETY: 1 <= off <= max: the ItemId exists; lp_off/lp_len were written by
        // PageAddItemExtended and lie within the page (checked below against the special area).
        unsafe {
            let id = pg_sys::PageGetItemId(self.page, off);
            if (*id).lp_flags() != pg_sys::LP_NORMAL as u32 {
                return None;
            }
            let (start, len) = ((*id).lp_off() as usize, (*id).lp_len() as usize);
            if start + len > (*header(self.page)).pd_special as usize {
                return None;
            }
            Some(core::slice::from_raw_parts(
                (self.page as *const u8).add(start),
                len,
            ))
        }
    }

    /// Where `item` (a slice [`Self::item`] returned) starts in the page, in bytes.
    pub fn offset_of(&self, item: &[u8]) -> usize {
        (item.as_ptr() as usize).wrapping_sub(self.page as usize)
    }

    /// The special area as `T` (the caller picked T when initialising the page).
    pub fn special<T: Copy>(&self) -> Option<T> {
        // SAFETY: the special area is the last `pd_pagesize - pd_special` bytes of the page.
        unsafe {
            if self.is_new() || (pg_sys::PageGetSpecialSize(self.page) as usize) < size_of::<T>() {
                return None;
            }
            Some(
                pg_sys::PageGetSpecialPointer(self.page)
                    .cast::<T>()
                    .read_unaligned(),
            )
        }
    }

    pub fn free_space(&self) -> usize {
        if self.is_new() {
            return 0;
        }
        // SAFETY: initialised page.
        unsafe { pg_sys::PageGetFreeSpace(self.page) }
    }
}

impl<'a> PageMut<'a> {
    /// # Safety
    /// `page` must be a page of an exclusively locked buffer, or the working copy returned by
    /// GenericXLogRegisterBuffer, valid for `'a`.
    pub unsafe fn new(page: pg_sys::Page) -> Self {
        PageMut {
            page,
            _p: PhantomData,
        }
    }

    pub fn as_ref(&self) -> PageRef<'_> {
        // SAFETY: same page, borrowed immutably for the lifetime of &self.
        unsafe { PageRef::new(self.page) }
    }

    /// Format the page empty with a special area holding `special`.
    pub fn init<T: Copy>(&mut self, special: T) {
        // SAFETY: PageInit zeroes and formats exactly BLCKSZ bytes; the special area it reserves
        // is MAXALIGN(size_of::<T>()) >= size_of::<T>() bytes.
        unsafe {
            pg_sys::PageInit(self.page, pg_sys::BLCKSZ as usize, size_of::<T>());
            pg_sys::PageGetSpecialPointer(self.page)
                .cast::<T>()
                .write_unaligned(special);
        }
    }

    pub fn set_special<T: Copy>(&mut self, special: T) {
        // SAFETY: the page was initialised with a special area of at least size_of::<T>().
        unsafe {
            assert!(pg_sys::PageGetSpecialSize(self.page) as usize >= size_of::<T>());
            pg_sys::PageGetSpecialPointer(self.page)
                .cast::<T>()
                .write_unaligned(special);
        }
    }

    /// Append an item; None when it does not fit.
    pub fn add_item(&mut self, bytes: &[u8]) -> Option<Offset> {
        if bytes.len() > self.as_ref().free_space() {
            return None;
        }
        // SAFETY: the item is copied into the page by PageAddItemExtended, which re-checks the
        // space and returns InvalidOffsetNumber (0) on failure.
        let off = unsafe {
            pg_sys::PageAddItemExtended(
                self.page,
                bytes.as_ptr() as pg_sys::Item,
                bytes.len(),
                pg_sys::InvalidOffsetNumber,
                0,
            )
        };
        (off != pg_sys::InvalidOffsetNumber).then_some(off)
    }

    /// Remove item `off`, leaving its line pointer unused (so no other item's offset changes)
    /// and compacting the space; a later `add_item` may reuse the offset.
    pub fn remove_item(&mut self, off: Offset) -> bool {
        if self.as_ref().item(off).is_none() {
            return false;
        }
        // SAFETY: `off` is a used line pointer of this initialised page;
        // PageIndexTupleDeleteNoCompact keeps the other line pointers in place. Setting
        // PD_HAS_FREE_LINES lets PageAddItemExtended find the unused one again.
        unsafe {
            pg_sys::PageIndexTupleDeleteNoCompact(self.page, off);
            (*header(self.page)).pd_flags |= pg_sys::PD_HAS_FREE_LINES as u16;
        }
        true
    }

    /// Overwrite item `off` in place with bytes of the same length. Fixed-size tuples (graph
    /// elements and neighbour lists) are updated this way, so TIDs stay stable.
    pub fn overwrite_item(&mut self, off: Offset, bytes: &[u8]) -> bool {
        match self.as_ref().item(off) {
            Some(old) if old.len() == bytes.len() => {
                // SAFETY: `old` is the item's byte range inside this page, which we may write.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        bytes.as_ptr(),
                        old.as_ptr() as *mut u8,
                        old.len(),
                    )
                };
                true
            }
            _ => false,
        }
    }
}
