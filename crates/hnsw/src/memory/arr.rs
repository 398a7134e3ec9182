//! `Arr<T>`: the growable arrays of a [`MemoryGraph`](super::MemoryGraph),
//! either an ordinary `Vec` or a fixed-capacity array in memory the caller
//! provides (a shared memory segment several processes read during a
//! parallel index build, see [`SharedLayout`](super::SharedLayout)).

use std::ops::{Deref, DerefMut};

pub(crate) enum Arr<T: Copy> {
    Heap(Vec<T>),
    /// `len` initialised elements at `ptr`, room for `cap`. Never grows: the
    /// graph checks capacity before it pushes (see `MemoryGraph::has_room`).
    Fixed {
        ptr: *mut T,
        len: usize,
        cap: usize,
    },
}

// SAFETY: a Fixed array is owned by its graph exactly like a Vec's buffer (the
// `MemoryGraph::from_raw_parts` contract gives the graph sole write access
// while it lives, and readers only ever get shared references through it), so
// moving or sharing it across threads is as safe as for Vec<T>.
unsafe impl<T: Copy + Send> Send for Arr<T> {}
// SAFETY: as above; &Arr only hands out &[T].
unsafe impl<T: Copy + Sync> Sync for Arr<T> {}

impl<T: Copy> Default for Arr<T> {
    fn default() -> Self {
        Arr::Heap(Vec::new())
    }
}

impl<T: Copy> Clone for Arr<T> {
    /// Clones into an ordinary `Vec` (a copy never aliases the fixed memory).
    fn clone(&self) -> Self {
        Arr::Heap(self.to_vec())
    }
}

impl<T: Copy + std::fmt::Debug> std::fmt::Debug for Arr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Copy> Arr<T> {
    /// Room for `n` more elements without growing (always true for Heap).
    pub fn has_room(&self, n: usize) -> bool {
        match self {
            Arr::Heap(_) => true,
            Arr::Fixed { len, cap, .. } => len.checked_add(n).is_some_and(|end| end <= *cap),
        }
    }

    /// Asks the kernel to back the reserved buffer of a heap array with transparent huge
    /// pages (2 MB): a build visits vectors at random across hundreds of megabytes, and with
    /// 4 kB pages nearly every visit also misses the TLB. Only whole huge pages inside the
    /// buffer are advised; a no-op for fixed arrays and where the kernel does not allow it.
    pub fn advise_huge(&mut self) {
        #[cfg(target_os = "linux")]
        if let Arr::Heap(v) = self {
            const HUGE: usize = 2 << 20;
            let start = v.as_ptr() as usize;
            let end = start + v.capacity() * std::mem::size_of::<T>();
            let first = start.next_multiple_of(HUGE);
            let last = end & !(HUGE - 1);
            if last > first {
                // SAFETY: [first, last) lies inside the Vec's allocation; MADV_HUGEPAGE only
                // changes how the kernel backs those pages, never their contents, and its
                // failure is harmless (ignored).
                unsafe {
                    libc::madvise(
                        first as *mut libc::c_void,
                        last - first,
                        libc::MADV_HUGEPAGE,
                    );
                }
            }
        }
    }

    /// Room for `n` more elements, in huge pages where the kernel allows (see
    /// [`advise_huge`](Self::advise_huge)); false when the memory cannot be allocated
    /// (instead of aborting, as `reserve` would).
    pub fn try_reserve_huge(&mut self, n: usize) -> bool {
        let ok = match self {
            Arr::Heap(v) => v.try_reserve(n).is_ok(),
            Arr::Fixed { .. } => self.has_room(n),
        };
        if ok {
            self.advise_huge();
        }
        ok
    }

    /// Append what `src` has beyond this array's length (`src` extends it).
    pub fn catch_up(&mut self, src: &[T]) {
        let have = self.len().min(src.len());
        self.extend_from_slice(&src[have..]);
    }

    /// A read-only view of the first `n` elements with no spare room, so that adding to it
    /// fails instead of writing. The view must not outlive `self` or see it change.
    pub fn prefix_view(&self, n: usize) -> Arr<T> {
        assert!(self.len() >= n, "array shorter than its view");
        Arr::Fixed {
            ptr: self.as_ptr() as *mut T,
            len: n,
            cap: n,
        }
    }

    /// Mutable access to elements `start..start + n` of a fixed array through `&self`, so that
    /// several processes sharing the region can each write their own part (the parallel
    /// build's back-link phase: every neighbour list has one writer). None for a heap array
    /// or a range past `len`.
    ///
    /// # Safety
    /// While the returned slice lives, nothing else reads or writes that range, and no `&mut`
    /// to the whole array exists (no `DerefMut` of this array at the same time).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn range_mut(&self, start: usize, n: usize) -> Option<&mut [T]> {
        match self {
            Arr::Fixed { ptr, len, .. } if start.checked_add(n).is_some_and(|e| e <= *len) => {
                // SAFETY: the range lies inside the initialised part of the region; exclusive
                // access to it is the caller's promise.
                Some(unsafe { std::slice::from_raw_parts_mut(ptr.add(start), n) })
            }
            _ => None,
        }
    }

    pub fn reserve(&mut self, n: usize) {
        if let Arr::Heap(v) = self {
            v.reserve(n);
        }
    }

    pub fn push(&mut self, x: T) {
        self.extend(std::iter::once(x));
    }

    pub fn extend_from_slice(&mut self, xs: &[T]) {
        self.extend(xs.iter().copied());
    }

    pub fn extend(&mut self, xs: impl IntoIterator<Item = T>) {
        match self {
            Arr::Heap(v) => v.extend(xs),
            Arr::Fixed { ptr, len, cap } => {
                for x in xs {
                    assert!(*len < *cap, "fixed graph array is full");
                    // SAFETY: len < cap, and the region holds cap elements
                    // (from_raw_parts contract).
                    unsafe { ptr.add(*len).write(x) };
                    *len += 1;
                }
            }
        }
    }

    pub fn resize(&mut self, new_len: usize, fill: T) {
        match self {
            Arr::Heap(v) => v.resize(new_len, fill),
            Arr::Fixed { len, .. } if new_len <= *len => {
                if let Arr::Fixed { len, .. } = self {
                    *len = new_len;
                }
            }
            Arr::Fixed { len, .. } => {
                let add = new_len - *len;
                self.extend(std::iter::repeat_n(fill, add));
            }
        }
    }
}

impl<T: Copy> Deref for Arr<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Arr::Heap(v) => v,
            // SAFETY: the first len elements are initialised (written by
            // extend, or by the process that filled the region before handing
            // it over, per the from_raw_parts contract).
            Arr::Fixed { ptr, len, .. } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
        }
    }
}

impl<T: Copy> DerefMut for Arr<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Arr::Heap(v) => v,
            // SAFETY: as in deref; &mut self gives exclusive access.
            Arr::Fixed { ptr, len, .. } => unsafe { std::slice::from_raw_parts_mut(*ptr, *len) },
        }
    }
}
