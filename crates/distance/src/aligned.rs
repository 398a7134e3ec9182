//! Buffers and `f32` vectors that start on a cache line.
//!
//! The AVX-512 kernels load 64 bytes at a time. A vector from `malloc` starts 16 bytes into a
//! line (large blocks get a 16-byte header), so every one of its loads straddles two lines and
//! counts twice against the core's load ports: `benches/distance.rs` group `f32_cosine_2mb`
//! measures 1,024-d cosine distances over 2 MB of operands 10–25% slower that way
//! (docs/benchmarks.md). A query is measured against every element a search reaches, so it is
//! worth keeping one aligned copy of it.

use core::ops::{Deref, DerefMut};

/// A cache line's worth of bytes, aligned like one.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// Zero-initialised bytes whose first byte starts a cache line; derefs to `[u8]`. Anything laid
/// out in it at multiples of 64 bytes (the code cache's copies of f32 codes of a multiple of 16
/// dimensions) starts on a line too.
#[derive(Clone, Default)]
pub struct AlignedBytes {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedBytes {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Self {
        AlignedBytes {
            lines: vec![Line([0; 64]); len.div_ceil(64)],
            len,
        }
    }
}

impl Deref for AlignedBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: `lines` holds lines.len() * 64 >= len initialised bytes (a Line is 64 bytes
        // without padding), contiguous; an empty Vec's dangling pointer is aligned and
        // non-null, which is all a zero-length slice needs.
        unsafe { core::slice::from_raw_parts(self.lines.as_ptr().cast::<u8>(), self.len) }
    }
}

impl DerefMut for AlignedBytes {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref, with the unique borrow of &mut self.
        unsafe { core::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<u8>(), self.len) }
    }
}

/// A vector of `f32` whose first element is 64-byte aligned; derefs to `[f32]`.
#[derive(Clone, Default)]
pub struct AlignedF32(AlignedBytes);

impl AlignedF32 {
    /// A copy of `v`.
    pub fn from_slice(v: &[f32]) -> Self {
        let mut out = AlignedF32(AlignedBytes::zeroed(v.len() * 4));
        out.copy_from_slice(v);
        out
    }
}

impl From<Vec<f32>> for AlignedF32 {
    fn from(v: Vec<f32>) -> Self {
        AlignedF32::from_slice(&v)
    }
}

impl FromIterator<f32> for AlignedF32 {
    fn from_iter<I: IntoIterator<Item = f32>>(iter: I) -> Self {
        AlignedF32::from_slice(&iter.into_iter().collect::<Vec<f32>>())
    }
}

impl Deref for AlignedF32 {
    type Target = [f32];
    #[inline]
    fn deref(&self) -> &[f32] {
        // SAFETY: the bytes start 64-byte aligned (so f32-aligned), their length is a multiple
        // of 4 (from_slice), and any bit pattern is a valid f32.
        unsafe { core::slice::from_raw_parts(self.0.as_ptr().cast::<f32>(), self.0.len() / 4) }
    }
}

impl DerefMut for AlignedF32 {
    #[inline]
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in deref, with the unique borrow of &mut self.
        unsafe {
            core::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<f32>(), self.0.len() / 4)
        }
    }
}

impl PartialEq for AlignedF32 {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl core::fmt::Debug for AlignedF32 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_bytes_start_on_a_line() {
        for n in [0usize, 1, 63, 64, 65, 262_144] {
            let mut b = AlignedBytes::zeroed(n);
            assert_eq!(b.len(), n);
            assert!(b.iter().all(|&x| x == 0));
            assert_eq!(b.as_ptr() as usize % 64, 0, "n = {n}");
            if n > 0 {
                b[n - 1] = 9;
                assert_eq!(b[n - 1], 9);
            }
        }
    }

    #[test]
    fn aligned_copy_of_any_length() {
        for n in [0usize, 1, 15, 16, 17, 1024, 1031] {
            let v: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let a = AlignedF32::from(v.clone());
            assert_eq!(&a[..], &v[..]);
            assert_eq!(a.as_ptr() as usize % 64, 0, "n = {n}");
            let b: AlignedF32 = v.iter().copied().collect();
            assert_eq!(a, b);
            let mut c = a.clone();
            if n > 0 {
                c[n - 1] = 7.0;
                assert_ne!(a, c);
                assert_eq!(c[n - 1], 7.0);
            }
        }
    }
}
