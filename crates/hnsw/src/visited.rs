//! Visited sets: a hash set with a small fast hasher, and a bitmap for dense
//! integer ids.

use crate::store::VisitedSet;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The Fx hash (as used in rustc): one rotate, xor and multiply per word.
/// Not DoS resistant, which does not matter for ids the index itself made.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weak; hashbrown picks buckets from
        // the low bits and control bytes from the top 7, so fold the high half
        // down.
        self.hash ^ (self.hash >> 32)
    }
}

/// `BuildHasher` for [`FxHasher`].
pub type FxBuildHasher = BuildHasherDefault<FxHasher>;

/// A visited set for any id type: a `HashSet` with [`FxHasher`].
#[derive(Clone, Debug, Default)]
pub struct HashVisited<Id> {
    set: HashSet<Id, FxBuildHasher>,
}

impl<Id: Hash + Eq> HashVisited<Id> {
    pub fn new() -> Self {
        HashVisited {
            set: HashSet::default(),
        }
    }

    pub fn with_capacity(n: usize) -> Self {
        HashVisited {
            set: HashSet::with_capacity_and_hasher(n, FxBuildHasher::default()),
        }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

impl<Id: Hash + Eq> VisitedSet<Id> for HashVisited<Id> {
    #[inline]
    fn insert(&mut self, id: Id) -> bool {
        self.set.insert(id)
    }
    #[inline]
    fn contains(&self, id: Id) -> bool {
        self.set.contains(&id)
    }
    fn clear(&mut self) {
        self.set.clear();
    }
}

/// A bitmap visited set for dense `u32` ids; grows on demand, so an id
/// beyond the initial size is fine.
#[derive(Clone, Debug, Default)]
pub struct DenseVisited {
    bits: Vec<u64>,
}

impl DenseVisited {
    /// A set sized for ids `0..n`.
    pub fn new(n: usize) -> Self {
        DenseVisited {
            bits: vec![0; n.div_ceil(64)],
        }
    }
}

impl VisitedSet<u32> for DenseVisited {
    #[inline]
    fn insert(&mut self, id: u32) -> bool {
        let word = (id >> 6) as usize;
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let mask = 1u64 << (id & 63);
        let w = &mut self.bits[word];
        let fresh = *w & mask == 0;
        *w |= mask;
        fresh
    }
    #[inline]
    fn contains(&self, id: u32) -> bool {
        self.bits
            .get((id >> 6) as usize)
            .is_some_and(|w| w & (1u64 << (id & 63)) != 0)
    }
    fn clear(&mut self) {
        self.bits.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_hash_agree() {
        let mut d = DenseVisited::new(10);
        let mut h = HashVisited::<u32>::new();
        for id in [3u32, 64, 3, 1000, 0, 64, 4_000_000] {
            assert_eq!(d.insert(id), h.insert(id), "id {id}");
        }
        assert!(d.contains(1000) && h.contains(1000));
        assert!(!d.contains(999) && !h.contains(999));
        assert!(!d.contains(u32::MAX));
        d.clear();
        h.clear();
        assert!(!d.contains(3) && !h.contains(3));
        assert!(h.is_empty());
    }

    #[test]
    fn fx_spreads_packed_tids() {
        // (block << 16 | offset) ids, like a page store's: buckets must not
        // collide wholesale.
        let mut low = HashSet::new();
        for block in 0..64u64 {
            for off in 1..8u64 {
                let mut h = FxHasher::default();
                h.write_u64((block << 16) | off);
                low.insert(h.finish() & 1023);
            }
        }
        assert!(low.len() > 300, "only {} distinct buckets", low.len());
    }
}
