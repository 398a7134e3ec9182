//! A [`MemoryGraph`] laid out in one caller-provided memory region, so that
//! several processes can search the same graph: a Postgres parallel index
//! build puts it in a dynamic shared memory segment, the leader process adds
//! elements and writes neighbour lists between phases, and every process
//! (leader and workers) searches it read-only during a phase.
//!
//! The region holds the graph's arrays at fixed offsets ([`SharedLayout`]);
//! how much of each is in use is the [`GraphHeader`], which the writer
//! publishes before each phase and readers turn back into a graph with
//! [`MemoryGraph::from_raw_parts`].

use super::arr::Arr;
use super::{ElementType, MemoryGraph, Metric};
use crate::store::EntryPoint;
use crate::Level;
use half::f16;

/// What part of a [`SharedLayout`] region is in use; plain data, safe to copy
/// through shared memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphHeader {
    pub len: u64,
    pub upper_groups: u64,
    pub deleted_count: u64,
    pub entry_id: u32,
    pub entry_level: u8,
    pub has_entry: u8,
    pub _pad: [u8; 2],
}

/// Byte offsets of a graph's arrays in one region, for `capacity` elements
/// with `upper_groups` upper-level lists in total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedLayout {
    pub dim: usize,
    pub metric: Metric,
    pub etype: ElementType,
    pub m: usize,
    pub capacity: usize,
    pub upper_groups: usize,
    data: usize,
    levels: usize,
    deleted: usize,
    l0: usize,
    l0_len: usize,
    upper_start: usize,
    upper: usize,
    upper_len: usize,
    l0_dist: usize,
    l0_flag: usize,
    upper_dist: usize,
    upper_flag: usize,
    size: usize,
}

impl SharedLayout {
    /// `None` if the sizes overflow.
    pub fn new(
        dim: usize,
        metric: Metric,
        etype: ElementType,
        m: usize,
        capacity: usize,
        upper_groups: usize,
    ) -> Option<Self> {
        let m = m.clamp(1, crate::MAX_M);
        let elem = etype.bytes();
        let mut at = 0usize;
        // Each array starts 8-aligned; returns its offset.
        let mut take = |bytes: Option<usize>| -> Option<usize> {
            let start = at.checked_add(7)? & !7;
            at = start.checked_add(bytes?)?;
            Some(start)
        };
        let data = take(capacity.checked_mul(dim)?.checked_mul(elem))?;
        let levels = take(Some(capacity))?;
        let deleted = take(Some(capacity))?;
        let l0 = take(capacity.checked_mul(2 * m)?.checked_mul(4))?;
        let l0_len = take(capacity.checked_mul(2))?;
        let upper_start = take(capacity.checked_mul(4))?;
        let upper = take(upper_groups.checked_mul(m)?.checked_mul(4))?;
        let upper_len = take(upper_groups.checked_mul(2))?;
        let l0_dist = take(capacity.checked_mul(2 * m)?.checked_mul(4))?;
        let l0_flag = take(capacity.checked_mul(2 * m))?;
        let upper_dist = take(upper_groups.checked_mul(m)?.checked_mul(4))?;
        let upper_flag = take(upper_groups.checked_mul(m))?;
        let size = at.checked_add(7)? & !7;
        Some(SharedLayout {
            dim,
            metric,
            etype,
            m,
            capacity,
            upper_groups,
            data,
            levels,
            deleted,
            l0,
            l0_len,
            upper_start,
            upper,
            upper_len,
            l0_dist,
            l0_flag,
            upper_dist,
            upper_flag,
            size,
        })
    }

    /// Bytes the region needs.
    pub fn size(&self) -> usize {
        self.size
    }
}

impl MemoryGraph {
    /// A graph over the region at `base`, with `header` saying how much of it
    /// is in use (an empty header gives an empty graph with room for
    /// `layout.capacity` elements). Adding more than the layout has room for
    /// fails with [`MemoryError::Full`](super::MemoryError::Full).
    ///
    /// # Safety
    /// `base` must be 8-aligned and valid for reads and writes of
    /// `layout.size()` bytes for as long as the graph lives; the parts
    /// `header` declares in use must have been written by a graph with the
    /// same layout (through this function). While a graph made here is used
    /// mutably nothing else may access the region; graphs used only through
    /// shared references may coexist (several readers, in any process).
    pub unsafe fn from_raw_parts(
        layout: &SharedLayout,
        base: *mut u8,
        header: &GraphHeader,
    ) -> Self {
        let len = header.len as usize;
        let groups = header.upper_groups as usize;
        let m = layout.m;
        let fixed = |off: usize, len: usize, cap: usize| -> (*mut u8, usize, usize) {
            // SAFETY: off < layout.size() by construction of the layout.
            (unsafe { base.add(off) }, len, cap)
        };
        fn arr<T: Copy>((ptr, len, cap): (*mut u8, usize, usize)) -> Arr<T> {
            Arr::Fixed {
                ptr: ptr as *mut T,
                len,
                cap,
            }
        }
        let cap = layout.capacity;
        let (data_f32, data_f16) = match layout.etype {
            ElementType::F32 => (
                arr::<f32>(fixed(layout.data, len * layout.dim, cap * layout.dim)),
                Arr::default(),
            ),
            ElementType::F16 => (
                Arr::default(),
                arr::<f16>(fixed(layout.data, len * layout.dim, cap * layout.dim)),
            ),
        };
        MemoryGraph {
            dim: layout.dim,
            metric: layout.metric,
            etype: layout.etype,
            m,
            data_f32,
            data_f16,
            levels: arr::<Level>(fixed(layout.levels, len, cap)),
            deleted: arr::<bool>(fixed(layout.deleted, len, cap)),
            deleted_count: header.deleted_count as usize,
            l0: arr::<u32>(fixed(layout.l0, len * 2 * m, cap * 2 * m)),
            l0_len: arr::<u16>(fixed(layout.l0_len, len, cap)),
            upper_start: arr::<u32>(fixed(layout.upper_start, len, cap)),
            upper: arr::<u32>(fixed(layout.upper, groups * m, layout.upper_groups * m)),
            upper_len: arr::<u16>(fixed(layout.upper_len, groups, layout.upper_groups)),
            l0_dist: arr::<f32>(fixed(layout.l0_dist, len * 2 * m, cap * 2 * m)),
            l0_flag: arr::<u8>(fixed(layout.l0_flag, len * 2 * m, cap * 2 * m)),
            upper_dist: arr::<f32>(fixed(
                layout.upper_dist,
                groups * m,
                layout.upper_groups * m,
            )),
            upper_flag: arr::<u8>(fixed(
                layout.upper_flag,
                groups * m,
                layout.upper_groups * m,
            )),
            entry: (header.has_entry != 0).then_some(EntryPoint {
                id: header.entry_id,
                level: header.entry_level,
            }),
        }
    }

    /// [`from_raw_parts`](Self::from_raw_parts), but the vectors are read from `mirror`
    /// (synced to `header`) instead of the region. For reading only: the vector arrays have
    /// no spare capacity, so adding an element fails instead of writing.
    ///
    /// # Safety
    /// As for `from_raw_parts`; and `mirror` must outlive the graph and not change while it
    /// lives.
    pub unsafe fn from_raw_parts_mirrored(
        layout: &SharedLayout,
        base: *mut u8,
        header: &GraphHeader,
        mirror: &VectorMirror,
    ) -> Self {
        // SAFETY: forwarded.
        let mut g = unsafe { Self::from_raw_parts(layout, base, header) };
        let n = header.len as usize * layout.dim;
        match layout.etype {
            ElementType::F32 => g.data_f32 = mirror.f32s.prefix_view(n),
            ElementType::F16 => g.data_f16 = mirror.f16s.prefix_view(n),
        }
        g
    }

    /// What a reader needs to see this graph's current state through
    /// [`from_raw_parts`](Self::from_raw_parts).
    pub fn header(&self) -> GraphHeader {
        GraphHeader {
            len: self.len() as u64,
            upper_groups: self.upper_len.len() as u64,
            deleted_count: self.deleted_count as u64,
            entry_id: self.entry.map_or(0, |e| e.id),
            entry_level: self.entry.map_or(0, |e| e.level),
            has_entry: u8::from(self.entry.is_some()),
            _pad: [0; 2],
        }
    }
}

/// A process-private copy of the vectors of a graph in a [`SharedLayout`] region, backed by
/// transparent huge pages where the kernel allows them.
///
/// Why: a build's searches read vectors at random across the whole graph (600 MB for
/// 200k × 768-d f32), and a shared memory segment is mapped with 4 kB pages (Linux does not
/// give huge pages to POSIX shared memory unless the administrator enables it), so nearly
/// every vector read also misses the TLB. A private copy in 2 MB pages avoids most of those
/// misses (about 15% of a 768-d build). Vectors never change once added, so the copy only
/// grows: [`sync`](Self::sync) appends what the writer added since the last call.
pub struct VectorMirror {
    dim: usize,
    etype: ElementType,
    f32s: Arr<f32>,
    f16s: Arr<f16>,
}

impl VectorMirror {
    /// An empty mirror with room for the layout's capacity, or None when that memory cannot
    /// be allocated (the process then reads the shared region, with the same results).
    pub fn new(layout: &SharedLayout) -> Option<Self> {
        let mut m = VectorMirror {
            dim: layout.dim,
            etype: layout.etype,
            f32s: Arr::default(),
            f16s: Arr::default(),
        };
        let n = layout.capacity.checked_mul(layout.dim)?;
        let ok = match layout.etype {
            ElementType::F32 => m.f32s.try_reserve_huge(n),
            ElementType::F16 => m.f16s.try_reserve_huge(n),
        };
        ok.then_some(m)
    }

    /// Copy the vectors added to the region since the last call (up to `header.len`).
    ///
    /// # Safety
    /// `base` and `header` as for [`MemoryGraph::from_raw_parts`] with the same layout, and no
    /// process writes the region's vectors meanwhile (they are written once, when an element
    /// is added).
    pub unsafe fn sync(&mut self, layout: &SharedLayout, base: *const u8, header: &GraphHeader) {
        debug_assert!(layout.dim == self.dim && layout.etype == self.etype);
        let n = (header.len as usize).min(layout.capacity) * layout.dim;
        let at = base.wrapping_add(layout.data);
        // SAFETY: the region holds `capacity * dim` vector values at `layout.data`, the first
        // `n` written (caller's contract).
        unsafe {
            match self.etype {
                ElementType::F32 => self
                    .f32s
                    .catch_up(core::slice::from_raw_parts(at as *const f32, n)),
                ElementType::F16 => self
                    .f16s
                    .catch_up(core::slice::from_raw_parts(at as *const f16, n)),
            }
        }
    }

    /// Bytes a mirror of `layout` takes when full.
    pub fn bytes(layout: &SharedLayout) -> usize {
        layout.capacity * layout.dim * layout.etype.bytes()
    }
}
